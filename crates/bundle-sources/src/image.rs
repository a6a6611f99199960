//! The `image` source: the image is pulled straight from its registry (no unpack pod) and its
//! whole filesystem, layers flattened, becomes the bundle.

use std::path::Path;

use oci::{
    Credentials, ExtractLimits, ExtractOptions, ImageError, ImageRef, ImageStore, RegistryRef,
    SymlinkPolicy,
};
use olm_api::bundle::ImageSource;

/// Top-level entries upstream's unpacker never copied out of the image (the container
/// runtime mounts over them, or they held the unpacker itself); left out for parity.
const RUNTIME_ENTRIES: [&str; 7] = [
    "bin",
    "dev",
    "etc",
    "proc",
    "product_name",
    "product_uuid",
    "sys",
];

/// Pulls `source.ref_` with `credentials` and writes its filesystem into `dest`, an
/// existing empty directory. Returns the reference pinned to a digest: the spec reference
/// when it has one, else `<registry>/<repository>@<digest the tag pointed at>`.
pub(crate) async fn pull(
    images: &ImageStore,
    source: &ImageSource,
    credentials: Option<Credentials>,
    limits: &ExtractLimits,
    dest: &Path,
) -> Result<String, ImageError> {
    let reference = RegistryRef::parse(&source.ref_)?;
    let base = images.options();
    let options = oci::RegistryOptions {
        skip_tls_verify: base.skip_tls_verify || source.insecure_skip_tls_verify,
        credentials: credentials.unwrap_or_else(|| base.credentials.clone()),
        ..base.clone()
    };
    let images = images.with_options(options)?;
    let image = images.fetch(&ImageRef::Registry(reference.clone())).await?;
    let extract = ExtractOptions {
        limits: limits.clone(),
        symlinks: SymlinkPolicy::Skip,
        ..ExtractOptions::default()
    };
    let stats = images.extract_image_into(&image, dest, &extract).await?;
    tracing::debug!(
        reference = source.ref_,
        files = stats.files,
        bytes = stats.bytes,
        skipped_symlinks = stats.skipped_symlinks,
        "bundle image extracted"
    );
    remove_runtime_entries(dest)?;
    let resolved = match reference.digest() {
        Some(_) => source.ref_.clone(),
        None => {
            // A multi-platform tag is pinned to its index, as the tag itself points there.
            let digest = image.index_digest.as_ref().unwrap_or(&image.digest);
            reference.with_digest(digest.as_str()).to_string()
        }
    };
    Ok(resolved)
}

fn remove_runtime_entries(dest: &Path) -> Result<(), ImageError> {
    for name in RUNTIME_ENTRIES {
        let path = dest.join(name);
        let removed = match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
            Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(&path),
            Ok(_) => std::fs::remove_file(&path),
        };
        removed.map_err(|e| ImageError::Io {
            context: format!("removing /{name} of the unpacked image"),
            source: e,
        })?;
    }
    Ok(())
}
