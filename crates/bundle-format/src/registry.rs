//! registry+v1: validated as a bundle directory with `fbc`'s parser (the one `opm render` uses),
//! with RukPak's stricter rule that no content is dropped silently: every manifest the parser
//! would leave out (undecodable, not an object, a second CSV, a later document of a
//! multi-document file, a hidden file) is an error naming the file. The conversion to plain
//! objects is not done here.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use fbc::{BundleError, SkipReason, SkippedManifest};
use olm_labels::BUNDLE_PACKAGE;

use crate::Summary;
use crate::manifests_dir::{self, ManifestFile, ManifestsDirError};

const METADATA: &str = "metadata";
const ANNOTATIONS: &str = "metadata/annotations.yaml";

/// A registry+v1 bundle is incomplete or holds a manifest that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    ManifestsDir(#[from] ManifestsDirError),
    #[error("open {ANNOTATIONS}: file does not exist")]
    MissingAnnotations,
    #[error("{ANNOTATIONS}: missing annotation {BUNDLE_PACKAGE}")]
    MissingPackage,
    #[error(
        "symbolic links are not allowed within the \"metadata\" directory of the bundle image filesystem: found \"metadata/{name}\""
    )]
    MetadataSymlink { name: String },
    #[error("{}: {source}", path.display())]
    Io {
        /// Relative to the bundle root.
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A manifest that is not YAML/JSON (or nests too deep): the whole file is named, with the
    /// line and column of the problem.
    #[error("failed to decode: {0}")]
    Undecodable(fbc::LoadError),
    #[error(
        "{}: holds {documents} documents; registry+v1 bundles are read one object per file, so split it into one file per object",
        path.display()
    )]
    MultipleDocuments { path: PathBuf, documents: usize },
    #[error(
        "{}: hidden files in \"manifests\" are not read by registry+v1 tooling, but this one holds an object; rename or remove it",
        path.display()
    )]
    HiddenManifest { path: PathBuf },
    #[error("{}: not a Kubernetes object (no \"kind\")", path.display())]
    NoKind { path: PathBuf },
    #[error(
        "{}: a second ClusterServiceVersion; a bundle has exactly one, and this one already has {}",
        path.display(),
        first.display()
    )]
    SecondCsv { path: PathBuf, first: PathBuf },
    /// What `fbc`'s parser refuses: no CSV, no annotations, a malformed CSV, a missing owned
    /// CRD, conflicting annotation files.
    #[error(transparent)]
    Bundle(BundleError),
}

pub(crate) fn check(root: &Path) -> Result<Summary, RegistryError> {
    let bundle = read(root)?;
    Ok(Summary::Registry {
        package: bundle.package,
        csv_name: bundle.name,
        version: bundle.version,
        manifests: bundle.manifests.len(),
    })
}

/// Reads and checks the registry+v1 bundle under `root` (the rules of [`crate::check`]) and
/// returns it parsed, for callers that go on to use its manifests (the conversion to plain
/// objects). Paths in the bundle and in errors are relative to `root`.
pub fn read(root: &Path) -> Result<fbc::RegistryBundle, RegistryError> {
    let manifests = manifests_dir::list(root)?;
    match fs::symlink_metadata(root.join(ANNOTATIONS)) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(RegistryError::MetadataSymlink {
                name: "annotations.yaml".into(),
            });
        }
        Ok(meta) if meta.is_file() => {}
        _ => return Err(RegistryError::MissingAnnotations),
    }
    let mut files = BTreeMap::new();
    for file in &manifests {
        let bytes = file.read()?;
        check_documents(file, &bytes)?;
        files.insert(file.rel.to_string_lossy().into_owned(), bytes);
    }
    read_metadata(root, &mut files)?;
    // Paths in messages stay relative to the bundle root.
    let bundle = fbc::parse_bundle_tree(Path::new(""), files).map_err(RegistryError::Bundle)?;
    if let Some(skipped) = bundle
        .skipped
        .iter()
        .find(|s| s.reason != SkipReason::Empty)
    {
        let first = bundle.manifests[bundle.csv_index].path.clone();
        return Err(dropped(skipped, first));
    }
    if bundle.package.is_empty() {
        return Err(RegistryError::MissingPackage);
    }
    Ok(bundle)
}

