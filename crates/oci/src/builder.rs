//! Building images without a container engine: a base image (or scratch) plus
//! deterministic layers, config `rootfs.diff_ids`/`history`/labels updated, everything
//! written to the blob cache. Push the result with [`ImageStore::push`].

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use crate::digest::Sha256Digest;
use crate::error::ImageError;
use crate::layer::LayerContent;
use crate::manifest::{
    Descriptor, ImageManifest, OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST, Platform, oci_media_type,
};
use crate::store::{Image, ImageStore, blocking};

/// Built images carry no timestamps, so the same inputs give the same digests.
const EPOCH: &str = "1970-01-01T00:00:00Z";
const BUNDLE_ANNOTATIONS: &str = "metadata/annotations.yaml";

pub struct ImageBuilder {
    base: Option<Image>,
    platform: Platform,
    layers: Vec<(LayerContent, String)>,
    labels: BTreeMap<String, String>,
    entrypoint: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
}

impl ImageBuilder {
    /// An image with no base (`FROM scratch`) for the default platform (linux/amd64).
    pub fn scratch() -> Self {
        ImageBuilder {
            base: None,
            platform: Platform::default(),
            layers: Vec::new(),
            labels: BTreeMap::new(),
            entrypoint: None,
            cmd: None,
        }
    }

    /// On top of `base` (from [`ImageStore::fetch`]); its layers are fetched only when a
    /// push destination lacks them.
    pub fn on(base: Image) -> Self {
        let platform = base.platform().unwrap_or_default();
        ImageBuilder {
            base: Some(base),
            platform,
            ..Self::scratch()
        }
    }

    /// The platform recorded in a scratch image's config.
    pub fn platform(mut self, platform: Platform) -> Self {
        self.platform = platform;
        self
    }

    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    pub fn labels(mut self, labels: impl IntoIterator<Item = (String, String)>) -> Self {
        self.labels.extend(labels);
        self
    }

    /// Appends a layer; `created_by` goes into the config history.
    pub fn layer(mut self, content: LayerContent, created_by: impl Into<String>) -> Self {
        self.layers.push((content, created_by.into()));
        self
    }

    pub fn entrypoint(mut self, entrypoint: Vec<String>) -> Self {
        self.entrypoint = Some(entrypoint);
        self
    }

    pub fn cmd(mut self, cmd: Vec<String>) -> Self {
        self.cmd = Some(cmd);
        self
    }

    /// Writes the new layers, config and manifest into the store's cache. The base's
    /// `rootfs.diff_ids` are checked first ([`ImageStore::verify_diff_ids`]), so a wrong one
    /// is refused rather than copied into the new image.
    pub async fn build(self, store: &ImageStore) -> Result<Image, ImageError> {
        if let Some(base) = &self.base {
            store.verify_diff_ids(base).await?;
        }
        let mut config = match &self.base {
            Some(base) => base.config.clone(),
            None => {
                let mut c = json!({
                    "architecture": self.platform.architecture,
                    "os": self.platform.os,
                    "config": {},
                    "rootfs": {"type": "layers", "diff_ids": []},
                    "history": [],
                });
                if let Some(v) = &self.platform.variant {
                    c["variant"] = json!(v);
                }
                c
            }
        };
        let config_obj = config.as_object_mut().ok_or_else(|| {
            ImageError::Build("the base image config is not a JSON object".into())
        })?;
        let mut layers: Vec<Descriptor> = match &self.base {
            Some(base) => base
                .manifest
                .layers
                .iter()
                .map(|d| Descriptor {
                    media_type: oci_media_type(&d.media_type).to_owned(),
                    ..d.clone()
                })
                .collect(),
            None => Vec::new(),
        };

        let mut diff_ids = Vec::new();
        let mut history = Vec::new();
        for (content, created_by) in self.layers {
            let cache = store.cache().clone();
            let built = blocking(move || content.write_to(&cache)).await?;
            layers.push(Descriptor {
                media_type: OCI_LAYER_GZIP.into(),
                digest: built.digest.to_string(),
                size: built.size,
                urls: None,
                annotations: None,
                platform: None,
                artifact_type: None,
            });
            diff_ids.push(json!(built.diff_id.to_string()));
            history.push(json!({
                "created": EPOCH,
                "created_by": created_by,
                "comment": "olm-rs oci ImageBuilder",
            }));
        }

        let rootfs = config_obj
            .entry("rootfs")
            .or_insert_with(|| json!({"type": "layers", "diff_ids": []}));
        rootfs["type"] = json!("layers");
        match rootfs.get_mut("diff_ids").and_then(Value::as_array_mut) {
            Some(ids) => ids.extend(diff_ids),
            None => rootfs["diff_ids"] = Value::Array(diff_ids),
        }
        match config_obj.get_mut("history").and_then(Value::as_array_mut) {
            Some(h) => h.extend(history),
            None => {
                config_obj.insert("history".into(), Value::Array(history));
            }
        }
        config_obj.insert("created".into(), json!(EPOCH));
        let runtime = config_obj.entry("config").or_insert_with(|| json!({}));
        if !runtime.is_object() {
            *runtime = json!({});
        }
        if !self.labels.is_empty() {
            let labels = runtime
                .as_object_mut()
                .map(|o| o.entry("Labels").or_insert_with(|| json!({})))
                .ok_or_else(|| ImageError::Build("config.config is not an object".into()))?;
            if !labels.is_object() {
                *labels = json!({});
            }
            for (k, v) in &self.labels {
                labels[k] = json!(v);
            }
        }
        if let Some(e) = self.entrypoint {
            runtime["Entrypoint"] = json!(e);
        }
        if let Some(c) = self.cmd {
            runtime["Cmd"] = json!(c);
        }

        let config_bytes =
            serde_json::to_vec(&config).map_err(|e| ImageError::Build(e.to_string()))?;
        let manifest = ImageManifest {
            schema_version: 2,
            media_type: Some(OCI_MANIFEST.into()),
            config: Descriptor {
                media_type: OCI_CONFIG.into(),
                digest: Sha256Digest::of(&config_bytes).to_string(),
                size: config_bytes.len() as u64,
                urls: None,
                annotations: None,
                platform: None,
                artifact_type: None,
            },
            layers,
            annotations: None,
        };
        let manifest_bytes =
            serde_json::to_vec(&manifest).map_err(|e| ImageError::Build(e.to_string()))?;
        let cache = store.cache().clone();
        let (cb, mb) = (config_bytes.clone(), manifest_bytes.clone());
        let digest = blocking(move || {
            cache.insert_bytes(&cb)?;
            cache.insert_bytes(&mb)
        })
        .await?;
        Ok(Image {
            source: self.base.and_then(|b| b.source),
            digest,
            index_digest: None,
            media_type: OCI_MANIFEST.into(),
            manifest,
            manifest_bytes,
            config,
            config_bytes,
        })
    }
}

