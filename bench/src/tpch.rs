//! TPC-H for the load and query benches: the eight tables (columns and types shared by
//! Tessera's StarRocks DDL and DuckDB's), their files generated once with `tpchgen-cli` and
//! kept between runs, and the Stream Load headers for dbgen's `tbl` format.

use std::io::Read;
use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::Context;

/// One TPC-H table: its columns (name, type) and the leading key columns Tessera's
/// `DUPLICATE KEY` names; the first key column is the distribution column.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    /// Table name, as TPC-H spells it.
    pub name: &'static str,
    /// Columns in file order: (name, type). The types are spelled so that both StarRocks
    /// and DuckDB take them (`CHAR(n)` is a `VARCHAR` to DuckDB and is not padded by Tessera).
    pub columns: &'static [(&'static str, &'static str)],
    /// `DUPLICATE KEY` columns (a prefix of `columns`).
    pub key: &'static [&'static str],
    /// A fixed-size table (nation, region): one bucket whatever the scale.
    pub fixed: bool,
}

/// The eight tables, smallest first. Keys are `INT` except the order key (`BIGINT`, as
/// StarRocks's TPC-H schema has it); money and quantities `DECIMAL(15,2)`; every column
/// `NOT NULL`.
pub const TABLES: [Table; 8] = [
    Table {
        name: "region",
        columns: &[
            ("r_regionkey", "INT"),
            ("r_name", "CHAR(25)"),
            ("r_comment", "VARCHAR(152)"),
        ],
        key: &["r_regionkey"],
        fixed: true,
    },
    Table {
        name: "nation",
        columns: &[
            ("n_nationkey", "INT"),
            ("n_name", "CHAR(25)"),
            ("n_regionkey", "INT"),
            ("n_comment", "VARCHAR(152)"),
        ],
        key: &["n_nationkey"],
        fixed: true,
    },
    Table {
        name: "supplier",
        columns: &[
            ("s_suppkey", "INT"),
            ("s_name", "CHAR(25)"),
            ("s_address", "VARCHAR(40)"),
            ("s_nationkey", "INT"),
            ("s_phone", "CHAR(15)"),
            ("s_acctbal", "DECIMAL(15,2)"),
            ("s_comment", "VARCHAR(101)"),
        ],
        key: &["s_suppkey"],
        fixed: false,
    },
    Table {
        name: "part",
        columns: &[
            ("p_partkey", "INT"),
            ("p_name", "VARCHAR(55)"),
            ("p_mfgr", "CHAR(25)"),
            ("p_brand", "CHAR(10)"),
            ("p_type", "VARCHAR(25)"),
            ("p_size", "INT"),
            ("p_container", "CHAR(10)"),
            ("p_retailprice", "DECIMAL(15,2)"),
            ("p_comment", "VARCHAR(23)"),
        ],
        key: &["p_partkey"],
        fixed: false,
    },
    Table {
        name: "partsupp",
        columns: &[
            ("ps_partkey", "INT"),
            ("ps_suppkey", "INT"),
            ("ps_availqty", "INT"),
            ("ps_supplycost", "DECIMAL(15,2)"),
            ("ps_comment", "VARCHAR(199)"),
        ],
        key: &["ps_partkey", "ps_suppkey"],
        fixed: false,
    },
    Table {
        name: "customer",
        columns: &[
            ("c_custkey", "INT"),
            ("c_name", "VARCHAR(25)"),
            ("c_address", "VARCHAR(40)"),
            ("c_nationkey", "INT"),
            ("c_phone", "CHAR(15)"),
            ("c_acctbal", "DECIMAL(15,2)"),
            ("c_mktsegment", "CHAR(10)"),
            ("c_comment", "VARCHAR(117)"),
        ],
        key: &["c_custkey"],
        fixed: false,
    },
    Table {
        name: "orders",
        columns: &[
            ("o_orderkey", "BIGINT"),
            ("o_custkey", "INT"),
            ("o_orderstatus", "CHAR(1)"),
            ("o_totalprice", "DECIMAL(15,2)"),
            ("o_orderdate", "DATE"),
            ("o_orderpriority", "CHAR(15)"),
            ("o_clerk", "CHAR(15)"),
            ("o_shippriority", "INT"),
            ("o_comment", "VARCHAR(79)"),
        ],
        key: &["o_orderkey"],
        fixed: false,
    },
    Table {
        name: "lineitem",
        columns: &[
            ("l_orderkey", "BIGINT"),
            ("l_partkey", "INT"),
            ("l_suppkey", "INT"),
            ("l_linenumber", "INT"),
            ("l_quantity", "DECIMAL(15,2)"),
            ("l_extendedprice", "DECIMAL(15,2)"),
            ("l_discount", "DECIMAL(15,2)"),
            ("l_tax", "DECIMAL(15,2)"),
            ("l_returnflag", "CHAR(1)"),
            ("l_linestatus", "CHAR(1)"),
            ("l_shipdate", "DATE"),
            ("l_commitdate", "DATE"),
            ("l_receiptdate", "DATE"),
            ("l_shipinstruct", "VARCHAR(25)"),
            ("l_shipmode", "VARCHAR(10)"),
            ("l_comment", "VARCHAR(44)"),
        ],
        key: &["l_orderkey", "l_partkey", "l_suppkey", "l_linenumber"],
        fixed: false,
    },
];

