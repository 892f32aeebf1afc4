//! `query`: the 22 TPC-H queries over the eight tables loaded by Stream Load into 3-replica
//! tables on 3 BEs (one FE), each timed side by side in the same run with DuckDB holding the
//! same data in tables of its own (`SET threads` = the machine's cores); per-query ratios and
//! their geometric mean, with both systems' answers compared. Run it through
//! `bench/run.sh query` (see docs/benchmarks.md).

use std::collections::HashSet;
use std::io::BufRead;
use std::io::BufReader;
use std::io::Write;
use std::path::Path;
use std::path::PathBuf;
use std::process::ChildStdin;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use tessera_bench::backend::LoadCluster;
use tessera_bench::client::mysql_err;
use tessera_bench::cpu;
use tessera_bench::procs;
use tessera_bench::procs::Proc;
use tessera_bench::report::fmt;
use tessera_bench::report::min_med_max;
use tessera_bench::report::print_table;
use tessera_bench::report::ratio;
use tessera_bench::rowcmp;
use tessera_bench::settle_disk;
use tessera_bench::stream_load::LoadRequest;
use tessera_bench::stream_load::stream_load;
use tessera_bench::tessera::sql;
use tessera_bench::tpch;
use tessera_bench::tpch::Dataset;

const DB: &str = "tpch";
const FORMAT: &str = "tbl";
const MB: f64 = 1e6;
/// Goals of issue 5.
const GOAL_GEOMEAN: f64 = 1.5;
const GOAL_Q1_Q6: f64 = 1.2;

#[derive(Parser, Debug, Clone)]
#[command(
    about = "The 22 TPC-H queries on Tessera (1 FE + 3 BEs, 3-replica tables loaded by Stream Load) vs DuckDB, side by side"
)]
struct Args {
    /// The release `tessera` binary.
    #[arg(long)]
    tessera_bin: PathBuf,
    /// Scratch directory (data dirs, logs, pid file, DuckDB's database file).
    #[arg(long)]
    work: PathBuf,
    /// Node i (FE 1 and BE 1 share the first address) listens on 127.0.0.(ip_base + i - 1).
    #[arg(long, default_value_t = 1)]
    ip_base: u8,
    /// Also write one JSON object per load, per query and per summary figure here.
    #[arg(long)]
    json_out: Option<PathBuf>,
    /// TPC-H scale factor.
    #[arg(long, default_value = "1")]
    scale: String,
    /// Timed runs of each query on each system (after the warm-up runs); the figure is
    /// their median.
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Untimed runs of each query on each system before the timed ones.
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Which queries (numbers 1..=22, `q6` or `Q06` also taken); default all 22.
    #[arg(long, value_delimiter = ',')]
    queries: Vec<String>,
    /// The directory of q01.sql .. q22.sql.
    #[arg(long, default_value = "bench/queries/tpch")]
    queries_dir: PathBuf,
    /// BUCKETS of every table but nation and region (which get 1).
    #[arg(long, default_value_t = 8)]
    buckets: u32,
    /// DuckDB's `SET threads` (default: the machine's cores).
    #[arg(long)]
    duckdb_threads: Option<usize>,
    /// Which systems to run.
    #[arg(long, value_delimiter = ',', default_value = "duckdb,tessera")]
    systems: Vec<String>,
    /// The Python that has `duckdb` installed.
    #[arg(long, default_value = "python3")]
    python: PathBuf,
    /// bench/query_duckdb.py.
    #[arg(long, default_value = "bench/query_duckdb.py")]
    duckdb_script: PathBuf,
    /// tpchgen-cli (PyPI or crates.io).
    #[arg(long, default_value = "tpchgen-cli")]
    tpchgen: PathBuf,
    /// Where generated files are kept between runs (`<dir>/sf<scale>/<table>.tbl`).
    #[arg(long)]
    data_dir: PathBuf,
    /// Only generate (or find) the data files and read the queries, then exit.
    #[arg(long)]
    prepare_only: bool,
    /// Longest a single table load may take, seconds.
    #[arg(long, default_value_t = 3600)]
    load_timeout_secs: u64,
    /// Longest a single run of a query may take, seconds (Tessera's `query_timeout` is set
    /// to this too); a query that takes longer is reported as FAILED.
    #[arg(long, default_value_t = 600)]
    query_timeout_secs: u64,
}

