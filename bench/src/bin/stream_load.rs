//! `stream_load`: load throughput of TPC-H lineitem into a 3-replica table on 3 BEs (one FE),
//! by HTTP Stream Load exactly as a user sends it (PUT to the FE, 307 to a BE, the file
//! streamed from disk), side by side in the same run with DuckDB loading the same file into
//! a table of its own (one copy, `SET threads` = the machine's cores); for write_quorum ONE,
//! MAJORITY and ALL; plus the peak resident memory of the coordinator BE at two file sizes.
//! Run it through `bench/run.sh stream_load` (see docs/benchmarks.md).

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use tessera_bench::backend::LoadCluster;
use tessera_bench::backend::replica_rows;
use tessera_bench::cluster::Cluster;
use tessera_bench::cpu;
use tessera_bench::procs;
use tessera_bench::procs::Proc;
use tessera_bench::procs::RssSampler;
use tessera_bench::report::fmt;
use tessera_bench::report::min_med_max;
use tessera_bench::report::print_table;
use tessera_bench::report::ratio;
use tessera_bench::settle_disk;
use tessera_bench::stream_load::LoadRequest;
use tessera_bench::stream_load::stream_load;
use tessera_bench::tessera::sql;
use tessera_bench::tpch;
use tessera_bench::tpch::Dataset;

const DB: &str = "tpch";
const TABLE: &str = "lineitem";
const MB: f64 = 1e6;
const MIB: f64 = 1024.0;

#[derive(Parser, Debug, Clone)]
#[command(
    about = "Stream Load throughput of TPC-H lineitem into 3 replicas on 3 BEs vs DuckDB's CSV ingest"
)]
struct Args {
    /// The release `tessera` binary.
    #[arg(long)]
    tessera_bin: PathBuf,
    /// Scratch directory (data dirs, logs, pid file).
    #[arg(long)]
    work: PathBuf,
    /// Node i (FE 1 and BE 1 share the first address) listens on 127.0.0.(ip_base + i - 1).
    #[arg(long, default_value_t = 1)]
    ip_base: u8,
    /// Also write one JSON object per measurement and per summary figure here.
    #[arg(long)]
    json_out: Option<PathBuf>,
    /// TPC-H scale factor of the throughput runs.
    #[arg(long, default_value = "1")]
    scale: String,
    /// Further scale factors loaded once each (write_quorum MAJORITY) for the coordinator
    /// memory figure; compared with the --scale runs.
    #[arg(long, value_delimiter = ',', default_value = "0.1")]
    mem_scales: Vec<String>,
    /// File format: `tbl` (dbgen's `|`-separated lines with a trailing `|`, no header, no
    /// quotes) or `csv` (tpchgen-cli's `,`-separated CSV with a header line and `"`-quoted
    /// comments, loaded with `enclose` and `skip_header`).
    #[arg(long, default_value = "tbl", value_parser = ["tbl", "csv"])]
    format: String,
    /// Repetitions (each quorum and DuckDB once per rep; every Tessera load on a fresh cluster).
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// The table's write_quorum values to measure.
    #[arg(long, value_delimiter = ',', default_value = "ONE,MAJORITY,ALL")]
    quorums: Vec<String>,
    /// BUCKETS of the table (DISTRIBUTED BY HASH(l_orderkey)).
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
    /// bench/stream_load_duckdb.py.
    #[arg(long, default_value = "bench/stream_load_duckdb.py")]
    duckdb_script: PathBuf,
    /// tpchgen-cli (PyPI or crates.io).
    #[arg(long, default_value = "tpchgen-cli")]
    tpchgen: PathBuf,
    /// Where generated files are kept between runs (`<dir>/sf<scale>/lineitem.<format>`).
    #[arg(long)]
    data_dir: PathBuf,
    /// Only generate (or find) the data files, then exit.
    #[arg(long)]
    prepare_only: bool,
    /// Longest a single load may take, seconds.
    #[arg(long, default_value_t = 3600)]
    load_timeout_secs: u64,
}

/// Finds the cached lineitem file for `scale`, or generates it with tpchgen-cli (once).
fn ensure_data(args: &Args, scale: &str) -> anyhow::Result<Dataset> {
    tpch::ensure_table(&args.tpchgen, &args.data_dir, scale, &args.format, TABLE)
}

