//! The `configMaps` source: every `data` and `binaryData` key of each listed ConfigMap
//! becomes a file at `<path>/<key>` of the bundle. [`config_map_files`] decides the files
//! without touching the disk; [`write_files`] puts them into the destination.

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::api::core::v1::ConfigMap;
use olm_api::bundle::ConfigMapSource;

/// Why a set of ConfigMaps does not make a bundle.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigMapsError {
    /// Same wording as the `vbundles.core.rukpak.io` webhook.
    #[error(
        "bundle.spec.source.configmaps[{index}].path is invalid: {path:?} is outside bundle root"
    )]
    OutsideRoot { index: usize, path: String },
    #[error("duplicate path {path:?} found in configmaps [{}]", .config_maps.join(" "))]
    Duplicate {
        path: String,
        config_maps: Vec<String>,
    },
    #[error(
        "configmap {config_map:?} has key {key:?}, which is not a file name (keys must be non-empty, not \".\" or \"..\", without \"/\" or NUL)"
    )]
    InvalidKey { config_map: String, key: String },
    #[error(
        "path {path:?} is both a file (from configmap {file_from:?}) and a directory (from configmap {dir_from:?})"
    )]
    FileAndDirectory {
        path: String,
        file_from: String,
        dir_from: String,
    },
}

/// The bundle files `maps` make, keyed by their `/`-separated path relative to the bundle
/// root. Each pair is a source entry and the ConfigMap it names, in spec order (the order
/// gives the `[i]` of error messages).
pub fn config_map_files(
    maps: &[(ConfigMapSource, ConfigMap)],
) -> Result<BTreeMap<String, Vec<u8>>, ConfigMapsError> {
    // path → (content, every ConfigMap that produced it)
    let mut files: BTreeMap<String, (Vec<u8>, Vec<String>)> = BTreeMap::new();
    for (index, (source, config_map)) in maps.iter().enumerate() {
        let raw_path = source.path.as_deref().unwrap_or_default();
        let dir = clean_relative(raw_path).ok_or_else(|| ConfigMapsError::OutsideRoot {
            index,
            path: raw_path.to_owned(),
        })?;
        let name = source.config_map.name.clone();
        let text = config_map
            .data
            .iter()
            .flatten()
            .map(|(k, v)| (k, v.as_bytes().to_vec()));
        let binary = config_map
            .binary_data
            .iter()
            .flatten()
            .map(|(k, v)| (k, v.0.clone()));
        for (key, content) in text.chain(binary) {
            if !is_file_name(key) {
                return Err(ConfigMapsError::InvalidKey {
                    config_map: name,
                    key: key.clone(),
                });
            }
            let path = if dir.is_empty() {
                key.clone()
            } else {
                format!("{dir}/{key}")
            };
            let entry = files.entry(path).or_insert_with(|| (content, Vec::new()));
            entry.1.push(name.clone());
        }
    }
    if let Some((path, (_, from))) = files.iter().find(|(_, (_, from))| from.len() > 1) {
        return Err(ConfigMapsError::Duplicate {
            path: path.clone(),
            config_maps: from.clone(),
        });
    }
    check_files_are_not_directories(&files)?;
    Ok(files
        .into_iter()
        .map(|(path, (content, _))| (path, content))
        .collect())
}

/// A file path that is also a parent directory of another file cannot be written.
fn check_files_are_not_directories(
    files: &BTreeMap<String, (Vec<u8>, Vec<String>)>,
) -> Result<(), ConfigMapsError> {
    for (path, (_, from)) in files {
        let prefix = format!("{path}/");
        if let Some((child, (_, dir_from))) = files.range(prefix.clone()..).next()
            && child.starts_with(&prefix)
        {
            return Err(ConfigMapsError::FileAndDirectory {
                path: path.clone(),
                file_from: from[0].clone(),
                dir_from: dir_from[0].clone(),
            });
        }
    }
    Ok(())
}

