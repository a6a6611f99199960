//! The `resolve` command: loads catalogs (directories or images), reads requests and the
//! installed state, runs the resolver (per request, or jointly) and prints the plan or the
//! explanation.

pub mod args;
mod catalogs;
mod input;
mod report;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::ArgMatches;
use resolver::{FbcSource, Options, Request, ResolveError, catalog_from_fbc};

use args::{Cli, Format, UsageError, name_value, requests_from_flags};
use catalogs::{ImageAccess, LoadedCatalog};
use report::{CatalogReport, Report, Status, Timing};

/// Exit status when every request resolved.
pub const EXIT_RESOLVED: u8 = 0;
/// Exit status when a request is unsatisfiable (or the timeout passed).
pub const EXIT_UNSATISFIABLE: u8 = 1;
/// Exit status for usage and input errors.
pub const EXIT_INPUT: u8 = 2;

/// Runs the command and writes its output; returns the exit status. `Err` is a usage or input
/// error (exit status [`EXIT_INPUT`]).
pub fn run(cli: &Cli, matches: &ArgMatches, out: &mut dyn Write) -> anyhow::Result<u8> {
    let mut requests = requests_from_flags(cli, matches)?;
    let mut installed = Vec::new();
    for f in &cli.request_files {
        let (r, i) = input::read_file(f)?;
        requests.extend(r);
        installed.extend(i);
    }
    for f in &cli.installed_files {
        let (r, i) = input::read_file(f)?;
        if !r.is_empty() {
            return Err(UsageError(format!(
                "{} lists requests; pass it with --requests instead of --installed-file",
                f.display()
            ))
            .into());
        }
        installed.extend(i);
    }
    for text in &cli.installed {
        installed.push(input::parse_installed_flag(text)?);
    }
    if requests.is_empty() {
        return Err(UsageError(
            "no request: give --package PACKAGE (with optional --channel, --version, \
             --upgrade-policy) or --requests FILE"
                .into(),
        )
        .into());
    }
    if !cli.timeout.is_finite() || cli.timeout <= 0.0 {
        return Err(UsageError(format!(
            "--timeout {} must be a positive number of seconds",
            cli.timeout
        ))
        .into());
    }

    let load_started = Instant::now();
    let catalogs = load_catalogs(cli)?;
    let load_ms = ms(load_started.elapsed());
    let names: BTreeSet<&str> = catalogs.iter().map(|c| c.name.as_str()).collect();
    for r in &requests {
        for c in r.catalogs.iter().flatten() {
            if !names.contains(c.as_str()) {
                return Err(UsageError(format!(
                    "request {}: catalog {c:?} is not loaded (loaded: {})",
                    r.package,
                    names.iter().copied().collect::<Vec<_>>().join(", ")
                ))
                .into());
            }
        }
    }

    let index_started = Instant::now();
    let catalog = catalog_from_fbc(catalogs.iter().map(|c| FbcSource {
        name: &c.name,
        priority: c.priority,
        config: &c.config,
    }))
    .context("indexing the catalogs")?;
    let index_ms = ms(index_started.elapsed());

    let options = Options {
        successors: cli.successors.into(),
        gvk_uniqueness: !cli.no_gvk_uniqueness,
        cluster_version: cli.cluster_version.clone(),
        timeout: Some(Duration::from_secs_f64(cli.timeout)),
        others: cli.others.into(),
        ..Options::default()
    };

    let mut samples = Vec::new();
    let mut outcomes: Vec<(Vec<&Request>, Result<resolver::Plan, ResolveError>)> = Vec::new();
    for _ in 0..cli.repeat {
        let started = Instant::now();
        outcomes = if cli.joint {
            vec![(
                requests.iter().collect(),
                resolver::resolve(&catalog, &requests, &installed, &options),
            )]
        } else {
            resolver::resolve_each(&catalog, &requests, &installed, &options)
                .into_iter()
                .zip(&requests)
                .map(|((_, result), r)| (vec![r], result))
                .collect()
        };
        samples.push(started.elapsed().as_secs_f64() * 1e6);
    }

    let results: Vec<_> = outcomes
        .iter()
        .map(|(rs, result)| report::result_report(&catalog, rs, &installed, result))
        .collect();
    let labels: Vec<String> = outcomes
        .iter()
        .map(|(rs, _)| {
            let list = rs
                .iter()
                .map(|r| report::describe(r))
                .collect::<Vec<_>>()
                .join(", ");
            if cli.joint {
                format!("requests {list} (joint)")
            } else {
                format!("request {list}")
            }
        })
        .collect();
    let report = Report {
        mode: if cli.joint { "joint" } else { "isolated" },
        catalogs: catalogs
            .iter()
            .map(|c| CatalogReport {
                name: c.name.clone(),
                source: c.source.clone(),
                priority: c.priority,
                packages: c.config.packages.len(),
                bundles: c.config.bundles.len(),
            })
            .collect(),
        results,
        timing: (cli.repeat > 1).then(|| Timing::from_samples(load_ms, index_ms, samples)),
    };

    match cli.output {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &report).context("writing JSON")?;
            writeln!(out).context("writing output")?;
        }
        Format::Text => {
            out.write_all(report::render_text(&report, &labels, cli.why_not).as_bytes())
                .context("writing output")?;
            if let Some(t) = &report.timing {
                eprintln!(
                    "timing: {} runs, resolve median {:.1} µs, p95 {:.1} µs, min {:.1} µs; \
                     load {:.1} ms, index {:.1} ms",
                    t.runs, t.median_us, t.p95_us, t.min_us, t.load_ms, t.index_ms
                );
            }
        }
    }
    let statuses: Vec<Status> = report.results.iter().map(|r| r.status).collect();
    Ok(if statuses.contains(&Status::Invalid) {
        EXIT_INPUT
    } else if statuses.iter().any(|s| *s != Status::Resolved) {
        EXIT_UNSATISFIABLE
    } else {
        EXIT_RESOLVED
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn load_catalogs(cli: &Cli) -> anyhow::Result<Vec<LoadedCatalog>> {
    let mut seen = BTreeSet::new();
    let mut check_name = |name: &str| -> Result<(), UsageError> {
        if seen.insert(name.to_string()) {
            Ok(())
        } else {
            Err(UsageError(format!(
                "catalog name {name:?} is used twice; give each catalog its own name"
            )))
        }
    };
    let mut dirs = Vec::new();
    for text in &cli.catalogs {
        let (name, dir) = name_value("--catalog", text)?;
        check_name(name)?;
        dirs.push((name.to_string(), PathBuf::from(dir)));
    }
    let mut images = Vec::new();
    for text in &cli.catalog_images {
        let (name, reference) = name_value("--catalog-image", text)?;
        check_name(name)?;
        images.push((name.to_string(), reference.to_string()));
    }
    if dirs.is_empty() && images.is_empty() {
        return Err(UsageError(
            "no catalog: give --catalog NAME=DIR or --catalog-image NAME=REF".into(),
        )
        .into());
    }
    let mut priorities = std::collections::BTreeMap::new();
    for text in &cli.priorities {
        let (name, value) = name_value("--priority", text)?;
        if !seen.contains(name) {
            return Err(
                UsageError(format!("--priority {text:?}: no catalog is named {name:?}")).into(),
            );
        }
        let n: i32 = value
            .parse()
            .map_err(|_| UsageError(format!("--priority {text:?}: {value:?} is not an integer")))?;
        priorities.insert(name.to_string(), n);
    }
    let mut out = Vec::new();
    for (name, dir) in dirs {
        let config = catalogs::load_dir(&name, &dir)?;
        out.push(LoadedCatalog {
            priority: priorities.get(&name).copied().unwrap_or(0),
            source: dir.display().to_string(),
            name,
            config,
        });
    }
    let access = ImageAccess {
        cache: cli.image_cache.clone(),
        use_http: cli.use_http,
        skip_tls_verify: cli.skip_tls_verify,
        ca_file: cli.ca_file.clone(),
        auth_file: cli.auth_file.clone(),
    };
    let loaded = catalogs::load_images(&images, &access)?;
    for ((name, reference), (config, took)) in images.into_iter().zip(loaded) {
        tracing::info!(catalog = %name, image = %reference, ms = ms(took), "catalog image loaded");
        out.push(LoadedCatalog {
            priority: priorities.get(&name).copied().unwrap_or(0),
            source: reference,
            name,
            config,
        });
    }
    Ok(out)
}