#[derive(Debug, Clone)]
struct Run {
    system: &'static str,
    /// Part of the throughput sweep (else: an extra memory-only load).
    sweep: bool,
    rep: usize,
    scale: String,
    quorum: String,
    bytes: u64,
    rows: u64,
    secs: f64,
    usage: cpu::Usage,
    // Tessera
    coordinator: String,
    coord_rss_before_kb: u64,
    coord_peak_rss_kb: u64,
    coord_hwm_kb: u64,
    other_be_peak_rss_kb: u64,
    fe_peak_rss_kb: u64,
    replicas_ok: Option<bool>,
    reply: serde_json::Value,
    redirect_ms: f64,
    // DuckDB
    duck: serde_json::Value,
}

impl Run {
    fn mb_s(&self) -> f64 {
        self.bytes as f64 / MB / self.secs
    }
    fn rows_s(&self) -> f64 {
        self.rows as f64 / self.secs
    }
    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "bench": "stream_load", "system": self.system, "sweep": self.sweep,
            "rep": self.rep + 1, "scale": self.scale, "write_quorum": self.quorum,
            "bytes": self.bytes, "rows": self.rows, "secs": self.secs,
            "mb_s": self.mb_s(), "rows_s": self.rows_s(),
            "foreign_cpu_pct": self.usage.foreign_pct, "servers_cpu_pct": self.usage.servers_pct,
            "client_cpu_pct": self.usage.client_pct,
            "coordinator": self.coordinator,
            "coordinator_rss_before_mib": self.coord_rss_before_kb as f64 / MIB,
            "coordinator_peak_rss_mib": self.coord_peak_rss_kb as f64 / MIB,
            "coordinator_vmhwm_mib": self.coord_hwm_kb as f64 / MIB,
            "other_be_peak_rss_mib": self.other_be_peak_rss_kb as f64 / MIB,
            "fe_peak_rss_mib": self.fe_peak_rss_kb as f64 / MIB,
            "replicas_ok": self.replicas_ok, "redirect_ms": self.redirect_ms,
            "reply": self.reply, "duckdb": self.duck,
        })
    }
}

fn ddl(quorum: &str, buckets: u32) -> anyhow::Result<String> {
    let q = quorum.to_ascii_uppercase();
    Ok(tpch::table(TABLE)?.starrocks_ddl(DB, buckets, &[("write_quorum", &q)]))
}

