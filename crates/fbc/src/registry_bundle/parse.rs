//! Parsing a bundle's files into a [`RegistryBundle`]: the manifests (exactly one CSV), the
//! `metadata/` annotations, dependencies and properties, and the properties derived from them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use go_encoding::{Canonical, Node, push_canonical};
use olm_labels::{BUNDLE_CHANNELS, BUNDLE_DEFAULT_CHANNEL, BUNDLE_PACKAGE};
use serde_json::Value;
use serde_json::value::RawValue;

use super::csv::Csv;

use super::{
    BundleError, BundleFile, CSV_ANNOTATION_PROPERTIES, CSV_ANNOTATION_SKIP_RANGE, invalid,
};
use crate::decode::{self, yaml_options};
use crate::error::LoadError;
use crate::property::{Property, build};
use crate::raw::RawJson;

/// One decoded manifest.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    pub path: PathBuf,
    pub kind: String,
    /// The object as JSON (YAML converted with Kubernetes semantics).
    pub object: Value,
}

/// The `metadata/annotations.yaml` values that matter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Annotations {
    pub package: String,
    pub channels: Vec<String>,
    pub default_channel: String,
    /// Every annotation of the file, for callers that need the others (media type, metrics…).
    pub all: BTreeMap<String, String>,
    pub path: PathBuf,
}

/// A parsed registry+v1 bundle directory.
#[derive(Clone, Debug, PartialEq)]
pub struct RegistryBundle {
    pub dir: PathBuf,
    /// CSV `metadata.name`.
    pub name: String,
    /// Annotation `operators.operatorframework.io.bundle.package.v1`.
    pub package: String,
    pub annotations: Annotations,
    /// Manifests in file-name order; exactly one is the CSV.
    pub manifests: Vec<Manifest>,
    pub csv_index: usize,
    /// CSV `spec.version` ("" when absent).
    pub version: String,
    /// CSV `spec.replaces`.
    pub replaces: String,
    /// CSV `spec.skips`.
    pub skips: Vec<String>,
    /// CSV annotation `olm.skipRange`.
    pub skip_range: String,
    /// `metadata/properties.yaml` followed by the derived properties, de-duplicated.
    pub properties: Vec<Property>,
    /// `metadata/dependencies.yaml` entries as properties (`type`, raw `value`).
    pub dependencies: Vec<Property>,
    /// Files under `manifests/` that are not part of the bundle, in name order. Callers decide
    /// what a skip means: `opm render` warns, `opm index add` refuses a lost manifest.
    pub skipped: Vec<SkippedManifest>,
    /// Other non-fatal problems (an unparsable CSV `olm.properties` annotation).
    pub warnings: Vec<String>,
}

/// A file under `manifests/` left out of the bundle, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedManifest {
    pub path: PathBuf,
    pub reason: SkipReason,
}

impl SkippedManifest {
    /// Whether the file may hold a Kubernetes object that the bundle now lacks (it could not
    /// be read at all), as opposed to a file that is known not to be one.
    pub fn loses_content(&self) -> bool {
        matches!(self.reason, SkipReason::Unparsable { .. })
    }
}

/// Upstream logs an undecodable manifest as "failed to decode: <error>"; that wording is kept,
/// with the file named (upstream's log names the bundle's `metadata/` directory instead).
impl std::fmt::Display for SkippedManifest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = self.path.display();
        match &self.reason {
            SkipReason::Unparsable {
                line,
                column,
                message,
            } => write!(f, "failed to decode: {path}:{line}:{column}: {message}"),
            other => write!(f, "{path}: skipped: {other}"),
        }
    }
}

impl std::error::Error for SkippedManifest {}

/// Why a manifest file was left out.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SkipReason {
    /// Not valid YAML or JSON, or nested deeper than the decoder allows.
    #[error("{line}:{column}: {message}")]
    Unparsable {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("empty manifest")]
    Empty,
    #[error("not a Kubernetes object (no \"kind\")")]
    NoKind,
    #[error("only the first ClusterServiceVersion of a bundle is used")]
    ExtraCsv,
}

