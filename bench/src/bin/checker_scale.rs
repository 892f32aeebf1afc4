//! `checker_scale`: the leader over a catalog of a million tablets. One FE and three BEs; a
//! synthetic table of `--tablets` tablets x 3 replicas is journaled through the FE's
//! benchmark hook (`debug_enable_synthetic_tables`, `POST /api/_debug/synthetic_table`: the
//! replicas exist in the catalog only). Measured: one full checker pass (the checker's own
//! timing in `SHOW PROC '/tablet_scheduler'`, median of 5 passes), the FE's resident memory
//! per replica (RSS after the table minus before, / replicas), one checkpoint image (size and
//! time, from the FE's log), and restart-to-serving (SIGKILL, start, until `SHOW PROC
//! '/statistic'` counts every tablet). Run it through `bench/run.sh checker_scale`.

use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use tessera_bench::backend::Backends;
use tessera_bench::cluster::Cluster;
use tessera_bench::http::json_call;
use tessera_bench::procs;
use tessera_bench::report::print_table;
use tessera_bench::tessera::TesseraCluster;
use tessera_bench::tessera::sql;
use tessera_bench::wait_for;

#[derive(Parser, Debug, Clone)]
#[command(about = "Checker pass, memory per replica, image and restart over a million tablets")]
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
    /// Tablets of the synthetic table (3 replicas each).
    #[arg(long, default_value_t = 1_000_000)]
    tablets: u64,
    /// Longest any step may take, seconds.
    #[arg(long, default_value_t = 1800)]
    timeout_secs: u64,
}

async fn scheduler_item(q: &str, name: &str) -> anyhow::Result<String> {
    let r = sql(q, "SHOW PROC '/tablet_scheduler'").await?;
    r.rows
        .iter()
        .find(|row| row[0].as_deref() == Some(name))
        .and_then(|row| row[1].clone())
        .with_context(|| format!("no item {name}"))
}

/// `SHOW PROC '/statistic'` Total: (tablets, unhealthy).
async fn statistic(q: &str) -> anyhow::Result<(u64, u64)> {
    let r = sql(q, "SHOW PROC '/statistic'").await?;
    let col = |n: &str| r.columns.iter().position(|c| c == n);
    let (Some(t), Some(u)) = (col("TabletNum"), col("UnhealthyTabletNum")) else {
        anyhow::bail!("SHOW PROC '/statistic' lacks columns");
    };
    let total = r
        .rows
        .iter()
        .find(|row| row[0].as_deref() == Some("Total"))
        .context("no Total row")?;
    Ok((
        total[t].as_deref().unwrap_or("0").parse()?,
        total[u].as_deref().unwrap_or("0").parse()?,
    ))
}

/// The `wrote checkpoint image` lines of the FE's log: (journal id, bytes, ms).
fn images(log_dir: &Path) -> Vec<(u64, u64, u64)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(log_dir) else {
        return out;
    };
    for e in entries.flatten() {
        let Ok(text) = std::fs::read_to_string(e.path()) else {
            continue;
        };
        for line in text
            .lines()
            .filter(|l| l.contains("wrote checkpoint image"))
        {
            let field = |k: &str| {
                line.split_whitespace()
                    .find_map(|w| w.strip_prefix(&format!("{k}=")))
                    .and_then(|v| v.parse::<u64>().ok())
            };
            if let (Some(j), Some(b), Some(ms)) = (field("journal_id"), field("bytes"), field("ms"))
            {
                out.push((j, b, ms));
            }
        }
    }
    out.sort();
    out
}