/// One Tessera load on a fresh cluster: 1 FE + 3 BEs, a new 3-replica table, one Stream Load.
async fn tessera_load(
    args: &Args,
    ds: &Dataset,
    quorum: &str,
    rep: usize,
    sweep: bool,
    seq: usize,
) -> anyhow::Result<Run> {
    let pid_file = args.work.join("pids");
    let dir = args.work.join(format!("tessera-{seq}"));
    std::fs::create_dir_all(&dir)?;
    let t_start = Instant::now();
    let cluster = LoadCluster::start(&args.tessera_bin, &dir, &pid_file, args.ip_base).await?;
    let (bes, ips) = (&cluster.bes, &cluster.ips);
    let q = cluster.query_addr();
    sql(&q, &format!("CREATE DATABASE `{DB}`")).await?;
    sql(&q, &ddl(quorum, args.buckets)?).await?;
    eprintln!(
        "  cluster up and table created in {:.1} s",
        t_start.elapsed().as_secs_f64()
    );
    settle_disk();
    let fe_pids = cluster.fe.server_pids();
    let servers: HashSet<u32> = cluster.server_pids();
    let before: Vec<(String, procs::Mem)> = ips
        .iter()
        .filter_map(|ip| bes.pid_of(ip).and_then(procs::mem).map(|m| (ip.clone(), m)))
        .collect();
    let mut watched: Vec<u32> = ips.iter().filter_map(|ip| bes.pid_of(ip)).collect();
    watched.extend(fe_pids.iter().copied());
    let label = format!(
        "bench_{}_{}_{}",
        quorum.to_ascii_lowercase(),
        rep + 1,
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    );
    let req = LoadRequest {
        fe_http: cluster.http_addr(),
        db: DB.into(),
        table: TABLE.into(),
        user: "root".into(),
        password: String::new(),
        headers: tpch::table(TABLE)?.load_headers(&args.format, &label),
    };
    let sampler = RssSampler::start(watched, Duration::from_millis(20));
    let a = cpu::snapshot();
    let r = tokio::time::timeout(
        Duration::from_secs(args.load_timeout_secs),
        stream_load(&req, &ds.path, |_| {}),
    )
    .await;
    let b = cpu::snapshot();
    let peaks = sampler.finish();
    let out = r
        .map_err(|_| anyhow::anyhow!("no reply within {} s", args.load_timeout_secs))?
        .context("stream load")?;
    let usage = cpu::usage(&a, &b, &servers);
    out.ensure_loaded(
        &format!("{} (write_quorum {quorum})", ds.path.display()),
        ds.rows,
    )?;
    let coordinator = out
        .coordinator
        .as_deref()
        .and_then(|c| c.split(':').next())
        .unwrap_or_default()
        .to_string();
    let coord_pid = bes.pid_of(&coordinator);
    let peak_of = |pid: Option<u32>| {
        pid.and_then(|p| peaks.iter().find(|(x, _)| *x == p).map(|(_, kb)| *kb))
            .unwrap_or(0)
    };
    let other_be_peak = ips
        .iter()
        .filter(|ip| **ip != coordinator)
        .map(|ip| peak_of(bes.pid_of(ip)))
        .max()
        .unwrap_or(0);
    let fe_peak = fe_pids.iter().map(|p| peak_of(Some(*p))).max().unwrap_or(0);
    let coord_hwm = coord_pid
        .and_then(procs::mem)
        .map(|m| m.hwm_kb)
        .unwrap_or(0);
    let coord_before = before
        .iter()
        .find(|(ip, _)| *ip == coordinator)
        .map(|(_, m)| m.rss_kb)
        .unwrap_or(0);
    // Every BE holds one replica of every tablet: each must reach the file's rows (tablet
    // reports are asynchronous, so this waits a little, untimed).
    let mut replicas_ok = false;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = Vec::new();
    while Instant::now() < deadline {
        if let Ok(v) = replica_rows(&q, DB, TABLE).await {
            replicas_ok = v.len() == 3
                && v.iter()
                    .all(|(_, rows, n)| *rows == ds.rows && *n == args.buckets as usize);
            last = v;
            if replicas_ok {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    if !replicas_ok {
        eprintln!(
            "  WARNING: replicas did not all reach {} rows within 60 s: (backend id, rows, tablets) {last:?}",
            ds.rows
        );
    }
    bes.check_alive()?;
    drop(cluster);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Run {
        system: "tessera",
        sweep,
        rep,
        scale: ds.scale.clone(),
        quorum: quorum.to_ascii_uppercase(),
        bytes: ds.bytes,
        rows: ds.rows,
        secs: out.total.as_secs_f64(),
        usage,
        coordinator,
        coord_rss_before_kb: coord_before,
        coord_peak_rss_kb: peak_of(coord_pid),
        coord_hwm_kb: coord_hwm,
        other_be_peak_rss_kb: other_be_peak,
        fe_peak_rss_kb: fe_peak,
        replicas_ok: Some(replicas_ok),
        reply: out.reply.clone(),
        redirect_ms: out
            .redirect_after
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(f64::NAN),
        duck: serde_json::Value::Null,
    })
}

/// One DuckDB load of the same file into a fresh database file.
async fn duckdb_load(
    args: &Args,
    ds: &Dataset,
    threads: usize,
    rep: usize,
    seq: usize,
) -> anyhow::Result<Run> {
    let pid_file = args.work.join("pids");
    let dir = args.work.join(format!("duckdb-{seq}"));
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("bench.duckdb");
    let out = dir.join("result.json");
    settle_disk();
    let mut cmd = Command::new(&args.python);
    cmd.arg(&args.duckdb_script)
        .arg("--file")
        .arg(&ds.path)
        .args(["--format", &args.format, "--threads", &threads.to_string()])
        .arg("--db")
        .arg(&db)
        .arg("--out")
        .arg(&out);
    let a = cpu::snapshot();
    let mut p = Proc::spawn("duckdb", &mut cmd, &dir.join("duckdb.log"), &pid_file)?;
    let servers: HashSet<u32> = p.pid().into_iter().collect();
    let timeout = Duration::from_secs(args.load_timeout_secs);
    let st = tokio::task::block_in_place(|| p.wait(timeout))?;
    let b = cpu::snapshot();
    anyhow::ensure!(
        st.success(),
        "DuckDB load failed ({st}):\n{}",
        procs::log_tail(&dir.join("duckdb.log"), 30)
    );
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&out)?)
        .with_context(|| format!("parse {}", out.display()))?;
    let secs = v["secs"].as_f64().context("DuckDB result without secs")?;
    anyhow::ensure!(
        v["rows"].as_u64() == Some(ds.rows),
        "DuckDB loaded {:?} rows, the file has {}",
        v["rows"],
        ds.rows
    );
    let _ = std::fs::remove_dir_all(&dir);
    let mut usage = cpu::usage(&a, &b, &servers);
    // The process has exited before the second snapshot: take its own CPU figure.
    if let Some(c) = v["cpu_secs"].as_f64() {
        usage.servers_pct = c / secs * 100.0;
    }
    Ok(Run {
        system: "duckdb",
        sweep: true,
        rep,
        scale: ds.scale.clone(),
        quorum: "-".into(),
        bytes: ds.bytes,
        rows: ds.rows,
        secs,
        usage,
        coordinator: String::new(),
        coord_rss_before_kb: 0,
        coord_peak_rss_kb: 0,
        coord_hwm_kb: 0,
        other_be_peak_rss_kb: 0,
        fe_peak_rss_kb: 0,
        replicas_ok: None,
        reply: serde_json::Value::Null,
        redirect_ms: f64::NAN,
        duck: v,
    })
}

