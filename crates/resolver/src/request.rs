//! What the caller asks for: requests, the installed state and options.

use std::time::Duration;

/// What to do with an installed bundle when resolving its Operator again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UpgradePolicy {
    /// Only upgrade edges from the installed bundle (or staying) are allowed.
    #[default]
    Enforce,
    /// Any candidate is allowed, including downgrades.
    Ignore,
}

/// One Operator's request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// The package to install.
    pub package: String,
    /// Restrict candidates to bundles listed in this channel (in any catalog).
    pub channel: Option<String>,
    /// Restrict candidates to this Masterminds v3.2.1 range (`1.2.3`, `>=1.2, <2`, `~1.4`…).
    pub version: Option<String>,
    /// The upgrade policy for the installed bundle of this request.
    pub upgrade_policy: UpgradePolicy,
    /// Restrict candidates to these catalogs.
    pub catalogs: Option<Vec<String>>,
}

impl Request {
    /// A request for the newest bundle of a package.
    pub fn new(package: impl Into<String>) -> Self {
        Request {
            package: package.into(),
            ..Request::default()
        }
    }

    /// How the request is qualified, for sentences: `channel "stable", version "1.2.x"`, or
    /// empty.
    pub(crate) fn qualifiers(&self) -> String {
        let mut parts = Vec::new();
        if let Some(c) = &self.channel {
            parts.push(format!("channel {c:?}"));
        }
        if let Some(v) = &self.version {
            parts.push(format!("version {v:?}"));
        }
        if let Some(c) = &self.catalogs {
            parts.push(format!("catalogs {}", c.join(", ")));
        }
        parts.join(", ")
    }

    /// Sets the channel.
    pub fn channel(mut self, channel: impl Into<String>) -> Self {
        self.channel = Some(channel.into());
        self
    }

    /// Sets the version range.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// Sets the upgrade policy.
    pub fn upgrade_policy(mut self, policy: UpgradePolicy) -> Self {
        self.upgrade_policy = policy;
        self
    }

    /// Restricts the catalogs.
    pub fn catalogs<S: Into<String>>(mut self, catalogs: impl IntoIterator<Item = S>) -> Self {
        self.catalogs = Some(catalogs.into_iter().map(Into::into).collect());
        self
    }
}

/// How an installed bundle is found in the catalogs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleLocator {
    /// By bundle name (`etcd.v0.9.4`).
    Name(String),
    /// By image reference (what a BundleDeployment records).
    Image(String),
    /// By version.
    Version(String),
}

/// A bundle installed in the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// Its package.
    pub package: String,
    /// How to find it in the catalogs.
    pub bundle: BundleLocator,
    /// The package of the Operator (request) it was installed for: its own package, or the
    /// package of the Operator that needed it as a dependency.
    pub owner: String,
}

impl Installed {
    /// A bundle installed for the Operator of its own package.
    pub fn own(package: impl Into<String>, bundle: BundleLocator) -> Self {
        let package = package.into();
        Installed {
            owner: package.clone(),
            package,
            bundle,
        }
    }

    /// A bundle installed as a dependency of `owner`'s Operator.
    pub fn dependency_of(
        package: impl Into<String>,
        bundle: BundleLocator,
        owner: impl Into<String>,
    ) -> Self {
        Installed {
            package: package.into(),
            bundle,
            owner: owner.into(),
        }
    }
}

/// Which bundles count as upgrades of an installed bundle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SuccessorMode {
    /// Masterminds `^<v>, != <v>`: same major (same minor for 0.y, nothing for 0.0.z). The
    /// deployed default (`ForceSemverUpgradeConstraints=true`).
    #[default]
    Semver,
    /// The upgrade graph: entries whose `replaces` or `skips` name the installed bundle, or
    /// whose `skipRange` contains its version. When the request names a channel, only that
    /// channel's entries count.
    Graph,
}

/// How bundles installed for Operators that are not part of the problem are treated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OthersPolicy {
    /// They stay exactly as installed (the controller's per-Operator isolation).
    #[default]
    Fixed,
    /// They stay installed but may follow their upgrade edges (Enforce semantics).
    Upgradable,
}

/// Resolution options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Upgrade-edge semantics.
    pub successors: SuccessorMode,
    /// At most one selected bundle per provided GVK across packages (default on).
    pub gvk_uniqueness: bool,
    /// When set (e.g. `4.15`), bundles whose `olm.maxOpenShiftVersion` is below this minor are
    /// excluded.
    pub cluster_version: Option<String>,
    /// Give up after this long (default 10 s).
    pub timeout: Option<Duration>,
    /// Treatment of bundles installed for Operators outside the problem.
    pub others: OthersPolicy,
    /// Time allowed for evaluating one CEL rule over the catalog.
    pub cel_budget: Duration,
    /// Catalogs left out because they could not be fetched or parsed: (name, error). Named in
    /// failure messages.
    pub skipped_catalogs: Vec<(String, String)>,
    /// Fill [`crate::Selection::not_chosen`]: every other bundle of each selected package with
    /// the reasons it was not chosen (default on). A controller that only applies the selection
    /// turns it off; the selection and `why` are the same either way.
    pub not_chosen: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            successors: SuccessorMode::Semver,
            gvk_uniqueness: true,
            cluster_version: None,
            timeout: Some(Duration::from_secs(10)),
            others: OthersPolicy::Fixed,
            cel_budget: Duration::from_secs(2),
            skipped_catalogs: Vec::new(),
            not_chosen: true,
        }
    }
}