async fn run(args: &Args) -> anyhow::Result<serde_json::Value> {
    let pid_file = args.work.join("pids");
    let timeout = Duration::from_secs(args.timeout_secs);
    let mut fe = TesseraCluster::start_n_conf(
        &args.tessera_bin,
        &args.work,
        &pid_file,
        args.ip_base,
        1,
        &[
            ("debug_enable_synthetic_tables", "true"),
            ("sys_log_level", "INFO"),
            ("edit_log_roll_num", "200"),
        ],
    )
    .await?;
    let ips: Vec<String> = (0..3u8)
        .map(|i| format!("127.0.0.{}", args.ip_base + i))
        .collect();
    // No periodic reports: the synthetic replicas are not on the BEs' disks.
    let bes = Backends::start_conf(
        &args.tessera_bin,
        &args.work,
        &pid_file,
        &ips,
        &[("report_tablet_interval_seconds", "86400")],
    )
    .await?;
    let q = fe.query_addr(0);
    bes.join(&q).await?;
    sql(
        &q,
        "ADMIN SET FRONTEND CONFIG (\"tablet_sched_checker_interval_seconds\" = \"1\")",
    )
    .await?;
    sql(&q, "CREATE DATABASE cs").await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pid = fe.pid(0).context("FE pid")?;
    let before = procs::mem(pid).context("FE memory")?;
    let t = Instant::now();
    let path = format!(
        "/api/_debug/synthetic_table?db=cs&table=t&tablets={}",
        args.tablets
    );
    let (code, reply) = json_call(&fe.http_addr(0), &path, Some(""), timeout).await?;
    anyhow::ensure!(code == 200, "synthetic table: HTTP {code}: {reply}");
    let create_secs = t.elapsed().as_secs_f64();
    eprintln!(
        "synthetic table of {} tablets journaled in {create_secs:.1} s",
        args.tablets
    );
    let created_at = fe.health(0).await?.journal_id;
    // Checker passes over the whole catalog.
    let mut passes: Vec<u64> = Vec::new();
    let mut last_pass = String::new();
    while passes.len() < 5 {
        let p = wait_for(
            "a checker pass over every tablet",
            timeout,
            Duration::from_millis(200),
            || async {
                let n: u64 = scheduler_item(&q, "last_check_tablets").await?.parse()?;
                let at = scheduler_item(&q, "last_check_time").await?;
                let ms: u64 = scheduler_item(&q, "last_check_duration_ms")
                    .await?
                    .parse()?;
                Ok((n >= args.tablets && at != last_pass).then_some((at, ms)))
            },
        )
        .await?;
        last_pass = p.0;
        passes.push(p.1);
    }
    passes.sort_unstable();
    let check_ms = passes[passes.len() / 2];
    let (tablets, unhealthy) = statistic(&q).await?;
    let after = procs::mem(pid).context("FE memory")?;
    let replicas = args.tablets * 3;
    let per_replica = (after.rss_kb.saturating_sub(before.rss_kb) * 1024) as f64 / replicas as f64;
    // A checkpoint image that holds the table: journal writes until one is written.
    let log_dir = fe.log_dir(0).context("FE log dir")?;
    let mut n = 0;
    let image = loop {
        if let Some(i) = images(&log_dir).into_iter().find(|i| i.0 >= created_at) {
            break i;
        }
        anyhow::ensure!(n < 1000, "no checkpoint image after {n} journal writes");
        sql(
            &q,
            &format!(
                "ADMIN SET FRONTEND CONFIG (\"tablet_sched_history_num\" = \"{}\")",
                1000 + n % 2
            ),
        )
        .await?;
        n += 1;
        if n % 50 == 0 {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };
    eprintln!(
        "image at journal id {}: {} bytes in {} ms",
        image.0, image.1, image.2
    );
    // Restart to serving.
    fe.kill(0)?;
    let t = Instant::now();
    fe.restart(0)?;
    wait_for(
        "the restarted FE serving the whole catalog",
        timeout,
        Duration::from_millis(100),
        || async {
            Ok(statistic(&q)
                .await
                .ok()
                .filter(|(n, _)| *n >= args.tablets)
                .map(|_| ()))
        },
    )
    .await?;
    let restart_secs = t.elapsed().as_secs_f64();
    let rss_restarted = fe
        .pid(0)
        .and_then(procs::mem)
        .map(|m| m.rss_kb)
        .unwrap_or(0);
    // After a restart the catalog comes from the image and the log, without the garbage of
    // the journaling that the allocator keeps.
    let per_replica_restarted =
        (rss_restarted.saturating_sub(before.rss_kb) * 1024) as f64 / replicas as f64;
    println!();
    print_table(
        &["figure", "value", "goal"],
        &[
            vec![
                "tablets x replicas".into(),
                format!(
                    "{} x 3 (unhealthy: {unhealthy}, counted: {tablets})",
                    args.tablets
                ),
                String::new(),
            ],
            vec![
                "journaling the table (50 entries)".into(),
                format!("{create_secs:.1} s"),
                String::new(),
            ],
            vec![
                "one full checker pass (median of 5)".into(),
                format!("{check_ms} ms (all: {passes:?})"),
                "< 1000 ms".into(),
            ],
            vec![
                "FE memory per replica right after journaling (RSS growth / replicas)".into(),
                format!(
                    "{per_replica:.0} bytes ({} MB -> {} MB)",
                    before.rss_kb / 1024,
                    after.rss_kb / 1024
                ),
                "< 300 bytes".into(),
            ],
            vec![
                "FE memory per replica after the restart (RSS growth / replicas)".into(),
                format!(
                    "{per_replica_restarted:.0} bytes ({} MB -> {} MB)",
                    before.rss_kb / 1024,
                    rss_restarted / 1024
                ),
                "< 300 bytes".into(),
            ],
            vec![
                "checkpoint image".into(),
                format!("{:.0} MB in {} ms", image.1 as f64 / 1e6, image.2),
                String::new(),
            ],
            vec![
                "restart to serving (SIGKILL, start, SHOW PROC '/statistic' complete)".into(),
                format!(
                    "{restart_secs:.1} s (RSS after: {} MB)",
                    rss_restarted / 1024
                ),
                String::new(),
            ],
        ],
    );
    drop(bes);
    Ok(serde_json::json!({
        "bench": "checker_scale",
        "tablets": args.tablets,
        "create_secs": create_secs,
        "check_ms": check_ms,
        "check_passes_ms": passes,
        "bytes_per_replica": per_replica,
        "rss_before_kb": before.rss_kb,
        "rss_after_kb": after.rss_kb,
        "rss_restarted_kb": rss_restarted,
        "bytes_per_replica_restarted": per_replica_restarted,
        "image_bytes": image.1,
        "image_ms": image.2,
        "restart_secs": restart_secs,
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
