//! Sqlite indexes (`/database/index.db`): the database is unpacked, changed with the
//! `sqlite-index` writer (upstream's SQL and checks), and either written into the
//! `--generate` build context or pushed as one new layer holding only the database.

use std::path::PathBuf;

use oci::{ImageBuilder, ImageStore, LayerContent};
use sqlite_index::{BundleToAdd, IndexWriter};

use crate::add::{AddRequest, FromIndex, IndexOutput, Outcome, Output, write_dockerfile};
use crate::bundles::PulledBundle;
use crate::dockerfile;
use crate::error::IndexImageError;
use crate::fbc_add::Mode;
use crate::image_out::{binary_base, build_and_push, on_base};
use crate::kind::{DATABASE_LABEL, DEFAULT_DATABASE_PATH, unpack_database};

/// Where the database is changed: `<dir>/database/index.db` for `--generate` (as upstream),
/// else a temp dir.
pub struct DatabaseFile {
    pub path: PathBuf,
    _work: tempfile::TempDir,
}

/// Unpacks the from-index database (or starts an empty one) where the output wants it.
pub async fn prepare(
    store: &ImageStore,
    from: Option<&FromIndex>,
    database: &str,
    output: &Output,
) -> Result<DatabaseFile, IndexImageError> {
    let work = tempfile::Builder::new()
        .prefix("opm-index-")
        .tempdir()
        .map_err(IndexImageError::io("creating a temp dir"))?;
    let unpacked = match from {
        Some(f) => {
            Some(unpack_database(store, &f.image, &f.reference, database, work.path()).await?)
        }
        None => None,
    };
    let path = match (output, &unpacked) {
        (Output::Generate { dir, .. }, _) => dir.join("database/index.db"),
        // Already a private file in the temp dir: changed in place (the writer works on its
        // own copy and renames it over this file on commit), saving a copy of the database.
        (Output::Push(_), Some(src)) => {
            return Ok(DatabaseFile {
                path: src.clone(),
                _work: work,
            });
        }
        (Output::Push(_), None) => work.path().join("index.db"),
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(IndexImageError::io(format!(
            "creating {}",
            parent.display()
        )))?;
    }
    // As upstream: the build context's database is replaced by the from-index's (or by an
    // empty one for a new index).
    let tmp = path.with_extension("db.copy");
    match &unpacked {
        Some(src) => std::fs::copy(src, &tmp).map(|_| ()),
        None => std::fs::write(&tmp, b""),
    }
    .and_then(|()| std::fs::rename(&tmp, &path))
    .map_err(IndexImageError::io(format!("writing {}", path.display())))?;
    Ok(DatabaseFile { path, _work: work })
}

fn writer_error(e: impl std::fmt::Display) -> IndexImageError {
    IndexImageError::Database(e.to_string())
}

/// Opens the database for changes.
pub fn open(db: &DatabaseFile) -> Result<IndexWriter, IndexImageError> {
    IndexWriter::open(&db.path).map_err(writer_error)
}

fn sqlite_mode(mode: Mode) -> sqlite_index::Mode {
    match mode {
        Mode::Replaces => sqlite_index::Mode::Replaces,
        Mode::Semver => sqlite_index::Mode::Semver,
        Mode::SemverSkipPatch => sqlite_index::Mode::SemverSkipPatch,
    }
}

/// Writes the changed database: the `--generate` Dockerfile, or the image pushed to the tag
/// (the from-index's layers and labels plus one layer with the database; a new index gets
/// upstream's labels, entrypoint and command on `--binary-image`).
pub async fn output(
    store: &ImageStore,
    out: &IndexOutput,
    from: Option<FromIndex>,
    database: &str,
    db: &DatabaseFile,
    created_by: &str,
) -> Result<Outcome, IndexImageError> {
    let mut outcome = Outcome {
        kind: "sqlite".into(),
        ..Default::default()
    };
    match &out.output {
        Output::Generate { dir, dockerfile } => {
            let text = dockerfile::sqlite_index(&out.binary_image, "database/index.db");
            write_dockerfile(&dir.join(dockerfile), &text)?;
            outcome.generated = vec![db.path.clone(), dir.join(dockerfile)];
        }
        Output::Push(tag) => {
            let mut layer = LayerContent::new();
            layer
                .add_file(database, &db.path)
                .map_err(IndexImageError::image("building the database layer"))?;
            let builder = match from {
                Some(f) => on_base(f.image, layer, false, created_by)?,
                None => {
                    let builder = match binary_base(store, &out.binary_image).await? {
                        Some(b) => on_base(b, layer, false, created_by)?,
                        None => ImageBuilder::scratch().layer(layer, created_by),
                    };
                    builder
                        .label(DATABASE_LABEL, DEFAULT_DATABASE_PATH)
                        .entrypoint(vec!["/bin/opm".into()])
                        .cmd(
                            ["registry", "serve", "--database", DEFAULT_DATABASE_PATH]
                                .map(String::from)
                                .to_vec(),
                        )
                }
            };
            let (image, report) = build_and_push(store, builder, tag).await?;
            outcome.pushed = Some((tag.clone(), image.digest.to_string()));
            outcome.report = Some(report);
        }
    }
    Ok(outcome)
}

fn to_add(b: &PulledBundle) -> Result<BundleToAdd, IndexImageError> {
    BundleToAdd::from_registry_bundle(&b.bundle, &b.reference)
        .map_err(|e| IndexImageError::Invalid(format!("bundle image {}: {e}", b.reference)))
}

/// `opm index add` on an sqlite index (or a new one).
pub async fn add(
    store: &ImageStore,
    req: &AddRequest,
    from: Option<FromIndex>,
    database: &str,
    bundles: &[PulledBundle],
) -> Result<Outcome, IndexImageError> {
    let db = prepare(store, from.as_ref(), database, &req.out.output).await?;
    let mut warnings = Vec::new();
    let mode = sqlite_mode(req.mode);
    let overwrite = req.overwrite_latest;
    let mut writer = open(&db)?;
    let mut adds = Vec::new();
    for b in bundles {
        match to_add(b) {
            Ok(a) => adds.push(a),
            Err(e) if req.permissive => warnings.push(format!("permissive: skipping: {e}")),
            Err(e) => return Err(e),
        }
    }
    let changed: Vec<String> = adds.iter().map(|a| a.package().to_string()).collect();
    let result = writer.add_bundles(&adds, mode, overwrite);
    if let Err(e) = result {
        if !req.permissive {
            return Err(writer_error(e));
        }
        // Permissive (upstream logs load errors and goes on): one bundle at a time, keeping
        // those that load.
        warnings.push(format!("permissive: {e}; adding the bundles one at a time"));
        for a in &adds {
            if let Err(e) = writer.add_bundles(std::slice::from_ref(a), mode, overwrite) {
                warnings.push(format!("permissive: skipping {}: {e}", a.image));
            }
        }
    }
    writer.commit().map_err(writer_error)?;
    let created_by = format!("opm index add --bundles {} # olm-rs", req.bundles.join(","));
    let mut outcome = output(store, &req.out, from, database, &db, &created_by).await?;
    outcome.changed_packages = {
        let mut c = changed;
        c.sort();
        c.dedup();
        c
    };
    outcome.warnings = warnings;
    Ok(outcome)
}
