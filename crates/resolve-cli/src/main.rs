//! `resolve`: parse arguments, run, exit with 0 (resolved), 1 (unsatisfiable) or 2 (usage or
//! input error).

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use resolve_cli::args::Cli;

fn main() -> ExitCode {
    // aws-lc-rs is our only rustls provider; installing it explicitly keeps TLS working
    // even if another provider is ever compiled in (dependencies spec §1.15).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RESOLVE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .without_time()
        .init();
    // clap exits with status 2 on usage errors.
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match resolve_cli::run(&cli, &matches, &mut std::io::stdout().lock()) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::from(resolve_cli::EXIT_INPUT)
        }
    }
}
