//! `fe_commit`: journal commit throughput and latency at 1, 16 and 64 concurrent clients,
//! Tessera (CREATE DATABASE over MySQL to the leader FE) side by side with etcd (a put of a
//! new 16 B key with a 100 B value to the leader). Each client has its own connection and
//! runs a closed loop; each level runs `--warmup-secs` then is measured for `--secs`.
//! The raft term is read before and after each level: any growth under this steady load is
//! a false election. Run it through `bench/run.sh fe_commit`.

use std::path::PathBuf;
use std::time::Duration;
use std::time::Instant;

use clap::Parser;
use tessera_bench::client::Conn;
use tessera_bench::cluster::Cluster;
use tessera_bench::cpu;
use tessera_bench::etcd::EtcdCluster;
use tessera_bench::report::fmt;
use tessera_bench::report::min_med_max;
use tessera_bench::report::percentile;
use tessera_bench::report::print_table;
use tessera_bench::report::ratio;
use tessera_bench::tessera::TesseraCluster;

#[derive(Parser, Debug, Clone)]
#[command(about = "Journal commit throughput: Tessera FE vs a 3-member etcd cluster")]
struct Args {
    /// The release `tessera` binary.
    #[arg(long)]
    tessera_bin: PathBuf,
    /// Scratch directory (data dirs, logs, pid file).
    #[arg(long)]
    work: PathBuf,
    /// Repetitions of the whole sweep (each on fresh clusters).
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Concurrent clients per level.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    clients: Vec<usize>,
    /// Warm-up before each measured window, seconds.
    #[arg(long, default_value_t = 2.0)]
    warmup_secs: f64,
    /// Measured window per level, seconds.
    #[arg(long, default_value_t = 10.0)]
    secs: f64,
    /// FE i listens on 127.0.0.(ip_base + i - 1).
    #[arg(long, default_value_t = 1)]
    ip_base: u8,
    /// Which systems to run, in order within each rep.
    #[arg(long, value_delimiter = ',', default_value = "etcd,tessera")]
    systems: Vec<String>,
    /// Also write one JSON object per measured level here.
    #[arg(long)]
    json_out: Option<PathBuf>,
}

#[derive(Debug, Clone)]
struct Level {
    system: &'static str,
    rep: usize,
    clients: usize,
    ops: u64,
    errors: u64,
    first_error: Option<String>,
    secs: f64,
    p50_us: u64,
    p99_us: u64,
    term_before: u64,
    term_after: u64,
    usage: cpu::Usage,
}

impl Level {
    fn puts_s(&self) -> f64 {
        self.ops as f64 / self.secs
    }
    fn elections(&self) -> u64 {
        self.term_after.saturating_sub(self.term_before)
    }
    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "bench": "fe_commit", "system": self.system, "rep": self.rep, "clients": self.clients,
            "ops": self.ops, "errors": self.errors, "first_error": self.first_error,
            "secs": self.secs, "puts_s": self.puts_s(),
            "p50_ms": self.p50_us as f64 / 1000.0, "p99_ms": self.p99_us as f64 / 1000.0,
            "term_before": self.term_before, "term_after": self.term_after,
            "foreign_cpu_pct": self.usage.foreign_pct, "servers_cpu_pct": self.usage.servers_pct,
            "client_cpu_pct": self.usage.client_pct,
        })
    }
}

struct ClientOut {
    lat_us: Vec<u64>,
    errors: u64,
    first_error: Option<String>,
}

const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

