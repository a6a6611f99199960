//! Library-level measurements for `bench/fbc/run.sh`, for what `opm` has no command for:
//!
//! * `load DIR`: `load_fs` only (upstream has no load-only command);
//! * `render DIR json|yaml`: `load_fs`, then `write::write` streaming blob by blob to stdout,
//!   i.e. `opm render` without holding the whole output in memory;
//! * `validate-stream DIR`: `for_each_package` + `convert_to_model`, one package in memory at a
//!   time.
//!
//! Build with `cargo build --release -p fbc --example catalog_bench`.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use fbc::write::Format;

fn run(args: &[String]) -> Result<(), String> {
    let usage = "usage: catalog_bench load DIR | render DIR json|yaml | validate-stream DIR";
    let (mode, dir) = match args {
        [mode, dir, ..] => (mode.as_str(), Path::new(dir)),
        _ => return Err(usage.to_string()),
    };
    match mode {
        "load" => {
            let cfg = fbc::load_fs(dir).map_err(|e| e.to_string())?;
            eprintln!("loaded {} blobs ({} bundles)", cfg.len(), cfg.bundles.len());
        }
        "render" => {
            let format = match args.get(2).map(String::as_str) {
                Some("json") => Format::Json,
                Some("yaml") => Format::Yaml,
                _ => return Err(usage.to_string()),
            };
            let cfg = fbc::load_fs(dir).map_err(|e| e.to_string())?;
            let stdout = std::io::stdout();
            let mut w = BufWriter::with_capacity(1 << 20, stdout.lock());
            fbc::write::write(&cfg, format, &mut w)
                .and_then(|()| w.flush())
                .map_err(|e| format!("writing output: {e}"))?;
        }
        "validate-stream" => {
            let mut packages = 0usize;
            fbc::for_each_package(dir, |_, cfg| {
                packages += 1;
                fbc::convert_to_model(&cfg).map(|_| ())
            })
            .map_err(|e| e.to_string())?;
            eprintln!("validated {packages} packages");
        }
        _ => return Err(usage.to_string()),
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::FAILURE
        }
    }
}
