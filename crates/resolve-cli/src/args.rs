//! Command-line arguments, and how per-request flags attach to the `--package` before them.

use std::path::PathBuf;

use clap::{ArgMatches, Parser, ValueEnum};
use resolver::{OthersPolicy, Request, SuccessorMode, UpgradePolicy};

/// Resolve Operator requests against file-based catalogs, off-cluster.
///
/// Each `--package` starts a request; `--channel`, `--version`, `--upgrade-policy` and
/// `--in-catalog` that follow it (before the next `--package`) qualify it. Requests can also come
/// from a YAML/JSON file (`--requests`). By default each request is resolved on its own, as the
/// controller does; `--joint` solves them together.
///
/// Exit status: 0 when every request resolves, 1 when one is unsatisfiable (or the timeout
/// passes), 2 for usage and input errors (bad flags or files, unknown package, channel or
/// version, invalid range, installed bundle missing from the catalogs).
#[derive(Debug, Parser)]
#[command(name = "resolve", disable_version_flag = true, max_term_width = 100)]
pub struct Cli {
    /// A catalog directory (file-based catalog), as NAME=DIR. Repeatable.
    #[arg(long = "catalog", value_name = "NAME=DIR")]
    pub catalogs: Vec<String>,

    /// A catalog image, as NAME=REF: a registry reference, docker://REF, or oci:DIR[:NAME] for
    /// an OCI layout. Its `operators.operatorframework.io.index.configs.v1` directory is read.
    /// Repeatable.
    #[arg(long = "catalog-image", value_name = "NAME=REF")]
    pub catalog_images: Vec<String>,

    /// A catalog's priority, as NAME=N (higher wins between otherwise equal bundles; default 0).
    #[arg(long = "priority", value_name = "NAME=N", allow_hyphen_values = true)]
    pub priorities: Vec<String>,

    /// Start a request for this package.
    #[arg(long = "package", short = 'p', value_name = "PACKAGE")]
    pub packages: Vec<String>,

    /// Only bundles in this channel (qualifies the preceding --package).
    #[arg(long = "channel", value_name = "CHANNEL")]
    pub channels: Vec<String>,

    /// Only versions in this Masterminds range, e.g. 1.2.3, ">=1.2, <2", ~1.4 (qualifies the
    /// preceding --package).
    #[arg(long = "version", value_name = "RANGE", allow_hyphen_values = true)]
    pub versions: Vec<String>,

    /// Enforce (only upgrade edges from the installed bundle) or Ignore (any version, downgrades
    /// included). Qualifies the preceding --package; default Enforce.
    #[arg(long = "upgrade-policy", value_name = "POLICY", ignore_case = true)]
    pub upgrade_policies: Vec<PolicyArg>,

    /// Only bundles of this catalog (qualifies the preceding --package; repeatable).
    #[arg(long = "in-catalog", value_name = "NAME")]
    pub in_catalogs: Vec<String>,

    /// A YAML or JSON file with `requests:` (and optionally `installed:`). Repeatable.
    #[arg(long = "requests", short = 'f', value_name = "FILE")]
    pub request_files: Vec<PathBuf>,

    /// An installed bundle, as PACKAGE=VERSION or PACKAGE=BUNDLE-NAME, optionally followed by
    /// ",for=OWNER" when it was installed as a dependency of OWNER's request. Repeatable.
    #[arg(long = "installed", value_name = "PACKAGE=VERSION|BUNDLE[,for=OWNER]")]
    pub installed: Vec<String>,

    /// A YAML or JSON file with `installed:` entries. Repeatable.
    #[arg(long = "installed-file", value_name = "FILE")]
    pub installed_files: Vec<PathBuf>,

    /// Solve all requests together in one problem instead of one problem per request.
    #[arg(long)]
    pub joint: bool,

    /// Which bundles count as upgrades of an installed bundle.
    #[arg(long, value_enum, default_value_t = SuccessorsArg::Semver)]
    pub successors: SuccessorsArg,

