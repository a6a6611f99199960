//! The `resolve` command: loads catalogs (directories or images), reads requests and the
//! installed state, runs the resolver (per request, or jointly) and prints the plan or the
//! explanation.
//!
//! A run has three steps, each in its own module: the parsed [`args::Cli`] is resolved into an
//! `Invocation` (`invocation`: files read, every flag checked), which is executed (`execute`:
//! catalogs loaded by `catalogs`, indexed, resolved), and the outcome is reported (`report`:
//! text or JSON, and the exit status). `input` reads request and installed files.

pub mod args;
mod catalogs;
mod execute;
mod input;
mod invocation;
mod report;

use std::io::Write;

use clap::ArgMatches;

use args::Cli;
use invocation::Invocation;
pub use report::{EXIT_INPUT, EXIT_RESOLVED, EXIT_UNSATISFIABLE};

/// Runs the command and writes its output; returns the exit status. `Err` is a usage or input
/// error (exit status [`EXIT_INPUT`]).
pub fn run(cli: &Cli, matches: &ArgMatches, out: &mut dyn Write) -> anyhow::Result<u8> {
    let invocation = Invocation::from_cli(cli, matches)?;
    let execution = execute::execute(&invocation)?;
    report::write(&invocation, &execution, out)
}
