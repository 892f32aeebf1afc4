//! `fe_failover`: time from `kill -9` of the leader to the first acknowledged write, Tessera
//! FEs side by side with a 3-member etcd cluster, the method of
//! `shared/research/peers.md`: a prober issues a write every 10 ms (each with its own 3 s
//! timeout) round-robin at the two members that will survive; after 1 s of successful
//! writes the leader gets SIGKILL; the figure is the time from the signal to the completion
//! of the first successful write issued after the signal. The killed member is restarted on
//! its data dir and the cluster must be healthy again before the next repetition.
//! Run it through `bench/run.sh fe_failover`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use std::time::Instant;

use clap::Parser;
use tessera_bench::client::Conn;
use tessera_bench::client::Target;
use tessera_bench::cluster::Cluster;
use tessera_bench::cpu;
use tessera_bench::etcd::EtcdCluster;
use tessera_bench::report::fmt;
use tessera_bench::report::min_med_max;
use tessera_bench::report::print_table;
use tessera_bench::report::ratio;
use tessera_bench::tessera::TesseraCluster;
use tokio::sync::mpsc;

#[derive(Parser, Debug, Clone)]
#[command(about = "Leader failover time: Tessera FE vs a 3-member etcd cluster")]
struct Args {
    /// The release `tessera` binary.
    #[arg(long)]
    tessera_bin: PathBuf,
    /// Scratch directory (data dirs, logs, pid file).
    #[arg(long)]
    work: PathBuf,
    /// Repetitions per system (at least 5 for the figures).
    #[arg(long, default_value_t = 5)]
    reps: usize,
    /// Milliseconds between probes.
    #[arg(long, default_value_t = 10)]
    probe_interval_ms: u64,
    /// Timeout of one probe (connect + write), milliseconds.
    #[arg(long, default_value_t = 3000)]
    probe_timeout_ms: u64,
    /// Successful writes needed before the kill, milliseconds.
    #[arg(long, default_value_t = 1000)]
    steady_ms: u64,
    /// FE i listens on 127.0.0.(ip_base + i - 1).
    #[arg(long, default_value_t = 1)]
    ip_base: u8,
    /// Which systems to run, in order.
    #[arg(long, value_delimiter = ',', default_value = "etcd,tessera")]
    systems: Vec<String>,
    /// Also write one JSON object per repetition here.
    #[arg(long)]
    json_out: Option<PathBuf>,
}

/// One probe's outcome.
#[derive(Debug)]
struct Probe {
    issued: Instant,
    done: Instant,
    member: usize,
    error: Option<String>,
}

/// Fires a write every interval, round-robin over `targets`; each write takes an idle
/// connection of that member (or opens one) and has its own timeout. Dropping it stops
/// everything it started.
struct Prober {
    task: tokio::task::JoinHandle<()>,
    rx: mpsc::UnboundedReceiver<Probe>,
}

impl Prober {
    fn start(targets: Vec<(usize, Target)>, interval: Duration, timeout: Duration) -> Prober {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let pools: Vec<Arc<Mutex<Vec<Conn>>>> = targets
                .iter()
                .map(|_| Arc::new(Mutex::new(Vec::new())))
                .collect();
            let mut probes = tokio::task::JoinSet::new();
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let mut k = 0usize;
            loop {
                tick.tick().await;
                while probes.try_join_next().is_some() {}
                let slot = k % targets.len();
                k += 1;
                let (member, target) = targets[slot].clone();
                let pool = pools[slot].clone();
                let tx = tx.clone();
                probes.spawn(async move {
                    let issued = Instant::now();
                    let r = tokio::time::timeout(timeout, async {
                        let idle = pool.lock().ok().and_then(|mut p| p.pop());
                        let mut conn = match idle {
                            Some(c) => c,
                            None => Conn::connect(&target, timeout)
                                .await
                                .map_err(|e| format!("connect: {e:#}"))?,
                        };
                        match conn.write().await {
                            Ok(()) => {
                                if let Ok(mut p) = pool.lock() {
                                    p.push(conn);
                                }
                                Ok(())
                            }
                            Err(e) => {
                                if e.conn_ok
                                    && let Ok(mut p) = pool.lock()
                                {
                                    p.push(conn);
                                }
                                Err(e.message)
                            }
                        }
                    })
                    .await;
                    let done = Instant::now();
                    let error = match r {
                        Ok(Ok(())) => None,
                        Ok(Err(e)) => Some(e),
                        Err(_) => Some(format!("timed out after {timeout:?}")),
                    };
                    let _ = tx.send(Probe {
                        issued,
                        done,
                        member,
                        error,
                    });
                });
            }
        });
        Prober { task, rx }
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        // Aborting the loop drops its JoinSet, which aborts the probes in flight.
        self.task.abort();
    }
}

