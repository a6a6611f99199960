//! `crdgen`: writes the CRDs of `olm-api` into `config/crd/<group>_<plural>.yaml`.
//!
//! `cargo run -p crdgen` regenerates the files; `cargo run -p crdgen -- --check` exits 1 and
//! lists the files that differ from what the code generates.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

/// Generate the OLM CustomResourceDefinitions as YAML.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Do not write; exit with status 1 if any file differs from what would be generated.
    #[arg(long)]
    check: bool,
    /// Directory of the CRD files (default: config/crd of this workspace).
    #[arg(long)]
    dir: Option<PathBuf>,
}

fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    let dir = args.dir.unwrap_or_else(crdgen::default_dir);
    if args.check {
        let differences =
            crdgen::check(&dir).with_context(|| format!("checking CRDs in {}", dir.display()))?;
        if differences.is_empty() {
            println!("CRDs in {} are up to date", dir.display());
            return Ok(ExitCode::SUCCESS);
        }
        for difference in &differences {
            eprintln!("{difference}");
        }
        eprintln!("the committed CRDs are out of date: run `cargo run -p crdgen`");
        return Ok(ExitCode::FAILURE);
    }
    let changed =
        crdgen::write(&dir).with_context(|| format!("writing CRDs to {}", dir.display()))?;
    for path in &changed {
        println!("wrote {}", path.display());
    }
    if changed.is_empty() {
        println!("CRDs in {} are up to date", dir.display());
    }
    Ok(ExitCode::SUCCESS)
}
