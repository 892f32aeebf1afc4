//! `repair`: how fast the cluster heals. One FE and four BEs; a 3-replica table loaded by
//! Stream Load until the BE that will die holds about `--gb` of replica files; then that BE
//! is killed (SIGKILL) and the time until every tablet is healthy again is measured, split
//! into detection (kill → the first clone starts: heartbeats, `tablet_sched_be_down_tolerate_time_s`
//! and the checker) and copying (first clone starts → last clone done). The copy rate (bytes
//! the clones copied / copying time) is compared with a plain copy of the same files on this
//! machine (`cp -r` of the dead BE's tablet directories, then `sync`), printed as a ratio.
//! Run it through `bench/run.sh repair` (see docs/benchmarks.md).

use std::io::Write;
use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use tessera_bench::backend::Backends;
use tessera_bench::report::print_table;
use tessera_bench::settle_disk;
use tessera_bench::stream_load::LoadRequest;
use tessera_bench::stream_load::stream_load;
use tessera_bench::tessera::TesseraCluster;
use tessera_bench::tessera::sql;
use tessera_bench::wait_for;

const DB: &str = "rb";
const TABLE: &str = "t";
const MB: f64 = 1e6;

#[derive(Parser, Debug, Clone)]
#[command(
    about = "Replica repair after a BE dies: detection, copy time and copy rate vs cp + sync"
)]
struct Args {
    /// The release `tessera` binary.
    #[arg(long)]
    tessera_bin: PathBuf,
    /// Scratch directory (data dirs, logs, pid file).
    #[arg(long)]
    work: PathBuf,
    /// FE 1 and BE 1 share 127.0.0.(ip_base); BE i is on 127.0.0.(ip_base + i - 1).
    #[arg(long, default_value_t = 1)]
    ip_base: u8,
    /// Also write one JSON object with the figures here.
    #[arg(long)]
    json_out: Option<PathBuf>,
    /// Replica bytes the dying BE should hold, GB (the table holds 4/3 of it, 3 times).
    #[arg(long, default_value_t = 1.0)]
    gb: f64,
    /// BUCKETS of the table.
    #[arg(long, default_value_t = 16)]
    buckets: u32,
    /// tablet_sched_be_down_tolerate_time_s during the run (StarRocks's default is 900).
    #[arg(long, default_value_t = 10)]
    tolerate_secs: u64,
    /// Rows per Stream Load file.
    #[arg(long, default_value_t = 2_000_000)]
    rows_per_load: u64,
    /// Longest the repair may take, seconds.
    #[arg(long, default_value_t = 1800)]
    timeout_secs: u64,
}

/// Writes a CSV of `rows` rows `(k, s)` starting at key `from`: `s` is 96 hex characters that
/// neither dictionary encoding nor LZ4 can shrink much, so file bytes follow the input.
fn write_rows(path: &Path, from: u64, rows: u64) -> anyhow::Result<u64> {
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ from;
    let mut bytes = 0u64;
    for k in from..from + rows {
        let mut line = format!("{k},");
        for _ in 0..6 {
            // xorshift64*
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            line.push_str(&format!("{:016x}", x.wrapping_mul(0x2545_F491_4F6C_DD1D)));
        }
        line.push('\n');
        bytes += line.len() as u64;
        f.write_all(line.as_bytes())?;
    }
    f.flush()?;
    Ok(bytes)
}

/// Bytes of every file under `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            Ok(_) => e.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}

async fn item(q: &str, name: &str) -> anyhow::Result<String> {
    let r = sql(q, "SHOW PROC '/tablet_scheduler'").await?;
    r.rows
        .iter()
        .find(|row| row[0].as_deref() == Some(name))
        .and_then(|row| row[1].clone())
        .with_context(|| format!("no item {name} in SHOW PROC '/tablet_scheduler'"))
}