async fn run_client(
    mut conn: Conn,
    target: tessera_bench::client::Target,
    window: (Instant, Instant),
) -> ClientOut {
    let (from, to) = window;
    let mut out = ClientOut {
        lat_us: Vec::with_capacity(64 * 1024),
        errors: 0,
        first_error: None,
    };
    loop {
        let t0 = Instant::now();
        if t0 >= to {
            break;
        }
        let r = tokio::time::timeout(WRITE_TIMEOUT, conn.write()).await;
        let t1 = Instant::now();
        let in_window = t1 >= from && t1 <= to;
        let err = match r {
            Ok(Ok(())) => {
                if in_window {
                    out.lat_us.push(t1.duration_since(t0).as_micros() as u64);
                }
                continue;
            }
            Ok(Err(e)) => (e.message, e.conn_ok),
            Err(_) => (format!("no answer within {WRITE_TIMEOUT:?}"), false),
        };
        if in_window {
            out.errors += 1;
            out.first_error.get_or_insert(err.0);
        }
        if !err.1 {
            // Reconnect (bounded); give up on this client only at the end of the window.
            loop {
                if Instant::now() >= to {
                    return out;
                }
                match Conn::connect(&target, Duration::from_secs(3)).await {
                    Ok(c) => {
                        conn = c;
                        break;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        }
    }
    out
}

async fn level<C: Cluster>(
    c: &C,
    rep: usize,
    clients: usize,
    args: &Args,
) -> anyhow::Result<Level> {
    let leader = c.leader().await?;
    let target = c.write_target(leader);
    let term_before = c.term().await?;
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        conns.push(Conn::connect(&target, Duration::from_secs(5)).await?);
    }
    let start = Instant::now() + Duration::from_millis(20);
    let from = start + Duration::from_secs_f64(args.warmup_secs);
    let to = from + Duration::from_secs_f64(args.secs);
    let mut tasks = Vec::with_capacity(clients);
    for conn in conns {
        let t = target.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(start.into()).await;
            run_client(conn, t, (from, to)).await
        }));
    }
    tokio::time::sleep_until(from.into()).await;
    let a = cpu::snapshot();
    tokio::time::sleep_until(to.into()).await;
    let b = cpu::snapshot();
    let usage = cpu::usage(&a, &b, &c.server_pids());
    let mut lat = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for t in tasks {
        let o = t.await?;
        lat.extend(o.lat_us);
        errors += o.errors;
        if first_error.is_none() {
            first_error = o.first_error;
        }
    }
    lat.sort_unstable();
    let term_after = c.term().await?;
    Ok(Level {
        system: c.system(),
        rep,
        clients,
        ops: lat.len() as u64,
        errors,
        first_error,
        secs: args.secs,
        p50_us: percentile(&lat, 50.0),
        p99_us: percentile(&lat, 99.0),
        term_before,
        term_after,
        usage,
    })
}

