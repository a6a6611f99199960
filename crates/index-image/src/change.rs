//! `opm index rm`, `prune`, `prune-stranded` and `deprecatetruncate` over both index kinds,
//! and `opm index export`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use futures::{StreamExt, TryStreamExt};
use oci::{ExtractOptions, ImageStore};

use crate::catalog::{load_catalog, validate, write_fbc};
use crate::error::IndexImageError;
use crate::fbc_add::{bundle_version, remove_packages, retain_packages};
use crate::kind::{FromIndex, IndexKind, fetch, fetch_from_index, unpack_database, unpack_dir};
use crate::output::{IndexOutput, Outcome};
use crate::sqlite;

/// What to change in an index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// `index rm --operators`: delete these packages.
    Remove(Vec<String>),
    /// `index prune --packages`: keep only these packages.
    Prune(Vec<String>),
    /// `index prune-stranded`: delete bundles that are in no channel.
    PruneStranded,
    /// `index deprecatetruncate --bundles`: deprecate these bundle images and truncate the
    /// channels below them.
    DeprecateTruncate {
        bundles: Vec<String>,
        allow_package_removal: bool,
    },
}

impl Change {
    fn command(&self) -> &'static str {
        match self {
            Change::Remove(_) => "rm",
            Change::Prune(_) => "prune",
            Change::PruneStranded => "prune-stranded",
            Change::DeprecateTruncate { .. } => "deprecatetruncate",
        }
    }
}

#[derive(Clone, Debug)]
pub struct ChangeRequest {
    pub from_index: String,
    pub out: IndexOutput,
    pub change: Change,
}

