//! Errors of writing an index. Messages are upstream's (operator-registry v1.73.0) wherever
//! upstream has one, so that users and scripts see what `opm` prints.

use std::path::PathBuf;

use super::bundle::BundleInputError;

/// Formats errors as `k8s.io/apimachinery` `utilerrors.NewAggregate` does: one message alone,
/// several de-duplicated and bracketed.
pub(crate) fn aggregate_message(messages: impl IntoIterator<Item = String>) -> String {
    let mut seen: Vec<String> = Vec::new();
    for m in messages {
        if !seen.contains(&m) {
            seen.push(m);
        }
    }
    match seen.len() {
        1 => seen.pop().unwrap_or_default(),
        _ => format!("[{}]", seen.join(", ")),
    }
}

pub(crate) use go_encoding::format_go_list as go_string_list;

/// A failure of opening, migrating, changing or committing an index database.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not an sqlite database", path.display())]
    NotSqlite { path: PathBuf },
    #[error("{}: already exists; refusing to replace it with a new index", path.display())]
    Exists { path: PathBuf },
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// The database was written by a newer schema than the last upstream one (013).
    #[error(
        "index database schema is at migration {found}, newer than the latest known migration {latest}"
    )]
    NewerSchema { found: i64, latest: i64 },
    /// A migration failed; `version` is the one being applied.
    #[error("migration {version}: {message}")]
    Migration { version: i64, message: String },
    /// `index rm`/`prune`: the package has no channel entries.
    #[error("no package found for packagename {0}")]
    PackageNotFound(String),
    /// `deprecatetruncate`: bundle images that are not in the index.
    #[error("target bundlepaths for deprecation missing from registry: {}", go_string_list(.0))]
    DeprecateMissing(Vec<String>),
    /// `deprecatetruncate` would remove the head of a default channel.
    #[error("Bundle deprecation causing default channel removal")]
    RemovingDefaultChannel,
    /// `deprecatetruncate --allow-package-removal` without every channel head listed.
    #[error(
        "cannot deprecate default channel head from package without removing all other channel heads in package {package}: must deprecate {head}, head of channel {channel}"
    )]
    PackageRemovalIncomplete {
        package: String,
        head: String,
        channel: String,
    },
    /// Any other failure, phrased as upstream.
    #[error("{0}")]
    Upstream(String),
    /// Several failures (`utilerrors.NewAggregate`).
    #[error("{}", aggregate_message(.0.iter().map(ToString::to_string)))]
    Aggregate(Vec<WriteError>),
}

impl WriteError {
    /// An aggregate of `errs`: `None` when empty, the error itself when alone.
    pub(crate) fn aggregate(mut errs: Vec<WriteError>) -> Option<WriteError> {
        match errs.len() {
            0 => None,
            1 => errs.pop(),
            _ => Some(WriteError::Aggregate(errs)),
        }
    }

    /// Prefixes the message with upstream's wrapping context.
    pub(crate) fn context(self, prefix: impl AsRef<str>) -> WriteError {
        WriteError::Upstream(format!("{}{self}", prefix.as_ref()))
    }
}