/// `path` cleaned lexically as Go's `filepath.Clean` does (`""` and `.` are the root), or
/// `None` when it is absolute or climbs out of the root.
fn clean_relative(path: &str) -> Option<String> {
    if path.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

fn is_file_name(key: &str) -> bool {
    !key.is_empty() && key != "." && key != ".." && !key.contains(['/', '\0'])
}

/// Writes `files` (as [`config_map_files`] returns them) under `dest`, creating directories.
pub(crate) fn write_files(
    dest: &Path,
    files: &BTreeMap<String, Vec<u8>>,
) -> Result<(), std::io::Error> {
    for (path, content) in files {
        let target = dest.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, content)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use k8s_openapi::ByteString;
    use k8s_openapi::api::core::v1::LocalObjectReference;

    use super::*;

    fn source(name: &str, path: Option<&str>) -> ConfigMapSource {
        ConfigMapSource {
            config_map: LocalObjectReference {
                name: name.to_owned(),
            },
            path: path.map(str::to_owned),
        }
    }

    fn config_map(data: &[(&str, &str)], binary: &[(&str, &[u8])]) -> ConfigMap {
        ConfigMap {
            data: (!data.is_empty()).then(|| {
                data.iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect()
            }),
            binary_data: (!binary.is_empty()).then(|| {
                binary
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), ByteString(v.to_vec())))
                    .collect()
            }),
            ..Default::default()
        }
    }

    fn paths(files: &BTreeMap<String, Vec<u8>>) -> Vec<&str> {
        files.keys().map(String::as_str).collect()
    }

    #[test]
    fn keys_become_files_under_the_cleaned_path() {
        let files = config_map_files(&[
            (
                source("crds", Some("./manifests//crds/")),
                config_map(&[("crd.yaml", "kind: CustomResourceDefinition\n")], &[]),
            ),
            (
                source("root", None),
                config_map(
                    &[("README", "hello")],
                    &[("logo.png", &[0x89, b'P', 0, 0xff])],
                ),
            ),
            (
                source("deploy", Some("x/../manifests")),
                config_map(&[("deploy.yaml", "kind: Deployment\n")], &[]),
            ),
        ])
        .unwrap();
        assert_eq!(
            paths(&files),
            [
                "README",
                "logo.png",
                "manifests/crds/crd.yaml",
                "manifests/deploy.yaml"
            ]
        );
        assert_eq!(files["logo.png"], [0x89, b'P', 0, 0xff]);
        assert_eq!(files["manifests/deploy.yaml"], b"kind: Deployment\n");
    }

    #[test]
    fn root_spellings_are_the_root() {
        for root in ["", ".", "./", "a/..", "./a/b/../.."] {
            let files =
                config_map_files(&[(source("m", Some(root)), config_map(&[("k", "v")], &[]))])
                    .unwrap();
            assert_eq!(paths(&files), ["k"], "path {root:?}");
        }
    }

    #[test]
    fn escaping_paths_are_refused_with_the_webhook_message() {
        for bad in ["..", "../x", "a/../../x", "/abs", "/"] {
            let err = config_map_files(&[
                (source("ok", None), config_map(&[("a", "1")], &[])),
                (source("bad", Some(bad)), config_map(&[("b", "2")], &[])),
            ])
            .unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "bundle.spec.source.configmaps[1].path is invalid: {bad:?} is outside bundle root"
                )
            );
        }
    }

    #[test]
    fn the_same_file_from_two_config_maps_is_a_duplicate() {
        let err = config_map_files(&[
            (
                source("a", Some("manifests")),
                config_map(&[("x.yaml", "1")], &[]),
            ),
            (source("other", None), config_map(&[("y", "2")], &[])),
            (
                source("b", Some("./manifests")),
                config_map(&[], &[("x.yaml", b"2")]),
            ),
        ])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"duplicate path "manifests/x.yaml" found in configmaps [a b]"#
        );
    }

    #[test]
    fn keys_that_are_not_file_names_are_refused() {
        for key in ["", ".", "..", "a/b", "nul\0"] {
            let err = config_map_files(&[(source("m", None), config_map(&[(key, "v")], &[]))])
                .unwrap_err();
            assert_eq!(
                err,
                ConfigMapsError::InvalidKey {
                    config_map: "m".into(),
                    key: key.into()
                }
            );
        }
    }

    #[test]
    fn a_file_cannot_also_be_a_directory() {
        let err = config_map_files(&[
            (
                source("files", None),
                config_map(&[("manifests", "oops")], &[]),
            ),
            (
                source("dirs", Some("manifests")),
                config_map(&[("a.yaml", "1")], &[]),
            ),
        ])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"path "manifests" is both a file (from configmap "files") and a directory (from configmap "dirs")"#
        );
    }

    #[test]
    fn empty_config_maps_make_no_files() {
        let files = config_map_files(&[(source("m", None), ConfigMap::default())]).unwrap();
        assert!(files.is_empty());
    }

    #[test]
    fn files_are_written_under_dest() {
        let dest = tempfile::tempdir().unwrap();
        let files = config_map_files(&[(
            source("m", Some("manifests/sub")),
            config_map(&[("a.yaml", "A")], &[("b.bin", &[1, 2])]),
        )])
        .unwrap();
        write_files(dest.path(), &files).unwrap();
        assert_eq!(
            std::fs::read(dest.path().join("manifests/sub/a.yaml")).unwrap(),
            b"A"
        );
        assert_eq!(
            std::fs::read(dest.path().join("manifests/sub/b.bin")).unwrap(),
            [1, 2]
        );
    }
}