/// The parser reads the first document of each non-hidden file; a file must not hold more, and
/// a hidden one must hold nothing.
fn check_documents(file: &ManifestFile, bytes: &[u8]) -> Result<(), RegistryError> {
    // Non-UTF-8 text is reported by the parser, naming the file.
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Ok(());
    };
    let mut documents = 0;
    fbc::parse_documents(&file.rel, text, |doc| {
        if !doc.value.is_null() {
            documents += 1;
        }
        Ok(())
    })
    .map_err(RegistryError::Undecodable)?;
    match documents {
        1.. if file.is_hidden() => Err(RegistryError::HiddenManifest {
            path: file.rel.clone(),
        }),
        2.. => Err(RegistryError::MultipleDocuments {
            path: file.rel.clone(),
            documents,
        }),
        _ => Ok(()),
    }
}

/// The regular files directly in `metadata/` (annotations, dependencies, properties).
fn read_metadata(root: &Path, files: &mut BTreeMap<String, Vec<u8>>) -> Result<(), RegistryError> {
    let io_error = |path: PathBuf| move |source| RegistryError::Io { path, source };
    let dir = root.join(METADATA);
    for entry in fs::read_dir(&dir).map_err(io_error(METADATA.into()))? {
        let entry = entry.map_err(io_error(METADATA.into()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = Path::new(METADATA).join(&name);
        let file_type = entry.file_type().map_err(io_error(rel.clone()))?;
        if file_type.is_symlink() {
            return Err(RegistryError::MetadataSymlink { name });
        }
        if file_type.is_file() {
            let bytes = fs::read(entry.path()).map_err(io_error(rel.clone()))?;
            files.insert(rel.to_string_lossy().into_owned(), bytes);
        }
    }
    Ok(())
}

fn dropped(skipped: &SkippedManifest, first_csv: PathBuf) -> RegistryError {
    let path = skipped.path.clone();
    match &skipped.reason {
        SkipReason::ExtraCsv => RegistryError::SecondCsv {
            path,
            first: first_csv,
        },
        SkipReason::Unparsable {
            line,
            column,
            message,
        } => RegistryError::Undecodable(fbc::LoadError::Syntax {
            path,
            line: *line,
            column: *column,
            message: message.clone(),
        }),
        SkipReason::NoKind | SkipReason::Empty => RegistryError::NoKind { path },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::bundle;
    use crate::{Format, FormatError, check as check_format};

    const CSV: &str = "apiVersion: operators.coreos.com/v1alpha1\nkind: ClusterServiceVersion\nmetadata:\n  name: op.v1.0.0\nspec:\n  version: 1.0.0\n  install:\n    strategy: deployment\n    spec:\n      deployments: []\n";
    const ANN: &str = "annotations:\n  operators.operatorframework.io.bundle.mediatype.v1: registry+v1\n  operators.operatorframework.io.bundle.package.v1: op\n  operators.operatorframework.io.bundle.channels.v1: stable\n";

    fn message(files: &[(&str, &str)]) -> String {
        let dir = bundle(files);
        check_format(Format::RegistryV1, dir.path())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn valid_bundle() {
        let dir = bundle(&[
            ("manifests/csv.yaml", CSV),
            (
                "manifests/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
            ),
            ("manifests/empty.yaml", "# nothing\n"),
            ("metadata/annotations.yaml", ANN),
            ("metadata/nested/ignored.yaml", "x: ["),
            ("root-file", "ignored"),
        ]);
        let checked = check_format(Format::RegistryV1, dir.path()).unwrap();
        assert_eq!(
            checked.summary,
            Summary::Registry {
                package: "op".into(),
                csv_name: "op.v1.0.0".into(),
                version: "1.0.0".into(),
                manifests: 2,
            }
        );
    }

    #[test]
    fn structure() {
        assert_eq!(
            message(&[("manifests/csv.yaml", CSV)]),
            "invalid registry+v1 bundle: open metadata/annotations.yaml: file does not exist"
        );
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            check_format(Format::RegistryV1, dir.path())
                .unwrap_err()
                .to_string(),
            "invalid registry+v1 bundle: readdir manifests: file does not exist"
        );
        assert_eq!(
            message(&[
                ("manifests/csv.yaml", CSV),
                ("manifests/sub/x.yaml", CSV),
                ("metadata/annotations.yaml", ANN),
            ]),
            "invalid registry+v1 bundle: subdirectories are not allowed within the \"manifests\" directory of the bundle image filesystem: found \"manifests/sub\""
        );
        assert_eq!(
            message(&[
                ("manifests/csv.yaml", CSV),
                (
                    "metadata/annotations.yaml",
                    "annotations:\n  operators.operatorframework.io.bundle.channels.v1: stable\n"
                ),
            ]),
            "invalid registry+v1 bundle: metadata/annotations.yaml: missing annotation operators.operatorframework.io.bundle.package.v1"
        );
        let e = message(&[
            ("manifests/cm.yaml", "apiVersion: v1\nkind: ConfigMap\n"),
            ("metadata/annotations.yaml", ANN),
        ]);
        assert_eq!(e, "invalid registry+v1 bundle: manifests: no csv in bundle");
    }

    #[test]
    fn nothing_is_dropped() {
        let e = message(&[
            ("manifests/csv.yaml", CSV),
            ("manifests/bad.yaml", "kind: ConfigMap\nmetadata: [x\n"),
            ("metadata/annotations.yaml", ANN),
        ]);
        assert!(
            e.starts_with("invalid registry+v1 bundle: failed to decode: manifests/bad.yaml:"),
            "{e}"
        );
        let e = message(&[
            ("manifests/csv.yaml", CSV),
            ("manifests/two.yaml", "kind: ConfigMap\n---\nkind: Secret\n"),
            ("metadata/annotations.yaml", ANN),
        ]);
        assert_eq!(
            e,
            "invalid registry+v1 bundle: manifests/two.yaml: holds 2 documents; registry+v1 bundles are read one object per file, so split it into one file per object"
        );
        let e = message(&[
            ("manifests/csv.yaml", CSV),
            ("manifests/.hidden.yaml", "kind: ConfigMap\n"),
            ("manifests/.gitkeep", ""),
            ("metadata/annotations.yaml", ANN),
        ]);
        assert!(e.contains("manifests/.hidden.yaml: hidden files"), "{e}");
        let e = message(&[
            ("manifests/a.yaml", CSV),
            ("manifests/b.yaml", CSV),
            ("metadata/annotations.yaml", ANN),
        ]);
        assert_eq!(
            e,
            "invalid registry+v1 bundle: manifests/b.yaml: a second ClusterServiceVersion; a bundle has exactly one, and this one already has manifests/a.yaml"
        );
        let e = message(&[
            ("manifests/csv.yaml", CSV),
            ("manifests/nokind.yaml", "apiVersion: v1\nmetadata: {}\n"),
            ("metadata/annotations.yaml", ANN),
        ]);
        assert_eq!(
            e,
            "invalid registry+v1 bundle: manifests/nokind.yaml: not a Kubernetes object (no \"kind\")"
        );
    }

    #[test]
    fn unreadable_files_are_named() {
        let dir = bundle(&[
            ("manifests/csv.yaml", CSV.as_bytes()),
            ("manifests/bin.yaml", b"kind: A\n\xff"),
            ("metadata/annotations.yaml", ANN.as_bytes()),
        ]);
        let e = check_format(Format::RegistryV1, dir.path()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid registry+v1 bundle: manifests/bin.yaml: file is not valid UTF-8"
        );
    }

    #[cfg(unix)]
    #[test]
    fn metadata_symlinks_are_refused() {
        let dir = bundle(&[("manifests/csv.yaml", CSV), ("elsewhere.yaml", ANN)]);
        fs::create_dir_all(dir.path().join("metadata")).unwrap();
        std::os::unix::fs::symlink(
            dir.path().join("elsewhere.yaml"),
            dir.path().join("metadata/annotations.yaml"),
        )
        .unwrap();
        assert_eq!(
            check_format(Format::RegistryV1, dir.path())
                .unwrap_err()
                .to_string(),
            "invalid registry+v1 bundle: symbolic links are not allowed within the \"metadata\" directory of the bundle image filesystem: found \"metadata/annotations.yaml\""
        );
    }

    #[test]
    fn lost_manifest_explains_missing_csv() {
        let dir = bundle(&[
            (
                "manifests/csv.yaml",
                "kind: ClusterServiceVersion\nspec: [\n",
            ),
            ("metadata/annotations.yaml", ANN),
        ]);
        let e = check_format(Format::RegistryV1, dir.path()).unwrap_err();
        assert!(
            matches!(e, FormatError::Registry(RegistryError::Undecodable(_))),
            "{e}"
        );
    }
}
