//! Building an image into the blob cache and pushing it, with progress on stderr: what the
//! `alpha bundle build` and `alpha catalog build` commands share.

use anyhow::{Context, Result};
use oci::{ImageBuilder, ImageRef, ImageStore};

/// Where a built image goes, parsed from `--tag` before any work is done.
pub(crate) fn destination(tag: &str) -> Result<ImageRef> {
    ImageRef::parse(tag).with_context(|| {
        format!("--tag {tag:?}: expected a registry reference (registry/namespace/name:tag) or oci:<dir>[:tag]")
    })
}

/// Builds `builder` (the last `new_layers` layers are the ones built here) and pushes it to
/// `dest`; returns the pushed image by digest: `<registry>/<repository>@sha256:…`, or for a
/// layout `oci:<dir>[:tag]@sha256:…`.
pub(crate) async fn build_and_push(
    store: &ImageStore,
    builder: ImageBuilder,
    new_layers: usize,
    dest: &ImageRef,
) -> Result<String> {
    let image = builder.build(store).await.context("building the image")?;
    let layers = &image.manifest.layers;
    for layer in &layers[layers.len().saturating_sub(new_layers)..] {
        eprintln!("built layer {} ({} bytes)", layer.digest, layer.size);
    }
    eprintln!(
        "pushing {} ({} layer(s)) to {dest}",
        image.digest,
        layers.len()
    );
    let report = store
        .push(&image, dest)
        .await
        .with_context(|| format!("pushing to {dest}"))?;
    eprintln!(
        "pushed {dest}: {} blob(s) uploaded, {} already present, {} mounted",
        report.uploaded, report.skipped, report.mounted
    );
    Ok(match dest {
        ImageRef::Registry(r) => format!("{}/{}@{}", r.registry(), r.repository(), image.digest),
        ImageRef::Layout(l) => format!("{l}@{}", image.digest),
    })
}
