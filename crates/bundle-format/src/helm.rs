//! helm+v3: the chart is the root, or the root's only entry when that is a directory (upstream
//! `EnsureBaseDirFS`). `Chart.yaml` must exist and its metadata pass Helm v3's `Validate()`
//! (with Helm's messages), plus the lint rules that apiVersion is `v1` or `v2` and that only
//! `v2` charts declare dependencies in `Chart.yaml`; `values.yaml`, when present, must be a
//! mapping. Templates are not rendered here.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use go_encoding::{DecodeError, Kind, Node};
use serde_json::Value;

use crate::Summary;

/// A chart could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum HelmError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Helm's wording.
    #[error("Chart.yaml file is missing")]
    MissingChartYaml,
    #[error("{file} is not a regular file")]
    NotARegularFile { file: &'static str },
    /// `Chart.yaml` or `values.yaml` is not valid YAML, or not of the expected shape (Helm:
    /// `cannot load Chart.yaml: …`).
    #[error("cannot load {file}: {message}")]
    Load { file: &'static str, message: String },
    #[error("validation: {0}")]
    Invalid(#[from] ChartValidationError),
}

/// `Chart.yaml` metadata that Helm refuses, in Helm's words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChartValidationError {
    #[error("chart.metadata.apiVersion is required")]
    ApiVersionRequired,
    /// Helm's lint rule (the loader itself accepts any value).
    #[error("apiVersion '{0}' is not valid. The value must be either \"v1\" or \"v2\"")]
    ApiVersionInvalid(String),
    #[error("chart.metadata.name is required")]
    NameRequired,
    #[error("chart.metadata.name {0:?} is not allowed")]
    NameNotAllowed(String),
    #[error("chart.metadata.name {0:?} is invalid")]
    NameInvalid(String),
    #[error("chart.metadata.version is required")]
    VersionRequired,
    #[error("chart.metadata.version {0:?} is invalid")]
    VersionInvalid(String),
    #[error("chart.metadata.type must be application or library")]
    TypeInvalid,
    #[error("maintainers must not contain empty or null nodes")]
    NullMaintainer,
    #[error("dependencies must not contain empty or null nodes")]
    NullDependency,
    #[error("dependency {0:?} has disallowed characters in the alias")]
    AliasInvalid(String),
    #[error("more than one dependency with name or alias {0:?}")]
    DuplicateDependency(String),
    /// Helm's lint rule.
    #[error(
        "dependencies are not valid in the Chart file with apiVersion '{0}'. They are valid in apiVersion 'v2'"
    )]
    DependenciesNeedV2(String),
}

pub(crate) fn check(root: &Path) -> Result<Summary, HelmError> {
    let chart_root = chart_root(root)?;
    let Some(chart_yaml) = read_chart_file(&chart_root, "Chart.yaml")? else {
        return Err(HelmError::MissingChartYaml);
    };
    let metadata = first_document("Chart.yaml", &chart_yaml)?;
    let (name, version) = validate_metadata(metadata.as_ref())?;
    if let Some(values) = read_chart_file(&chart_root, "values.yaml")? {
        match first_document("values.yaml", &values)? {
            None | Some(Value::Null | Value::Object(_)) => {}
            Some(other) => {
                return Err(HelmError::Load {
                    file: "values.yaml",
                    message: format!(
                        "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                        Kind::of(&other).go_name()
                    ),
                });
            }
        }
    }
    Ok(Summary::Helm {
        name,
        version,
        chart_root,
    })
}

/// The root, or its only entry when that is a directory (not a symlink to one).
fn chart_root(root: &Path) -> Result<PathBuf, HelmError> {
    let io_error = |source| HelmError::Io {
        path: root.to_path_buf(),
        source,
    };
    let mut entries = fs::read_dir(root).map_err(io_error)?;
    let Some(first) = entries.next() else {
        return Ok(root.to_path_buf());
    };
    let first = first.map_err(io_error)?;
    if entries.next().is_none() && first.file_type().map_err(io_error)?.is_dir() {
        return Ok(first.path());
    }
    Ok(root.to_path_buf())
}

/// A file at the chart's top level as text; `None` when absent.
fn read_chart_file(chart_root: &Path, file: &'static str) -> Result<Option<String>, HelmError> {
    let path = chart_root.join(file);
    let io_error = |source| HelmError::Io {
        path: PathBuf::from(file),
        source,
    };
    match fs::symlink_metadata(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(e)),
        Ok(meta) if !meta.is_file() => return Err(HelmError::NotARegularFile { file }),
        Ok(_) => {}
    }
    let bytes = fs::read(&path).map_err(io_error)?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|e| HelmError::Load {
            file,
            message: format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        })
}

