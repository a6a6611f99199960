//! Resolution results: the plan on success, the explanation on failure.

use std::fmt;

/// One selected bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The package.
    pub package: String,
    /// The catalog the bundle comes from.
    pub catalog: String,
    /// The bundle name.
    pub bundle: String,
    /// The bundle image.
    pub image: String,
    /// The version (`None` when the bundle has no valid version).
    pub version: Option<String>,
    /// Why it is in the plan (requests, installed constraints, requiring bundles).
    pub why: Vec<Why>,
    /// Other bundles of the same package that were not chosen, and why. Empty for a bundle
    /// that is only in the plan because it is installed for an Operator outside the problem.
    pub not_chosen: Vec<Rejection>,
    /// Deprecation notes (bundle, package, requested channel). Deprecated bundles are only
    /// de-preferred, so a plan can still contain one; these say so.
    pub deprecations: Vec<String>,
}

/// Why a bundle is part of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// It is the preferred candidate of a request that could be satisfied.
    Requested {
        /// The requested package.
        package: String,
        /// How the request was qualified (`channel "stable", version "1.2.x"`), if at all.
        qualifiers: String,
    },
    /// It is the installed bundle, or an allowed upgrade of it.
    Installed {
        /// The installed bundle (`p v1.0.0`).
        installed: String,
        /// Whether this is the installed bundle itself (true) or an upgrade.
        stays: bool,
        /// The Operator it is installed for, when that Operator is not part of the problem.
        fixed_for: Option<String>,
    },
    /// A selected bundle requires it.
    RequiredBy {
        /// The requiring bundle (`a v0.1.0`).
        bundle: String,
        /// The requirement, e.g. `package c in range ">=1.0.0"`.
        requirement: String,
    },
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::Requested {
                package,
                qualifiers,
            } if qualifiers.is_empty() => write!(f, "requested as {package}"),
            Why::Requested {
                package,
                qualifiers,
            } => write!(f, "requested as {package} ({qualifiers})"),
            Why::Installed {
                installed,
                stays: true,
                fixed_for: Some(owner),
            } => write!(f, "{installed} is installed for {owner} and stays as it is"),
            Why::Installed {
                installed,
                stays: true,
                ..
            } => write!(
                f,
                "{installed} is installed and stays (no allowed upgrade is preferred)"
            ),
            Why::Installed { installed, .. } => {
                write!(f, "an allowed upgrade of the installed {installed}")
            }
            Why::RequiredBy {
                bundle,
                requirement,
            } => write!(f, "{bundle} requires {requirement}"),
        }
    }
}

/// A bundle that was not chosen, with every reason that applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Its catalog.
    pub catalog: String,
    /// Its name.
    pub bundle: String,
    /// Its version, if valid.
    pub version: Option<String>,
    /// Why it was not chosen (wrong channel, out of range, not an upgrade edge, GVK conflict,
    /// CEL rule, excluded, or only less preferred).
    pub reasons: Vec<String>,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (catalog {}): {}",
            self.bundle,
            self.catalog,
            self.reasons.join("; ")
        )
    }
}

/// A successful resolution.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// One selection per package, sorted by package name.
    pub selections: Vec<Selection>,
}

impl Plan {
    /// The selection for a package.
    pub fn get(&self, package: &str) -> Option<&Selection> {
        self.selections.iter().find(|s| s.package == package)
    }

    /// `package → version` pairs, for compact assertions and logs.
    pub fn versions(&self) -> Vec<(String, String)> {
        self.selections
            .iter()
            .map(|s| {
                (
                    s.package.clone(),
                    s.version.clone().unwrap_or_else(|| s.bundle.clone()),
                )
            })
            .collect()
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.selections.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(
                f,
                "{} {} ({} from catalog {}, image {})",
                s.package,
                s.version.as_deref().unwrap_or("(no version)"),
                s.bundle,
                s.catalog,
                s.image
            )?;
            for why in &s.why {
                write!(f, "\n  because {why}")?;
            }
            for d in &s.deprecations {
                write!(f, "\n  warning: {d}")?;
            }
        }
        Ok(())
    }
}

/// A request (or the installed state) was invalid; no solving happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InputError {
    /// The request (package) the error belongs to, when it belongs to one.
    pub request: Option<String>,
    /// Upstream-compatible message, e.g. `no package "p" found in channel "stable"`.
    pub message: String,
}

/// No plan satisfies every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsatisfiable {
    /// deppy-style constraint lines of an irreducible conflict, in a deterministic order.
    pub lines: Vec<String>,
    /// One human sentence (or a few) naming the requests, the chains of requirements and what
    /// clashes.
    pub summary: String,
    /// A human sentence per conflict line, same order as `lines`.
    pub details: Vec<String>,
    /// The smallest set of requests that cannot be satisfied together (packages, request order).
    pub conflicting_requests: Vec<String>,
    /// Bundles of the involved packages that were not candidates, and why.
    pub excluded: Vec<Rejection>,
    /// Catalogs that were left out of the problem (name, error).
    pub skipped_catalogs: Vec<(String, String)>,
    /// False when the minimisation budget ran out (the lines may include unneeded ones).
    pub minimal: bool,
}

impl fmt::Display for Unsatisfiable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("constraints not satisfiable:")?;
        for line in &self.lines {
            write!(f, "\n{line}")?;
        }
        write!(f, "\n\n{}", self.summary)?;
        if !self.excluded.is_empty() {
            f.write_str("\nNot candidates:")?;
            for r in &self.excluded {
                write!(f, "\n- {r}")?;
            }
        }
        for (name, error) in &self.skipped_catalogs {
            write!(f, "\ncatalog {name} was skipped: {error}")?;
        }
        Ok(())
    }
}

/// Why resolution produced no plan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// Invalid input (range, unknown package/channel/version, duplicate request, installed
    /// bundle missing from the catalogs).
    #[error(transparent)]
    Input(#[from] InputError),
    /// No plan satisfies every constraint.
    #[error("{0}")]
    Unsatisfiable(Box<Unsatisfiable>),
    /// The timeout passed.
    #[error("cancelled before a solution could be found")]
    Cancelled,
}