impl SkipReason {
    fn unparsable(e: LoadError) -> SkipReason {
        match e {
            LoadError::Syntax {
                line,
                column,
                message,
                ..
            } => SkipReason::Unparsable {
                line,
                column,
                message,
            },
            LoadError::Document { line, message, .. } => SkipReason::Unparsable {
                line,
                column: 0,
                message,
            },
            other => SkipReason::Unparsable {
                line: 0,
                column: 0,
                message: other.to_string(),
            },
        }
    }
}

/// Parses a bundle from files already in memory (for example unpacked from an image layer):
/// `manifests` and `metadata` in name order, hidden manifest files already left out.
pub fn parse_bundle_files(
    dir: &Path,
    manifest_files: Vec<BundleFile>,
    metadata_files: Vec<BundleFile>,
) -> Result<RegistryBundle, BundleError> {
    let mut warnings = Vec::new();
    let mut skipped = Vec::new();
    let (manifests, csv_index) =
        read_manifests(dir, manifest_files, &mut skipped).map_err(|e| with_lost(e, &skipped))?;
    let csv_path = manifests[csv_index].path.clone();
    let csv = read_csv(&Csv::new(&manifests[csv_index].object), &manifests).map_err(|source| {
        with_lost(
            BundleError::Csv {
                path: csv_path.clone(),
                source,
            },
            &skipped,
        )
    })?;
    let metadata = read_metadata(dir, metadata_files)?;
    let derived = derived_properties(&metadata.annotations, &csv, &csv_path, &mut warnings);
    let mut properties = metadata.properties;
    properties.extend(property_set(derived));
    let properties = property_set(properties);
    let skip_range = csv
        .annotations
        .get(CSV_ANNOTATION_SKIP_RANGE)
        .cloned()
        .unwrap_or_default();

    Ok(RegistryBundle {
        dir: dir.to_path_buf(),
        name: csv.name,
        package: metadata.annotations.package.clone(),
        annotations: metadata.annotations,
        csv_index,
        manifests,
        version: csv.version,
        replaces: csv.replaces,
        skips: csv.skips,
        skip_range,
        properties,
        dependencies: metadata.dependencies,
        skipped,
        warnings,
    })
}

/// A missing CSV or CRD may be in a file that could not be parsed: the error names those.
fn with_lost(e: BundleError, skipped: &[SkippedManifest]) -> BundleError {
    let lost: Vec<SkippedManifest> = skipped
        .iter()
        .filter(|s| s.loses_content())
        .cloned()
        .collect();
    if lost.is_empty() {
        return e;
    }
    BundleError::LostManifests {
        incomplete: Box::new(e),
        lost,
    }
}

/// `manifests/`: the first document of every file, which must have a kind; returns them and the
/// index of the (first) CSV. Files that are left out go to `skipped`, as upstream skips them.
fn read_manifests(
    dir: &Path,
    manifest_files: Vec<BundleFile>,
    skipped: &mut Vec<SkippedManifest>,
) -> Result<(Vec<Manifest>, usize), BundleError> {
    let mut manifests = Vec::new();
    let mut csv_index = None;
    for BundleFile { path, text } in manifest_files {
        let text = text?;
        let object = match decode::parse_first_document(&path, &text) {
            Ok(Some(v)) => v,
            Ok(None) => {
                skipped.push(SkippedManifest {
                    path,
                    reason: SkipReason::Empty,
                });
                continue;
            }
            Err(e) => {
                skipped.push(SkippedManifest {
                    path,
                    reason: SkipReason::unparsable(e),
                });
                continue;
            }
        };
        let kind = match object.as_object().and_then(|m| m.get("kind")) {
            Some(Value::String(k)) if !k.is_empty() => k.clone(),
            _ => {
                skipped.push(SkippedManifest {
                    path,
                    reason: SkipReason::NoKind,
                });
                continue;
            }
        };
        if kind == "ClusterServiceVersion" {
            if csv_index.is_some() {
                skipped.push(SkippedManifest {
                    path,
                    reason: SkipReason::ExtraCsv,
                });
                continue;
            }
            csv_index = Some(manifests.len());
        }
        manifests.push(Manifest { path, kind, object });
    }
    let manifests_dir = dir.join("manifests");
    if manifests.is_empty() {
        return Err(invalid(&manifests_dir, "no bundle objects found"));
    }
    let Some(csv_index) = csv_index else {
        return Err(invalid(&manifests_dir, "no csv in bundle"));
    };
    Ok((manifests, csv_index))
}