fn flag(u: &cpu::Usage) -> String {
    format!(
        "{:.1}{}",
        u.foreign_pct,
        if u.disturbed() { " ⚠" } else { "" }
    )
}

fn mib(kb: u64) -> String {
    fmt(kb as f64 / MIB, 0)
}

fn print_run(r: &Run) {
    if r.system == "tessera" {
        eprintln!(
            "  tessera SF {} {:<8} rep {}: {:>7.2} s  {:>7.1} MB/s  {:>9.0} rows/s  coordinator {} peak RSS {} MiB (before {} MiB)  replicas {}  foreign cpu {:.1}%",
            r.scale,
            r.quorum,
            r.rep + 1,
            r.secs,
            r.mb_s(),
            r.rows_s(),
            r.coordinator,
            mib(r.coord_peak_rss_kb),
            mib(r.coord_rss_before_kb),
            if r.replicas_ok == Some(true) {
                "3/3 ok"
            } else {
                "NOT VERIFIED"
            },
            r.usage.foreign_pct
        );
    } else {
        eprintln!(
            "  duckdb  SF {} threads {} rep {}: {:>7.2} s  {:>7.1} MB/s  {:>9.0} rows/s  (copy {:.2} s + checkpoint {:.2} s)  foreign cpu {:.1}%",
            r.scale,
            r.duck["threads"],
            r.rep + 1,
            r.secs,
            r.mb_s(),
            r.rows_s(),
            r.duck["copy_secs"].as_f64().unwrap_or(f64::NAN),
            r.duck["checkpoint_secs"].as_f64().unwrap_or(f64::NAN),
            r.usage.foreign_pct
        );
    }
}

