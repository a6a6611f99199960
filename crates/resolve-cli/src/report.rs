//! What `resolve` prints: the plan per request (install, upgrade, keep…) or the explanation, as
//! text or JSON.

use std::fmt::Write as _;
use std::io;

use anyhow::Context;
use resolver::{
    BundleLocator, BundleSummary, Catalog, Installed, Plan, Rejection, Request, ResolveError,
    Selection, Why,
};
use serde::Serialize;

use crate::args::Format;
use crate::execute::Execution;
use crate::invocation::Invocation;

/// Exit status when every request resolved.
pub const EXIT_RESOLVED: u8 = 0;
/// Exit status when a request is unsatisfiable (or the timeout passed).
pub const EXIT_UNSATISFIABLE: u8 = 1;
/// Exit status for usage and input errors.
pub const EXIT_INPUT: u8 = 2;

/// Writes the report of a run in the requested format; returns the exit status.
pub(crate) fn write(
    invocation: &Invocation,
    execution: &Execution<'_>,
    out: &mut dyn io::Write,
) -> anyhow::Result<u8> {
    let report = Report::new(invocation, execution);
    match invocation.output {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &report).context("writing JSON")?;
            writeln!(out).context("writing output")?;
        }
        Format::Text => {
            let labels = labels(invocation, execution);
            out.write_all(render_text(&report, &labels, invocation.why_not).as_bytes())
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
    Ok(report.exit_status())
}

/// The request descriptions of each problem, for the text form.
fn labels(invocation: &Invocation, execution: &Execution<'_>) -> Vec<String> {
    execution
        .outcomes
        .iter()
        .map(|(rs, _)| {
            let list = rs
                .iter()
                .map(|r| describe(r))
                .collect::<Vec<_>>()
                .join(", ");
            if invocation.joint {
                format!("requests {list} (joint)")
            } else {
                format!("request {list}")
            }
        })
        .collect()
}

/// The whole output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    /// `isolated` (one problem per request) or `joint`.
    mode: &'static str,
    catalogs: Vec<CatalogReport>,
    results: Vec<ResultReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timing: Option<Timing>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CatalogReport {
    name: String,
    source: String,
    priority: i32,
    packages: usize,
    bundles: usize,
}

/// The outcome of one problem (one request, or all of them with `--joint`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultReport {
    /// The requested packages of this problem.
    requests: Vec<String>,
    status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    plan: Option<Vec<Step>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorReport>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