    /// Allow two selected bundles of different packages to provide the same API (GVK).
    #[arg(long)]
    pub no_gvk_uniqueness: bool,

    /// Exclude bundles whose olm.maxOpenShiftVersion is below this cluster version (e.g. 4.15).
    #[arg(long, value_name = "VERSION")]
    pub cluster_version: Option<String>,

    /// Bundles installed for Operators that are not part of a problem: fixed, or allowed to
    /// follow their upgrade edges.
    #[arg(long, value_enum, default_value_t = OthersArg::Fixed)]
    pub others: OthersArg,

    /// Give up after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub timeout: f64,

    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Text)]
    pub output: Format,

    /// Also list, for each selected package, the bundles that were not chosen and why.
    #[arg(long)]
    pub why_not: bool,

    /// Resolve this many times and report the latency (for benchmarks; the result printed is
    /// the last run's).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,

    /// Where catalog-image blobs are cached (default: $XDG_CACHE_HOME/olm-rs/images, else
    /// ~/.cache/olm-rs/images).
    #[arg(long, value_name = "DIR")]
    pub image_cache: Option<PathBuf>,

    /// Use plain HTTP for registries.
    #[arg(long)]
    pub use_http: bool,

    /// Accept any TLS certificate from registries (test registries only).
    #[arg(long)]
    pub skip_tls_verify: bool,

    /// Extra trusted CA certificates (PEM) for registries.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,

    /// Registry credentials in Docker config.json format.
    #[arg(long, value_name = "FILE", env = "REGISTRY_AUTH_FILE")]
    pub auth_file: Option<PathBuf>,
}

/// `--upgrade-policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyArg {
    /// Only upgrade edges from the installed bundle, or staying.
    #[value(name = "Enforce")]
    Enforce,
    /// Any bundle, downgrades included.
    #[value(name = "Ignore")]
    Ignore,
}

impl From<PolicyArg> for UpgradePolicy {
    fn from(p: PolicyArg) -> Self {
        match p {
            PolicyArg::Enforce => UpgradePolicy::Enforce,
            PolicyArg::Ignore => UpgradePolicy::Ignore,
        }
    }
}

/// `--successors`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SuccessorsArg {
    /// Masterminds `^v, != v`: same major (same minor for 0.y). The deployed default.
    Semver,
    /// The upgrade graph: replaces, skips and skipRange (in the requested channel, if any).
    Graph,
}

impl From<SuccessorsArg> for SuccessorMode {
    fn from(s: SuccessorsArg) -> Self {
        match s {
            SuccessorsArg::Semver => SuccessorMode::Semver,
            SuccessorsArg::Graph => SuccessorMode::Graph,
        }
    }
}

/// `--others`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OthersArg {
    /// They stay exactly as installed.
    Fixed,
    /// They may follow their upgrade edges.
    Upgradable,
}

impl From<OthersArg> for OthersPolicy {
    fn from(o: OthersArg) -> Self {
        match o {
            OthersArg::Fixed => OthersPolicy::Fixed,
            OthersArg::Upgradable => OthersPolicy::Upgradable,
        }
    }
}

/// `-o`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// For tools.
    Json,
}