async fn unhealthy(q: &str) -> anyhow::Result<i64> {
    let r = sql(q, "SHOW PROC '/statistic'").await?;
    let col = r
        .columns
        .iter()
        .position(|c| c == "UnhealthyTabletNum")
        .context("no UnhealthyTabletNum")?;
    let total = r
        .rows
        .iter()
        .find(|row| row[0].as_deref() == Some("Total"))
        .context("no Total row")?;
    Ok(total[col].as_deref().unwrap_or("-1").parse()?)
}

async fn run(args: &Args) -> anyhow::Result<serde_json::Value> {
    let pid_file = args.work.join("pids");
    let fe =
        TesseraCluster::start_n(&args.tessera_bin, &args.work, &pid_file, args.ip_base, 1).await?;
    let ips: Vec<String> = (0..4u8)
        .map(|i| format!("127.0.0.{}", args.ip_base + i))
        .collect();
    let mut bes = Backends::start(&args.tessera_bin, &args.work, &pid_file, &ips).await?;
    let q = fe.query_addr(0);
    bes.join(&q).await?;
    for (k, v) in [
        ("tablet_sched_checker_interval_seconds", "1".to_string()),
        ("tablet_sched_repair_delay_factor_second", "0".to_string()),
        (
            "tablet_sched_be_down_tolerate_time_s",
            args.tolerate_secs.to_string(),
        ),
        ("storage_usage_soft_limit_percent", "100".to_string()),
    ] {
        sql(
            &q,
            &format!("ADMIN SET FRONTEND CONFIG (\"{k}\" = \"{v}\")"),
        )
        .await?;
    }
    sql(&q, &format!("CREATE DATABASE {DB}")).await?;
    sql(
        &q,
        &format!(
            "CREATE TABLE {DB}.{TABLE} (k BIGINT, s VARCHAR(100)) DUPLICATE KEY(k) \
             DISTRIBUTED BY HASH(k) BUCKETS {} PROPERTIES (\"replication_num\" = \"3\")",
            args.buckets
        ),
    )
    .await?;
    // The BE that dies: the last one.
    let victim_ip = ips[3].clone();
    let victim_dir = args.work.join("be4").join("storage").join("data");
    let target = (args.gb * 1e9) as u64;
    let file = args.work.join("rows.csv");
    let (mut loaded_rows, mut loaded_bytes, mut n) = (0u64, 0u64, 0);
    let load_start = Instant::now();
    while dir_bytes(&victim_dir) < target {
        let bytes = write_rows(&file, loaded_rows, args.rows_per_load)?;
        let req = LoadRequest {
            fe_http: fe.http_addr(0),
            db: DB.into(),
            table: TABLE.into(),
            user: "root".into(),
            password: String::new(),
            headers: vec![
                ("label".into(), format!("repair_bench_{n}")),
                ("column_separator".into(), ",".into()),
            ],
        };
        let out = stream_load(&req, &file, |_| {})
            .await
            .context("stream load")?;
        out.ensure_loaded("the bench rows", args.rows_per_load)?;
        loaded_rows += args.rows_per_load;
        loaded_bytes += bytes;
        n += 1;
        eprintln!(
            "  load {n}: {:.0} MB loaded, the victim holds {:.0} MB",
            loaded_bytes as f64 / MB,
            dir_bytes(&victim_dir) as f64 / MB
        );
    }
    let _ = std::fs::remove_file(&file);
    eprintln!(
        "loaded {loaded_rows} rows ({:.0} MB CSV) in {:.0} s",
        loaded_bytes as f64 / MB,
        load_start.elapsed().as_secs_f64()
    );
    // Let the loads' reports and compactions settle.
    wait_for(
        "a healthy cluster before the kill",
        Duration::from_secs(120),
        Duration::from_millis(500),
        || async { Ok((unhealthy(&q).await? == 0).then_some(())) },
    )
    .await?;
    settle_disk();
    let victim_bytes = dir_bytes(&victim_dir);
    eprintln!(
        "killing BE {victim_ip} ({:.0} MB of replica files)",
        victim_bytes as f64 / MB
    );
    let killed = bes.kill(&victim_ip)?;
    let timeout = Duration::from_secs(args.timeout_secs);
    // Detection: until the first clone runs (or finished).
    let first_clone = wait_for(
        "the first clone",
        timeout,
        Duration::from_millis(100),
        || async {
            let running: u64 = item(&q, "running_tablets").await?.parse()?;
            let done: u64 = item(&q, "full_clones").await?.parse()?;
            Ok((running > 0 || done > 0).then(Instant::now))
        },
    )
    .await?;
    let dead_seen = killed.elapsed();
    wait_for(
        "every tablet healthy",
        timeout,
        Duration::from_millis(100),
        || async {
            Ok(
                (unhealthy(&q).await? == 0 && item(&q, "running_tablets").await? == "0")
                    .then_some(()),
            )
        },
    )
    .await?;
    let healed = Instant::now();
    let copied: u64 = item(&q, "bytes_copied").await?.parse()?;
    let clones: u64 = item(&q, "full_clones").await?.parse()?;
    let detect = first_clone.duration_since(killed);
    let copy = healed.duration_since(first_clone);
    let total = healed.duration_since(killed);
    eprintln!("healed in {total:?} (first clone after {dead_seen:?})");
    // The baseline: a plain copy of the same files, then sync.
    settle_disk();
    let dest = args.work.join("cp-baseline");
    let t = Instant::now();
    let st = std::process::Command::new("cp")
        .arg("-r")
        .arg(&victim_dir)
        .arg(&dest)
        .status()?;
    anyhow::ensure!(st.success(), "cp failed");
    let st = std::process::Command::new("sync").status()?;
    anyhow::ensure!(st.success(), "sync failed");
    let cp_secs = t.elapsed().as_secs_f64();
    let cp_bytes = dir_bytes(&dest);
    let _ = std::fs::remove_dir_all(&dest);
    let clone_rate = copied as f64 / copy.as_secs_f64().max(1e-9);
    let cp_rate = cp_bytes as f64 / cp_secs.max(1e-9);
    let ratio = clone_rate / cp_rate.max(1e-9);
    println!();
    print_table(
        &["figure", "value"],
        &[
            vec![
                "replica bytes on the dead BE".into(),
                format!("{:.0} MB", victim_bytes as f64 / MB),
            ],
            vec!["tablets rebuilt (full clones)".into(), clones.to_string()],
            vec![
                "bytes copied by clones".into(),
                format!("{:.0} MB", copied as f64 / MB),
            ],
            vec![
                format!(
                    "detection (kill → first clone; tolerate {} s)",
                    args.tolerate_secs
                ),
                format!("{:.1} s", detect.as_secs_f64()),
            ],
            vec![
                "copying (first clone → all healthy)".into(),
                format!("{:.1} s", copy.as_secs_f64()),
            ],
            vec![
                "kill → every tablet healthy".into(),
                format!("{:.1} s", total.as_secs_f64()),
            ],
            vec![
                "clone copy rate".into(),
                format!("{:.0} MB/s", clone_rate / MB),
            ],
            vec![
                "cp -r + sync of the same files".into(),
                format!(
                    "{:.0} MB/s ({:.0} MB in {:.1} s)",
                    cp_rate / MB,
                    cp_bytes as f64 / MB,
                    cp_secs
                ),
            ],
            vec![
                "ratio clone / cp (goal >= 0.5)".into(),
                format!("{ratio:.2}"),
            ],
        ],
    );
    Ok(serde_json::json!({
        "bench": "repair",
        "victim_bytes": victim_bytes,
        "bytes_copied": copied,
        "full_clones": clones,
        "tolerate_secs": args.tolerate_secs,
        "detect_secs": detect.as_secs_f64(),
        "copy_secs": copy.as_secs_f64(),
        "total_secs": total.as_secs_f64(),
        "clone_mb_s": clone_rate / MB,
        "cp_mb_s": cp_rate / MB,
        "ratio": ratio,
    }))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.work)?;
    let res = tokio::select! {
        r = run(&args) => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    let v = res?;
    if let Some(p) = &args.json_out {
        std::fs::write(p, format!("{v}\n"))?;
    }
    Ok(())
}
