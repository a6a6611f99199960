//! A bundle after indexing: its version, what it provides and requires, and what makes it
//! uninstallable, worked out once per catalog.

use std::sync::Arc;

use semver::Version;
use semver_ranges::{BlangRange, BlangVersionError, parse_strict, parse_tolerant};

use crate::constraint::ConstraintExpr;
use crate::input::{BundleInput, Gvk, Property};

/// A requirement a bundle declares.
#[derive(Debug, Clone)]
pub(crate) enum Requirement {
    Package {
        package: String,
        range_text: String,
        range: BlangRange,
    },
    Gvk(Gvk),
    Constraint {
        expr: Arc<ConstraintExpr>,
        failure_message: Option<String>,
    },
}

/// A bundle after indexing.
#[derive(Debug, Clone)]
pub(crate) struct Bundle {
    pub(crate) input: BundleInput,
    pub(crate) version: Option<Version>,
    pub(crate) release: Option<String>,
    pub(crate) provides: Vec<Gvk>,
    pub(crate) requirements: Vec<Requirement>,
    /// Errors that make the bundle uninstallable (invalid requirement properties).
    pub(crate) invalid: Vec<String>,
    pub(crate) deprecated: Option<String>,
    /// `olm.maxOpenShiftVersion` as (major, minor), or the parse error.
    pub(crate) max_openshift: Option<Result<(u64, u64), MaxOpenShiftError>>,
    pub(crate) skip_ranges: Vec<(String, Option<BlangRange>)>,
    /// Formatted once at index time: every solve needs them, many times.
    id: String,
    shown: String,
    pub(crate) version_text: Option<String>,
}

impl Bundle {
    /// deppy identifier: `<catalog>-<package>-<name>`.
    pub(crate) fn id(&self) -> String {
        self.id.clone()
    }

    pub(crate) fn id_str(&self) -> &str {
        &self.id
    }

    /// `a v0.1.0`, or the bundle name when the version is unknown.
    pub(crate) fn display(&self) -> String {
        self.shown.clone()
    }

    pub(crate) fn in_channel(&self, channel: &str) -> bool {
        self.input.channels.iter().any(|c| c.channel == channel)
    }

    /// Whether this bundle (catalog index `index`) satisfies an `olm.constraint` predicate;
    /// `cel` looks up precomputed rule results.
    pub(crate) fn satisfies(
        &self,
        index: usize,
        expr: &ConstraintExpr,
        cel: &dyn Fn(&str, usize) -> bool,
    ) -> bool {
        let holds = |c: &ConstraintExpr| self.satisfies(index, c, cel);
        match expr {
            ConstraintExpr::Package { package, range, .. } => {
                self.input.package == *package
                    && self.version.as_ref().is_some_and(|v| range.matches(v))
            }
            ConstraintExpr::Gvk(g) => self.provides.contains(g),
            ConstraintExpr::Cel { rule } => cel(rule, index),
            ConstraintExpr::All(c) => c.iter().all(holds),
            ConstraintExpr::Any(c) => c.iter().any(holds),
            ConstraintExpr::Not(c) => !c.iter().any(holds),
        }
    }

    /// Indexes one bundle: everything resolution reads, parsed once.
    pub(crate) fn index(input: BundleInput) -> Bundle {
        let mut version = None;
        let mut release = None;
        let mut package_props = 0;
        let mut provides = Vec::new();
        let mut requirements = Vec::new();
        let mut invalid = Vec::new();
        let mut deprecated = input.deprecation.clone();
        let mut max_openshift = None;
        for p in &input.properties {
            match p {
            Property::Package {
                version: v,
                release: r,
                ..
            } => {
                package_props += 1;
                version = parse_strict(v).ok();
                release = r.clone();
            }
            Property::Gvk(g) => {
                if !provides.contains(g) {
                    provides.push(g.clone());
                }
            }
            Property::PackageRequired {
                package_name,
                version_range,
            } => match BlangRange::parse(version_range) {
                Ok(range) => requirements.push(Requirement::Package {
                    package: package_name.clone(),
                    range_text: version_range.clone(),
                    range,
                }),
                Err(e) => invalid.push(format!(
                    "error parsing bundle required package semver range for bundle {:?} (required package {package_name:?}): {e}",
                    input.name
                )),
            },
            Property::GvkRequired(g) => requirements.push(Requirement::Gvk(g.clone())),
            Property::Constraint(raw) => match ConstraintExpr::from_property(raw) {
                Ok((expr, failure_message)) => requirements.push(Requirement::Constraint {
                    expr: Arc::new(expr),
                    failure_message,
                }),
                Err(e) => invalid.push(format!("invalid olm.constraint property: {e}")),
            },
            Property::MaxOpenShiftVersion(s) => {
                max_openshift = Some(parse_max_openshift(s));
            }
            Property::Deprecated => {
                if deprecated.is_none() {
                    deprecated = Some("bundle is marked olm.deprecated".to_string());
                }
            }
            Property::Invalid { type_name, error } => {
                if matches!(
                    type_name.as_str(),
                    "olm.package.required" | "olm.gvk.required" | "olm.constraint"
                ) {
                    invalid.push(format!("invalid {type_name} property: {error}"));
                }
            }
            Property::Other { .. } => {}
        }
        }
        if package_props != 1 {
            // Missing or duplicate olm.package: no version (sorted last, never matches a range).
            version = None;
        }
        let skip_ranges = input
            .channels
            .iter()
            .filter_map(|c| c.skip_range.clone())
            .map(|text| {
                let parsed = BlangRange::parse(&text).ok();
                (text, parsed)
            })
            .collect();
        let id = format!("{}-{}-{}", input.catalog, input.package, input.name);
        let shown = match &version {
            Some(v) => format!("{} v{v}", input.package),
            None => format!(
                "{} (bundle {}, no valid version)",
                input.package, input.name
            ),
        };
        let version_text = version.as_ref().map(Version::to_string);
        Bundle {
            id,
            shown,
            version_text,
            input,
            version,
            release,
            provides,
            requirements,
            invalid,
            deprecated,
            max_openshift,
            skip_ranges,
        }
    }
}

/// `olm.maxOpenShiftVersion`: blang `ParseTolerant` after stripping quotes; only major.minor
/// matter.
fn parse_max_openshift(raw: &str) -> Result<(u64, u64), MaxOpenShiftError> {
    let trimmed = raw.trim().trim_matches('"');
    if trimmed.is_empty() {
        return Err(MaxOpenShiftError::Empty);
    }
    parse_tolerant(trimmed)
        .map(|v| (v.major, v.minor))
        .map_err(|error| MaxOpenShiftError::Invalid {
            raw: raw.to_string(),
            error,
        })
}

/// Why an `olm.maxOpenShiftVersion` property excludes its bundle on every cluster version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum MaxOpenShiftError {
    #[error("olm.maxOpenShiftVersion is empty")]
    Empty,
    #[error("invalid olm.maxOpenShiftVersion {raw:?}: {error}")]
    Invalid {
        raw: String,
        error: BlangVersionError,
    },
}
