//! `opm index export`: the legacy package-manifest layout (`<dir>/<package>/<version>/` with
//! each bundle image's `manifests/`, and `<dir>/<package>/package.yaml`). Pulling the bundle
//! images is the caller's job (this crate does no I/O over the network); the index provides
//! which images go where and the `package.yaml` files.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension};

use super::error::WriteError;
use super::query;
use crate::column::text;

/// A failure of planning or writing an export.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<rusqlite::Error> for ExportError {
    fn from(e: rusqlite::Error) -> Self {
        ExportError::Write(WriteError::Sqlite(e))
    }
}

/// One bundle image to pull; its `manifests/` go to `dir` (relative to the export root).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportBundle {
    pub image: String,
    pub package: String,
    /// `<package>/<version>`; upstream uses a random number for a bundle without a version,
    /// this uses the bundle name instead.
    pub dir: PathBuf,
}

/// What an export writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportPlan {
    /// Sorted by image.
    pub bundles: Vec<ExportBundle>,
    /// `(package, package.yaml text)`.
    pub package_yamls: Vec<(String, String)>,
}

fn yaml_scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && go_encoding::resolve_plain(s) == go_encoding::Resolved::Str
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'))
        && !s.starts_with(['-', '.']);
    if plain {
        s.to_string()
    } else {
        let mut out = String::new();
        go_encoding::push_string(&mut out, s, false);
        out
    }
}

/// `package.yaml` as go-yaml v3 marshals upstream's `PackageManifest` (4-space indent):
/// `channels` are `(name, currentCSV)` pairs. Also used for exports of file-based catalogs.
pub fn package_yaml(pkg: &str, default_channel: &str, channels: &[(String, String)]) -> String {
    let mut s = format!("packageName: {}\n", yaml_scalar(pkg));
    s.push_str(if channels.is_empty() {
        "channels: []\n"
    } else {
        "channels:\n"
    });
    for (name, head) in channels {
        s.push_str(&format!(
            "    - name: {}\n      currentCSV: {}\n",
            yaml_scalar(name),
            yaml_scalar(head)
        ));
    }
    s.push_str(&format!(
        "defaultChannel: {}\n",
        yaml_scalar(default_channel)
    ));
    s
}

/// The export of `packages` (every package when empty).
pub(crate) fn plan(conn: &Connection, packages: &[&str]) -> Result<ExportPlan, ExportError> {
    let packages: Vec<String> = if packages.is_empty() {
        query::list_packages(conn)?
    } else {
        packages.iter().map(|p| p.to_string()).collect()
    };
    // Keyed by image: a bundle listed under two packages goes to the last, as upstream.
    let mut bundles: BTreeMap<String, ExportBundle> = BTreeMap::new();
    let mut yamls = Vec::new();
    for pkg in &packages {
        for key in query::bundles_for_package(conn, pkg)
            .map_err(|e| ExportError::Write(WriteError::Upstream(e.to_string())))?
        {
            let version = if key.version.is_empty() {
                key.csv_name.clone()
            } else {
                key.version.clone()
            };
            bundles.insert(
                key.bundle_path.clone(),
                ExportBundle {
                    image: key.bundle_path,
                    package: pkg.clone(),
                    dir: Path::new(pkg).join(version),
                },
            );
        }
        let default_channel = query::default_channel(conn, pkg)?;
        let mut channels = Vec::new();
        for ch in query::list_channels(conn, pkg)? {
            let head: String = conn
                .query_row(
                    "SELECT DISTINCT head_operatorbundle_name FROM channel WHERE channel.package_name=?1 AND channel.name=?2",
                    [pkg, &ch],
                    |r| text(r, 0),
                )
                .optional()?
                .flatten()
                .unwrap_or_default();
            channels.push((ch, head));
        }
        yamls.push((pkg.clone(), package_yaml(pkg, &default_channel, &channels)));
    }
    Ok(ExportPlan {
        bundles: bundles.into_values().collect(),
        package_yamls: yamls,
    })
}

/// Writes each `<dir>/<package>/package.yaml` of `plan`.
pub fn write_package_yamls(plan: &ExportPlan, dir: &Path) -> Result<(), ExportError> {
    for (pkg, yaml) in &plan.package_yamls {
        let pdir = dir.join(pkg);
        fs::create_dir_all(&pdir).map_err(|source| ExportError::Io {
            path: pdir.clone(),
            source,
        })?;
        let path = pdir.join("package.yaml");
        let tmp = pdir.join(".package.yaml.tmp");
        fs::write(&tmp, yaml).map_err(|source| ExportError::Io {
            path: tmp.clone(),
            source,
        })?;
        fs::rename(&tmp, &path).map_err(|source| ExportError::Io {
            path: path.clone(),
            source,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_yaml_layout() {
        let y = package_yaml(
            "etcd",
            "alpha",
            &[("alpha".to_string(), "etcdoperator.v0.9.4".to_string())],
        );
        assert_eq!(
            y,
            "packageName: etcd\nchannels:\n    - name: alpha\n      currentCSV: etcdoperator.v0.9.4\ndefaultChannel: alpha\n"
        );
        assert_eq!(yaml_scalar(""), "\"\"");
        assert_eq!(yaml_scalar("true"), "\"true\"");
        assert_eq!(yaml_scalar("1.0"), "\"1.0\"");
    }
}