/// The table called `name`.
pub fn table(name: &str) -> anyhow::Result<&'static Table> {
    TABLES
        .iter()
        .find(|t| t.name == name)
        .with_context(|| format!("no TPC-H table {name:?}"))
}

impl Table {
    /// The column names in file order.
    pub fn column_names(&self) -> Vec<&'static str> {
        self.columns.iter().map(|(n, _)| *n).collect()
    }

    fn column_list(&self) -> String {
        let width = self.columns.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        self.columns
            .iter()
            .map(|(n, ty)| format!("  {n:<width$} {ty:<13} NOT NULL"))
            .collect::<Vec<_>>()
            .join(",\n")
    }

    /// Tessera's (StarRocks's) `CREATE TABLE db.name`: `DUPLICATE KEY` on the key columns,
    /// `DISTRIBUTED BY HASH(<first key>) BUCKETS buckets`, `replication_num` 3 and the extra
    /// `properties`.
    pub fn starrocks_ddl(&self, db: &str, buckets: u32, properties: &[(&str, &str)]) -> String {
        let mut props = vec![("replication_num", "3")];
        props.extend_from_slice(properties);
        let props: Vec<String> = props
            .iter()
            .map(|(k, v)| format!("\"{k}\" = \"{v}\""))
            .collect();
        format!(
            "CREATE TABLE `{db}`.`{}` (\n{}\n) DUPLICATE KEY({})\nDISTRIBUTED BY HASH({}) BUCKETS {buckets}\nPROPERTIES ({})",
            self.name,
            self.column_list(),
            self.key.join(", "),
            self.key[0],
            props.join(", ")
        )
    }

    /// DuckDB's `CREATE TABLE name`: the same columns and types, no keys.
    pub fn duckdb_ddl(&self) -> String {
        format!("CREATE TABLE {} (\n{}\n)", self.name, self.column_list())
    }

    /// The Stream Load headers for this table's file in `format` (`tbl` or `csv`).
    pub fn load_headers(&self, format: &str, label: &str) -> Vec<(String, String)> {
        let mut h = vec![("label".to_string(), label.to_string())];
        if format == "tbl" {
            // dbgen ends every line with a separator: an extra, empty field, read into a
            // column that is not in the table (StarRocks's way of loading .tbl files), named
            // with the table's column prefix: `l_dummy`, `ps_dummy`, ...
            let prefix = self.columns[0].0.split('_').next().unwrap_or("tpch");
            h.push(("column_separator".into(), "|".into()));
            h.push((
                "columns".into(),
                format!("{},{prefix}_dummy", self.column_names().join(",")),
            ));
        } else {
            h.push(("column_separator".into(), ",".into()));
            h.push(("skip_header".into(), "1".into()));
            h.push(("enclose".into(), "\"".into()));
        }
        h
    }
}

/// One generated table file.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The table.
    pub table: &'static str,
    /// The scale factor, normalized (`0.1`, `1`).
    pub scale: String,
    /// The file.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// Its data rows (lines, less the header of a `csv` file).
    pub rows: u64,
}

/// Lines (`\n`) in a file, read in 1 MiB pieces.
pub fn count_lines(path: &Path) -> anyhow::Result<u64> {
    let mut f = std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let r = f.read(&mut buf)?;
        if r == 0 {
            return Ok(n);
        }
        n += buf[..r].iter().filter(|&&b| b == b'\n').count() as u64;
    }
}

