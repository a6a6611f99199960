//! `opm index add`: plan (pull the from-index and the bundles, compute the new catalog,
//! validate it) then execute (push one new layer, or write the `--generate` build context).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use oci::{Image, ImageBuilder, ImageStore, PushReport};

use crate::bundles::{PulledBundle, pull_bundles, pull_bundles_permissive};
use crate::dockerfile;
use crate::error::IndexImageError;
use crate::fbc_add::{AddOptions, BundleToAdd, Mode, add_bundles};
use crate::fbc_tree::{origin_files, plan_rewrite, prevailing_format};
use crate::image_out::{binary_base, build_and_push, on_base};
use crate::kind::{CONFIGS_LABEL, DEFAULT_CONFIGS_PATH, ImageKind, fetch, index_kind, unpack_dir};
use crate::sqlite;

/// Which kind of index to create when there is no `--from-index`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NewIndexKind {
    /// Upstream's only kind (deprecated upstream).
    #[default]
    Sqlite,
    /// A file-based catalog image.
    Fbc,
}

/// What to produce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Build the image and push it here (registry reference or `oci:<dir>[:name]`).
    Push(String),
    /// `--generate`: write the build context into `dir` and the Dockerfile to `dockerfile`.
    Generate { dir: PathBuf, dockerfile: PathBuf },
}

/// The options shared by every index command that writes an index.
#[derive(Clone, Debug)]
pub struct IndexOutput {
    pub output: Output,
    /// `--binary-image`: the base of a new index and the `FROM` of generated Dockerfiles.
    pub binary_image: String,
}

#[derive(Clone, Debug)]
pub struct AddRequest {
    pub bundles: Vec<String>,
    pub from_index: Option<String>,
    pub out: IndexOutput,
    pub mode: Mode,
    pub overwrite_latest: bool,
    /// Bundles that fail to pull or parse are reported and skipped.
    pub permissive: bool,
    pub new_index_kind: NewIndexKind,
}

/// What an index command did.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// `sqlite` or `file-based catalog`.
    pub kind: String,
    /// The pushed reference and digest (push output only).
    pub pushed: Option<(String, String)>,
    pub report: Option<PushReport>,
    /// Files written by `--generate`.
    pub generated: Vec<PathBuf>,
    pub changed_packages: Vec<String>,
    pub warnings: Vec<String>,
}

/// The from-index, fetched and classified.
pub struct FromIndex {
    pub reference: String,
    pub image: Image,
    pub kind: ImageKind,
}

pub async fn fetch_from_index(
    store: &ImageStore,
    reference: &str,
) -> Result<FromIndex, IndexImageError> {
    let image = fetch(store, reference).await?;
    let kind = index_kind(&image, reference)?;
    Ok(FromIndex {
        reference: reference.to_string(),
        image,
        kind,
    })
}

/// Runs `opm index add`.
pub async fn add(store: &ImageStore, req: &AddRequest) -> Result<Outcome, IndexImageError> {
    if req.bundles.is_empty() {
        return Err(IndexImageError::Invalid(
            "no bundles to add: --bundles is empty".into(),
        ));
    }
    let from = match &req.from_index {
        Some(r) => Some(fetch_from_index(store, r).await?),
        None => None,
    };
    let mut warnings = Vec::new();
    let bundles = if req.permissive {
        let (ok, errs) = pull_bundles_permissive(store, &req.bundles).await;
        for e in errs {
            warnings.push(format!("permissive: skipping a bundle: {e}"));
        }
        if ok.is_empty() {
            return Err(IndexImageError::Invalid(
                "no bundle could be loaded (see the warnings above)".into(),
            ));
        }
        ok
    } else {
        pull_bundles(store, &req.bundles).await?
    };
    let mut outcome = match (&from, req.new_index_kind) {
        (
            Some(FromIndex {
                kind: ImageKind::Fbc { configs },
                ..
            }),
            _,
        ) => {
            let configs = configs.clone();
            add_fbc(store, req, from, &configs, &bundles).await?
        }
        (None, NewIndexKind::Fbc) => {
            add_fbc(store, req, None, DEFAULT_CONFIGS_PATH, &bundles).await?
        }
        (
            Some(FromIndex {
                kind: ImageKind::Sqlite { database },
                ..
            }),
            _,
        ) => {
            let database = database.clone();
            sqlite::add(store, req, from, &database, &bundles).await?
        }
        (None, NewIndexKind::Sqlite) => {
            sqlite::add(
                store,
                req,
                None,
                crate::kind::DEFAULT_DATABASE_PATH,
                &bundles,
            )
            .await?
        }
        (Some(_), _) => unreachable!("index_kind only returns sqlite or FBC"),
    };
    warnings.append(&mut outcome.warnings);
    outcome.warnings = warnings;
    Ok(outcome)
}

/// A catalog loaded from a from-index (or empty for a new index), and where it lives on disk.
pub struct LoadedCatalog {
    pub root: PathBuf,
    pub cfg: fbc::DeclarativeConfig,
    /// Holds the unpacked catalog until it is pushed or moved into place.
    _work: tempfile::TempDir,
}

