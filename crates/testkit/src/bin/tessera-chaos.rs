//! The fault-injection suite's long run: N seeded runs, each a fresh cluster in network
//! namespaces under a nemesis (see `tessera_testkit::chaos`), then a table of what each found.
//!
//! ```text
//! cargo build -p tessera && cargo run -p tessera-testkit --bin tessera-chaos -- --seeds 50
//! ```
//!
//! Needs root (network namespaces, tmpfs), `ip` (iproute2) and `nft` (nftables). Exits 1 when
//! any run found an anomaly; every run's logs, history and report are kept under
//! `$TMPDIR/tessera-chaos/<scenario>-<seed>/`.

use std::time::Duration;
use std::time::Instant;

use clap::Parser;
use tessera_testkit::chaos;

#[derive(Parser)]
#[command(about = "Runs the fault-injection suite over many seeds and prints a table")]
struct Args {
    /// How many runs.
    #[arg(long, default_value_t = 50)]
    seeds: u64,
    /// The first seed (the runs use seed, seed + 1, ...); by default one from the clock,
    /// printed so that any run can be repeated.
    #[arg(long)]
    first_seed: Option<u64>,
    /// A scenario's name, or `all` to go through every scenario in turn.
    #[arg(long, default_value = "mixed")]
    scenario: String,
    /// Seconds of faults in each run.
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// Also write the table to this file (Markdown).
    #[arg(long)]
    out: Option<std::path::PathBuf>,
}

fn main() {
    let args = Args::parse();
    let duration = Duration::from_secs(args.duration.max(1));
    let all = chaos::scenarios(duration);
    let names: Vec<String> = all.iter().map(|s| s.name.to_string()).collect();
    let chosen: Vec<chaos::Scenario> = if args.scenario == "all" {
        all
    } else {
        match chaos::scenario(&args.scenario, duration) {
            Some(s) => vec![s],
            None => {
                eprintln!(
                    "error: unknown scenario '{}'; one of: all, {}",
                    args.scenario,
                    names.join(", ")
                );
                std::process::exit(2);
            }
        }
    };
    if let Some(why) = tessera_testkit::netns::unavailable() {
        eprintln!("error: {why}");
        std::process::exit(2);
    }
    let first = args.first_seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() % 1_000_000)
            .unwrap_or(1)
    });
    eprintln!(
        "tessera-chaos: {} runs from seed {first}, {} s of faults each",
        args.seeds, args.duration
    );
    let started = Instant::now();
    let mut rows = Vec::new();
    let mut failed = 0;
    for k in 0..args.seeds {
        let seed = first + k;
        let scenario = &chosen[(k as usize) % chosen.len()];
        // A run whose harness fails (a node that cannot restart, say) is reported, not fatal.
        let result = std::panic::catch_unwind(|| chaos::run(scenario, seed));
        let row = match result {
            Ok(report) => {
                if !report.anomalies.is_empty() {
                    failed += 1;
                    eprintln!("ANOMALIES in {} seed {seed}:", scenario.name);
                    for a in &report.anomalies {
                        eprintln!("  {a}");
                    }
                }
                report.row()
            }
            Err(_) => {
                failed += 1;
                format!(
                    "| {} | {seed} | - | - | - | harness failure (see the log above) | - |",
                    scenario.name
                )
            }
        };
        println!("{row}");
        rows.push(row);
    }
    let table = format!(
        "{}\n{}\n\n{} runs, {} with anomalies, {:.0} min\n",
        chaos::Report::header(),
        rows.join("\n"),
        rows.len(),
        failed,
        started.elapsed().as_secs_f64() / 60.0
    );
    println!("\n{table}");
    if let Some(path) = args.out
        && let Err(e) = std::fs::write(&path, &table)
    {
        eprintln!("error: cannot write {}: {e}", path.display());
    }
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