/// A usage error (exit status 2), phrased for the command line.
#[derive(Debug)]
pub(crate) struct UsageError(pub(crate) String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The requests given with `--package` and its qualifiers, in command-line order.
pub(crate) fn requests_from_flags(
    cli: &Cli,
    matches: &ArgMatches,
) -> Result<Vec<Request>, UsageError> {
    let starts: Vec<usize> = matches
        .indices_of("packages")
        .map(Iterator::collect)
        .unwrap_or_default();
    let mut requests: Vec<Request> = cli.packages.iter().map(Request::new).collect();
    let owner = |flag: &str, index: usize| -> Result<usize, UsageError> {
        starts.iter().rposition(|&s| s < index).ok_or_else(|| {
            UsageError(format!(
                "{flag} must follow the --package it qualifies (e.g. --package etcd {flag} …)"
            ))
        })
    };
    let indices = |id: &str| -> Vec<usize> {
        matches
            .indices_of(id)
            .map(Iterator::collect)
            .unwrap_or_default()
    };
    let twice = |flag: &str, r: &Request| {
        UsageError(format!(
            "{flag} is given twice for --package {}; give one per request",
            r.package
        ))
    };
    for (value, index) in cli.channels.iter().zip(indices("channels")) {
        let r = &mut requests[owner("--channel", index)?];
        if r.channel.is_some() {
            return Err(twice("--channel", r));
        }
        r.channel = Some(value.clone());
    }
    for (value, index) in cli.versions.iter().zip(indices("versions")) {
        let r = &mut requests[owner("--version", index)?];
        if r.version.is_some() {
            return Err(twice("--version", r));
        }
        r.version = Some(value.clone());
    }
    let mut policy_set = vec![false; requests.len()];
    for (value, index) in cli.upgrade_policies.iter().zip(indices("upgrade_policies")) {
        let i = owner("--upgrade-policy", index)?;
        if policy_set[i] {
            return Err(twice("--upgrade-policy", &requests[i]));
        }
        policy_set[i] = true;
        requests[i].upgrade_policy = (*value).into();
    }
    for (value, index) in cli.in_catalogs.iter().zip(indices("in_catalogs")) {
        let r = &mut requests[owner("--in-catalog", index)?];
        r.catalogs.get_or_insert_with(Vec::new).push(value.clone());
    }
    Ok(requests)
}

/// Splits `NAME=VALUE`, naming the flag in the error.
pub(crate) fn name_value<'a>(flag: &str, text: &'a str) -> Result<(&'a str, &'a str), UsageError> {
    match text.split_once('=') {
        Some((n, v)) if !n.is_empty() && !v.is_empty() => Ok((n, v)),
        _ => Err(UsageError(format!(
            "{flag} {text:?}: expected NAME=VALUE with both parts non-empty"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches};

    fn parse(args: &[&str]) -> Result<Vec<Request>, UsageError> {
        let matches = Cli::command()
            .try_get_matches_from(std::iter::once("resolve").chain(args.iter().copied()))
            .expect("parses");
        let cli = Cli::from_arg_matches(&matches).expect("valid");
        requests_from_flags(&cli, &matches)
    }

    #[test]
    fn qualifiers_attach_to_the_preceding_package() {
        let r = parse(&[
            "--package",
            "a",
            "--version",
            "0.1.0",
            "--in-catalog",
            "x",
            "-p",
            "b",
            "--channel",
            "stable",
            "--upgrade-policy",
            "ignore",
            "--in-catalog",
            "y",
            "--in-catalog",
            "z",
        ])
        .expect("valid");
        assert_eq!(r.len(), 2);
        assert_eq!(r[0], Request::new("a").version("0.1.0").catalogs(["x"]));
        assert_eq!(
            r[1],
            Request::new("b")
                .channel("stable")
                .upgrade_policy(UpgradePolicy::Ignore)
                .catalogs(["y", "z"])
        );
    }

    #[test]
    fn misplaced_or_repeated_qualifiers_are_usage_errors() {
        let e = parse(&["--channel", "stable", "--package", "a"]).expect_err("misplaced");
        assert_eq!(
            e.to_string(),
            "--channel must follow the --package it qualifies (e.g. --package etcd --channel …)"
        );
        let e = parse(&["-p", "a", "--version", "1", "--version", "2"]).expect_err("twice");
        assert_eq!(
            e.to_string(),
            "--version is given twice for --package a; give one per request"
        );
    }

    #[test]
    fn name_value_pairs() {
        assert_eq!(name_value("--catalog", "a=b=c").expect("ok"), ("a", "b=c"));
        assert!(name_value("--catalog", "dir").is_err());
        assert!(name_value("--catalog", "=dir").is_err());
    }
}
