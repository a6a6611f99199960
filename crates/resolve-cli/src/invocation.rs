//! The arguments resolved into what one run does: the requests and installed state read and
//! checked, the catalogs to load, and the resolver options. Every usage error is found here,
//! before a catalog is read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use clap::ArgMatches;
use resolver::{Installed, Options, Request};

use crate::args::{Cli, Format, UsageError, name_value, requests_from_flags};
use crate::catalogs::{CatalogSources, ImageAccess};
use crate::input;

/// What one run of `resolve` does.
pub(crate) struct Invocation {
    pub(crate) requests: Vec<Request>,
    pub(crate) installed: Vec<Installed>,
    pub(crate) catalogs: CatalogSources,
    pub(crate) options: Options,
    /// One problem for all requests instead of one per request.
    pub(crate) joint: bool,
    pub(crate) repeat: u32,
    pub(crate) output: Format,
    pub(crate) why_not: bool,
}

impl Invocation {
    /// Reads the request and installed files and checks every flag. `Err` is a usage or input
    /// error.
    pub(crate) fn from_cli(cli: &Cli, matches: &ArgMatches) -> anyhow::Result<Invocation> {
        let (requests, installed) = requests_and_installed(cli, matches)?;
        if !cli.timeout.is_finite() || cli.timeout <= 0.0 {
            return Err(UsageError(format!(
                "--timeout {} must be a positive number of seconds",
                cli.timeout
            ))
            .into());
        }
        let catalogs = catalog_sources(cli)?;
        let options = Options {
            successors: cli.successors.into(),
            gvk_uniqueness: !cli.no_gvk_uniqueness,
            cluster_version: cli.cluster_version.clone(),
            timeout: Some(Duration::from_secs_f64(cli.timeout)),
            others: cli.others.into(),
            ..Options::default()
        };
        Ok(Invocation {
            requests,
            installed,
            catalogs,
            options,
            joint: cli.joint,
            repeat: cli.repeat,
            output: cli.output,
            why_not: cli.why_not,
        })
    }
}

/// The requests (flags, then files) and the installed state (files, then flags).
fn requests_and_installed(
    cli: &Cli,
    matches: &ArgMatches,
) -> anyhow::Result<(Vec<Request>, Vec<Installed>)> {
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
    Ok((requests, installed))
}

/// `--catalog`, `--catalog-image` and `--priority`, checked: every name once, every priority
/// for a named catalog.
fn catalog_sources(cli: &Cli) -> Result<CatalogSources, UsageError> {
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
        ));
    }
    let mut priorities = BTreeMap::new();
    for text in &cli.priorities {
        let (name, value) = name_value("--priority", text)?;
        if !seen.contains(name) {
            return Err(UsageError(format!(
                "--priority {text:?}: no catalog is named {name:?}"
            )));
        }
        let n: i32 = value
            .parse()
            .map_err(|_| UsageError(format!("--priority {text:?}: {value:?} is not an integer")))?;
        priorities.insert(name.to_string(), n);
    }
    Ok(CatalogSources {
        dirs,
        images,
        priorities,
        access: ImageAccess {
            cache: cli.image_cache.clone(),
            use_http: cli.use_http,
            skip_tls_verify: cli.skip_tls_verify,
            ca_file: cli.ca_file.clone(),
            auth_file: cli.auth_file.clone(),
        },
    })
}

impl Invocation {
    /// Every catalog a request is restricted to (`--in-catalog`, `catalogs:`) is one of the
    /// named ones. Checked after the catalogs are loaded, so a catalog that cannot be read is
    /// reported first, as before the split into steps.
    pub(crate) fn check_request_catalogs(&self) -> Result<(), UsageError> {
        let names: BTreeSet<&str> = (self.catalogs.dirs.iter().map(|(name, _)| name.as_str()))
            .chain(self.catalogs.images.iter().map(|(name, _)| name.as_str()))
            .collect();
        for r in &self.requests {
            for c in r.catalogs.iter().flatten() {
                if !names.contains(c.as_str()) {
                    return Err(UsageError(format!(
                        "request {}: catalog {c:?} is not loaded (loaded: {})",
                        r.package,
                        names.iter().copied().collect::<Vec<_>>().join(", ")
                    )));
                }
            }
        }
        Ok(())
    }
}