/// A failure of adding bundles (`opm index add` / `opm registry add`).
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    /// One of the bundle images is already in the package.
    #[error("Bundle {image} already exists")]
    BundleImageAlreadyAdded { image: String },
    /// A bundle with the same CSV name is already in one of the package's channels.
    #[error("Bundle already added that provides package and csv")]
    PackageVersionAlreadyAdded,
    /// `overwrite_latest` for a bundle that something replaces.
    #[error(
        "Cannot overwrite a bundle that is not at the head of a channel using --overwrite-latest"
    )]
    OverwriteNotHead,
    #[error(
        "Cannot overwrite more than one bundle at a time for a given package using --overwrite-latest"
    )]
    OverwriteMoreThanOne,
    #[error("index add --overwrite-latest is only supported when using bundle images")]
    OverwriteNeedsImage,
    /// `RemoveOverwrittenChannelHead`: the bundle to overwrite is replaced in some channel.
    #[error(
        "cannot overwrite bundle {bundle} from package {package}: replaced by {replaced_by} on channel {channel}"
    )]
    OverwriteReplaced {
        bundle: String,
        package: String,
        replaced_by: String,
        channel: String,
    },
    /// A replaces/skips edge names a bundle of another package in the same request.
    #[error("bundle {bundle} must belong to exactly one package, found on: {}", go_string_list(.packages))]
    EdgeInTwoPackages {
        bundle: String,
        packages: Vec<String>,
    },
    /// A replaces/skips edge names a bundle that belongs to another package in the index.
    #[error(
        "bundle {bundle} belongs to package {index_package} on index, cannot be added as an edge for package {package}"
    )]
    EdgeInOtherPackage {
        bundle: String,
        index_package: String,
        package: String,
    },
    /// semver modes: a bundle of the same version is already in the channel.
    #[error("Bundle version {0} already added to index")]
    VersionAlreadyAdded(String),
    /// semver modes: the bundle's version is not semver.
    #[error("Bundle version {0} is not valid")]
    InvalidVersion(String),
    /// semver modes: no default channel annotation, none in the index and no channels.
    #[error("Default channel is missing and can't be inferred")]
    DefaultChannelMissing,
    /// replaces mode: two bundles share the highest version.
    #[error("more than one bundle with maximum version {0}")]
    MaxVersionNotUnique(String),
    /// replaces mode: two bundles share a channel's highest version.
    #[error("more than one potential channel head for {0}")]
    ChannelHeadNotUnique(String),
    /// replaces mode: the default channel is none of the channels.
    #[error("unable to determine default channel among channel heads: {0}")]
    NoDefaultChannel(String),
    /// replaces mode: no channel of the package can be the default.
    #[error("no default channel specified for {0}")]
    NoDefaultChannelSpecified(String),
    /// replaces mode: a replaces chain loops.
    #[error("Cycle detected, {bundle} replaces {replaces}")]
    Cycle { bundle: String, replaces: String },
    /// replaces mode: the chain from a channel head replaces a bundle that is not in the index.
    #[error("Invalid bundle {head}, replaces nonexistent bundle {replaces}")]
    ReplacesMissing { head: String, replaces: String },
    /// Post-check: an added bundle is not reachable from its channel's head.
    #[error(
        "add prunes bundle {bundle} ({image}) from package {package}, channel {channel}: this may be due to incorrect channel head ({head}, skips/replaces {}). Be aware that the head of the channel {channel} where you are trying to add the {bundle} is {head}. Upgrade graphs follows the Semantic Versioning 2.0.0 (https://semver.org/) which means that is not possible add new versions lower then the head of the channel",
        go_string_list(.head_skips)
    )]
    Pruned {
        bundle: String,
        image: String,
        package: String,
        channel: String,
        head: String,
        head_skips: Vec<String>,
    },
    /// `olm.substitutesFor` needs upstream's `--enable-alpha`, which this writer does not offer.
    #[error(
        "SubstitutesFor is an alpha-only feature. You must enable alpha features with the flag --enable-alpha in order to use this feature."
    )]
    SubstitutesForAlphaOnly,
    #[error(transparent)]
    Bundle(#[from] BundleInputError),
    #[error(transparent)]
    Write(#[from] WriteError),
    /// Any other failure, phrased as upstream.
    #[error("{0}")]
    Upstream(String),
    /// Several failures (`utilerrors.NewAggregate`).
    #[error("{}", aggregate_message(.0.iter().map(ToString::to_string)))]
    Aggregate(Vec<AddError>),
}

impl From<rusqlite::Error> for AddError {
    fn from(e: rusqlite::Error) -> Self {
        AddError::Write(WriteError::Sqlite(e))
    }
}

impl AddError {
    /// An aggregate of `errs` (nested aggregates flattened): `None` when empty, the error
    /// itself when alone.
    pub(crate) fn aggregate(errs: Vec<AddError>) -> Option<AddError> {
        let mut flat = Vec::new();
        for e in errs {
            match e {
                AddError::Aggregate(inner) => flat.extend(inner),
                e => flat.push(e),
            }
        }
        match flat.len() {
            0 => None,
            1 => flat.pop(),
            _ => Some(AddError::Aggregate(flat)),
        }
    }

    /// Prefixes the message with upstream's wrapping context.
    pub(crate) fn context(self, prefix: impl AsRef<str>) -> AddError {
        AddError::Upstream(format!("{}{self}", prefix.as_ref()))
    }
}
