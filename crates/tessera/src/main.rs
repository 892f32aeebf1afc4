//! `tessera`: the one binary. `tessera fe` runs a frontend, `tessera be` a backend,
//! `tessera playground` a local cluster, `tessera load` loads a file.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use clap::Subcommand;

mod load;
mod playground;

/// jemalloc: a long load or query leaves the process holding about what it uses; glibc's
/// malloc let a Stream Load coordinator's peak grow with the size of the input.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Tessera: a distributed analytical database that speaks StarRocks.
#[derive(Parser)]
#[command(name = "tessera", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs a frontend (FE): the metadata journal, SQL, HTTP.
    Fe {
        /// The config file (StarRocks fe.conf keys).
        #[arg(long, default_value = "conf/fe.conf")]
        conf: PathBuf,
        /// An existing FE (host:edit_log_port) to join through on the first start.
        #[arg(long)]
        helper: Option<String>,
    },
    /// Runs a backend (BE): tablets, heartbeats from the leader FE, agent tasks.
    Be {
        /// The config file (StarRocks be.conf keys).
        #[arg(long, default_value = "conf/be.conf")]
        conf: PathBuf,
    },
    /// Runs a local cluster: node i on 127.0.0.i with StarRocks's ports.
    Playground(playground::Args),
    /// Loads a local CSV or JSON file into a table through Stream Load, with a progress bar.
    Load(load::Args),
}

fn init_logging(level: &str) {
    let level = match level.to_ascii_uppercase().as_str() {
        "FATAL" | "ERROR" => "error",
        "WARN" | "WARNING" => "warn",
        "DEBUG" => "debug",
        "TRACE" => "trace",
        _ => "info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("TESSERA_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!(
            "{level},openraft=warn,h2=warn,tower=warn,hyper=warn"
        ))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Every TLS config in the process (MySQL, HTTPS, HTTP clients) uses ring.
    common::tls::install_default_provider();
    match cli.command {
        Command::Fe { conf, helper } => run_fe(conf, helper),
        Command::Be { conf } => run_be(conf),
        Command::Playground(args) => playground::run(args),
        Command::Load(args) => load::run(args),
    }
}

fn run_fe(conf: PathBuf, helper: Option<String>) -> ExitCode {
    let (config, warnings) = match common::config::fe::FeConfig::load(&conf) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tessera fe: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config.sys_log_level);
    for w in warnings {
        tracing::warn!("{w}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tessera fe: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        let mut handle = match fe::start(config, helper.as_deref()).await {
            Ok(h) => h,
            Err(e) => {
                tracing::error!("cannot start the frontend: {e}");
                eprintln!("tessera fe: cannot start the frontend: {e}");
                return ExitCode::from(1);
            }
        };
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("tessera fe: cannot listen for SIGTERM: {e}");
                return ExitCode::from(1);
            }
        };
        let code = tokio::select! {
            _ = tokio::signal::ctrl_c() => { tracing::info!("interrupted; stopping"); ExitCode::SUCCESS }
            _ = term.recv() => { tracing::info!("SIGTERM; stopping"); ExitCode::SUCCESS }
            why = handle.wait_exit() => {
                eprintln!("tessera fe: {why}");
                ExitCode::from(3)
            }
        };
        handle.shutdown().await;
        code
    })
}

fn run_be(conf: PathBuf) -> ExitCode {
    let (config, warnings) = match common::config::be::BeConfig::load(&conf) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tessera be: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config.sys_log_level);
    for w in warnings {
        tracing::warn!("{w}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tessera be: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        let handle = match be::start(config).await {
            Ok(h) => h,
            Err(e) => {
                tracing::error!("cannot start the backend: {e}");
                eprintln!("tessera be: cannot start the backend: {e}");
                return ExitCode::from(1);
            }
        };
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("tessera be: cannot listen for SIGTERM: {e}");
                    return ExitCode::from(1);
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupted; stopping"),
            _ = term.recv() => tracing::info!("SIGTERM; stopping"),
        }
        handle.shutdown().await;
        ExitCode::SUCCESS
    })
}
