//! `opm alpha bundle build`: upstream's flags, but instead of writing `bundle.Dockerfile` and
//! running docker, the bundle is validated, built in-process and pushed.
//!
//! Steps: find the bundle root (upstream's `--directory` is the manifests directory; ours may
//! also be the bundle root), write `metadata/annotations.yaml` when missing or asked to,
//! validate as its media type requires, then build and push.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use fbc::{ObjectProfile, parse_bundle_dir};
use olm_labels::{
    BUNDLE_CHANNELS, BUNDLE_DEFAULT_CHANNEL, BUNDLE_MANIFESTS, BUNDLE_MEDIATYPE, BUNDLE_METADATA,
    BUNDLE_PACKAGE,
};
use serde_json::Value;

use crate::cli::BundleBuildArgs;
use crate::outcome::Outcome;
use crate::push::{build_and_push, destination};
use crate::runtime::block_on;

const REGISTRY_V1: &str = "registry+v1";
const PLAIN: &str = "plain";
const CSV_KIND: &str = "ClusterServiceVersion";
const ANNOTATIONS: &str = "metadata/annotations.yaml";

pub(crate) fn run(a: BundleBuildArgs, access: index_image::RegistryAccess) -> Result<Outcome> {
    let dest = destination(&a.tag)?;
    let notice = match a.image_builder.as_deref() {
        None => None,
        Some(tool @ ("docker" | "podman" | "buildah")) => {
            super::index::engine_notice([Some(tool.to_string()), None, None])
        }
        Some(other) => {
            bail!("{other} is not supported image builder: one of [docker, podman, buildah]")
        }
    };
    if let Some(n) = &notice {
        eprintln!("{n}");
    }
    let root = bundle_root(&a)?;
    write_annotations(&root, &a)?;
    let annotations = oci::bundle_annotations(&root)?;
    if annotations.get(BUNDLE_PACKAGE).is_none_or(String::is_empty) {
        bail!(
            "{}: no {BUNDLE_PACKAGE} annotation; pass --overwrite with --package and --channels to write the file",
            root.join(ANNOTATIONS).display()
        );
    }
    let media_type = match annotations.get(BUNDLE_MEDIATYPE) {
        Some(m) => m.clone(),
        None => detect_media_type(&root.join("manifests"))?.to_string(),
    };
    match media_type.as_str() {
        REGISTRY_V1 => validate_registry_v1(&root, &a.tag)?,
        PLAIN | "plain+v0" => validate_plain(&root.join("manifests"))?,
        other => bail!(
            "{}: media type {other:?} cannot be built: only registry+v1 and plain bundles",
            root.join(ANNOTATIONS).display()
        ),
    }
    eprintln!("validated {media_type} bundle {}", root.display());
    let builder = oci::bundle_image(&root)?;
    let store = access.store()?;
    let pushed = block_on(build_and_push(&store, builder, 1, &dest))??;
    Ok(Outcome::text(format!("{pushed}\n")))
}

/// The directory the image is built from (holding `manifests/` and `metadata/`), laid out
/// under `--output-dir` first when one is given.
fn bundle_root(a: &BundleBuildArgs) -> Result<PathBuf> {
    let dir = &a.directory;
    let meta = fs::metadata(dir).with_context(|| format!("bundle directory {}", dir.display()))?;
    if !meta.is_dir() {
        bail!("bundle directory {}: not a directory", dir.display());
    }
    let nested = dir.join("manifests");
    let manifests = if nested.is_dir() { nested } else { dir.clone() };
    if let Some(out) = &a.output_dir {
        copy_files(&manifests, &out.join("manifests"), a.overwrite)?;
        let metadata = dir.join("metadata");
        if manifests != *dir && metadata.is_dir() {
            copy_files(&metadata, &out.join("metadata"), a.overwrite)?;
        }
        return Ok(out.clone());
    }
    if manifests != *dir {
        return Ok(dir.clone());
    }
    match (dir.file_name(), dir.parent()) {
        (Some(name), Some(parent)) if name == "manifests" => Ok(if parent.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            parent.to_path_buf()
        }),
        _ => bail!(
            "{}: no manifests/ directory in it, and it is not itself named manifests/: give the bundle directory (holding manifests/ and metadata/) or its manifests/ directory, or add --output-dir OUT to lay the manifests out as OUT/manifests",
            dir.display()
        ),
    }
}

/// Copies the regular files of `from` into `to` (upstream's `--output-dir`); existing files
/// are kept unless `overwrite`.
fn copy_files(from: &Path, to: &Path, overwrite: bool) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry.with_context(|| format!("reading {}", from.display()))?;
        let target = to.join(entry.file_name());
        if !entry.path().is_file() || (target.exists() && !overwrite) {
            continue;
        }
        fs::copy(entry.path(), &target).with_context(|| {
            format!("copying {} to {}", entry.path().display(), target.display())
        })?;
    }
    Ok(())
}