/// What `metadata/` holds.
struct Metadata {
    annotations: Annotations,
    dependencies: Vec<Property>,
    properties: Vec<Property>,
}

/// `metadata/`: annotations, dependencies, properties (first file of each kind wins upstream; we
/// refuse annotation files that disagree).
fn read_metadata(dir: &Path, metadata_files: Vec<BundleFile>) -> Result<Metadata, BundleError> {
    let mut annotations: Option<Annotations> = None;
    let mut dependencies: Option<Vec<Property>> = None;
    let mut file_properties: Option<Vec<Property>> = None;
    for BundleFile { path, text } in metadata_files {
        let Ok(text) = text else {
            continue;
        };
        let Ok(Some(doc)) = decode::parse_first_document(&path, &text) else {
            continue;
        };
        if let Some(a) = annotations_of(&doc, &path) {
            check_duplicate_annotations(&path, &text)?;
            match &annotations {
                None => annotations = Some(a),
                Some(first) => check_annotations_agree(first, &a, &path)?,
            }
        }
        for (list, key) in [
            (&mut dependencies, "dependencies"),
            (&mut file_properties, "properties"),
        ] {
            if list.is_none() {
                let items = typed_list(&doc, key);
                if !items.is_empty() {
                    *list = Some(items);
                }
            }
        }
    }
    let Some(annotations) = annotations else {
        return Err(invalid(
            &dir.join("metadata"),
            "Could not find annotations file",
        ));
    };
    Ok(Metadata {
        annotations,
        dependencies: dependencies.unwrap_or_default(),
        properties: file_properties.unwrap_or_default(),
    })
}

/// Repeated keys in an annotations file are a conflict, not "last one wins".
fn check_duplicate_annotations(path: &Path, text: &str) -> Result<(), BundleError> {
    let Err(e) = decode::with_parser_stack(|| {
        serde_saphyr::from_str_with_options::<serde_json::Value>(
            split_first_chunk(text),
            yaml_options(true),
        )
    }) else {
        return Ok(());
    };
    if !e.to_string().contains("duplicate") {
        return Ok(());
    }
    let (line, column, message) = match decode::yaml_error(path, 1, split_first_chunk(text), &e) {
        LoadError::Syntax {
            line,
            column,
            message,
            ..
        } => (line, column, message),
        other => (1, 0, other.to_string()),
    };
    Err(invalid(
        path,
        format!("conflicting annotations at line {line}, column {column}: {message}"),
    ))
}

/// A second annotations file must say what the first one says.
fn check_annotations_agree(
    first: &Annotations,
    a: &Annotations,
    path: &Path,
) -> Result<(), BundleError> {
    for (key, x, y) in [
        (BUNDLE_PACKAGE, &first.package, &a.package),
        (
            BUNDLE_DEFAULT_CHANNEL,
            &first.default_channel,
            &a.default_channel,
        ),
    ] {
        if x != y {
            return Err(invalid(
                path,
                format!(
                    "conflicting annotations: {key} is {y:?} here but {x:?} in {}",
                    first.path.display()
                ),
            ));
        }
    }
    if first.channels != a.channels {
        return Err(invalid(
            path,
            format!(
                "conflicting annotations: {BUNDLE_CHANNELS} is {:?} here but {:?} in {}",
                a.channels.join(","),
                first.channels.join(","),
                first.path.display()
            ),
        ));
    }
    Ok(())
}

/// Properties derived from the bundle: olm.package from the annotations, the CSV's
/// `olm.properties` annotation, one olm.gvk per provided API.
fn derived_properties(
    annotations: &Annotations,
    csv: &CsvFields,
    csv_path: &Path,
    warnings: &mut Vec<String>,
) -> Vec<Property> {
    let mut derived = Vec::new();
    if !annotations.package.is_empty() {
        derived.push(build::package(&annotations.package, &csv.version, ""));
    }
    if let Some(text) = csv.annotations.get(CSV_ANNOTATION_PROPERTIES) {
        match raw_property_list(text) {
            Ok(props) => derived.extend(props),
            Err(e) => warnings.push(format!(
                "{}: ignoring annotation {CSV_ANNOTATION_PROPERTIES}: {e}",
                csv_path.display()
            )),
        }
    }
    for api in &csv.provided {
        derived.push(build::gvk(&api.group, &api.version, &api.kind));
    }
    derived
}