async fn run(args: &Args, data: &[Dataset], runs: &mut Vec<Run>) -> anyhow::Result<()> {
    let pid_file = args.work.join("pids");
    procs::init_pid_file(&pid_file)?;
    let threads = args.duckdb_threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let main = &data[0];
    let want = |s: &str| args.systems.iter().any(|x| x == s);
    let mut seq = 0;
    for rep in 0..args.reps {
        eprintln!("rep {} of {}", rep + 1, args.reps);
        if want("duckdb") {
            seq += 1;
            let r = duckdb_load(args, main, threads, rep, seq).await?;
            print_run(&r);
            runs.push(r);
        }
        if want("tessera") {
            for q in &args.quorums {
                seq += 1;
                let r = tessera_load(args, main, q, rep, true, seq).await?;
                print_run(&r);
                runs.push(r);
            }
        }
    }
    if want("tessera") {
        for ds in &data[1..] {
            eprintln!("memory: SF {} (write_quorum MAJORITY)", ds.scale);
            seq += 1;
            let r = tessera_load(args, ds, "MAJORITY", 0, false, seq).await?;
            print_run(&r);
            runs.push(r);
        }
    }
    Ok(())
}

fn summarize(args: &Args, data: &[Dataset], runs: &[Run]) -> Vec<serde_json::Value> {
    let mut json = Vec::new();
    let main = &data[0];
    println!();
    println!(
        "## stream_load: TPC-H lineitem SF {} ({}, {:.1} MB, {} rows), {} rep(s)",
        main.scale,
        args.format,
        main.bytes as f64 / MB,
        main.rows,
        args.reps
    );
    println!();
    println!(
        "Tessera: 1 FE + 3 BEs, 3 replicas, BUCKETS {}, one Stream Load per fresh cluster; DuckDB: {}.",
        args.buckets,
        runs.iter()
            .find(|r| r.system == "duckdb")
            .map(|r| format!(
                "{} into one table (one copy), SET threads = {}",
                r.duck["duckdb_version"].as_str().unwrap_or("?"),
                r.duck["threads"]
            ))
            .unwrap_or_else(|| "not run".into())
    );
    println!();
    let mut rows = Vec::new();
    for r in runs.iter().filter(|r| r.sweep) {
        rows.push(vec![
            r.system.to_string(),
            (r.rep + 1).to_string(),
            r.quorum.clone(),
            fmt(r.secs, 2),
            fmt(r.mb_s(), 1),
            fmt(r.rows_s(), 0),
            if r.system == "tessera" {
                format!(
                    "{} / {} / {}",
                    r.coordinator,
                    mib(r.coord_peak_rss_kb),
                    mib(r.coord_hwm_kb)
                )
            } else {
                format!(
                    "peak RSS {} MiB",
                    r.duck["peak_rss_kb"]
                        .as_u64()
                        .map(mib)
                        .unwrap_or_else(|| "-".into())
                )
            },
            if r.system == "tessera" {
                let ms = |k: &str| {
                    r.reply[k]
                        .as_u64()
                        .map(|v| v.to_string())
                        .unwrap_or_else(|| "-".into())
                };
                format!(
                    "{} / {} / {}",
                    ms("LoadTimeMs"),
                    ms("WriteDataTimeMs"),
                    ms("CommitAndPublishTimeMs")
                )
            } else {
                format!(
                    "copy {} / checkpoint {}",
                    fmt(r.duck["copy_secs"].as_f64().unwrap_or(f64::NAN) * 1000.0, 0),
                    fmt(
                        r.duck["checkpoint_secs"].as_f64().unwrap_or(f64::NAN) * 1000.0,
                        0
                    )
                )
            },
            match r.replicas_ok {
                Some(true) => "3/3".into(),
                Some(false) => "NOT VERIFIED".into(),
                None => "-".into(),
            },
            format!("{:.0} / {:.0}", r.usage.servers_pct, r.usage.client_pct),
            flag(&r.usage),
        ]);
    }
    print_table(
        &[
            "system",
            "rep",
            "write_quorum",
            "s",
            "MB/s",
            "rows/s",
            "coordinator / peak RSS / VmHWM MiB",
            "reply ms: load / write / commit+publish",
            "replicas",
            "cpu % servers / client",
            "foreign cpu %",
        ],
        &rows,
    );
    println!();
    println!("Summary (min / median / max over reps; ratio of the medians):");
    println!();
    let duck: Vec<&Run> = runs
        .iter()
        .filter(|r| r.system == "duckdb" && r.sweep)
        .collect();
    let d_mbs: Vec<f64> = duck.iter().map(|r| r.mb_s()).collect();
    let (_, d_med, _) = min_med_max(&d_mbs);
    let mut rows = Vec::new();
    let mut groups: Vec<(&'static str, String)> = Vec::new();
    if !duck.is_empty() {
        groups.push(("duckdb", "-".into()));
    }
    for q in &args.quorums {
        let q = q.to_ascii_uppercase();
        if runs.iter().any(|r| r.system == "tessera" && r.quorum == q) {
            groups.push(("tessera", q));
        }
    }
    let mut goal = Vec::new();
    for (sys, q) in &groups {
        let g: Vec<&Run> = runs
            .iter()
            .filter(|r| r.sweep && r.system == *sys && r.quorum == *q)
            .collect();
        let secs: Vec<f64> = g.iter().map(|r| r.secs).collect();
        let mbs: Vec<f64> = g.iter().map(|r| r.mb_s()).collect();
        let rps: Vec<f64> = g.iter().map(|r| r.rows_s()).collect();
        let (s0, s1, s2) = min_med_max(&secs);
        let (m0, m1, m2) = min_med_max(&mbs);
        let (r0, r1, r2) = min_med_max(&rps);
        let foreign = g.iter().map(|r| r.usage.foreign_pct).fold(0.0f64, f64::max);
        let name = if *sys == "duckdb" {
            "DuckDB (1 copy)".to_string()
        } else {
            format!("Tessera (3 replicas), write_quorum {q}")
        };
        let rt = if *sys == "tessera" {
            ratio(m1, d_med)
        } else {
            "-".into()
        };
        rows.push(vec![
            name,
            format!("{} / {} / {}", fmt(s0, 2), fmt(s1, 2), fmt(s2, 2)),
            format!("{} / {} / {}", fmt(m0, 1), fmt(m1, 1), fmt(m2, 1)),
            format!("{} / {} / {}", fmt(r0, 0), fmt(r1, 0), fmt(r2, 0)),
            rt.clone(),
            g.len().to_string(),
            format!(
                "{foreign:.1}{}",
                if foreign > cpu::FOREIGN_LIMIT_PCT {
                    " ⚠"
                } else {
                    ""
                }
            ),
        ]);
        json.push(serde_json::json!({
            "bench": "stream_load", "summary": "throughput", "system": sys, "write_quorum": q,
            "scale": main.scale, "reps": g.len(), "secs_min": s0, "secs_median": s1, "secs_max": s2,
            "mb_s_min": m0, "mb_s_median": m1, "mb_s_max": m2,
            "rows_s_min": r0, "rows_s_median": r1, "rows_s_max": r2,
            "ratio_tessera_duckdb": if *sys == "tessera" { m1 / d_med } else { f64::NAN },
            "max_foreign_cpu_pct": foreign,
        }));
        if *sys == "tessera" {
            goal.push((q.clone(), m1));
        }
    }
    print_table(
        &[
            "system",
            "s",
            "MB/s",
            "rows/s",
            "ratio Tessera / DuckDB (MB/s)",
            "reps",
            "max foreign cpu %",
        ],
        &rows,
    );
    println!();
    for (q, m) in &goal {
        let ok = m.is_finite() && d_med.is_finite() && *m >= 0.5 * d_med;
        println!(
            "Goal: at least half of DuckDB's single-copy rate while writing 3 replicas, write_quorum {q}: {} ({} vs {} MB/s, ratio {})",
            if !d_med.is_finite() {
                "NOT MEASURED"
            } else if ok {
                "MET"
            } else {
                "NOT MET"
            },
            fmt(*m, 1),
            fmt(d_med, 1),
            ratio(*m, d_med)
        );
    }

    // Memory: every Tessera load, by scale.
    let tess: Vec<&Run> = runs.iter().filter(|r| r.system == "tessera").collect();
    if !tess.is_empty() {
        println!();
        println!(
            "Coordinator BE memory (the BE the FE redirected to; every load on fresh processes; peak = VmRSS sampled every 20 ms during the load, VmHWM read after it):"
        );
        println!();
        let mut rows = Vec::new();
        let mut by_scale: Vec<(String, u64, Vec<f64>)> = Vec::new();
        for r in &tess {
            rows.push(vec![
                r.scale.clone(),
                fmt(r.bytes as f64 / MB, 1),
                r.quorum.clone(),
                (r.rep + 1).to_string(),
                r.coordinator.clone(),
                mib(r.coord_rss_before_kb),
                mib(r.coord_peak_rss_kb),
                mib(r.coord_hwm_kb),
                mib(r.other_be_peak_rss_kb),
                mib(r.fe_peak_rss_kb),
            ]);
            if r.quorum != "MAJORITY" {
                continue;
            }
            match by_scale.iter_mut().find(|(s, _, _)| *s == r.scale) {
                Some(e) => e.2.push(r.coord_hwm_kb as f64 / MIB),
                None => {
                    by_scale.push((r.scale.clone(), r.bytes, vec![r.coord_hwm_kb as f64 / MIB]))
                }
            }
        }
        print_table(
            &[
                "SF",
                "file MB",
                "write_quorum",
                "rep",
                "coordinator",
                "RSS before MiB",
                "peak RSS MiB",
                "VmHWM MiB",
                "other BEs peak MiB",
                "FE peak MiB",
            ],
            &rows,
        );
        by_scale.sort_by_key(|a| a.1);
        if let (Some(small), Some(large)) = (by_scale.first(), by_scale.last())
            && small.1 < large.1
        {
            let (_, s_med, _) = min_med_max(&small.2);
            let (_, l_med, _) = min_med_max(&large.2);
            let ok = l_med <= 1.25 * s_med;
            println!();
            println!(
                "Goal: peak coordinator memory independent of file size: {} (write_quorum MAJORITY, median VmHWM {} MiB at SF {} ({:.0} MB) vs {} MiB at SF {} ({:.0} MB): x{} for a x{} larger file; met when at most x1.25)",
                if ok { "MET" } else { "NOT MET" },
                fmt(l_med, 0),
                large.0,
                large.1 as f64 / MB,
                fmt(s_med, 0),
                small.0,
                small.1 as f64 / MB,
                ratio(l_med, s_med),
                ratio(large.1 as f64, small.1 as f64)
            );
            json.push(serde_json::json!({
                "bench": "stream_load", "summary": "coordinator_memory",
                "small_scale": small.0, "small_bytes": small.1, "small_vmhwm_mib_median": s_med,
                "large_scale": large.0, "large_bytes": large.1, "large_vmhwm_mib_median": l_med,
                "met": ok,
            }));
        }
    }
    if runs.iter().any(|r| r.usage.disturbed()) {
        println!();
        println!(
            "Note: runs marked ⚠ had more than {} % of a core of foreign CPU load.",
            cpu::FOREIGN_LIMIT_PCT
        );
    }
    if runs.iter().any(|r| r.replicas_ok == Some(false)) {
        println!();
        println!(
            "Note: some loads' replicas were NOT VERIFIED (SHOW TABLET row counts did not reach the file's rows on every BE within 60 s)."
        );
    }
    json
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut scales = vec![args.scale.clone()];
    for s in &args.mem_scales {
        if !s.trim().is_empty() && !scales.contains(s) {
            scales.push(s.clone());
        }
    }
    let mut data: Vec<Dataset> = Vec::new();
    for s in &scales {
        let d = ensure_data(&args, s)?;
        if !data.iter().any(|x| x.scale == d.scale) {
            data.push(d);
        }
    }
    for d in &data {
        eprintln!(
            "data SF {}: {} ({:.1} MB, {} rows)",
            d.scale,
            d.path.display(),
            d.bytes as f64 / MB,
            d.rows
        );
    }
    if args.prepare_only {
        return Ok(());
    }
    std::fs::create_dir_all(&args.work)?;
    eprintln!("load average before the run: {:.2}", cpu::loadavg1());
    let mut runs = Vec::new();
    let res = tokio::select! {
        r = run(&args, &data, &mut runs) => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    let summary = summarize(&args, &data, &runs);
    if let Some(p) = &args.json_out {
        let text: String = runs
            .iter()
            .map(Run::json)
            .chain(summary)
            .map(|v| format!("{v}\n"))
            .collect();
        std::fs::write(p, text)?;
    }
    res
}