/// One TPC-H query.
#[derive(Debug, Clone)]
struct Query {
    /// `Q1` .. `Q22`.
    name: String,
    file: PathBuf,
    /// The statement as sent: comment lines and the final `;` removed.
    sql: String,
}

/// The query numbers `--queries` names (all 22 when empty).
fn query_numbers(spec: &[String]) -> anyhow::Result<Vec<u32>> {
    let mut out = Vec::new();
    for s in spec {
        let t = s.trim();
        if t.is_empty() {
            continue;
        }
        let n: u32 = t
            .trim_start_matches(['q', 'Q'])
            .parse()
            .with_context(|| format!("--queries: {t:?} is not a query number"))?;
        anyhow::ensure!((1..=22).contains(&n), "--queries: no TPC-H query {n}");
        if !out.contains(&n) {
            out.push(n);
        }
    }
    if out.is_empty() {
        out = (1..=22).collect();
    }
    Ok(out)
}

/// The statement of a query file: `--` comment lines and a trailing `;` dropped.
fn statement(text: &str) -> String {
    let body: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect();
    body.join("\n")
        .trim()
        .trim_end_matches(';')
        .trim_end()
        .to_string()
}

fn read_queries(args: &Args) -> anyhow::Result<Vec<Query>> {
    query_numbers(&args.queries)?
        .into_iter()
        .map(|n| {
            let file = args.queries_dir.join(format!("q{n:02}.sql"));
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("read {}", file.display()))?;
            let sql = statement(&text);
            anyhow::ensure!(!sql.is_empty(), "{} holds no statement", file.display());
            Ok(Query {
                name: format!("Q{n}"),
                file,
                sql,
            })
        })
        .collect()
}

/// One system's runs of one query.
#[derive(Debug, Clone, Default)]
struct SysRun {
    /// Timed runs, ms.
    times_ms: Vec<f64>,
    columns: Vec<String>,
    /// The last run's rows.
    rows: Vec<Vec<Option<String>>>,
    /// Why it failed (no times then, or fewer than asked).
    error: Option<String>,
    /// During the timed runs.
    usage: cpu::Usage,
}

impl SysRun {
    fn failed(msg: String) -> SysRun {
        SysRun {
            error: Some(msg),
            ..SysRun::default()
        }
    }
    fn median(&self) -> f64 {
        if self.error.is_some() {
            return f64::NAN;
        }
        min_med_max(&self.times_ms).1
    }
    fn ok(&self) -> bool {
        self.error.is_none() && !self.times_ms.is_empty()
    }
}

/// One query on both systems.
#[derive(Debug, Clone)]
struct QueryRun {
    query: Query,
    tessera: Option<SysRun>,
    duckdb: Option<SysRun>,
    verdict: Option<rowcmp::Verdict>,
}

impl QueryRun {
    /// Both ran and the answers match: the ratio counts.
    fn counted(&self) -> bool {
        matches!((&self.tessera, &self.duckdb), (Some(t), Some(d)) if t.ok() && d.ok())
            && self.verdict.as_ref().is_some_and(rowcmp::Verdict::matches)
    }
    fn ratio(&self) -> f64 {
        match (&self.tessera, &self.duckdb) {
            (Some(t), Some(d)) if t.ok() && d.ok() => t.median() / d.median(),
            _ => f64::NAN,
        }
    }
    fn result(&self) -> String {
        let t = self.tessera.as_ref();
        let d = self.duckdb.as_ref();
        if let Some(e) = t.and_then(|r| r.error.as_ref()) {
            return format!("FAILED in Tessera: {}", one_line(e, 160));
        }
        if let Some(e) = d.and_then(|r| r.error.as_ref()) {
            return format!("FAILED in DuckDB: {}", one_line(e, 160));
        }
        match &self.verdict {
            Some(v) => v.describe("Tessera", "DuckDB"),
            None => "not compared (one system only)".into(),
        }
    }
    fn json(&self, scale: &str) -> serde_json::Value {
        let side = |r: &Option<SysRun>| match r {
            None => serde_json::Value::Null,
            Some(r) => serde_json::json!({
                "times_ms": r.times_ms, "median_ms": r.median(), "rows": r.rows.len(),
                "columns": r.columns, "error": r.error,
                "servers_cpu_pct": r.usage.servers_pct, "client_cpu_pct": r.usage.client_pct,
                "foreign_cpu_pct": r.usage.foreign_pct,
            }),
        };
        serde_json::json!({
            "bench": "query", "scale": scale, "query": self.query.name,
            "file": self.query.file.display().to_string(),
            "tessera": side(&self.tessera), "duckdb": side(&self.duckdb),
            "ratio_tessera_duckdb": self.ratio(), "counted": self.counted(),
            "result": self.result(),
        })
    }
}