async fn sweep<C: Cluster>(
    c: &C,
    rep: usize,
    args: &Args,
    out: &mut Vec<Level>,
) -> anyhow::Result<()> {
    for &n in &args.clients {
        let l = level(c, rep, n, args).await?;
        eprintln!(
            "  {} rep {} clients {:>2}: {:>7.0} puts/s  p50 {:>6.2} ms  p99 {:>6.2} ms  errors {}  term {}->{}  foreign cpu {:.1}%{}",
            l.system,
            rep + 1,
            n,
            l.puts_s(),
            l.p50_us as f64 / 1000.0,
            l.p99_us as f64 / 1000.0,
            l.errors,
            l.term_before,
            l.term_after,
            l.usage.foreign_pct,
            if l.usage.disturbed() {
                " (DISTURBED)"
            } else {
                ""
            }
        );
        out.push(l);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
}

async fn run(args: Args) -> anyhow::Result<Vec<Level>> {
    let pid_file = args.work.join("pids");
    tessera_bench::procs::init_pid_file(&pid_file)?;
    let mut out = Vec::new();
    for rep in 0..args.reps {
        for sys in &args.systems {
            let dir = args.work.join(format!("commit-rep{}-{sys}", rep + 1));
            std::fs::create_dir_all(&dir)?;
            eprintln!(
                "{sys}: rep {} of {}: starting a fresh 3-member cluster",
                rep + 1,
                args.reps
            );
            match sys.as_str() {
                "etcd" => {
                    let c = EtcdCluster::start(&dir, &pid_file).await?;
                    sweep(&c, rep, &args, &mut out).await?;
                }
                "tessera" => {
                    let c = TesseraCluster::start(&args.tessera_bin, &dir, &pid_file, args.ip_base)
                        .await?;
                    sweep(&c, rep, &args, &mut out).await?;
                }
                other => anyhow::bail!("unknown system {other}"),
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    Ok(out)
}

fn summarize(args: &Args, levels: &[Level]) {
    println!();
    println!(
        "## fe_commit: every level {} s measured after {} s warm-up, {} rep(s)",
        args.secs, args.warmup_secs, args.reps
    );
    println!();
    let mut rows = Vec::new();
    for l in levels {
        rows.push(vec![
            l.system.to_string(),
            (l.rep + 1).to_string(),
            l.clients.to_string(),
            fmt(l.puts_s(), 0),
            fmt(l.p50_us as f64 / 1000.0, 2),
            fmt(l.p99_us as f64 / 1000.0, 2),
            l.errors.to_string(),
            l.elections().to_string(),
            format!("{:.0} / {:.0}", l.usage.servers_pct, l.usage.client_pct),
            format!(
                "{:.1}{}",
                l.usage.foreign_pct,
                if l.usage.disturbed() { " ⚠" } else { "" }
            ),
        ]);
    }
    print_table(
        &[
            "system",
            "rep",
            "clients",
            "puts/s",
            "p50 ms",
            "p99 ms",
            "errors",
            "elections",
            "cpu % servers / client",
            "foreign cpu %",
        ],
        &rows,
    );
    println!();
    println!("Summary (min / median / max over reps; latency of the median-throughput rep):");
    println!();
    let mut rows = Vec::new();
    let pick = |sys: &str, n: usize| -> Vec<&Level> {
        levels
            .iter()
            .filter(|l| l.system == sys && l.clients == n)
            .collect()
    };
    let median_rep = |v: &[&Level]| -> Option<Level> {
        let mut s: Vec<&Level> = v.to_vec();
        s.sort_by(|a, b| a.puts_s().total_cmp(&b.puts_s()));
        s.get(s.len().saturating_sub(1) / 2).map(|l| (*l).clone())
    };
    let mut goal_line = None;
    for &n in &args.clients {
        let e = pick("etcd", n);
        let t = pick("tessera", n);
        let ev: Vec<f64> = e.iter().map(|l| l.puts_s()).collect();
        let tv: Vec<f64> = t.iter().map(|l| l.puts_s()).collect();
        let (emin, emed, emax) = min_med_max(&ev);
        let (tmin, tmed, tmax) = min_med_max(&tv);
        let em = median_rep(&e);
        let tm = median_rep(&t);
        let lat = |m: &Option<Level>, p99: bool| {
            m.as_ref()
                .map(|l| (if p99 { l.p99_us } else { l.p50_us }) as f64 / 1000.0)
                .unwrap_or(f64::NAN)
        };
        let foreign = e
            .iter()
            .chain(t.iter())
            .map(|l| l.usage.foreign_pct)
            .fold(0.0f64, f64::max);
        let elections: u64 = t.iter().map(|l| l.elections()).sum();
        let e_elections: u64 = e.iter().map(|l| l.elections()).sum();
        rows.push(vec![
            n.to_string(),
            format!("{} / {} / {}", fmt(tmin, 0), fmt(tmed, 0), fmt(tmax, 0)),
            format!("{} / {} / {}", fmt(emin, 0), fmt(emed, 0), fmt(emax, 0)),
            ratio(tmed, emed),
            format!("{} / {}", fmt(lat(&tm, false), 2), fmt(lat(&tm, true), 2)),
            format!("{} / {}", fmt(lat(&em, false), 2), fmt(lat(&em, true), 2)),
            format!(
                "{} / {}",
                ratio(lat(&tm, false), lat(&em, false)),
                ratio(lat(&tm, true), lat(&em, true))
            ),
            format!("{elections} / {e_elections}"),
            format!(
                "{foreign:.1}{}",
                if foreign > cpu::FOREIGN_LIMIT_PCT {
                    " ⚠"
                } else {
                    ""
                }
            ),
        ]);
        if n == 64 {
            goal_line = Some((tmed, emed));
        }
    }
    print_table(
        &[
            "clients",
            "Tessera puts/s",
            "etcd puts/s",
            "ratio T/e",
            "Tessera p50 / p99 ms",
            "etcd p50 / p99 ms",
            "latency ratio T/e p50 / p99",
            "elections T / e",
            "max foreign cpu %",
        ],
        &rows,
    );
    println!();
    if let Some((t, e)) = goal_line {
        let ok = t.is_finite() && e.is_finite() && t >= 2.0 * e;
        println!(
            "Goal: 64-client throughput >= 2x etcd: {} ({} vs {} puts/s, ratio {})",
            if ok { "MET" } else { "NOT MET" },
            fmt(t, 0),
            fmt(e, 0),
            ratio(t, e)
        );
    }
    let false_elections: u64 = levels
        .iter()
        .filter(|l| l.system == "tessera")
        .map(Level::elections)
        .sum();
    println!(
        "Goal: no false elections under steady load (Tessera): {} ({} term change(s) over {} levels)",
        if false_elections == 0 {
            "MET"
        } else {
            "NOT MET"
        },
        false_elections,
        levels.iter().filter(|l| l.system == "tessera").count()
    );
    if levels.iter().any(|l| l.usage.disturbed()) {
        println!(
            "Note: runs marked ⚠ had more than {} % of a core of foreign CPU load.",
            cpu::FOREIGN_LIMIT_PCT
        );
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    eprintln!("load average before the run: {:.2}", cpu::loadavg1());
    let levels = tokio::select! {
        r = run(args.clone()) => r?,
        _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted"),
    };
    if let Some(p) = &args.json_out {
        let text: String = levels.iter().map(|l| format!("{}\n", l.json())).collect();
        std::fs::write(p, text)?;
    }
    summarize(&args, &levels);
    Ok(())
}