/// Writes `metadata/annotations.yaml` from the flags when it is missing or `--overwrite` is
/// given; otherwise checks that the flags given agree with it, as upstream does.
fn write_annotations(root: &Path, a: &BundleBuildArgs) -> Result<()> {
    let path = root.join(ANNOTATIONS);
    let exists = path.is_file();
    if exists && !a.overwrite {
        return check_annotations(root, a);
    }
    let (Some(package), Some(channels)) = (&a.package, &a.channels) else {
        let why = if exists {
            "--overwrite replaces it"
        } else {
            "it does not exist"
        };
        bail!(
            "{}: {why}; pass --package and --channels (and optionally --default) to write it",
            path.display()
        );
    };
    let media_type = detect_media_type(&root.join("manifests"))?;
    let mut values = BTreeMap::from([
        (BUNDLE_MEDIATYPE, media_type.to_string()),
        (BUNDLE_MANIFESTS, "manifests/".to_string()),
        (BUNDLE_METADATA, "metadata/".to_string()),
        (BUNDLE_PACKAGE, package.clone()),
        (BUNDLE_CHANNELS, channels.clone()),
    ]);
    if let Some(d) = a.default_channel.as_ref().filter(|d| !d.is_empty()) {
        values.insert(BUNDLE_DEFAULT_CHANNEL, d.clone());
    }
    let doc = serde_json::json!({ "annotations": values });
    fs::create_dir_all(root.join("metadata"))
        .with_context(|| format!("creating {}", root.join("metadata").display()))?;
    fbc::write::write_file_atomically(&path, go_encoding::to_yaml_document(&doc).as_bytes())?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// The package, channels and default channel given must be those of the existing file.
fn check_annotations(root: &Path, a: &BundleBuildArgs) -> Result<()> {
    let existing = oci::bundle_annotations(root)?;
    let mismatches: Vec<String> = [
        (BUNDLE_PACKAGE, &a.package),
        (BUNDLE_CHANNELS, &a.channels),
        (BUNDLE_DEFAULT_CHANNEL, &a.default_channel),
    ]
    .into_iter()
    .filter_map(|(key, given)| {
        let given = given.as_ref()?;
        match existing.get(key) {
            Some(v) if v == given => None,
            Some(v) => Some(format!("{key} is {v:?}, not {given:?}")),
            None => Some(format!("{key} is missing (expected {given:?})")),
        }
    })
    .collect();
    if !mismatches.is_empty() {
        bail!(
            "{}: {}; fix the file or pass --overwrite to write it from the flags",
            root.join(ANNOTATIONS).display(),
            mismatches.join("; ")
        );
    }
    Ok(())
}

/// The manifest files of `dir`, in name order (hidden files are not part of a bundle).
fn manifest_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry
            .with_context(|| format!("reading {}", dir.display()))?
            .path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if path.is_file() && !hidden {
            files.push(path);
        }
    }
    if files.is_empty() {
        bail!("{}: no manifest files", dir.display());
    }
    files.sort();
    Ok(files)
}

/// The YAML or JSON documents of a manifest file.
fn documents(path: &Path) -> Result<Vec<Value>> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_saphyr::from_multiple::<Value>(&text).with_context(|| format!("{}", path.display()))
}

/// registry+v1 when a manifest is a ClusterServiceVersion, else plain (as upstream decides).
fn detect_media_type(manifests: &Path) -> Result<&'static str> {
    for path in manifest_files(manifests)? {
        let Ok(docs) = documents(&path) else { continue };
        if docs.iter().any(|d| d["kind"] == CSV_KIND) {
            return Ok(REGISTRY_V1);
        }
    }
    Ok(PLAIN)
}

/// What `opm render` of the directory checks, plus no manifest file may be unreadable.
fn validate_registry_v1(root: &Path, image: &str) -> Result<()> {
    let invalid = || format!("invalid registry+v1 bundle {}", root.display());
    let parsed = parse_bundle_dir(root).with_context(invalid)?;
    let lost: Vec<String> = parsed
        .skipped
        .iter()
        .filter(|s| s.loses_content())
        .map(ToString::to_string)
        .collect();
    if !lost.is_empty() {
        bail!("{}: {}", invalid(), lost.join("; "));
    }
    for s in &parsed.skipped {
        eprintln!("warning: {s}");
    }
    parsed
        .render(image, ObjectProfile::BundleObjects)
        .with_context(invalid)?;
    Ok(())
}

/// Every document of every manifest file is a Kubernetes object (apiVersion and kind).
fn validate_plain(manifests: &Path) -> Result<()> {
    for path in manifest_files(manifests)? {
        let docs = documents(&path).context("invalid plain bundle")?;
        for doc in docs.iter().filter(|d| !d.is_null()) {
            for field in ["apiVersion", "kind"] {
                if doc[field].as_str().is_none_or(str::is_empty) {
                    bail!(
                        "invalid plain bundle: {}: a document has no {field}",
                        path.display()
                    );
                }
            }
        }
    }
    Ok(())
}