fn one_line(s: &str, max: usize) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() <= max {
        s
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

/// One table load (either system).
#[derive(Debug, Clone)]
struct Load {
    system: &'static str,
    table: &'static str,
    rows: u64,
    bytes: u64,
    secs: f64,
}

/// DuckDB in a Python process of its own, driven over stdin/stdout by JSON lines.
struct Duck {
    proc: Proc,
    stdin: ChildStdin,
    replies: mpsc::Receiver<String>,
    log: PathBuf,
}

impl Duck {
    fn start(args: &Args, dir: &Path, pid_file: &Path) -> anyhow::Result<Duck> {
        std::fs::create_dir_all(dir)?;
        let log = dir.join("duckdb.log");
        let mut cmd = Command::new(&args.python);
        cmd.arg(&args.duckdb_script)
            .arg("--db")
            .arg(dir.join("tpch.duckdb"));
        let (proc, stdin, stdout) = Proc::spawn_piped("duckdb", &mut cmd, &log, pid_file)?;
        let (tx, replies) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Duck {
            proc,
            stdin,
            replies,
            log,
        })
    }

    fn pid(&self) -> Option<u32> {
        self.proc.pid()
    }

    /// Sends one command and waits (at most `timeout`) for its reply; `"ok": false`
    /// replies come back as `Ok` too (the caller decides).
    fn call(
        &mut self,
        req: &serde_json::Value,
        timeout: Duration,
    ) -> anyhow::Result<serde_json::Value> {
        writeln!(self.stdin, "{req}").context("write to the DuckDB process")?;
        self.stdin.flush()?;
        let line = tokio::task::block_in_place(|| self.replies.recv_timeout(timeout));
        match line {
            Ok(l) => serde_json::from_str(&l).with_context(|| format!("DuckDB replied {l:?}")),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                anyhow::bail!("DuckDB did not answer within {timeout:?}")
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => anyhow::bail!(
                "the DuckDB process exited:\n{}",
                procs::log_tail(&self.log, 30)
            ),
        }
    }
}

/// Loads every table into DuckDB (untimed for the ratios; the times are reported).
fn duckdb_load(
    duck: &mut Duck,
    args: &Args,
    data: &[Dataset],
    threads: usize,
) -> anyhow::Result<(serde_json::Value, Vec<Load>)> {
    let tables: anyhow::Result<Vec<serde_json::Value>> = data
        .iter()
        .map(|d| {
            Ok(serde_json::json!({
                "name": d.table,
                "ddl": tpch::table(d.table)?.duckdb_ddl(),
                "file": d.path.display().to_string(),
            }))
        })
        .collect();
    let req = serde_json::json!({"cmd": "load", "threads": threads, "tables": tables?});
    let v = duck.call(&req, Duration::from_secs(args.load_timeout_secs))?;
    anyhow::ensure!(
        v["ok"].as_bool() == Some(true),
        "DuckDB load failed: {}",
        v["error"]
    );
    let mut loads = Vec::new();
    for d in data {
        let rows = v["rows"][d.table].as_u64();
        anyhow::ensure!(
            rows == Some(d.rows),
            "DuckDB loaded {rows:?} rows into {}, the file has {}",
            d.table,
            d.rows
        );
        loads.push(Load {
            system: "duckdb",
            table: d.table,
            rows: d.rows,
            bytes: d.bytes,
            secs: v["table_secs"][d.table].as_f64().unwrap_or(f64::NAN),
        });
    }
    Ok((v, loads))
}