#[derive(Debug, Clone)]
struct Rep {
    system: &'static str,
    rep: usize,
    failover_ms: f64,
    killed: usize,
    first_ok_member: Option<usize>,
    failed_after_kill: usize,
    first_error: Option<String>,
    term_before: u64,
    term_at_kill: u64,
    term_after: u64,
    healthy_again_ms: f64,
    usage: cpu::Usage,
}

impl Rep {
    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "bench": "fe_failover", "system": self.system, "rep": self.rep,
            "failover_ms": if self.failover_ms.is_finite() { serde_json::json!(self.failover_ms) } else { serde_json::Value::Null },
            "killed_member": self.killed + 1,
            "first_ok_member": self.first_ok_member.map(|m| m + 1),
            "failed_probes_after_kill": self.failed_after_kill, "first_error": self.first_error,
            "term_before": self.term_before, "term_at_kill": self.term_at_kill, "term_after": self.term_after,
            "healthy_again_ms": self.healthy_again_ms,
            "foreign_cpu_pct": self.usage.foreign_pct, "servers_cpu_pct": self.usage.servers_pct,
            "client_cpu_pct": self.usage.client_pct,
        })
    }
}

async fn one_rep<C: Cluster>(c: &mut C, rep: usize, args: &Args) -> anyhow::Result<Rep> {
    let leader = c.leader().await?;
    let term_before = c.term().await?;
    let targets: Vec<(usize, Target)> = (0..c.size())
        .filter(|&i| i != leader)
        .map(|i| (i, c.write_target(i)))
        .collect();
    let timeout = Duration::from_millis(args.probe_timeout_ms);
    let steady = Duration::from_millis(args.steady_ms);
    let mut prober = Prober::start(
        targets,
        Duration::from_millis(args.probe_interval_ms),
        timeout,
    );

    // 1 s of successful writes (every probe completed in that span succeeded).
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut streak: Option<(Instant, cpu::Snapshot)> = None;
    loop {
        if Instant::now() > deadline {
            anyhow::bail!(
                "{}: no {steady:?} of successful writes within 60 s",
                c.system()
            );
        }
        let p = tokio::time::timeout(Duration::from_secs(5), prober.rx.recv())
            .await
            .map_err(|_| anyhow::anyhow!("{}: no probe completed within 5 s", c.system()))?
            .ok_or_else(|| anyhow::anyhow!("prober stopped"))?;
        match (&p.error, &streak) {
            (Some(e), _) => {
                if streak.is_some() {
                    eprintln!("    probe failed before the kill, restarting the steady phase: {e}");
                }
                streak = None;
            }
            (None, None) => streak = Some((p.done, cpu::snapshot())),
            (None, Some((since, _))) => {
                if p.done.duration_since(*since) >= steady {
                    break;
                }
            }
        }
    }
    let term_at_kill = c.term().await?;
    let Some((_, cpu_a)) = streak else {
        anyhow::bail!("no steady phase");
    };
    let killed_at = c.kill(leader)?;

    let mut failed_after_kill = 0;
    let mut first_error = None;
    let mut first_ok = None;
    let give_up = killed_at + Duration::from_secs(30);
    while first_ok.is_none() {
        let left = give_up.saturating_duration_since(Instant::now());
        let Ok(Some(p)) = tokio::time::timeout(left, prober.rx.recv()).await else {
            break;
        };
        if p.issued < killed_at {
            continue;
        }
        match p.error {
            Some(e) => {
                failed_after_kill += 1;
                first_error.get_or_insert(e);
            }
            None => first_ok = Some((p.done, p.member)),
        }
    }
    let cpu_b = cpu::snapshot();
    drop(prober);
    let usage = cpu::usage(&cpu_a, &cpu_b, &c.server_pids());
    let term_after = c.term().await.unwrap_or(0);
    let failover_ms = first_ok
        .map(|(t, _)| t.duration_since(killed_at).as_secs_f64() * 1000.0)
        .unwrap_or(f64::NAN);

    let restart_at = Instant::now();
    c.restart(leader)?;
    c.wait_healthy(Duration::from_secs(120)).await?;
    let healthy_again_ms = restart_at.elapsed().as_secs_f64() * 1000.0;
    Ok(Rep {
        system: c.system(),
        rep,
        failover_ms,
        killed: leader,
        first_ok_member: first_ok.map(|(_, m)| m),
        failed_after_kill,
        first_error,
        term_before,
        term_at_kill,
        term_after,
        healthy_again_ms,
        usage,
    })
}

