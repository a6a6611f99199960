//! Sqlite indexes (`/database/index.db`): the database is unpacked, changed with the
//! `sqlite-index` writer (upstream's SQL and checks), and either written into the
//! `--generate` build context or pushed as one new layer holding only the database.

use std::path::PathBuf;

use oci::{ImageBuilder, ImageStore, LayerContent};
use sqlite_index::IndexWriter;

use crate::dockerfile;
use crate::error::IndexImageError;
use crate::image_out::{binary_base, build_and_push, on_base};
use crate::kind::{DEFAULT_DATABASE_PATH, FromIndex, unpack_database};
use crate::output::{IndexOutput, Outcome, Output, write_dockerfile};

/// Where the database is changed: `<dir>/database/index.db` for `--generate` (as upstream),
/// else a temp dir.
pub(crate) struct DatabaseFile {
    pub path: PathBuf,
    _work: tempfile::TempDir,
}

/// Unpacks the from-index database (or starts an empty one) where the output wants it.
pub(crate) async fn prepare(
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

pub(crate) fn writer_error(e: impl std::fmt::Display) -> IndexImageError {
    IndexImageError::Database(e.to_string())
}

/// Opens the database for changes.
pub(crate) fn open(db: &DatabaseFile) -> Result<IndexWriter, IndexImageError> {
    IndexWriter::open(&db.path).map_err(writer_error)
}

/// Writes the changed database: the `--generate` Dockerfile, or the image pushed to the tag
/// (the from-index's layers and labels plus one layer with the database; a new index gets
/// upstream's labels, entrypoint and command on `--binary-image`).
pub(crate) async fn output(
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
                        .label(olm_labels::INDEX_DATABASE, DEFAULT_DATABASE_PATH)
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