/// A scale factor as the cache directory names it (`0.10` and `.1` are both `0.1`).
pub fn normalize_scale(scale: &str) -> anyhow::Result<String> {
    let sf: f64 = scale
        .trim()
        .parse()
        .with_context(|| format!("scale factor {scale:?}"))?;
    anyhow::ensure!(
        sf > 0.0 && sf.is_finite(),
        "scale factor {scale} must be > 0"
    );
    Ok(format!("{sf}"))
}

/// Finds the cached file of `table` at `scale` in `format` (`<data_dir>/sf<scale>/<table>.<format>`
/// with its row count in `<table>.<format>.rows`), or generates it with `tpchgen` (once).
pub fn ensure_table(
    tpchgen: &Path,
    data_dir: &Path,
    scale: &str,
    format: &str,
    table: &'static str,
) -> anyhow::Result<Dataset> {
    let scale = normalize_scale(scale)?;
    let dir = data_dir.join(format!("sf{scale}"));
    let file = dir.join(format!("{table}.{format}"));
    let rows_file = dir.join(format!("{table}.{format}.rows"));
    if let (Ok(meta), Ok(rows)) = (
        std::fs::metadata(&file),
        std::fs::read_to_string(&rows_file),
    ) && let Ok(rows) = rows.trim().parse::<u64>()
    {
        return Ok(Dataset {
            table,
            scale,
            path: file,
            bytes: meta.len(),
            rows,
        });
    }
    let tmp = dir.join(format!(".gen-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).with_context(|| format!("create {}", tmp.display()))?;
    eprintln!(
        "generating TPC-H {table} SF {scale} ({format}) into {} ...",
        dir.display()
    );
    let t0 = Instant::now();
    let st = Command::new(tpchgen)
        .arg(format)
        .args(["-s", &scale, "--tables", table, "-q", "-o"])
        .arg(&tmp)
        .status()
        .with_context(|| format!("run {}", tpchgen.display()))?;
    anyhow::ensure!(st.success(), "{} failed: {st}", tpchgen.display());
    std::fs::rename(tmp.join(format!("{table}.{format}")), &file)
        .with_context(|| format!("move the generated file to {}", file.display()))?;
    let _ = std::fs::remove_dir_all(&tmp);
    let lines = count_lines(&file)?;
    let rows = if format == "csv" {
        lines.saturating_sub(1)
    } else {
        lines
    };
    std::fs::write(&rows_file, format!("{rows}\n"))?;
    let bytes = std::fs::metadata(&file)?.len();
    eprintln!(
        "  {rows} rows, {:.1} MB in {:.1} s",
        bytes as f64 / 1e6,
        t0.elapsed().as_secs_f64()
    );
    Ok(Dataset {
        table,
        scale,
        path: file,
        bytes,
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_and_headers() {
        let li = table("lineitem").expect("lineitem");
        let ddl = li.starrocks_ddl("tpch", 8, &[("write_quorum", "ALL")]);
        assert!(ddl.starts_with("CREATE TABLE `tpch`.`lineitem` (\n  l_orderkey "));
        assert!(ddl.contains(
            "DUPLICATE KEY(l_orderkey, l_partkey, l_suppkey, l_linenumber)\nDISTRIBUTED BY HASH(l_orderkey) BUCKETS 8\n"
        ));
        assert!(
            ddl.ends_with("PROPERTIES (\"replication_num\" = \"3\", \"write_quorum\" = \"ALL\")")
        );
        assert_eq!(ddl.matches("NOT NULL").count(), 16);
        assert!(li.duckdb_ddl().starts_with("CREATE TABLE lineitem (\n"));
        let h = table("nation").expect("nation").load_headers("tbl", "x");
        assert_eq!(h[2].1, "n_nationkey,n_name,n_regionkey,n_comment,n_dummy");
        for t in &TABLES {
            assert!(
                t.columns
                    .iter()
                    .take(t.key.len())
                    .map(|c| c.0)
                    .eq(t.key.iter().copied())
            );
        }
        assert_eq!(normalize_scale("0.10").expect("scale"), "0.1");
        assert!(normalize_scale("0").is_err());
    }
}