async fn reps<C: Cluster>(c: &mut C, args: &Args, out: &mut Vec<Rep>) -> anyhow::Result<()> {
    for rep in 0..args.reps {
        let r = one_rep(c, rep, args).await?;
        eprintln!(
            "  {} rep {}: killed member {} -> first write after {} ms (member {}), {} failed probe(s) after the kill{}, term {}->{}, healthy again after {:.1} s, foreign cpu {:.1}%{}",
            r.system,
            rep + 1,
            r.killed + 1,
            fmt(r.failover_ms, 1),
            r.first_ok_member
                .map(|m| (m + 1).to_string())
                .unwrap_or("-".into()),
            r.failed_after_kill,
            r.first_error
                .as_ref()
                .map(|e| format!(" (first: {e})"))
                .unwrap_or_default(),
            r.term_at_kill,
            r.term_after,
            r.healthy_again_ms / 1000.0,
            r.usage.foreign_pct,
            if r.usage.disturbed() {
                " (DISTURBED)"
            } else {
                ""
            }
        );
        out.push(r);
    }
    Ok(())
}

async fn run(args: Args) -> anyhow::Result<Vec<Rep>> {
    let pid_file = args.work.join("pids");
    tessera_bench::procs::init_pid_file(&pid_file)?;
    let mut out = Vec::new();
    for sys in &args.systems {
        let dir = args.work.join(format!("failover-{sys}"));
        std::fs::create_dir_all(&dir)?;
        eprintln!(
            "{sys}: starting a fresh 3-member cluster, {} rep(s)",
            args.reps
        );
        match sys.as_str() {
            "etcd" => {
                let mut c = EtcdCluster::start(&dir, &pid_file).await?;
                reps(&mut c, &args, &mut out).await?;
            }
            "tessera" => {
                let mut c =
                    TesseraCluster::start(&args.tessera_bin, &dir, &pid_file, args.ip_base).await?;
                reps(&mut c, &args, &mut out).await?;
            }
            other => anyhow::bail!("unknown system {other}"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(out)
}

fn summarize(args: &Args, reps: &[Rep]) {
    println!();
    println!(
        "## fe_failover: kill -9 of the leader -> first acknowledged write ({} ms probes, {} ms probe timeout, {} rep(s))",
        args.probe_interval_ms, args.probe_timeout_ms, args.reps
    );
    println!();
    let rows: Vec<Vec<String>> = reps
        .iter()
        .map(|r| {
            vec![
                r.system.to_string(),
                (r.rep + 1).to_string(),
                fmt(r.failover_ms, 1),
                r.failed_after_kill.to_string(),
                format!("{} -> {}", r.term_at_kill, r.term_after),
                (r.term_at_kill - r.term_before.min(r.term_at_kill)).to_string(),
                fmt(r.healthy_again_ms / 1000.0, 1),
                format!("{:.0} / {:.0}", r.usage.servers_pct, r.usage.client_pct),
                format!(
                    "{:.1}{}",
                    r.usage.foreign_pct,
                    if r.usage.disturbed() { " ⚠" } else { "" }
                ),
            ]
        })
        .collect();
    print_table(
        &[
            "system",
            "rep",
            "failover ms",
            "failed probes",
            "term at kill -> after",
            "elections before kill",
            "healthy again s",
            "cpu % servers / client",
            "foreign cpu %",
        ],
        &rows,
    );
    println!();
    let figures = |sys: &str| -> Vec<f64> {
        reps.iter()
            .filter(|r| r.system == sys)
            .map(|r| r.failover_ms)
            .collect()
    };
    let t = figures("tessera");
    let e = figures("etcd");
    let (tmin, tmed, tmax) = min_med_max(&t);
    let (emin, emed, emax) = min_med_max(&e);
    let foreign = |sys: &str| {
        reps.iter()
            .filter(|r| r.system == sys)
            .map(|r| r.usage.foreign_pct)
            .fold(0.0f64, f64::max)
    };
    let lost = |v: &[f64]| v.iter().filter(|x| !x.is_finite()).count();
    print_table(
        &[
            "system",
            "failover ms min / median / max",
            "reps",
            "no write within 30 s",
            "max foreign cpu %",
        ],
        &[
            vec![
                "Tessera".into(),
                format!("{} / {} / {}", fmt(tmin, 0), fmt(tmed, 0), fmt(tmax, 0)),
                t.len().to_string(),
                lost(&t).to_string(),
                format!("{:.1}", foreign("tessera")),
            ],
            vec![
                "etcd".into(),
                format!("{} / {} / {}", fmt(emin, 0), fmt(emed, 0), fmt(emax, 0)),
                e.len().to_string(),
                lost(&e).to_string(),
                format!("{:.1}", foreign("etcd")),
            ],
            vec![
                "ratio Tessera/etcd".into(),
                format!(
                    "{} / {} / {}",
                    ratio(tmin, emin),
                    ratio(tmed, emed),
                    ratio(tmax, emax)
                ),
                String::new(),
                String::new(),
                String::new(),
            ],
        ],
    );
    println!();
    if !t.is_empty() {
        let ok_med = tmed <= 400.0;
        let ok_max = tmax < 1000.0 && lost(&t) == 0;
        println!(
            "Goal: Tessera failover median <= 0.4 s: {} ({} ms); max < 1 s: {} ({} ms)",
            if ok_med { "MET" } else { "NOT MET" },
            fmt(tmed, 0),
            if ok_max { "MET" } else { "NOT MET" },
            fmt(tmax, 0)
        );
        let pre: u64 = reps
            .iter()
            .filter(|r| r.system == "tessera")
            .map(|r| r.term_at_kill.saturating_sub(r.term_before))
            .sum();
        println!(
            "Goal: no false elections in the steady phase before each kill (Tessera): {} ({pre} term change(s))",
            if pre == 0 { "MET" } else { "NOT MET" }
        );
    }
    if reps.iter().any(|r| r.usage.disturbed()) {
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
    let reps = tokio::select! {
        r = run(args.clone()) => r?,
        _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted"),
    };
    if let Some(p) = &args.json_out {
        let text: String = reps.iter().map(|r| format!("{}\n", r.json())).collect();
        std::fs::write(p, text)?;
    }
    summarize(&args, &reps);
    Ok(())
}
