//! `opm generate dockerfile`: byte-compatible with upstream v1.73.0's two-stage template.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::cli::{DEFAULT_BINARY_IMAGE, DockerfileArgs};

/// The Dockerfile text for catalog directory `index_dir` (its base name).
fn dockerfile(
    builder_image: &str,
    base_image: &str,
    index_dir: &str,
    extra_labels: &BTreeMap<String, String>,
) -> String {
    let mut s = String::new();
    s.push_str("# The builder image is expected to contain\n# /bin/opm (with serve subcommand)\n");
    s.push_str(&format!("FROM {builder_image} as builder\n\n"));
    s.push_str("# Copy FBC root into image at /configs and pre-populate serve cache\n");
    s.push_str(&format!("ADD {index_dir} /configs\n"));
    s.push_str("RUN [\"/bin/opm\", \"serve\", \"/configs\", \"--cache-dir=/tmp/cache\", \"--cache-only\"]\n\n");
    s.push_str(&format!("FROM {base_image}\n"));
    if base_image != "scratch" {
        s.push_str("# The base image is expected to contain\n# /bin/opm (with serve subcommand) and /bin/grpc_health_probe\n\n");
        s.push_str("# Configure the entrypoint and command\nENTRYPOINT [\"/bin/opm\"]\n");
        s.push_str("CMD [\"serve\", \"/configs\", \"--cache-dir=/tmp/cache\"]\n");
    } else {
        s.push_str("# OLMv0 CatalogSources that use binary-less images must set:\n# spec:\n#   grpcPodConfig:\n#     extractContent:\n#       catalogDir: /configs\n#       cacheDir: /tmp/cache\n");
    }
    s.push_str(
        "\nCOPY --from=builder /configs /configs\nCOPY --from=builder /tmp/cache /tmp/cache\n\n",
    );
    s.push_str(
        "# Set FBC-specific label for the location of the FBC root directory\n# in the image\n",
    );
    s.push_str(&format!("LABEL {}=/configs\n", olm_labels::INDEX_CONFIGS));
    if !extra_labels.is_empty() {
        s.push_str("\n# Set other custom labels\n");
        for (k, v) in extra_labels {
            s.push_str(&format!("LABEL \"{k}\"=\"{v}\"\n"));
        }
    }
    s
}

/// Go's `filepath.Clean` for the paths we are given.
fn clean(p: &Path) -> PathBuf {
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) => {}
                _ => out.push(c),
            },
            c => out.push(c),
        }
    }
    if out.is_empty() {
        return PathBuf::from(".");
    }
    out.iter().collect()
}

/// Parses `key=value` labels; the last value of a repeated key wins.
pub(crate) fn parse_labels(labels: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for l in labels {
        let Some((k, v)) = l.split_once('=') else {
            bail!("invalid label {l:?}");
        };
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// `opm generate dockerfile`.
pub(crate) fn dockerfile_command(a: DockerfileArgs) -> Result<()> {
    let dir = clean(&a.dir);
    // `--binary-image` (deprecated) sets the base image, and the builder image too unless given.
    let base = a
        .base_image
        .clone()
        .or(a.binary_image.clone())
        .unwrap_or_else(|| DEFAULT_BINARY_IMAGE.to_string());
    let builder = match (&a.builder_image, &a.binary_image) {
        (Some(b), _) => b.clone(),
        (None, Some(bin)) => bin.clone(),
        (None, None) => DEFAULT_BINARY_IMAGE.to_string(),
    };
    if a.binary_image.is_some() {
        eprintln!("Flag --binary-image has been deprecated, use --base-image instead");
    }
    if builder == "scratch" {
        bail!("invalid builder image: {builder:?}");
    }
    let labels = parse_labels(&a.extra_labels)?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.to_string_lossy().into_owned());
    let parent = dir.parent().unwrap_or(Path::new(""));
    let target = parent.join(format!("{name}.Dockerfile"));
    if target.symlink_metadata().is_ok() {
        bail!(
            "path {:?}: file already exists",
            target.display().to_string()
        );
    }
    let meta = std::fs::metadata(&dir).with_context(|| format!("stat {}", dir.display()))?;
    if !meta.is_dir() {
        bail!(
            "provided root path {:?} is not a directory",
            dir.display().to_string()
        );
    }
    let text = dockerfile(&builder, &base, &name, &labels);
    fbc::write::write_file_atomically(&target, text.as_bytes())?;
    Ok(())
}
