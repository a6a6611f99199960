//! What an image is, judged by its labels as upstream `opm render` does: the sqlite database
//! label first, then the file-based catalog label, then the bundle package label.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oci::{ExtractOptions, Image, ImageRef, ImageStore};

use crate::error::{IndexImageError, describe_labels};

/// Where upstream images keep the database and the catalog.
pub(crate) const DEFAULT_DATABASE_PATH: &str = "/database/index.db";
pub(crate) const DEFAULT_CONFIGS_PATH: &str = "/configs";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageKind {
    /// An sqlite index; the label's value is the database path in the image.
    Sqlite {
        database: String,
    },
    /// A file-based catalog; the label's value is the catalog directory in the image.
    Fbc {
        configs: String,
    },
    Bundle,
    Unknown,
}

impl ImageKind {
    pub fn of(labels: &BTreeMap<String, String>) -> ImageKind {
        if let Some(db) = labels.get(olm_labels::INDEX_DATABASE) {
            ImageKind::Sqlite {
                database: db.clone(),
            }
        } else if let Some(dir) = labels.get(olm_labels::INDEX_CONFIGS) {
            ImageKind::Fbc {
                configs: dir.clone(),
            }
        } else if labels.contains_key(olm_labels::BUNDLE_PACKAGE) {
            ImageKind::Bundle
        } else {
            ImageKind::Unknown
        }
    }
}

/// Parses a reference as given on the command line.
pub(crate) fn parse_ref(reference: &str) -> Result<ImageRef, IndexImageError> {
    ImageRef::parse(reference).map_err(IndexImageError::image(format!("image {reference:?}")))
}

/// Manifest and config of `reference`.
pub async fn fetch(store: &ImageStore, reference: &str) -> Result<Image, IndexImageError> {
    let r = parse_ref(reference)?;
    store
        .fetch(&r)
        .await
        .map_err(IndexImageError::image(format!("pull {reference}")))
}

/// The kind of an index image: the [`ImageKind`]s an index command can work on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum IndexKind {
    /// An sqlite index; the label's value is the database path in the image.
    Sqlite { database: String },
    /// A file-based catalog; the label's value is the catalog directory in the image.
    Fbc { configs: String },
}

/// The index kind of a from-index image; anything but sqlite or FBC is an error.
pub(crate) fn index_kind(image: &Image, reference: &str) -> Result<IndexKind, IndexImageError> {
    let labels = image.labels();
    match ImageKind::of(&labels) {
        ImageKind::Sqlite { database } => Ok(IndexKind::Sqlite { database }),
        ImageKind::Fbc { configs } => Ok(IndexKind::Fbc { configs }),
        ImageKind::Bundle | ImageKind::Unknown => Err(IndexImageError::UnknownIndexKind {
            image: reference.to_string(),
            labels: describe_labels(&labels),
        }),
    }
}

/// The from-index, fetched and classified.
pub(crate) struct FromIndex {
    pub reference: String,
    pub image: Image,
    pub kind: IndexKind,
}

/// Fetches and classifies the from-index.
pub(crate) async fn fetch_from_index(
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

/// Unpacks `dir` of the image (a catalog directory) into `dest`, which must not exist.
pub async fn unpack_dir(
    store: &ImageStore,
    image: &Image,
    reference: &str,
    dir: &str,
    dest: &Path,
) -> Result<(), IndexImageError> {
    let options = ExtractOptions {
        subtree: Some(dir.to_string()),
        ..Default::default()
    };
    store
        .unpack_image(image, dest, &options)
        .await
        .map_err(IndexImageError::image(format!(
            "unpack {dir} of {reference}"
        )))?;
    Ok(())
}

/// Unpacks the database file an sqlite index image's label names into `work` and returns its
/// path.
pub async fn unpack_database(
    store: &ImageStore,
    image: &Image,
    reference: &str,
    database: &str,
    work: &Path,
) -> Result<PathBuf, IndexImageError> {
    let db = Path::new(database);
    let (Some(parent), Some(name)) = (db.parent(), db.file_name()) else {
        return Err(IndexImageError::Invalid(format!(
            "index image {reference}: label operators.operatorframework.io.index.database.v1={database:?} does not name a file"
        )));
    };
    let parent = parent.to_string_lossy();
    let parent = if parent.is_empty() { "/" } else { &parent };
    let dest = work.join("database-dir");
    unpack_dir(store, image, reference, parent, &dest).await?;
    let path = dest.join(name);
    if !path.is_file() {
        return Err(IndexImageError::Invalid(format!(
            "index image {reference} has no database file at {database} (named by its operators.operatorframework.io.index.database.v1 label)"
        )));
    }
    Ok(path)
}
