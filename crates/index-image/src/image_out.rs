//! Producing the new index image: the base's layers plus one layer, pushed to a registry or an
//! `oci:` layout. Serve caches that the new content would make stale are dropped.

use oci::{Image, ImageBuilder, ImageRef, ImageStore, LayerContent, PushReport};
use serde_json::Value;

use crate::error::IndexImageError;
use crate::kind::{fetch, parse_ref};

/// Where opm's serve cache lives unless the image's command says otherwise.
pub(crate) const DEFAULT_SERVE_CACHE: &str = "/tmp/cache";

/// The image a new index is built on: `--binary-image`, or nothing for `scratch`.
pub(crate) async fn binary_base(
    store: &ImageStore,
    binary_image: &str,
) -> Result<Option<Image>, IndexImageError> {
    if binary_image == "scratch" {
        return Ok(None);
    }
    fetch(store, binary_image).await.map(Some).map_err(|e| match e {
        IndexImageError::Image { cause, .. } => IndexImageError::Image {
            context: format!(
                "pull --binary-image {binary_image} (the base of a new index; pass --binary-image scratch for an image without opm)"
            ),
            cause,
        },
        other => other,
    })
}

/// The image config's `Cmd`.
pub(crate) fn command(image: &Image) -> Vec<String> {
    image
        .config
        .get("config")
        .and_then(|c| c.get("Cmd"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A pre-built `opm serve` cache goes stale when `/configs` changes, and `opm serve
/// --cache-dir` refuses a stale (or missing) cache. Returns the cache directories to delete
/// in the new layer and, when the command names a cache, the command without its cache
/// flags (so `opm serve` builds a fresh cache at start-up).
pub fn drop_serve_cache(cmd: &[String]) -> (Vec<String>, Option<Vec<String>>) {
    let mut dirs = vec![DEFAULT_SERVE_CACHE.to_string()];
    let mut out = Vec::new();
    let mut named = false;
    let mut i = 0;
    while i < cmd.len() {
        let a = &cmd[i];
        if let Some(dir) = a.strip_prefix("--cache-dir=") {
            named = true;
            if !dir.is_empty() && !dirs.iter().any(|d| d == dir) {
                dirs.push(dir.to_string());
            }
        } else if a == "--cache-dir" {
            named = true;
            if let Some(dir) = cmd.get(i + 1) {
                if !dirs.iter().any(|d| d == dir) {
                    dirs.push(dir.clone());
                }
                i += 1;
            }
        } else if a == "--cache-only" || a.starts_with("--cache-enforce-integrity") {
            named = true;
        } else {
            out.push(a.clone());
        }
        i += 1;
    }
    (dirs, named.then_some(out))
}

/// Builds `builder` and pushes it to `tag` (a registry reference or `oci:<dir>[:name]`).
pub(crate) async fn build_and_push(
    store: &ImageStore,
    builder: ImageBuilder,
    tag: &str,
) -> Result<(Image, PushReport), IndexImageError> {
    let dest: ImageRef = parse_ref(tag)?;
    let image = builder
        .build(store)
        .await
        .map_err(IndexImageError::image("building the index image"))?;
    let report = store
        .push(&image, &dest)
        .await
        .map_err(IndexImageError::image(format!("push {tag}")))?;
    Ok((image, report))
}

/// `layer` on top of `base`, with a stale serve cache dropped when `drop_cache`.
pub(crate) fn on_base(
    base: Image,
    mut layer: LayerContent,
    drop_cache: bool,
    created_by: &str,
) -> Result<ImageBuilder, IndexImageError> {
    let cmd = command(&base);
    let mut new_cmd = None;
    if drop_cache {
        let (dirs, stripped) = drop_serve_cache(&cmd);
        for d in dirs {
            layer
                .remove(&d)
                .map_err(IndexImageError::image("building the index layer"))?;
        }
        new_cmd = stripped;
    }
    let mut builder = ImageBuilder::on(base).layer(layer, created_by);
    if let Some(c) = new_cmd {
        builder = builder.cmd(c);
    }
    Ok(builder)
}