/// Splits comma-separated list arguments, as upstream's string-slice flags do.
fn flatten(items: &[String]) -> Vec<String> {
    items
        .iter()
        .flat_map(|i| i.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Runs a change on the from-index and writes the result.
pub async fn change(store: &ImageStore, req: &ChangeRequest) -> Result<Outcome, IndexImageError> {
    let from = fetch_from_index(store, &req.from_index).await?;
    let created_by = format!("opm index {} # olm-rs", req.change.command());
    match from.kind.clone() {
        IndexKind::Sqlite { database } => {
            change_sqlite(store, req, from, &database, &created_by).await
        }
        IndexKind::Fbc { configs } => change_fbc(store, req, from, &configs, &created_by).await,
    }
}

async fn change_sqlite(
    store: &ImageStore,
    req: &ChangeRequest,
    from: FromIndex,
    database: &str,
    created_by: &str,
) -> Result<Outcome, IndexImageError> {
    let db = sqlite::prepare(store, Some(&from), database, &req.out.output).await?;
    let mut writer = sqlite::open(&db)?;
    let err = sqlite::writer_error;
    let mut changed = Vec::new();
    match &req.change {
        Change::Remove(packages) => {
            changed = flatten(packages);
            let refs: Vec<&str> = changed.iter().map(String::as_str).collect();
            writer.remove_packages(&refs).map_err(err)?;
        }
        Change::Prune(keep) => {
            let keep = flatten(keep);
            let refs: Vec<&str> = keep.iter().map(String::as_str).collect();
            writer.prune(&refs).map_err(err)?;
        }
        Change::PruneStranded => writer.prune_stranded().map_err(err)?,
        Change::DeprecateTruncate {
            bundles,
            allow_package_removal,
        } => {
            let bundles = flatten(bundles);
            let refs: Vec<&str> = bundles.iter().map(String::as_str).collect();
            writer
                .deprecate_truncate(&refs, *allow_package_removal)
                .map_err(err)?;
        }
    }
    writer.commit().map_err(err)?;
    let mut outcome =
        sqlite::output(store, &req.out, Some(from), database, &db, created_by).await?;
    outcome.changed_packages = changed;
    Ok(outcome)
}

/// The changes a file-based catalog supports (the others are refused).
enum FbcChange<'a> {
    Remove(&'a [String]),
    Prune(&'a [String]),
}

async fn change_fbc(
    store: &ImageStore,
    req: &ChangeRequest,
    from: FromIndex,
    configs: &str,
    created_by: &str,
) -> Result<Outcome, IndexImageError> {
    // Refuse before unpacking anything.
    let fbc_change = match &req.change {
        Change::Remove(packages) => FbcChange::Remove(packages),
        Change::Prune(keep) => FbcChange::Prune(keep),
        Change::PruneStranded => {
            return Err(IndexImageError::Unsupported(format!(
                "index prune-stranded does not apply to the file-based catalog {}: an olm.bundle that is in no channel is invalid in a file-based catalog (opm validate refuses it), so there is nothing to prune",
                from.reference
            )));
        }
        Change::DeprecateTruncate { .. } => {
            return Err(IndexImageError::Unsupported(format!(
                "index deprecatetruncate is not supported for the file-based catalog {}: file-based catalogs deprecate with an olm.deprecations blob (see https://olm.operatorframework.io/docs/reference/file-based-catalogs/#olmdeprecations) and drop old bundles by editing the channel entries; opm does not truncate them",
                from.reference
            )));
        }
    };
    let catalog = load_catalog(store, Some(&from), configs, &req.out.output).await?;
    let mut after = catalog.cfg.clone();
    let all: BTreeSet<String> = after.packages.iter().map(|p| p.name.clone()).collect();
    let changed: BTreeSet<String> = match fbc_change {
        FbcChange::Remove(packages) => {
            let packages = flatten(packages);
            let present = remove_packages(&mut after, &packages);
            if let Some(missing) = packages.iter().find(|p| !present.contains(*p)) {
                return Err(IndexImageError::Database(format!(
                    "error deleting packages from database: error removing operator package {missing}: no package found for packagename {missing}"
                )));
            }
            present
        }
        FbcChange::Prune(keep) => {
            let keep: BTreeSet<String> = flatten(keep).into_iter().collect();
            retain_packages(&mut after, |p| keep.contains(p));
            all.difference(&keep).cloned().collect()
        }
    };
    validate(&after)?;
    write_fbc(
        store,
        &req.out,
        Some(from),
        configs,
        &catalog,
        &after,
        &changed,
        created_by,
    )
    .await
}

/// `opm index export`: one directory per package with `package.yaml` and, per bundle,
/// `<version>/` holding the bundle image's `manifests/` (the package-manifest layout).
#[derive(Clone, Debug)]
pub struct ExportRequest {
    pub index: String,
    /// Empty: every package.
    pub packages: Vec<String>,
    pub download_folder: PathBuf,
}

/// One bundle image to export and where its manifests go (relative to the folder).
struct ExportItem {
    image: String,
    dir: PathBuf,
}

/// `(package, package.yaml text)` pairs.
type PackageYamls = Vec<(String, String)>;

/// Bundle images pulled at once, as upstream.
const EXPORT_CONCURRENCY: usize = 10;

pub async fn export(store: &ImageStore, req: &ExportRequest) -> Result<Outcome, IndexImageError> {
    let from = fetch_from_index(store, &req.index).await?;
    let packages = flatten(&req.packages);
    let (items, yamls, kind) = match from.kind.clone() {
        IndexKind::Sqlite { database } => {
            let work = tempfile::tempdir().map_err(IndexImageError::io("creating a temp dir"))?;
            let db = unpack_database(store, &from.image, &from.reference, &database, work.path())
                .await?;
            let writer = sqlite_index::IndexWriter::open(&db).map_err(sqlite::writer_error)?;
            let refs: Vec<&str> = packages.iter().map(String::as_str).collect();
            let plan = writer.export_plan(&refs).map_err(sqlite::writer_error)?;
            let items = plan
                .bundles
                .iter()
                .map(|b| ExportItem {
                    image: b.image.clone(),
                    dir: b.dir.clone(),
                })
                .collect::<Vec<_>>();
            (items, plan.package_yamls, "sqlite")
        }
        IndexKind::Fbc { configs } => {
            let work = tempfile::tempdir().map_err(IndexImageError::io("creating a temp dir"))?;
            let root = work.path().join("configs");
            unpack_dir(store, &from.image, &from.reference, &configs, &root).await?;
            let cfg = fbc::load_fs(&root).map_err(|cause| IndexImageError::Load {
                image: from.reference.clone(),
                cause,
            })?;
            let model = fbc::convert_to_model(&cfg).map_err(IndexImageError::Validation)?;
            let (items, yamls) = fbc_export_plan(&cfg, &model, &packages)?;
            (items, yamls, "file-based catalog")
        }
    };

    std::fs::create_dir_all(&req.download_folder).map_err(IndexImageError::io(format!(
        "creating {}",
        req.download_folder.display()
    )))?;
    let pulls: Vec<_> = items
        .iter()
        .map(|item| export_bundle(store, item, &req.download_folder))
        .collect();
    futures::stream::iter(pulls)
        .buffer_unordered(EXPORT_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
    let mut generated = Vec::new();
    for (pkg, yaml) in &yamls {
        let path = req.download_folder.join(pkg).join("package.yaml");
        fbc::write::write_file_atomically(&path, yaml.as_bytes())?;
        generated.push(path);
    }
    Ok(Outcome {
        kind: kind.into(),
        generated,
        changed_packages: yamls.into_iter().map(|(p, _)| p).collect(),
        ..Default::default()
    })
}

async fn export_bundle(
    store: &ImageStore,
    item: &ExportItem,
    folder: &Path,
) -> Result<(), IndexImageError> {
    let image = fetch(store, &item.image).await?;
    let tmp = tempfile::tempdir().map_err(IndexImageError::io("creating a temp dir"))?;
    let unpacked = tmp.path().join("manifests");
    store
        .unpack_image(
            &image,
            &unpacked,
            &ExtractOptions {
                subtree: Some("/manifests".into()),
                ..Default::default()
            },
        )
        .await
        .map_err(|cause| IndexImageError::Image {
            context: format!("exporting bundle image:{} failed", item.image),
            cause,
        })?;
    let dest = folder.join(&item.dir);
    copy_tree(&unpacked, &dest)
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), IndexImageError> {
    std::fs::create_dir_all(to)
        .map_err(IndexImageError::io(format!("creating {}", to.display())))?;
    for entry in std::fs::read_dir(from)
        .map_err(IndexImageError::io(format!("reading {}", from.display())))?
    {
        let entry = entry.map_err(IndexImageError::io(format!("reading {}", from.display())))?;
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            copy_tree(&path, &target)?;
        } else {
            std::fs::copy(&path, &target)
                .map_err(IndexImageError::io(format!("writing {}", target.display())))?;
        }
    }
    Ok(())
}

/// The export of a file-based catalog: every bundle of the packages (all when empty) into
/// `<package>/<version>`, and a `package.yaml` per package with each channel's head.
fn fbc_export_plan(
    cfg: &fbc::DeclarativeConfig,
    model: &fbc::Model,
    packages: &[String],
) -> Result<(Vec<ExportItem>, PackageYamls), IndexImageError> {
    let wanted: Vec<String> = if packages.is_empty() {
        model.packages.keys().cloned().collect()
    } else {
        packages.to_vec()
    };
    let mut items = Vec::new();
    let mut yamls = Vec::new();
    for pkg in &wanted {
        let Some(mp) = model.packages.get(pkg) else {
            return Err(IndexImageError::Invalid(format!(
                "package {pkg} is not in the index"
            )));
        };
        for b in cfg.bundles.iter().filter(|b| &b.package == pkg) {
            if b.image.is_empty() {
                return Err(IndexImageError::Invalid(format!(
                    "bundle {} of package {pkg} has no image to export",
                    b.name
                )));
            }
            let version = bundle_version(b)
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| b.name.clone());
            items.push(ExportItem {
                image: b.image.clone(),
                dir: Path::new(pkg).join(version),
            });
        }
        let mut channels = Vec::new();
        for ch in mp.channels.values() {
            let head = ch.head().map_err(|e| {
                IndexImageError::Invalid(format!("package {pkg}, channel {}: {e}", ch.name))
            })?;
            channels.push((ch.name.clone(), head.name.clone()));
        }
        yamls.push((
            pkg.clone(),
            sqlite_index::package_yaml(pkg, &mp.default_channel, &channels),
        ));
    }
    Ok((items, yamls))
}