/// The first document, as Go's `yaml.Unmarshal` reads it.
fn first_document(file: &'static str, text: &str) -> Result<Option<Value>, HelmError> {
    fbc::parse_first_document(Path::new(file), text).map_err(|e| HelmError::Load {
        file,
        message: e.to_string(),
    })
}

/// Helm's `Metadata.Validate()` in its order, then the two lint rules; returns name and
/// version.
fn validate_metadata(metadata: Option<&Value>) -> Result<(String, String), HelmError> {
    let null = Value::Null;
    let root = Node::root(metadata.unwrap_or(&null));
    root.object()
        .map_err(|e| load_error(&e, "Metadata", "chart.Metadata"))?;
    let string = |name: &str| {
        root.field(name)
            .string()
            .map(|s| sanitize(&s))
            .map_err(|e| load_error(&e, "Metadata", "string"))
    };
    let api_version = string("apiVersion")?;
    let name = string("name")?;
    let version = string("version")?;
    let chart_type = string("type")?;
    if api_version.is_empty() {
        return Err(ChartValidationError::ApiVersionRequired.into());
    }
    if name.is_empty() {
        return Err(ChartValidationError::NameRequired.into());
    }
    if name == "." || name == ".." {
        return Err(ChartValidationError::NameNotAllowed(name).into());
    }
    // Go `filepath.Base(name) != name`: a name with a path separator.
    if name.contains('/') {
        return Err(ChartValidationError::NameInvalid(name).into());
    }
    if version.is_empty() {
        return Err(ChartValidationError::VersionRequired.into());
    }
    if !is_masterminds_version(&version) {
        return Err(ChartValidationError::VersionInvalid(version).into());
    }
    if !matches!(chart_type.as_str(), "" | "application" | "library") {
        return Err(ChartValidationError::TypeInvalid.into());
    }
    let maintainers = root.field("maintainers");
    for maintainer in maintainers
        .list()
        .map_err(|e| load_error(&e, "Metadata", "[]*chart.Maintainer"))?
    {
        if maintainer.is_null() {
            return Err(ChartValidationError::NullMaintainer.into());
        }
        maintainer
            .object()
            .map_err(|e| load_error(&e, "Metadata", "chart.Maintainer"))?;
    }
    let dependencies = validate_dependencies(&root)?;
    if !matches!(api_version.as_str(), "v1" | "v2") {
        return Err(ChartValidationError::ApiVersionInvalid(api_version).into());
    }
    if dependencies > 0 && api_version == "v1" {
        return Err(ChartValidationError::DependenciesNeedV2(api_version).into());
    }
    Ok((name, version))
}

/// Helm's `Dependency.Validate()` for each entry and the unique name-or-alias rule; returns the
/// number of dependencies.
fn validate_dependencies(root: &Node<'_>) -> Result<usize, HelmError> {
    let dependencies = root
        .field("dependencies")
        .list()
        .map_err(|e| load_error(&e, "Metadata", "[]*chart.Dependency"))?;
    let mut seen = BTreeSet::new();
    for dependency in &dependencies {
        if dependency.is_null() {
            return Err(ChartValidationError::NullDependency.into());
        }
        dependency
            .object()
            .map_err(|e| load_error(&e, "Metadata", "chart.Dependency"))?;
        let string = |name: &str| {
            dependency
                .field(name)
                .string()
                .map_err(|e| load_error(&e, "Dependency", "string"))
        };
        let name = sanitize(&string("name")?);
        let alias = string("alias")?;
        if !alias.is_empty()
            && !alias
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(ChartValidationError::AliasInvalid(name).into());
        }
        let key = if alias.is_empty() { name } else { alias };
        if !seen.insert(key.clone()) {
            return Err(ChartValidationError::DuplicateDependency(key).into());
        }
    }
    Ok(dependencies.len())
}

/// Go's message for a `Chart.yaml` field of the wrong type; `go_struct` is the innermost
/// struct's type name.
fn load_error(e: &DecodeError, go_struct: &str, go_type: &str) -> HelmError {
    HelmError::Load {
        file: "Chart.yaml",
        message: e.go_message(go_struct, go_type),
    }
}