enum Status {
    Resolved,
    Unsatisfiable,
    /// An input error: unknown package, channel or version, invalid range, duplicate request,
    /// installed bundle missing from the catalogs.
    Invalid,
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
enum Action {
    Install,
    Upgrade,
    Downgrade,
    /// Another bundle of the same version (another catalog or build).
    Replace,
    Keep,
}

/// One selected bundle and what it means for the cluster.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Step {
    package: String,
    action: Action,
    catalog: String,
    bundle: String,
    version: Option<String>,
    image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    installed: Option<InstalledRef>,
    why: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
    not_chosen: Vec<NotChosen>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct InstalledRef {
    #[serde(skip_serializing_if = "Option::is_none")]
    bundle: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct NotChosen {
    catalog: String,
    bundle: String,
    version: Option<String>,
    reasons: Vec<String>,
}

impl From<&Rejection> for NotChosen {
    fn from(r: &Rejection) -> Self {
        NotChosen {
            catalog: r.catalog.clone(),
            bundle: r.bundle.clone(),
            version: r.version.clone(),
            reasons: r.reasons.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorReport {
    /// The full message, as the text output prints it.
    message: String,
    /// deppy-style constraint lines of an irreducible conflict.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    lines: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    details: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    conflicting_requests: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    not_candidates: Vec<NotChosen>,
}

/// Latency of `--repeat` runs.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Timing {
    runs: usize,
    /// Loading the catalogs (files or images), milliseconds.
    load_ms: f64,
    /// Building the resolver index, milliseconds.
    index_ms: f64,
    /// One resolution of all requests (every problem of the mode), microseconds.
    min_us: f64,
    median_us: f64,
    p95_us: f64,
    mean_us: f64,
    max_us: f64,
}

impl Report {
    fn new(invocation: &Invocation, execution: &Execution<'_>) -> Report {
        Report {
            mode: if invocation.joint {
                "joint"
            } else {
                "isolated"
            },
            catalogs: execution
                .catalogs
                .iter()
                .map(|c| CatalogReport {
                    name: c.name.clone(),
                    source: c.source.clone(),
                    priority: c.priority,
                    packages: c.config.packages.len(),
                    bundles: c.config.bundles.len(),
                })
                .collect(),
            results: execution
                .outcomes
                .iter()
                .map(|(rs, result)| {
                    result_report(&execution.catalog, rs, &invocation.installed, result)
                })
                .collect(),
            timing: (invocation.repeat > 1).then(|| {
                Timing::from_samples(
                    execution.load_ms,
                    execution.index_ms,
                    execution.samples_us.clone(),
                )
            }),
        }
    }

    /// Input errors win over conflicts, conflicts over success.
    fn exit_status(&self) -> u8 {
        let statuses: Vec<Status> = self.results.iter().map(|r| r.status).collect();
        if statuses.contains(&Status::Invalid) {
            EXIT_INPUT
        } else if statuses.iter().any(|s| *s != Status::Resolved) {
            EXIT_UNSATISFIABLE
        } else {
            EXIT_RESOLVED
        }
    }
}

impl Timing {
    fn from_samples(load_ms: f64, index_ms: f64, mut samples_us: Vec<f64>) -> Timing {
        samples_us.sort_by(f64::total_cmp);
        let n = samples_us.len().max(1);
        let at = |q: f64| {
            samples_us
                .get(((n as f64 - 1.0) * q).round() as usize)
                .copied()
                .unwrap_or(0.0)
        };
        Timing {
            runs: samples_us.len(),
            load_ms,
            index_ms,
            min_us: at(0.0),
            median_us: at(0.5),
            p95_us: at(0.95),
            mean_us: samples_us.iter().sum::<f64>() / n as f64,
            max_us: at(1.0),
        }
    }
}

/// Turns one problem's result into its report.
fn result_report(
    catalog: &Catalog,
    requests: &[&Request],
    installed: &[Installed],
    result: &Result<Plan, ResolveError>,
) -> ResultReport {
    let packages = requests.iter().map(|r| r.package.clone()).collect();
    match result {
        Ok(plan) => ResultReport {
            requests: packages,
            status: Status::Resolved,
            plan: Some(
                plan.selections
                    .iter()
                    .filter(|s| !only_fixed_context(s))
                    .map(|s| step(catalog, installed, s))
                    .collect(),
            ),
            error: None,
        },
        Err(e) => {
            let (status, error) = match e {
                ResolveError::Unsatisfiable(u) => (
                    Status::Unsatisfiable,
                    ErrorReport {
                        message: u.to_string(),
                        lines: u.lines.clone(),
                        summary: Some(u.summary.clone()),
                        details: u.details.clone(),
                        conflicting_requests: u.conflicting_requests.clone(),
                        not_candidates: u.excluded.iter().map(NotChosen::from).collect(),
                    },
                ),
                ResolveError::Input(_) => (Status::Invalid, plain_error(e)),
                ResolveError::Cancelled => (Status::Cancelled, plain_error(e)),
            };
            ResultReport {
                requests: packages,
                status,
                plan: None,
                error: Some(error),
            }
        }
    }
}

fn plain_error(e: &ResolveError) -> ErrorReport {
    ErrorReport {
        message: e.to_string(),
        lines: Vec::new(),
        summary: None,
        details: Vec::new(),
        conflicting_requests: Vec::new(),
        not_candidates: Vec::new(),
    }
}

/// A bundle that is only in the plan because it is installed for an Operator outside this
/// problem (and stays): context, not part of what this request changes.
fn only_fixed_context(s: &Selection) -> bool {
    !s.why.is_empty()
        && s.why.iter().all(|w| {
            matches!(
                w,
                Why::Installed {
                    fixed_for: Some(_),
                    ..
                }
            )
        })
}

fn locate(catalog: &Catalog, inst: &Installed) -> InstalledRef {
    let found: Option<BundleSummary> =
        catalog
            .bundles_of(&inst.package)
            .find(|b| match &inst.bundle {
                BundleLocator::Name(n) => &b.name == n,
                BundleLocator::Image(i) => &b.image == i,
                BundleLocator::Version(v) => semver_ranges::parse_strict(v).ok().is_some_and(|w| {
                    b.version
                        .as_deref()
                        .and_then(|x| semver_ranges::parse_strict(x).ok())
                        .is_some_and(|x| x.cmp_precedence(&w).is_eq())
                }),
            });
    match (found, &inst.bundle) {
        (Some(b), _) => InstalledRef {
            bundle: Some(b.name),
            version: b.version,
            image: Some(b.image),
        },
        (None, BundleLocator::Name(n)) => InstalledRef {
            bundle: Some(n.clone()),
            version: None,
            image: None,
        },
        (None, BundleLocator::Image(i)) => InstalledRef {
            bundle: None,
            version: None,
            image: Some(i.clone()),
        },
        (None, BundleLocator::Version(v)) => InstalledRef {
            bundle: None,
            version: Some(v.clone()),
            image: None,
        },
    }
}

fn step(catalog: &Catalog, installed: &[Installed], s: &Selection) -> Step {
    let current = installed
        .iter()
        .find(|i| i.package == s.package)
        .map(|i| locate(catalog, i));
    let action = match &current {
        None => Action::Install,
        Some(c) if c.bundle.as_deref() == Some(s.bundle.as_str()) => Action::Keep,
        Some(c) => {
            let parse = |v: Option<&str>| v.and_then(|v| semver_ranges::parse_strict(v).ok());
            match (parse(c.version.as_deref()), parse(s.version.as_deref())) {
                (Some(from), Some(to)) => match to.cmp_precedence(&from) {
                    std::cmp::Ordering::Greater => Action::Upgrade,
                    std::cmp::Ordering::Less => Action::Downgrade,
                    std::cmp::Ordering::Equal => Action::Replace,
                },
                _ => Action::Replace,
            }
        }
    };
    Step {
        package: s.package.clone(),
        action,
        catalog: s.catalog.clone(),
        bundle: s.bundle.clone(),
        version: s.version.clone(),
        image: s.image.clone(),
        installed: current,
        why: s.why.iter().map(ToString::to_string).collect(),
        warnings: s.deprecations.clone(),
        not_chosen: s.not_chosen.iter().map(NotChosen::from).collect(),
    }
}

/// `a (channel "stable", version "1.x")`.
fn describe(r: &Request) -> String {
    let mut parts = Vec::new();
    if let Some(c) = &r.channel {
        parts.push(format!("channel {c:?}"));
    }
    if let Some(v) = &r.version {
        parts.push(format!("version {v:?}"));
    }
    if r.upgrade_policy == resolver::UpgradePolicy::Ignore {
        parts.push("upgrade policy Ignore".to_string());
    }
    if let Some(c) = &r.catalogs {
        parts.push(format!("catalogs {}", c.join(", ")));
    }
    if parts.is_empty() {
        r.package.clone()
    } else {
        format!("{} ({})", r.package, parts.join(", "))
    }
}

fn indent(out: &mut String, text: &str, by: &str) {
    for line in text.lines() {
        if line.is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(out, "{by}{line}");
        }
    }
}

/// The text form. `labels` are the request descriptions, one per result.
fn render_text(report: &Report, labels: &[String], why_not: bool) -> String {
    let mut out = String::new();
    for (i, (result, label)) in report.results.iter().zip(labels).enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let status = match result.status {
            Status::Resolved => "resolved",
            Status::Unsatisfiable => "unsatisfiable",
            Status::Invalid => "invalid request",
            Status::Cancelled => "cancelled",
        };
        let _ = writeln!(out, "{label}: {status}");
        if let Some(plan) = &result.plan {
            for s in plan {
                let version = s.version.as_deref().unwrap_or("(no version)");
                let from = s
                    .installed
                    .as_ref()
                    .and_then(|i| i.version.clone().or_else(|| i.bundle.clone()))
                    .unwrap_or_default();
                let head = match s.action {
                    Action::Install => format!("install {} {version}", s.package),
                    Action::Keep => format!("keep {} {version}", s.package),
                    Action::Upgrade => format!("upgrade {} {from} -> {version}", s.package),
                    Action::Downgrade => format!("downgrade {} {from} -> {version}", s.package),
                    Action::Replace => format!("replace {} {from} with {version}", s.package),
                };
                let _ = writeln!(
                    out,
                    "  {head}: bundle {} from catalog {}, image {}",
                    s.bundle, s.catalog, s.image
                );
                for w in &s.why {
                    let _ = writeln!(out, "      because {w}");
                }
                for w in &s.warnings {
                    let _ = writeln!(out, "      warning: {w}");
                }
                if why_not && !s.not_chosen.is_empty() {
                    let _ = writeln!(out, "      not chosen:");
                    for n in &s.not_chosen {
                        let _ = writeln!(
                            out,
                            "      - {} (catalog {}): {}",
                            n.bundle,
                            n.catalog,
                            n.reasons.join("; ")
                        );
                    }
                }
            }
        }
        if let Some(e) = &result.error {
            indent(&mut out, &e.message, "  ");
        }
    }
    out
}