/// Unpacks and loads the catalog of `from` (or starts an empty one). With `--generate` the
/// catalog is unpacked straight into `<dir>/configs`.
pub async fn load_catalog(
    store: &ImageStore,
    from: Option<&FromIndex>,
    configs: &str,
    output: &Output,
) -> Result<LoadedCatalog, IndexImageError> {
    let parent = match output {
        Output::Generate { dir, .. } => {
            let target = dir.join("configs");
            if target.symlink_metadata().is_ok() {
                return Err(IndexImageError::OutputExists(target));
            }
            // Built next to the target and renamed into place once complete.
            dir.clone()
        }
        Output::Push(_) => std::env::temp_dir(),
    };
    let work = tempfile::Builder::new()
        .prefix("opm-index-")
        .tempdir_in(&parent)
        .map_err(IndexImageError::io(format!(
            "creating a temp dir in {}",
            parent.display()
        )))?;
    let root = work.path().join("configs");
    let cfg = match from {
        Some(f) => {
            unpack_dir(store, &f.image, &f.reference, configs, &root).await?;
            let load_root = root.clone();
            let reference = f.reference.clone();
            tokio::task::spawn_blocking(move || {
                fbc::load_fs(&load_root).map_err(|cause| IndexImageError::Load {
                    image: reference,
                    cause,
                })
            })
            .await
            .map_err(|e| IndexImageError::Invalid(format!("loading the catalog: {e}")))??
        }
        None => {
            std::fs::create_dir_all(&root)
                .map_err(IndexImageError::io(format!("creating {}", root.display())))?;
            fbc::DeclarativeConfig::default()
        }
    };
    Ok(LoadedCatalog {
        root,
        cfg,
        _work: work,
    })
}

/// Validates a whole catalog as `opm validate` does.
pub fn validate(cfg: &fbc::DeclarativeConfig) -> Result<(), IndexImageError> {
    fbc::convert_to_model(cfg)
        .map(|_| ())
        .map_err(IndexImageError::Validation)
}

/// Writes the catalog change: the `--generate` build context, or one layer on the base
/// pushed to the tag.
pub async fn write_fbc(
    store: &ImageStore,
    out: &IndexOutput,
    from: Option<FromIndex>,
    configs: &str,
    catalog: &LoadedCatalog,
    after: &fbc::DeclarativeConfig,
    changed: &BTreeSet<String>,
    created_by: &str,
) -> Result<Outcome, IndexImageError> {
    let format = prevailing_format(&origin_files(&catalog.cfg));
    let rewrite = plan_rewrite(&catalog.root, &catalog.cfg, after, changed, format)?;
    let mut outcome = Outcome {
        kind: "file-based catalog".into(),
        changed_packages: changed.iter().cloned().collect(),
        ..Default::default()
    };
    match &out.output {
        Output::Generate { dir, dockerfile } => {
            rewrite.apply(&catalog.root)?;
            let target = dir.join("configs");
            std::fs::rename(&catalog.root, &target).map_err(IndexImageError::io(format!(
                "moving the catalog to {}",
                target.display()
            )))?;
            let text = dockerfile::fbc_index(&out.binary_image, "configs");
            write_dockerfile(&dir.join(dockerfile), &text)?;
            outcome.generated = vec![target, dir.join(dockerfile)];
        }
        Output::Push(tag) => {
            let layer = rewrite.layer(configs)?;
            let builder = match from {
                Some(f) => on_base(f.image, layer, true, created_by)?,
                None => {
                    let base = binary_base(store, &out.binary_image).await?;
                    let builder = match base {
                        Some(b) => on_base(b, layer, true, created_by)?,
                        None => ImageBuilder::scratch().layer(layer, created_by),
                    };
                    builder
                        .label(CONFIGS_LABEL, DEFAULT_CONFIGS_PATH)
                        .entrypoint(vec!["/bin/opm".into()])
                        .cmd(vec!["serve".into(), DEFAULT_CONFIGS_PATH.into()])
                }
            };
            let (image, report) = build_and_push(store, builder, tag).await?;
            outcome.pushed = Some((tag.clone(), image.digest.to_string()));
            outcome.report = Some(report);
        }
    }
    Ok(outcome)
}

/// Writes a generated Dockerfile (through a temp file and a rename).
pub fn write_dockerfile(path: &Path, text: &str) -> Result<(), IndexImageError> {
    fbc::write::write_file_atomically(path, text.as_bytes())?;
    Ok(())
}

async fn add_fbc(
    store: &ImageStore,
    req: &AddRequest,
    from: Option<FromIndex>,
    configs: &str,
    bundles: &[PulledBundle],
) -> Result<Outcome, IndexImageError> {
    let catalog = load_catalog(store, from.as_ref(), configs, &req.out.output).await?;
    let mut after = catalog.cfg.clone();
    let adds: Vec<BundleToAdd<'_>> = bundles
        .iter()
        .map(|b| BundleToAdd {
            image: &b.reference,
            bundle: &b.bundle,
        })
        .collect();
    let changed = add_bundles(
        &mut after,
        &adds,
        AddOptions {
            mode: req.mode,
            overwrite_latest: req.overwrite_latest,
        },
    )?;
    validate(&after)?;
    let created_by = format!("opm index add --bundles {} # olm-rs", req.bundles.join(","));
    write_fbc(
        store,
        &req.out,
        from,
        configs,
        &catalog,
        &after,
        &changed,
        &created_by,
    )
    .await
}
