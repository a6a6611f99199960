//! File-based catalog indexes (`/configs`): the catalog is unpacked and loaded, changed in
//! memory, validated, and either moved into the `--generate` build context or pushed as one
//! new layer holding the rewritten files.

use std::collections::BTreeSet;
use std::path::PathBuf;

use oci::{ImageBuilder, ImageStore};

use crate::dockerfile;
use crate::error::IndexImageError;
use crate::fbc_tree::{origin_files, plan_rewrite, prevailing_format};
use crate::image_out::{binary_base, build_and_push, on_base};
use crate::kind::{DEFAULT_CONFIGS_PATH, FromIndex, unpack_dir};
use crate::output::{IndexOutput, Outcome, Output, write_dockerfile};

/// A catalog loaded from a from-index (or empty for a new index), and where it lives on disk.
pub(crate) struct LoadedCatalog {
    pub root: PathBuf,
    pub cfg: fbc::DeclarativeConfig,
    /// Holds the unpacked catalog until it is pushed or moved into place.
    _work: tempfile::TempDir,
}

/// Unpacks and loads the catalog of `from` (or starts an empty one). With `--generate` the
/// catalog is unpacked straight into `<dir>/configs`.
pub(crate) async fn load_catalog(
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
pub(crate) fn validate(cfg: &fbc::DeclarativeConfig) -> Result<(), IndexImageError> {
    fbc::convert_to_model(cfg)
        .map(|_| ())
        .map_err(IndexImageError::Validation)
}

/// Writes the catalog change: the `--generate` build context, or one layer on the base
/// pushed to the tag.
pub(crate) async fn write_fbc(
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
                        .label(olm_labels::INDEX_CONFIGS, DEFAULT_CONFIGS_PATH)
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
