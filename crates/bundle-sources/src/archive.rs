//! Gzip'd tarballs (the `http` and `upload` sources), extracted with oci's safe extraction:
//! no `..`, absolute paths, hard links or symlinks leaving the root, and bundle limits.

use std::io::Read;
use std::path::{Path, PathBuf};

use oci::{
    ExtractLimits, ExtractOptions, ExtractStats, LayerCompression, LayerFile, SymlinkPolicy,
    extract_layers,
};

use crate::SourceError;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Extracts the gzip'd tar at `archive` into `dest` (an existing empty directory). `name`
/// (the URL, the upload file) names the archive in errors.
pub(crate) async fn extract_tgz(
    archive: &Path,
    name: &str,
    dest: &Path,
    limits: &ExtractLimits,
) -> Result<ExtractStats, SourceError> {
    let layer = LayerFile {
        path: archive.to_path_buf(),
        compression: LayerCompression::Gzip,
        name: name.to_owned(),
        diff_id: None,
    };
    let options = ExtractOptions {
        limits: limits.clone(),
        symlinks: SymlinkPolicy::AllowWithinRoot,
        ..ExtractOptions::default()
    };
    let dest: PathBuf = dest.to_path_buf();
    tokio::task::spawn_blocking(move || {
        check_gzip_header(&layer.path, &layer.name)?;
        Ok(extract_layers(&[layer], &dest, &options)?)
    })
    .await
    .map_err(|e| SourceError::Io {
        context: format!("extracting {name}"),
        source: std::io::Error::other(e.to_string()),
    })?
}

/// Refuses anything but gzip up front, with the message Go's `gzip.NewReader` gives.
fn check_gzip_header(path: &Path, name: &str) -> Result<(), SourceError> {
    let mut magic = Vec::with_capacity(GZIP_MAGIC.len());
    std::fs::File::open(path)
        .and_then(|f| f.take(GZIP_MAGIC.len() as u64).read_to_end(&mut magic))
        .map_err(|e| SourceError::Io {
            context: format!("reading {name}"),
            source: e,
        })?;
    if magic != GZIP_MAGIC {
        return Err(SourceError::NotGzip {
            archive: name.to_owned(),
        });
    }
    Ok(())
}
