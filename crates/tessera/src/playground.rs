//! `tessera playground`: a local cluster of frontends (see `run`).

use std::process::ExitCode;

/// Playground options.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the playground.
pub fn run(_args: Args) -> ExitCode {
    eprintln!("tessera playground: not built yet");
    ExitCode::from(2)
}