/// Helm's `sanitizeString`: white space becomes a plain space, non-printable characters go.
/// (Go's `unicode.IsPrint` is approximated by "not a control character".)
fn sanitize(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            c if c.is_whitespace() => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

/// Masterminds/semver v3 `NewVersion`, which Helm uses: `v` prefix allowed, minor and patch
/// optional, numeric parts fit in 64 bits, pre-release and build identifiers of
/// `[0-9A-Za-z-]`, numeric pre-release identifiers without leading zeros.
fn is_masterminds_version(v: &str) -> bool {
    let v = v.strip_prefix('v').unwrap_or(v);
    let (rest, build) = match v.split_once('+') {
        Some((rest, build)) => (rest, Some(build)),
        None => (v, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (rest, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if parts.len() > 3
        || !parts.iter().all(numeric)
        || parts.iter().any(|p| p.parse::<u64>().is_err())
    {
        return false;
    }
    let identifiers = |s: &str| {
        s.split('.')
            .all(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    };
    if let Some(pre) = pre {
        let leading_zero = pre.split('.').any(|id| {
            id.len() > 1 && id.starts_with('0') && id.bytes().all(|b| b.is_ascii_digit())
        });
        if !identifiers(pre) || leading_zero {
            return false;
        }
    }
    build.is_none_or(identifiers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::tree as chart;
    use crate::{Format, check as check_format};

    fn message(chart_yaml: &str) -> String {
        let dir = chart(&[("Chart.yaml", chart_yaml)]);
        check_format(Format::HelmV3, dir.path())
            .unwrap_err()
            .to_string()
    }

    const VALID: &str = "apiVersion: v2\nname: demo\nversion: 0.1.0\n";

    #[test]
    fn chart_root_is_the_only_directory_or_the_root() {
        let dir = chart(&[
            ("demo/Chart.yaml", VALID),
            ("demo/templates/cm.yaml", "{{ x }}"),
        ]);
        let checked = check_format(Format::HelmV3, dir.path()).unwrap();
        assert_eq!(
            checked.summary,
            Summary::Helm {
                name: "demo".into(),
                version: "0.1.0".into(),
                chart_root: dir.path().join("demo"),
            }
        );
        let dir = chart(&[("Chart.yaml", VALID), ("values.yaml", "a: 1\n")]);
        let checked = check_format(Format::HelmV3, dir.path()).unwrap();
        assert!(
            matches!(checked.summary, Summary::Helm { chart_root, .. } if chart_root == dir.path())
        );
        let dir = chart(&[("demo/Chart.yaml", VALID), ("README.md", "")]);
        assert_eq!(
            check_format(Format::HelmV3, dir.path())
                .unwrap_err()
                .to_string(),
            "Chart.yaml file is missing"
        );
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            check_format(Format::HelmV3, dir.path())
                .unwrap_err()
                .to_string(),
            "Chart.yaml file is missing"
        );
    }

    #[test]
    fn metadata_rules_in_helms_words() {
        for (chart_yaml, expected) in [
            ("", "validation: chart.metadata.apiVersion is required"),
            (
                "name: a\nversion: 1.0.0\n",
                "validation: chart.metadata.apiVersion is required",
            ),
            (
                "apiVersion: v2\nversion: 1.0.0\n",
                "validation: chart.metadata.name is required",
            ),
            (
                "apiVersion: v2\nname: ..\nversion: 1.0.0\n",
                "validation: chart.metadata.name \"..\" is not allowed",
            ),
            (
                "apiVersion: v2\nname: a/b\nversion: 1.0.0\n",
                "validation: chart.metadata.name \"a/b\" is invalid",
            ),
            (
                "apiVersion: v2\nname: a\n",
                "validation: chart.metadata.version is required",
            ),
            (
                "apiVersion: v2\nname: a\nversion: one\n",
                "validation: chart.metadata.version \"one\" is invalid",
            ),
            (
                "apiVersion: v2\nname: a\nversion: 1.0.0\ntype: plugin\n",
                "validation: chart.metadata.type must be application or library",
            ),
            (
                "apiVersion: v3\nname: a\nversion: 1.0.0\n",
                "validation: apiVersion 'v3' is not valid. The value must be either \"v1\" or \"v2\"",
            ),
            (
                "apiVersion: v2\nname: a\nversion: 1.0.0\nmaintainers: [~]\n",
                "validation: maintainers must not contain empty or null nodes",
            ),
            (
                "apiVersion: v2\nname: a\nversion: 1.0.0\ndependencies: [~]\n",
                "validation: dependencies must not contain empty or null nodes",
            ),
            (
                "apiVersion: v2\nname: a\nversion: 1.0.0\ndependencies: [{name: b, alias: 'x y'}]\n",
                "validation: dependency \"b\" has disallowed characters in the alias",
            ),
            (
                "apiVersion: v2\nname: a\nversion: 1.0.0\ndependencies: [{name: b}, {name: c, alias: b}]\n",
                "validation: more than one dependency with name or alias \"b\"",
            ),
            (
                "apiVersion: v1\nname: a\nversion: 1.0.0\ndependencies: [{name: b}]\n",
                "validation: dependencies are not valid in the Chart file with apiVersion 'v1'. They are valid in apiVersion 'v2'",
            ),
            (
                "apiVersion: v2\nname: a\nversion: 1.0\n",
                "cannot load Chart.yaml: json: cannot unmarshal number into Go struct field Metadata.version of type string",
            ),
            (
                "- a\n",
                "cannot load Chart.yaml: json: cannot unmarshal array into Go value of type chart.Metadata",
            ),
        ] {
            assert_eq!(message(chart_yaml), expected, "{chart_yaml}");
        }
        let e = message("apiVersion: v2\nname: [a\n");
        assert!(
            e.starts_with("cannot load Chart.yaml: Chart.yaml:2:"),
            "{e}"
        );
    }

    #[test]
    fn accepted_metadata() {
        for chart_yaml in [
            "apiVersion: v1\nname: a\nversion: v1.2\n",
            "apiVersion: v2\nname: \"a\\tb\"\nversion: 1.2.3-rc.1+build.5\ntype: library\nmaintainers: [{name: me}]\ndependencies: [{name: b, alias: b_2}, {name: b}]\n",
            "apiVersion: v2\nname: a\nversion: '1'\n---\nnot: read\n: [\n",
        ] {
            let dir = chart(&[("Chart.yaml", chart_yaml)]);
            check_format(Format::HelmV3, dir.path()).unwrap();
        }
    }

    #[test]
    fn values_must_be_a_mapping() {
        let dir = chart(&[("Chart.yaml", VALID), ("values.yaml", "- a\n")]);
        assert_eq!(
            check_format(Format::HelmV3, dir.path())
                .unwrap_err()
                .to_string(),
            "cannot load values.yaml: json: cannot unmarshal array into Go value of type map[string]interface {}"
        );
        let dir = chart(&[("Chart.yaml", VALID), ("values.yaml", "a: [\n")]);
        let e = check_format(Format::HelmV3, dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("cannot load values.yaml: values.yaml:"),
            "{e}"
        );
        for ok in ["", "# only comments\n", "~\n", "a: {b: c}\n"] {
            let dir = chart(&[("Chart.yaml", VALID), ("values.yaml", ok)]);
            check_format(Format::HelmV3, dir.path()).unwrap();
        }
    }

    #[test]
    fn masterminds_versions() {
        for ok in [
            "1",
            "1.2",
            "v1.2.3",
            "1.2.3-alpha.1",
            "1.2.3+b.01",
            "0.0.0-0",
            "1.2.3-0a",
        ] {
            assert!(is_masterminds_version(ok), "{ok}");
        }
        for bad in [
            "",
            "v",
            "1.2.3.4",
            "1..2",
            "a.b.c",
            "1.2.3-",
            "1.2.3-01",
            "1.2.3+",
            "1.2.3-a..b",
            "99999999999999999999",
            "1.2.3-a_b",
        ] {
            assert!(!is_masterminds_version(bad), "{bad}");
        }
    }

    #[test]
    fn hostile_chart_files() {
        let dir = chart(&[("Chart.yaml", "apiVersion: v2\nname: \u{0}\n")]);
        let _ = check_format(Format::HelmV3, dir.path()).unwrap_err();
        let deep = format!(
            "apiVersion: v2\nname: a\nversion: 1.0.0\nx: {}\n",
            "[".repeat(3000)
        );
        let dir = chart(&[("Chart.yaml", deep.as_str())]);
        assert!(check_format(Format::HelmV3, dir.path()).is_err());
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("Chart.yaml"), b"name: \xff\n").unwrap();
        assert_eq!(
            check_format(Format::HelmV3, dir.path())
                .unwrap_err()
                .to_string(),
            "cannot load Chart.yaml: not UTF-8 text (invalid byte at offset 6)"
        );
    }
}