/// A catalog image: the FBC directory `fbc_dir` as `/configs`, labelled
/// `operators.operatorframework.io.index.configs.v1=/configs`, with opm's entrypoint.
/// On a base image, the new `/configs` replaces the old one entirely (opaque whiteout)
/// and a stale serve cache in `/tmp/cache` is removed.
pub fn catalog_image(base: Option<Image>, fbc_dir: &Path) -> Result<ImageBuilder, ImageError> {
    let mut content = LayerContent::new();
    content.add_dir_tree(fbc_dir, "/configs")?;
    let builder = match base {
        Some(base) => {
            content.replace_dir("/configs")?;
            content.remove("/tmp/cache")?;
            ImageBuilder::on(base)
        }
        None => ImageBuilder::scratch(),
    };
    Ok(builder
        .layer(content, "COPY configs /configs # olm-rs catalog")
        .label(olm_labels::INDEX_CONFIGS, "/configs")
        .entrypoint(vec!["/bin/opm".into()])
        .cmd(vec![
            "serve".into(),
            "/configs".into(),
            "--cache-dir=/tmp/cache".into(),
        ]))
}

#[derive(serde::Deserialize)]
struct AnnotationsFile {
    annotations: BTreeMap<String, String>,
}

/// Reads a bundle's `metadata/annotations.yaml`.
pub fn bundle_annotations(bundle_dir: &Path) -> Result<BTreeMap<String, String>, ImageError> {
    let path = bundle_dir.join(BUNDLE_ANNOTATIONS);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| ImageError::io(format!("reading {}", path.display()), e))?;
    let file: AnnotationsFile = serde_saphyr::from_str(&text).map_err(|e| {
        ImageError::Build(format!(
            "{}: expected a map `annotations:` of string keys and values: {e}",
            path.display()
        ))
    })?;
    Ok(file.annotations)
}

/// A registry+v1 bundle image `FROM scratch`: `/manifests/` and `/metadata/` (and the
/// scorecard test config when its annotation points at an existing directory), with
/// every `metadata/annotations.yaml` annotation as a label, as `bundle.Dockerfile` does.
pub fn bundle_image(bundle_dir: &Path) -> Result<ImageBuilder, ImageError> {
    let annotations = bundle_annotations(bundle_dir)?;
    if !annotations.contains_key(olm_labels::BUNDLE_PACKAGE) {
        return Err(ImageError::Build(format!(
            "{}: missing annotation {:?}",
            bundle_dir.join(BUNDLE_ANNOTATIONS).display(),
            olm_labels::BUNDLE_PACKAGE
        )));
    }
    let mut content = LayerContent::new();
    for (label, default) in [
        (olm_labels::BUNDLE_MANIFESTS, "manifests/"),
        (olm_labels::BUNDLE_METADATA, "metadata/"),
    ] {
        let dir = annotations.get(label).map_or(default, String::as_str);
        content.add_dir_tree(&bundle_dir.join(dir.trim_matches('/')), dir)?;
    }
    if let Some(tests) = annotations.get(olm_labels::TEST_CONFIG) {
        let host = bundle_dir.join(tests.trim_matches('/'));
        if host.is_dir() {
            content.add_dir_tree(&host, tests)?;
        }
    }
    Ok(ImageBuilder::scratch()
        .layer(content, "COPY manifests metadata / # olm-rs bundle")
        .labels(annotations))
}