fn split_first_chunk(text: &str) -> &str {
    decode::split_yaml(text)
        .into_iter()
        .find(|(_, c)| !decode::is_blank_document(c))
        .map(|(_, c)| c)
        .unwrap_or("")
}

fn annotations_of(doc: &Value, path: &Path) -> Option<Annotations> {
    let inner = Node::root(doc).field("annotations");
    inner.value()?.as_object()?;
    // Upstream decodes into a struct of strings: a non-string value makes the file "not an
    // annotations file".
    let all = inner.string_map().ok()?;
    let package = inner.field(BUNDLE_PACKAGE).string().ok()?;
    let channels_raw = inner.field(BUNDLE_CHANNELS).string().ok()?;
    let default_channel = inner.field(BUNDLE_DEFAULT_CHANNEL).string().ok()?;
    if package.is_empty() && channels_raw.is_empty() && default_channel.is_empty() {
        return None;
    }
    let channels = channels_raw
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    Some(Annotations {
        package,
        channels,
        default_channel,
        all,
        path: path.to_path_buf(),
    })
}

/// `{<key>: [{type, value}]}` as properties with the value JSON re-encoded as Go's YAML→JSON does.
fn typed_list(doc: &Value, key: &str) -> Vec<Property> {
    let Some(Value::Array(items)) = Node::root(doc).field(key).value() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items.iter().filter(|i| i.is_object()) {
        let item = Node::root(item);
        let t = match item.field("type").value() {
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        let value = match item.field("value").value() {
            None => RawJson::empty(),
            Some(v) => {
                let mut s = String::new();
                push_canonical(&mut s, v, Canonical::MANIFEST);
                RawJson::new(s)
            }
        };
        out.push(Property::new(t, value));
    }
    out
}

/// The CSV `olm.properties` annotation: a JSON list whose values are kept byte for byte.
fn raw_property_list(text: &str) -> Result<Vec<Property>, serde_json::Error> {
    #[derive(serde::Deserialize)]
    struct Raw<'a> {
        #[serde(rename = "type", default)]
        typ: String,
        #[serde(borrow)]
        value: Option<&'a RawValue>,
    }
    let items: Vec<Raw<'_>> = serde_json::from_str(text)?;
    let src: Arc<str> = Arc::from(text);
    Ok(items
        .into_iter()
        .map(|r| {
            let value = match r.value {
                Some(v) => {
                    let start = v.get().as_ptr() as usize - text.as_ptr() as usize;
                    RawJson::slice(&src, start..start + v.get().len())
                }
                None => RawJson::empty(),
            };
            Property::new(r.typ, value)
        })
        .collect())
}

/// Upstream `propertySet`: first occurrence of each (type, raw value) wins.
fn property_set(props: Vec<Property>) -> Vec<Property> {
    let mut seen = BTreeSet::new();
    props
        .into_iter()
        .filter(|p| seen.insert((p.r#type.clone(), p.value.get().to_string())))
        .collect()
}

/// What the bundle takes from its CSV.
struct CsvFields {
    name: String,
    annotations: BTreeMap<String, String>,
    version: String,
    replaces: String,
    skips: Vec<String>,
    provided: BTreeSet<super::csv::ApiKey>,
}

fn read_csv(csv: &Csv<'_>, manifests: &[Manifest]) -> Result<CsvFields, super::CsvError> {
    let name = csv.name()?;
    let annotations = csv.annotations()?;
    csv.spec()?;
    let version = csv.version()?;
    let replaces = csv.replaces()?;
    let skips = csv.skips()?;
    let provided = csv.provided_apis(manifests)?;
    csv.check_owned_crds_present(&provided)?;
    Ok(CsvFields {
        name,
        annotations,
        version,
        replaces,
        skips,
        provided,
    })
}
