//! `opm`: parse arguments, run, print the output or a precise error.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // aws-lc-rs is our only rustls provider; installing it explicitly keeps TLS working
    // even if another provider is ever compiled in (dependencies spec §1.15).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("OPM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .without_time()
        .init();
    let cli = opm::cli::Cli::parse();
    match opm::run(cli, &mut std::io::stdin()) {
        Ok(outcome) => {
            for w in &outcome.warnings {
                eprintln!("{w}");
            }
            if let Err(e) = opm::emit(&outcome, &mut std::io::stdout().lock()) {
                eprintln!("Error: writing output: {e}");
                return ExitCode::FAILURE;
            }
            if outcome.failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
