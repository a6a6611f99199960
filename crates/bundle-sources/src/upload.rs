//! The `upload` source: the archive the upload service stored at
//! `<uploads_dir>/<bundle>.tgz`, or pending until it arrives.

use std::path::Path;

use oci::ExtractLimits;

use crate::SourceError;
use crate::archive::extract_tgz;

/// The `Pending` message while no upload exists, as upstream's.
pub(crate) const WAITING_MESSAGE: &str = "waiting for bundle to be uploaded";

pub(crate) enum Outcome {
    Unpacked,
    Missing,
}

/// Extracts the upload of `bundle_name` into `dest`, if there is one.
pub(crate) async fn unpack(
    uploads_dir: &Path,
    bundle_name: &str,
    dest: &Path,
    limits: &ExtractLimits,
) -> Result<Outcome, SourceError> {
    // Bundle names are DNS subdomains; anything else must not pick a path for us.
    if bundle_name.is_empty() || bundle_name.starts_with('.') || bundle_name.contains(['/', '\0']) {
        return Err(SourceError::UploadName(bundle_name.to_owned()));
    }
    let file_name = format!("{bundle_name}.tgz");
    let path = uploads_dir.join(&file_name);
    let name = format!("upload {file_name}");
    let meta = match tokio::fs::symlink_metadata(&path).await {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Outcome::Missing),
        Err(e) => {
            return Err(SourceError::Io {
                context: format!("reading {name}"),
                source: e,
            });
        }
        Ok(meta) => meta,
    };
    if !meta.is_file() {
        return Err(SourceError::Io {
            context: format!("reading {name}"),
            source: std::io::Error::other("not a regular file"),
        });
    }
    if meta.len() > limits.max_total_bytes {
        return Err(SourceError::ArchiveTooLarge {
            archive: name,
            limit: limits.max_total_bytes,
        });
    }
    extract_tgz(&path, &name, dest, limits).await?;
    Ok(Outcome::Unpacked)
}