/// Creates the database and the eight tables, Stream Loads every file (checking each
/// reply), then checks `SELECT count(*)` of every table over MySQL.
async fn tessera_load(
    cluster: &LoadCluster,
    args: &Args,
    data: &[Dataset],
) -> anyhow::Result<Vec<Load>> {
    let q = cluster.query_addr();
    sql(&q, &format!("CREATE DATABASE `{DB}`")).await?;
    for d in data {
        let t = tpch::table(d.table)?;
        let buckets = if t.fixed { 1 } else { args.buckets };
        sql(&q, &t.starrocks_ddl(DB, buckets, &[])).await?;
    }
    settle_disk();
    let mut loads = Vec::new();
    for d in data {
        let t = tpch::table(d.table)?;
        let label = format!(
            "bench_query_{}_{}",
            d.table,
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0)
        );
        let req = LoadRequest {
            fe_http: cluster.http_addr(),
            db: DB.into(),
            table: d.table.into(),
            user: "root".into(),
            password: String::new(),
            headers: t.load_headers(FORMAT, &label),
        };
        let out = tokio::time::timeout(
            Duration::from_secs(args.load_timeout_secs),
            stream_load(&req, &d.path, |_| {}),
        )
        .await
        .map_err(|_| anyhow::anyhow!("no reply within {} s", args.load_timeout_secs))?
        .with_context(|| format!("Stream Load of {}", d.table))?;
        out.ensure_loaded(&d.path.display().to_string(), d.rows)?;
        let secs = out.total.as_secs_f64();
        eprintln!(
            "  tessera: {:<8} {:>9} rows {:>8.1} MB in {:>6.2} s",
            d.table,
            d.rows,
            d.bytes as f64 / MB,
            secs
        );
        loads.push(Load {
            system: "tessera",
            table: d.table,
            rows: d.rows,
            bytes: d.bytes,
            secs,
        });
    }
    // The rows must be visible to queries: count(*) over MySQL (a Stream Load returns after
    // publish, so this should hold at once; allow a little for the replicas' reports).
    for d in data {
        let stmt = format!("SELECT count(*) FROM `{DB}`.`{}`", d.table);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = sql(&q, &stmt).await?;
            let n: Option<u64> = r
                .rows
                .first()
                .and_then(|row| row.first())
                .and_then(|c| c.as_deref())
                .and_then(|c| c.parse().ok());
            if n == Some(d.rows) {
                break;
            }
            if Instant::now() >= deadline {
                anyhow::bail!(
                    "`{stmt}` answers {n:?}, but {} rows were loaded (Stream Load said Success)",
                    d.rows
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    eprintln!("  tessera: SELECT count(*) of every table matches the files");
    Ok(loads)
}

/// A MySQL session on the FE, opened when needed (again after a broken one).
struct Session {
    addr: String,
    timeout: Duration,
    conn: Option<mysql::client::Client>,
}

impl Session {
    async fn conn(&mut self) -> anyhow::Result<&mut mysql::client::Client> {
        if self.conn.is_none() {
            let mut c = mysql::client::Client::connect_timeout(
                &self.addr,
                "root",
                "",
                Some(DB),
                Duration::from_secs(10),
            )
            .await
            .map_err(mysql_err)
            .with_context(|| format!("connect to {}", self.addr))?;
            // The server's own limit too (best effort: the client's timeout holds anyway).
            let _ = c
                .query(&format!("SET query_timeout = {}", self.timeout.as_secs()))
                .await;
            self.conn = Some(c);
        }
        self.conn.as_mut().context("no connection")
    }

    /// One run: the time from sending the statement until the whole result is read.
    async fn run(&mut self, stmt: &str) -> Result<(f64, mysql::client::QueryResult), String> {
        let timeout = self.timeout;
        let c = self.conn().await.map_err(|e| format!("{e:#}"))?;
        let t0 = Instant::now();
        let r = tokio::time::timeout(timeout, c.query(stmt)).await;
        let ms = t0.elapsed().as_secs_f64() * 1000.0;
        match r {
            Ok(Ok(res)) => Ok((ms, res)),
            Ok(Err(e)) => {
                // 2000..=2999 and 0 are the client's own errors: the connection is gone.
                if e.code == 0 || (2000..3000).contains(&e.code) {
                    self.conn = None;
                }
                Err(format!("ERROR {} ({}): {}", e.code, e.sql_state, e.message))
            }
            Err(_) => {
                self.conn = None;
                Err(format!("no answer within {} s", timeout.as_secs()))
            }
        }
    }
}

async fn tessera_query(s: &mut Session, q: &Query, args: &Args, servers: &HashSet<u32>) -> SysRun {
    for _ in 0..args.warmup {
        if let Err(e) = s.run(&q.sql).await {
            return SysRun::failed(e);
        }
    }
    let mut out = SysRun::default();
    let a = cpu::snapshot();
    for _ in 0..args.reps {
        match s.run(&q.sql).await {
            Ok((ms, res)) => {
                out.times_ms.push(ms);
                out.columns = res.columns;
                out.rows = res.rows;
            }
            Err(e) => {
                out.error = Some(e);
                break;
            }
        }
    }
    out.usage = cpu::usage(&a, &cpu::snapshot(), servers);
    out
}

fn duckdb_query(duck: &mut Duck, q: &Query, args: &Args, servers: &HashSet<u32>) -> SysRun {
    let call = |duck: &mut Duck, warmup: usize, reps: usize| {
        let req = serde_json::json!({
            "cmd": "query", "sql": q.sql, "warmup": warmup, "reps": reps,
        });
        let runs = (warmup + reps).max(1) as u64;
        let timeout = Duration::from_secs(args.query_timeout_secs * runs + 10);
        match duck.call(&req, timeout) {
            Ok(v) if v["ok"].as_bool() == Some(true) => Ok(v),
            Ok(v) => Err(v["error"].as_str().unwrap_or("no error text").to_string()),
            Err(e) => Err(format!("{e:#}")),
        }
    };
    if args.warmup > 0
        && let Err(e) = call(duck, args.warmup, 0)
    {
        return SysRun::failed(e);
    }
    let a = cpu::snapshot();
    let v = match call(duck, 0, args.reps) {
        Ok(v) => v,
        Err(e) => return SysRun::failed(e),
    };
    let usage = cpu::usage(&a, &cpu::snapshot(), servers);
    let text = |c: &serde_json::Value| c.as_str().map(str::to_string);
    SysRun {
        times_ms: v["times_ms"]
            .as_array()
            .map(|a| a.iter().filter_map(serde_json::Value::as_f64).collect())
            .unwrap_or_default(),
        columns: v["columns"]
            .as_array()
            .map(|a| a.iter().filter_map(text).collect())
            .unwrap_or_default(),
        rows: v["rows"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .map(|r| {
                        r.as_array()
                            .map(|cells| cells.iter().map(text).collect())
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .unwrap_or_default(),
        error: None,
        usage,
    }
}

/// Everything a run produced (kept even when it stops half way).
#[derive(Default)]
struct Outcome {
    loads: Vec<Load>,
    duck_info: serde_json::Value,
    threads: usize,
    queries: Vec<QueryRun>,
}

fn progress(r: &QueryRun) {
    let ms = |s: &Option<SysRun>| match s {
        Some(s) if s.ok() => format!("{:>9.1} ms", s.median()),
        Some(_) => "   FAILED   ".into(),
        None => "       -    ".into(),
    };
    eprintln!(
        "  {:<4} tessera {}  duckdb {}  ratio {:>6}  {}",
        r.query.name,
        ms(&r.tessera),
        ms(&r.duckdb),
        ratio(
            r.tessera.as_ref().map(SysRun::median).unwrap_or(f64::NAN),
            r.duckdb.as_ref().map(SysRun::median).unwrap_or(f64::NAN)
        ),
        r.result()
    );
}

async fn run(
    args: &Args,
    data: &[Dataset],
    queries: &[Query],
    out: &mut Outcome,
) -> anyhow::Result<()> {
    let pid_file = args.work.join("pids");
    procs::init_pid_file(&pid_file)?;
    let want = |s: &str| args.systems.iter().any(|x| x == s);
    out.threads = args.duckdb_threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let mut duck = None;
    if want("duckdb") {
        eprintln!(
            "duckdb: loading {} tables (SET threads = {}) ...",
            data.len(),
            out.threads
        );
        let mut d = Duck::start(args, &args.work.join("duckdb"), &pid_file)?;
        let (info, loads) = duckdb_load(&mut d, args, data, out.threads)?;
        eprintln!(
            "  duckdb {}: loaded in {:.2} s (database file {:.1} MB)",
            info["duckdb_version"].as_str().unwrap_or("?"),
            info["secs"].as_f64().unwrap_or(f64::NAN),
            info["db_bytes"].as_f64().unwrap_or(f64::NAN) / MB
        );
        out.duck_info = info;
        out.loads.extend(loads);
        duck = Some(d);
    }
    let mut cluster = None;
    if want("tessera") {
        eprintln!(
            "tessera: starting 1 FE + 3 BEs, creating and loading {} tables ...",
            data.len()
        );
        let t0 = Instant::now();
        let c = LoadCluster::start(
            &args.tessera_bin,
            &args.work.join("tessera"),
            &pid_file,
            args.ip_base,
        )
        .await?;
        eprintln!("  cluster up in {:.1} s", t0.elapsed().as_secs_f64());
        out.loads.extend(tessera_load(&c, args, data).await?);
        cluster = Some(c);
    }
    let mut servers: HashSet<u32> = cluster
        .as_ref()
        .map(LoadCluster::server_pids)
        .unwrap_or_default();
    servers.extend(duck.as_ref().and_then(Duck::pid));
    let mut session = cluster.as_ref().map(|c| Session {
        addr: c.query_addr(),
        timeout: Duration::from_secs(args.query_timeout_secs),
        conn: None,
    });
    settle_disk();
    eprintln!(
        "queries: {} warm-up + {} timed run(s) each, Tessera first, then DuckDB",
        args.warmup, args.reps
    );
    let mut be_died = false;
    for q in queries {
        let mut tessera = match session.as_mut() {
            Some(s) => Some(tessera_query(s, q, args, &servers).await),
            None => None,
        };
        // A backend that died during this query fails it (once); the others go on against
        // the surviving replicas.
        if let (Some(c), Some(t)) = (&cluster, tessera.as_mut())
            && !be_died
            && let Err(e) = c.bes.check_alive()
        {
            be_died = true;
            let before = t.error.take().map(|e| format!("{e}; ")).unwrap_or_default();
            t.error = Some(format!("{before}a backend died during this query: {e:#}"));
        }
        let duckdb = duck.as_mut().map(|d| duckdb_query(d, q, args, &servers));
        let verdict = match (&tessera, &duckdb) {
            (Some(t), Some(d)) if t.ok() && d.ok() => Some(rowcmp::compare(&t.rows, &d.rows)),
            _ => None,
        };
        let r = QueryRun {
            query: q.clone(),
            tessera,
            duckdb,
            verdict,
        };
        progress(&r);
        out.queries.push(r);
    }
    if let Some(d) = duck.as_mut() {
        let _ = writeln!(d.stdin, "{{\"cmd\": \"quit\"}}");
        let _ = d.stdin.flush();
        let _ = tokio::task::block_in_place(|| d.proc.wait(Duration::from_secs(10)));
    }
    drop(cluster);
    Ok(())
}

fn geomean(v: &[f64]) -> f64 {
    let v: Vec<f64> = v
        .iter()
        .copied()
        .filter(|x| x.is_finite() && *x > 0.0)
        .collect();
    if v.is_empty() {
        return f64::NAN;
    }
    (v.iter().map(|x| x.ln()).sum::<f64>() / v.len() as f64).exp()
}

fn summarize(args: &Args, data: &[Dataset], out: &Outcome) -> Vec<serde_json::Value> {
    let mut json = Vec::new();
    let scale = data.first().map(|d| d.scale.clone()).unwrap_or_default();
    let bytes: u64 = data.iter().map(|d| d.bytes).sum();
    println!();
    println!(
        "## query: TPC-H SF {scale} ({} tables, {:.1} MB of `tbl` files), {} warm-up + {} timed run(s) per query, median",
        data.len(),
        bytes as f64 / MB,
        args.warmup,
        args.reps
    );
    println!();
    println!(
        "Tessera: 1 FE + 3 BEs, 3 replicas, BUCKETS {} (nation, region: 1), loaded by Stream Load, queried over MySQL. DuckDB: {}.",
        args.buckets,
        match out.duck_info["duckdb_version"].as_str() {
            Some(v) => format!(
                "{v}, one file database (tables loaded with COPY, then CHECKPOINT), SET threads = {}",
                out.duck_info["threads"]
            ),
            None => "not run".into(),
        }
    );
    println!();
    let mut rows = Vec::new();
    for l in &out.loads {
        rows.push(vec![
            l.system.to_string(),
            l.table.to_string(),
            l.rows.to_string(),
            fmt(l.bytes as f64 / MB, 1),
            fmt(l.secs, 2),
        ]);
        json.push(serde_json::json!({
            "bench": "query", "phase": "load", "scale": scale, "system": l.system,
            "table": l.table, "rows": l.rows, "bytes": l.bytes, "secs": l.secs,
        }));
    }
    if !rows.is_empty() {
        println!("Loads (not part of the ratios):");
        println!();
        print_table(&["system", "table", "rows", "MB", "s"], &rows);
        println!();
    }
    let mut rows = Vec::new();
    for r in &out.queries {
        let ms = |s: &Option<SysRun>| match s {
            Some(s) if s.ok() => fmt(s.median(), 1),
            Some(_) => "FAILED".into(),
            None => "-".into(),
        };
        let spread = |s: &Option<SysRun>| match s {
            Some(s) if s.ok() => {
                let (a, _, b) = min_med_max(&s.times_ms);
                format!("{} / {}", fmt(a, 1), fmt(b, 1))
            }
            _ => "-".into(),
        };
        let nrows = |s: &Option<SysRun>| match s {
            Some(s) if s.ok() => s.rows.len().to_string(),
            _ => "-".into(),
        };
        let foreign = [&r.tessera, &r.duckdb]
            .iter()
            .filter_map(|s| s.as_ref().map(|s| s.usage.foreign_pct))
            .fold(0.0f64, f64::max);
        rows.push(vec![
            r.query.name.clone(),
            ms(&r.tessera),
            ms(&r.duckdb),
            fmt(r.ratio(), 2),
            format!("{} / {}", nrows(&r.tessera), nrows(&r.duckdb)),
            // A `|` would end the markdown cell.
            r.result().replace('|', "\\|"),
            format!("{} ; {}", spread(&r.tessera), spread(&r.duckdb)),
            format!(
                "{foreign:.1}{}",
                if foreign > cpu::FOREIGN_LIMIT_PCT {
                    " ⚠"
                } else {
                    ""
                }
            ),
        ]);
        json.push(r.json(&scale));
    }
    print_table(
        &[
            "query",
            "Tessera ms",
            "DuckDB ms",
            "ratio T/D",
            "rows T / D",
            "result",
            "min / max ms: Tessera ; DuckDB",
            "max foreign cpu %",
        ],
        &rows,
    );
    let counted: Vec<&QueryRun> = out.queries.iter().filter(|r| r.counted()).collect();
    let ratios: Vec<f64> = counted.iter().map(|r| r.ratio()).collect();
    let gm = geomean(&ratios);
    let gm_t = geomean(
        &counted
            .iter()
            .map(|r| r.tessera.as_ref().map(SysRun::median).unwrap_or(f64::NAN))
            .collect::<Vec<_>>(),
    );
    let gm_d = geomean(
        &counted
            .iter()
            .map(|r| r.duckdb.as_ref().map(SysRun::median).unwrap_or(f64::NAN))
            .collect::<Vec<_>>(),
    );
    let failed: Vec<&QueryRun> = out
        .queries
        .iter()
        .filter(|r| r.tessera.as_ref().is_some_and(|t| !t.ok()))
        .collect();
    let wrong: Vec<&QueryRun> = out
        .queries
        .iter()
        .filter(|r| r.verdict.as_ref().is_some_and(|v| !v.matches()))
        .collect();
    println!();
    println!(
        "Geometric mean over the {} of {} queries that ran on both systems with the same answer: Tessera {} ms, DuckDB {} ms, ratio **{}**",
        counted.len(),
        out.queries.len(),
        fmt(gm_t, 1),
        fmt(gm_d, 1),
        fmt(gm, 2)
    );
    let q_ratio = |n: &str| {
        out.queries
            .iter()
            .find(|r| r.query.name == n && r.counted())
            .map(QueryRun::ratio)
            .unwrap_or(f64::NAN)
    };
    let all = counted.len() == 22;
    let met = |ok: bool, measured: bool| {
        if !measured {
            "NOT MEASURED"
        } else if ok {
            "MET"
        } else {
            "NOT MET"
        }
    };
    println!();
    println!(
        "Goal: geometric-mean ratio at most {GOAL_GEOMEAN} over all 22 queries: {} ({}{})",
        met(all && gm <= GOAL_GEOMEAN, all && gm.is_finite()),
        fmt(gm, 2),
        if all {
            String::new()
        } else {
            format!(", over {} queries only", counted.len())
        }
    );
    let (q1, q6) = (q_ratio("Q1"), q_ratio("Q6"));
    for (n, v) in [("Q1", q1), ("Q6", q6)] {
        println!(
            "Goal: {n} ratio at most {GOAL_Q1_Q6}: {} ({})",
            met(v <= GOAL_Q1_Q6, v.is_finite()),
            fmt(v, 2)
        );
    }
    if !failed.is_empty() {
        println!();
        println!("Queries that FAILED in Tessera ({}):", failed.len());
        for r in &failed {
            println!(
                "- {} ({}): {}",
                r.query.name,
                r.query.file.display(),
                r.tessera
                    .as_ref()
                    .and_then(|t| t.error.as_deref())
                    .unwrap_or("-")
            );
        }
    }
    if !wrong.is_empty() {
        println!();
        println!("Queries whose answers differ ({}):", wrong.len());
        for r in &wrong {
            println!("- {}: {}", r.query.name, r.result());
        }
    }
    if out
        .queries
        .iter()
        .flat_map(|r| [&r.tessera, &r.duckdb])
        .any(|s| s.as_ref().is_some_and(|s| s.usage.disturbed()))
    {
        println!();
        println!(
            "Note: queries marked ⚠ had more than {} % of a core of foreign CPU load during a timed window.",
            cpu::FOREIGN_LIMIT_PCT
        );
    }
    json.push(serde_json::json!({
        "bench": "query", "summary": "geomean", "scale": scale, "reps": args.reps,
        "warmup": args.warmup, "duckdb_threads": out.threads,
        "queries": out.queries.len(), "counted": counted.len(),
        "failed_in_tessera": failed.iter().map(|r| r.query.name.clone()).collect::<Vec<_>>(),
        "answers_differ": wrong.iter().map(|r| r.query.name.clone()).collect::<Vec<_>>(),
        "geomean_ratio": gm, "geomean_tessera_ms": gm_t, "geomean_duckdb_ms": gm_d,
        "q1_ratio": q1, "q6_ratio": q6,
        "goal_geomean_met": all && gm <= GOAL_GEOMEAN,
        "goal_q1_q6_met": q1 <= GOAL_Q1_Q6 && q6 <= GOAL_Q1_Q6,
    }));
    json
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let queries = read_queries(&args)?;
    let mut data = Vec::new();
    for t in &tpch::TABLES {
        data.push(tpch::ensure_table(
            &args.tpchgen,
            &args.data_dir,
            &args.scale,
            FORMAT,
            t.name,
        )?);
    }
    let bytes: u64 = data.iter().map(|d| d.bytes).sum();
    eprintln!(
        "data SF {}: {} tables, {:.1} MB in {}; {} queries from {}",
        data[0].scale,
        data.len(),
        bytes as f64 / MB,
        data[0].path.parent().unwrap_or(Path::new(".")).display(),
        queries.len(),
        args.queries_dir.display()
    );
    if args.prepare_only {
        return Ok(());
    }
    anyhow::ensure!(args.reps >= 1, "--reps must be at least 1");
    std::fs::create_dir_all(&args.work)?;
    eprintln!("load average before the run: {:.2}", cpu::loadavg1());
    let mut out = Outcome::default();
    let res = tokio::select! {
        r = run(&args, &data, &queries, &mut out) => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    let summary = summarize(&args, &data, &out);
    if let Some(p) = &args.json_out {
        let text: String = summary.iter().map(|v| format!("{v}\n")).collect();
        std::fs::write(p, text)?;
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_selection_and_text() {
        assert_eq!(query_numbers(&[]).expect("all").len(), 22);
        assert_eq!(
            query_numbers(&["q6".into(), "Q01".into(), "6".into()]).expect("some"),
            vec![6, 1]
        );
        assert!(query_numbers(&["23".into()]).is_err());
        assert!(query_numbers(&["x".into()]).is_err());
        assert_eq!(
            statement("-- TPC-H Q6\nselect 1\nfrom t;\n"),
            "select 1\nfrom t"
        );
        assert!((geomean(&[1.0, 4.0]) - 2.0).abs() < 1e-12);
        assert!(geomean(&[]).is_nan());
    }
}
