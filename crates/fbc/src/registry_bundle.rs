//! registry+v1 bundle directories (`manifests/` + `metadata/`) and their rendering into an
//! `olm.bundle` blob, reproducing upstream `opm render` (pkg/registry parse.go,
//! registry_to_model.go, alpha/action/render.go).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::declcfg::{Bundle, RelatedImage, SCHEMA_BUNDLE};
use crate::decode::{self, yaml_options};
use crate::error::LoadError;
use crate::go_json::{Canonical, GoObject, push_canonical, push_string_array};
use crate::property::{self, Property, TYPE_BUNDLE_OBJECT, TYPE_CSV_METADATA, build};
use crate::raw::RawJson;

pub const ANNOTATION_PACKAGE: &str = "operators.operatorframework.io.bundle.package.v1";
pub const ANNOTATION_CHANNELS: &str = "operators.operatorframework.io.bundle.channels.v1";
pub const ANNOTATION_DEFAULT_CHANNEL: &str =
    "operators.operatorframework.io.bundle.channel.default.v1";
pub const ANNOTATION_MEDIATYPE: &str = "operators.operatorframework.io.bundle.mediatype.v1";
/// CSV annotation carrying extra properties as a JSON list.
pub const CSV_ANNOTATION_PROPERTIES: &str = "olm.properties";
/// CSV annotation with the bundle's skip range.
pub const CSV_ANNOTATION_SKIP_RANGE: &str = "olm.skipRange";

/// A bundle directory could not be parsed or rendered.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Syntax(#[from] LoadError),
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

fn invalid(path: &Path, message: impl Into<String>) -> BundleError {
    BundleError::Invalid {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

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
    /// Non-fatal problems (skipped files, unparsable CSV annotation properties).
    pub warnings: Vec<String>,
}

/// Which kind of object properties the rendered bundle carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ObjectProfile {
    /// One `olm.bundle.object` per manifest (opm ≥ v1.46 default; OpenShift ≤ 4.16 catalogs).
    #[default]
    BundleObjects,
    /// `--migrate-level bundle-object-to-csv-metadata`: a single `olm.csv.metadata` instead of the
    /// objects, for bundles with an image (OpenShift ≥ 4.17 catalogs).
    CsvMetadata,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BundleError + '_ {
    move |source| BundleError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// First YAML/JSON document of a file as JSON (what `decodeFileFS` reads); `None` when empty.
fn first_document(path: &Path, text: &str) -> Result<Option<Value>, LoadError> {
    let mut first = None;
    let r = decode::parse_documents(path, text, |doc| {
        first = Some(doc.value);
        // Stop after the first document, as upstream's decoder does.
        Err(LoadError::Document {
            path: PathBuf::new(),
            line: 0,
            message: String::new(),
        })
    });
    match (r, first) {
        (_, Some(v)) => Ok(Some(v)),
        (Ok(()), None) => Ok(None),
        (Err(e), None) => Err(e),
    }
}

fn sorted_entries(dir: &Path) -> Result<Vec<(String, PathBuf, bool)>, BundleError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let is_dir = fs::metadata(entry.path())
            .map(|m| m.is_dir())
            .unwrap_or(false);
        out.push((
            entry.file_name().to_string_lossy().into_owned(),
            entry.path(),
            is_dir,
        ));
    }
    out.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    Ok(out)
}

fn read_text(path: &Path) -> Result<String, BundleError> {
    let bytes = fs::read(path).map_err(io(path))?;
    text_of(path, bytes)
}

fn text_of(path: &Path, bytes: Vec<u8>) -> Result<String, BundleError> {
    String::from_utf8(bytes).map_err(|_| invalid(path, "file is not valid UTF-8"))
}

/// Case-insensitive member lookup with Go's preference for an exact match.
pub(crate) fn get_ci<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.get(name).or_else(|| {
        map.iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
            .next_back()
    })
}

fn obj_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Map<String, Value>> {
    let mut cur = v.as_object()?;
    for p in path {
        cur = get_ci(cur, p)?.as_object()?;
    }
    Some(cur)
}

fn str_field(map: &Map<String, Value>, name: &str, ctx: &str) -> Result<String, String> {
    match get_ci(map, name) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!(
            "{ctx}{name}: expected a string, found {}",
            kind_name(other)
        )),
    }
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn list<'a>(v: Option<&'a Value>, ctx: &str) -> Result<&'a [Value], String> {
    match v {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(other) => Err(format!(
            "{ctx}: expected an array, found {}",
            kind_name(other)
        )),
    }
}

fn string_map(v: Option<&Value>, ctx: &str) -> Result<BTreeMap<String, String>, String> {
    match v {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                Value::Null => Ok((k.clone(), String::new())),
                other => Err(format!(
                    "{ctx}[{k:?}]: expected a string, found {}",
                    kind_name(other)
                )),
            })
            .collect(),
        Some(other) => Err(format!(
            "{ctx}: expected an object, found {}",
            kind_name(other)
        )),
    }
}

/// Parses a registry+v1 bundle directory.
pub fn parse_bundle_dir(dir: &Path) -> Result<RegistryBundle, BundleError> {
    let read = |sub: &str, skip_hidden: bool| -> Result<Vec<BundleFile>, BundleError> {
        let mut files = Vec::new();
        for (name, path, is_dir) in sorted_entries(&dir.join(sub))? {
            if is_dir || (skip_hidden && name.starts_with('.')) {
                continue;
            }
            files.push(BundleFile {
                text: read_text(&path),
                path,
            });
        }
        Ok(files)
    };
    let manifests = read("manifests", true)?;
    let metadata = read("metadata", false)?;
    parse_bundle_files(dir, manifests, metadata)
}

/// Parses a registry+v1 bundle whose files are given by path relative to the bundle root
/// (`manifests/csv.yaml`), as read from an image without unpacking it: the same files
/// [`parse_bundle_dir`] reads. `root` only names the bundle in messages.
pub fn parse_bundle_tree(
    root: &Path,
    files: BTreeMap<String, Vec<u8>>,
) -> Result<RegistryBundle, BundleError> {
    let mut manifests = Vec::new();
    let mut metadata = Vec::new();
    // Name order within a directory is the map's order; nested files are not read.
    for (rel, bytes) in files {
        let (dir, name) = match rel.split_once('/') {
            Some((dir, name)) if !name.contains('/') => (dir, name),
            _ => continue,
        };
        let list = match dir {
            "manifests" if !name.starts_with('.') => &mut manifests,
            "metadata" => &mut metadata,
            _ => continue,
        };
        let path = root.join(&rel);
        list.push(BundleFile {
            text: text_of(&path, bytes),
            path,
        });
    }
    parse_bundle_files(root, manifests, metadata)
}

/// One file of a bundle, already read (its text, or why it could not be read as text).
#[derive(Debug)]
pub struct BundleFile {
    pub path: PathBuf,
    pub text: Result<String, BundleError>,
}

impl BundleFile {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        BundleFile {
            path: path.into(),
            text: Ok(text.into()),
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
    let manifests_dir = dir.join("manifests");
    let metadata_dir = dir.join("metadata");
    let mut warnings = Vec::new();

    // manifests/: every non-hidden regular file, first document, must have a kind.
    let mut manifests = Vec::new();
    let mut csv_index = None;
    for BundleFile { path, text } in manifest_files {
        let text = text?;
        let object = match first_document(&path, &text) {
            Ok(Some(v)) => v,
            Ok(None) => {
                warnings.push(format!("{}: skipped: empty manifest", path.display()));
                continue;
            }
            Err(e) => {
                // Upstream logs undecodable manifests and skips them.
                warnings.push(format!("{e}: skipped"));
                continue;
            }
        };
        let kind = match object.as_object().and_then(|m| m.get("kind")) {
            Some(Value::String(k)) if !k.is_empty() => k.clone(),
            _ => {
                warnings.push(format!(
                    "{}: skipped: not a Kubernetes object (no \"kind\")",
                    path.display()
                ));
                continue;
            }
        };
        if kind == "ClusterServiceVersion" {
            if csv_index.is_some() {
                warnings.push(format!(
                    "{}: skipped: only the first ClusterServiceVersion of a bundle is used",
                    path.display()
                ));
                continue;
            }
            csv_index = Some(manifests.len());
        }
        manifests.push(Manifest { path, kind, object });
    }
    if manifests.is_empty() {
        return Err(invalid(&manifests_dir, "no bundle objects found"));
    }
    let Some(csv_index) = csv_index else {
        return Err(invalid(&manifests_dir, "no csv in bundle"));
    };
    let csv = &manifests[csv_index];
    let csv_path = csv.path.clone();
    let csv_obj = csv.object.as_object().cloned().unwrap_or_default();
    let bad = |m: String| invalid(&csv_path, m);
    let metadata = obj_at(&csv.object, &["metadata"])
        .cloned()
        .unwrap_or_default();
    let name = str_field(&metadata, "name", "metadata.").map_err(bad)?;
    let csv_annotations =
        string_map(get_ci(&metadata, "annotations"), "metadata.annotations").map_err(bad)?;
    let spec = match get_ci(&csv_obj, "spec") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(other) => {
            return Err(bad(format!(
                "spec: expected an object, found {}",
                kind_name(other)
            )));
        }
    };
    let version = match spec.get("version") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(bad(format!(
                "spec.version: expected a string, found {}",
                kind_name(other)
            )));
        }
    };
    let replaces = str_field(&spec, "replaces", "spec.").map_err(bad)?;
    let skips = list(get_ci(&spec, "skips"), "spec.skips")
        .map_err(bad)?
        .iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::String(s) => Ok(s.clone()),
            other => Err(bad(format!(
                "spec.skips[{i}]: expected a string, found {}",
                kind_name(other)
            ))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let skip_range = csv_annotations
        .get(CSV_ANNOTATION_SKIP_RANGE)
        .cloned()
        .unwrap_or_default();

    let provided = provided_apis(&manifests, &spec).map_err(bad)?;
    check_owned_crds_present(&spec, &provided).map_err(bad)?;

    // metadata/: annotations, dependencies, properties (first file of each kind wins upstream;
    // we refuse annotation files that disagree).
    let mut annotations: Option<Annotations> = None;
    let mut dependencies: Option<Vec<Property>> = None;
    let mut file_properties: Option<Vec<Property>> = None;
    for BundleFile { path, text } in metadata_files {
        let Ok(text) = text else {
            continue;
        };
        let Ok(Some(doc)) = first_document(&path, &text) else {
            continue;
        };
        if let Some(a) = annotations_of(&doc, &path) {
            // Repeated keys in an annotations file are a conflict, not "last one wins".
            if let Err(e) = serde_saphyr::from_str_with_options::<serde_json::Value>(
                split_first_chunk(&text),
                yaml_options(true),
            ) && e.to_string().contains("duplicate")
            {
                let (line, column, message) = match decode::yaml_error(&path, 1, &e) {
                    LoadError::Syntax {
                        line,
                        column,
                        message,
                        ..
                    } => (line, column, message),
                    other => (1, 0, other.to_string()),
                };
                return Err(invalid(
                    &path,
                    format!("conflicting annotations at line {line}, column {column}: {message}"),
                ));
            }
            match &annotations {
                None => annotations = Some(a),
                Some(first) => {
                    for (key, x, y) in [
                        (ANNOTATION_PACKAGE, &first.package, &a.package),
                        (
                            ANNOTATION_DEFAULT_CHANNEL,
                            &first.default_channel,
                            &a.default_channel,
                        ),
                    ] {
                        if x != y {
                            return Err(invalid(
                                &path,
                                format!(
                                    "conflicting annotations: {key} is {y:?} here but {x:?} in {}",
                                    first.path.display()
                                ),
                            ));
                        }
                    }
                    if first.channels != a.channels {
                        return Err(invalid(
                            &path,
                            format!(
                                "conflicting annotations: {ANNOTATION_CHANNELS} is {:?} here but {:?} in {}",
                                a.channels.join(","),
                                first.channels.join(","),
                                first.path.display()
                            ),
                        ));
                    }
                }
            }
        }
        if dependencies.is_none() {
            let deps = typed_list(&doc, "dependencies");
            if !deps.is_empty() {
                dependencies = Some(deps);
            }
        }
        if file_properties.is_none() {
            let props = typed_list(&doc, "properties");
            if !props.is_empty() {
                file_properties = Some(props);
            }
        }
    }
    let Some(annotations) = annotations else {
        return Err(invalid(&metadata_dir, "Could not find annotations file"));
    };

    // Derived properties: olm.package from the annotations, CSV olm.properties, provided GVKs.
    let mut derived = Vec::new();
    if !annotations.package.is_empty() {
        derived.push(build::package(&annotations.package, &version, ""));
    }
    if let Some(text) = csv_annotations.get(CSV_ANNOTATION_PROPERTIES) {
        match raw_property_list(text) {
            Ok(props) => derived.extend(props),
            Err(e) => warnings.push(format!(
                "{}: ignoring annotation {CSV_ANNOTATION_PROPERTIES}: {e}",
                csv_path.display()
            )),
        }
    }
    for api in &provided {
        derived.push(build::gvk(&api.group, &api.version, &api.kind));
    }
    let mut properties = file_properties.unwrap_or_default();
    properties.extend(property_set(derived));
    let properties = property_set(properties);

    Ok(RegistryBundle {
        dir: dir.to_path_buf(),
        name,
        package: annotations.package.clone(),
        annotations,
        csv_index,
        manifests,
        version,
        replaces,
        skips,
        skip_range,
        properties,
        dependencies: dependencies.unwrap_or_default(),
        warnings,
    })
}

fn split_first_chunk(text: &str) -> &str {
    decode::split_yaml(text)
        .into_iter()
        .find(|(_, c)| !decode::is_blank_document(c))
        .map(|(_, c)| c)
        .unwrap_or("")
}

fn annotations_of(doc: &Value, path: &Path) -> Option<Annotations> {
    let map = doc.as_object()?;
    let inner = get_ci(map, "annotations")?.as_object()?;
    // Upstream decodes into a struct of strings: a non-string value makes the file "not an
    // annotations file".
    let all = string_map(Some(&Value::Object(inner.clone())), "annotations").ok()?;
    let package = str_field(inner, ANNOTATION_PACKAGE, "").ok()?;
    let channels_raw = str_field(inner, ANNOTATION_CHANNELS, "").ok()?;
    let default_channel = str_field(inner, ANNOTATION_DEFAULT_CHANNEL, "").ok()?;
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
    let Some(map) = doc.as_object() else {
        return Vec::new();
    };
    let Some(Value::Array(items)) = get_ci(map, key) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        let Some(m) = item.as_object() else { continue };
        let t = match get_ci(m, "type") {
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        let value = match get_ci(m, "value") {
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
fn raw_property_list(text: &str) -> Result<Vec<Property>, String> {
    #[derive(serde::Deserialize)]
    struct Raw<'a> {
        #[serde(rename = "type", default)]
        typ: String,
        #[serde(borrow)]
        value: Option<&'a RawValue>,
    }
    let items: Vec<Raw<'_>> = serde_json::from_str(text).map_err(|e| e.to_string())?;
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

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ApiKey {
    group: String,
    version: String,
    kind: String,
    plural: String,
}

/// Every version of every CRD manifest, plus the CSV's owned API services.
fn provided_apis(
    manifests: &[Manifest],
    spec: &Map<String, Value>,
) -> Result<BTreeSet<ApiKey>, String> {
    let mut out = BTreeSet::new();
    for m in manifests
        .iter()
        .filter(|m| m.kind == "CustomResourceDefinition")
    {
        let ctx = format!("{}: ", m.path.display());
        let Some(crd_spec) = obj_at(&m.object, &["spec"]) else {
            continue;
        };
        let group = str_field(crd_spec, "group", &ctx)?;
        let names = get_ci(crd_spec, "names").and_then(Value::as_object);
        let (kind, plural) = match names {
            Some(n) => (str_field(n, "kind", &ctx)?, str_field(n, "plural", &ctx)?),
            None => (String::new(), String::new()),
        };
        let versions = list(get_ci(crd_spec, "versions"), &format!("{ctx}spec.versions"))?;
        if versions.is_empty() {
            let v = str_field(crd_spec, "version", &ctx)?;
            out.insert(ApiKey {
                group: group.clone(),
                version: v,
                kind: kind.clone(),
                plural: plural.clone(),
            });
        }
        for v in versions {
            let name = v
                .as_object()
                .map(|o| str_field(o, "name", &ctx))
                .transpose()?
                .unwrap_or_default();
            out.insert(ApiKey {
                group: group.clone(),
                version: name,
                kind: kind.clone(),
                plural: plural.clone(),
            });
        }
    }
    for api in api_service_list(spec, "owned")? {
        out.insert(api);
    }
    Ok(out)
}

fn api_service_list(spec: &Map<String, Value>, which: &str) -> Result<Vec<ApiKey>, String> {
    let Some(defs) = get_ci(spec, "apiservicedefinitions").and_then(Value::as_object) else {
        return Ok(Vec::new());
    };
    let ctx = format!("spec.apiservicedefinitions.{which}");
    let mut out = Vec::new();
    for (i, d) in list(get_ci(defs, which), &ctx)?.iter().enumerate() {
        let Some(o) = d.as_object() else { continue };
        let c = format!("{ctx}[{i}].");
        out.push(ApiKey {
            group: str_field(o, "group", &c)?,
            version: str_field(o, "version", &c)?,
            kind: str_field(o, "kind", &c)?,
            plural: str_field(o, "name", &c)?,
        });
    }
    Ok(out)
}

fn crd_description_keys(spec: &Map<String, Value>, which: &str) -> Result<Vec<ApiKey>, String> {
    let Some(defs) = get_ci(spec, "customresourcedefinitions").and_then(Value::as_object) else {
        return Ok(Vec::new());
    };
    let ctx = format!("spec.customresourcedefinitions.{which}");
    let mut out = Vec::new();
    for (i, d) in list(get_ci(defs, which), &ctx)?.iter().enumerate() {
        let Some(o) = d.as_object() else { continue };
        let c = format!("{ctx}[{i}].");
        let name = str_field(o, "name", &c)?;
        let Some((plural, group)) = name.split_once('.') else {
            return Err(format!(
                "{c}name: couldn't parse plural.group from crd name: {name}"
            ));
        };
        out.push(ApiKey {
            group: group.to_string(),
            version: str_field(o, "version", &c)?,
            kind: str_field(o, "kind", &c)?,
            plural: plural.to_string(),
        });
    }
    Ok(out)
}

fn check_owned_crds_present(
    spec: &Map<String, Value>,
    provided: &BTreeSet<ApiKey>,
) -> Result<(), String> {
    for key in crd_description_keys(spec, "owned")? {
        if !provided.contains(&key) {
            return Err(format!(
                "owned CRD {}.{} version {:?} kind {:?} is not among the bundle's CustomResourceDefinition manifests",
                key.plural, key.group, key.version, key.kind
            ));
        }
    }
    Ok(())
}

fn required_apis(spec: &Map<String, Value>) -> Result<BTreeSet<ApiKey>, String> {
    let mut out: BTreeSet<ApiKey> = crd_description_keys(spec, "required")?
        .into_iter()
        .collect();
    out.extend(api_service_list(spec, "required")?);
    Ok(out)
}

impl RegistryBundle {
    /// The CSV manifest.
    pub fn csv(&self) -> &Manifest {
        &self.manifests[self.csv_index]
    }

    fn spec(&self) -> Map<String, Value> {
        self.csv()
            .object
            .as_object()
            .and_then(|o| get_ci(o, "spec"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }

    /// Each manifest as the compact JSON `json.Marshal` gives for an unstructured object.
    pub fn manifest_json(&self) -> Vec<String> {
        self.manifests
            .iter()
            .map(|m| {
                let mut s = String::new();
                push_canonical(&mut s, &m.object, Canonical::MANIFEST);
                s
            })
            .collect()
    }

    /// `relatedImages`: the CSV's `spec.relatedImages`, the bundle image, then every container
    /// and init container image of the deployment install strategy, de-duplicated by image and
    /// sorted by image.
    pub fn related_images(&self, image: &str) -> Result<Vec<RelatedImage>, BundleError> {
        let bad = |m: String| invalid(&self.csv().path, m);
        let spec = self.spec();
        let mut out = Vec::new();
        for (i, ri) in list(get_ci(&spec, "relatedImages"), "spec.relatedImages")
            .map_err(bad)?
            .iter()
            .enumerate()
        {
            let ctx = format!("spec.relatedImages[{i}].");
            match ri {
                Value::Object(o) => out.push(RelatedImage {
                    name: str_field(o, "name", &ctx).map_err(bad)?,
                    image: str_field(o, "image", &ctx).map_err(bad)?,
                }),
                Value::Null => out.push(RelatedImage::default()),
                other => {
                    return Err(bad(format!(
                        "spec.relatedImages[{i}]: expected an object, found {}",
                        kind_name(other)
                    )));
                }
            }
        }
        let mut all: BTreeSet<String> = out.iter().map(|r| r.image.clone()).collect();
        if !image.is_empty() && !all.contains(image) {
            out.push(RelatedImage {
                name: String::new(),
                image: image.to_string(),
            });
        }
        for img in self.operator_images().map_err(bad)? {
            if all.insert(img.clone()) {
                out.push(RelatedImage {
                    name: String::new(),
                    image: img,
                });
            }
        }
        out.sort_by(|a, b| a.image.cmp(&b.image));
        Ok(out)
    }

    /// Container images of the CSV's `deployment` install strategy.
    pub fn operator_images(&self) -> Result<BTreeSet<String>, String> {
        let spec = self.spec();
        let mut out = BTreeSet::new();
        let Some(install) = get_ci(&spec, "install").and_then(Value::as_object) else {
            return Ok(out);
        };
        if str_field(install, "strategy", "spec.install.")? != "deployment" {
            return Ok(out);
        }
        let Some(s) = get_ci(install, "spec").and_then(Value::as_object) else {
            return Ok(out);
        };
        for (i, d) in list(get_ci(s, "deployments"), "spec.install.spec.deployments")?
            .iter()
            .enumerate()
        {
            let Some(pod) = obj_at(d, &["spec", "template", "spec"]) else {
                continue;
            };
            for field in ["containers", "initContainers"] {
                let ctx = format!("spec.install.spec.deployments[{i}].spec.template.spec.{field}");
                for (j, c) in list(get_ci(pod, field), &ctx)?.iter().enumerate() {
                    if let Some(o) = c.as_object() {
                        out.insert(str_field(o, "image", &format!("{ctx}[{j}]."))?);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Renders the `olm.bundle` blob as `opm render` does for this directory with `image` as the
    /// bundle image reference (tags are not resolved).
    pub fn render(&self, image: &str, profile: ObjectProfile) -> Result<Bundle, BundleError> {
        let bad = |m: String| invalid(&self.csv().path, m);
        let spec = self.spec();
        let mut provided: BTreeSet<property::Gvk> = BTreeSet::new();
        let mut required: BTreeSet<property::Gvk> = BTreeSet::new();
        let mut package_prop: Option<Property> = None;
        let mut others = Vec::new();
        for (i, p) in self.properties.iter().enumerate() {
            let err = |e: crate::DecodeError| {
                bad(format!("parse property[{i}] of type {:?}: {e}", p.r#type))
            };
            match p.r#type.as_str() {
                property::TYPE_GVK => {
                    provided.insert(property::parse_gvk(&p.value).map_err(err)?);
                }
                property::TYPE_PACKAGE => {
                    let v = property::parse_package(&p.value).map_err(err)?;
                    package_prop = Some(build::package(&v.package_name, &v.version, &v.release));
                }
                _ => others.push(p.clone()),
            }
        }
        let mut package_required = Vec::new();
        for (i, p) in self.dependencies.iter().enumerate() {
            let err = |e: crate::DecodeError| {
                bad(format!("parse dependency[{i}] of type {:?}: {e}", p.r#type))
            };
            match p.r#type.as_str() {
                property::TYPE_GVK => {
                    required.insert(property::parse_gvk(&p.value).map_err(err)?);
                }
                property::TYPE_PACKAGE => {
                    let v = property::parse_package(&p.value).map_err(err)?;
                    package_required.push(build::package_required(&v.package_name, &v.version));
                }
                _ => others.push(p.clone()),
            }
        }
        for api in required_apis(&spec).map_err(bad)? {
            required.insert(property::Gvk {
                group: api.group,
                kind: api.kind,
                version: api.version,
            });
        }
        // Provided APIs are already among the derived olm.gvk properties.

        let mut props: Vec<Property> = Vec::new();
        let manifests = self.manifest_json();
        let use_csv_metadata = profile == ObjectProfile::CsvMetadata && !image.is_empty();
        if use_csv_metadata {
            props.push(Property::new(
                TYPE_CSV_METADATA,
                RawJson::new(csv_metadata_json(&self.csv().object).map_err(bad)?),
            ));
        } else {
            for m in &manifests {
                props.push(build::bundle_object(m.as_bytes()));
            }
        }
        props
            .push(package_prop.unwrap_or_else(|| build::package(&self.package, &self.version, "")));
        for g in &provided {
            props.push(build::gvk(&g.group, &g.version, &g.kind));
        }
        for g in &required {
            props.push(build::gvk_required(&g.group, &g.version, &g.kind));
        }
        props.extend(package_required);
        props.extend(others);
        props.sort_by(|a, b| {
            a.r#type
                .cmp(&b.r#type)
                .then_with(|| a.value.get().cmp(b.value.get()))
        });
        // Objects last (stable).
        let (objs, mut rest): (Vec<Property>, Vec<Property>) = props
            .into_iter()
            .partition(|p| p.r#type == TYPE_BUNDLE_OBJECT || p.r#type == TYPE_CSV_METADATA);
        rest.extend(objs);

        Ok(Bundle {
            schema: SCHEMA_BUNDLE.to_string(),
            name: self.name.clone(),
            package: self.package.clone(),
            image: image.to_string(),
            properties: rest,
            related_images: self.related_images(image)?,
            origin: None,
        })
    }
}

/// Parses `dir` and renders it (see [`RegistryBundle::render`]).
pub fn render_bundle_dir(
    dir: &Path,
    image: &str,
    profile: ObjectProfile,
) -> Result<Bundle, BundleError> {
    parse_bundle_dir(dir)?.render(image, profile)
}

// ---- olm.csv.metadata: the CSV subset, in the Go struct order of operator-framework/api ----

/// Writes one object of a list: (output, the object, its JSON path prefix).
type ObjectWriter = dyn Fn(&mut String, &Map<String, Value>, &str) -> Result<(), String>;

fn s(map: &Map<String, Value>, name: &str, ctx: &str) -> Result<String, String> {
    str_field(map, name, ctx)
}

fn strings(v: Option<&Value>, ctx: &str) -> Result<Vec<String>, String> {
    list(v, ctx)?
        .iter()
        .enumerate()
        .map(|(i, x)| match x {
            Value::String(s) => Ok(s.clone()),
            Value::Null => Ok(String::new()),
            other => Err(format!(
                "{ctx}[{i}]: expected a string, found {}",
                kind_name(other)
            )),
        })
        .collect()
}

fn push_objects(
    o: &mut GoObject<'_>,
    key: &str,
    items: Option<&Value>,
    ctx: &str,
    each: &ObjectWriter,
) -> Result<(), String> {
    let items = list(items, ctx)?;
    if items.is_empty() {
        return Ok(());
    }
    let out = o.key(key);
    out.push('[');
    for (i, it) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let empty = Map::new();
        let m = match it {
            Value::Object(m) => m,
            Value::Null => &empty,
            other => {
                return Err(format!(
                    "{ctx}[{i}]: expected an object, found {}",
                    kind_name(other)
                ));
            }
        };
        each(out, m, &format!("{ctx}[{i}]."))?;
    }
    out.push(']');
    Ok(())
}

fn push_descriptor(out: &mut String, m: &Map<String, Value>, ctx: &str) -> Result<(), String> {
    let mut o = GoObject::new(out);
    o.str("path", &s(m, "path", ctx)?);
    o.str_omitempty("displayName", &s(m, "displayName", ctx)?);
    o.str_omitempty("description", &s(m, "description", ctx)?);
    let xd = strings(get_ci(m, "x-descriptors"), &format!("{ctx}x-descriptors"))?;
    if !xd.is_empty() {
        push_string_array(o.key("x-descriptors"), &xd);
    }
    if let Some(v) = get_ci(m, "value").filter(|v| !v.is_null()) {
        push_canonical(o.key("value"), v, Canonical::BLOB);
    }
    o.end();
    Ok(())
}

fn push_resources(o: &mut GoObject<'_>, m: &Map<String, Value>, ctx: &str) -> Result<(), String> {
    push_objects(
        o,
        "resources",
        get_ci(m, "resources"),
        &format!("{ctx}resources"),
        &|out, r, c| {
            let mut ro = GoObject::new(out);
            ro.str("name", &s(r, "name", c)?);
            ro.str("kind", &s(r, "kind", c)?);
            ro.str("version", &s(r, "version", c)?);
            ro.end();
            Ok(())
        },
    )
}

fn push_descriptor_lists(
    o: &mut GoObject<'_>,
    m: &Map<String, Value>,
    ctx: &str,
) -> Result<(), String> {
    for (key, field) in [
        ("statusDescriptors", "statusDescriptors"),
        ("specDescriptors", "specDescriptors"),
        ("actionDescriptors", "actionDescriptors"),
    ] {
        push_objects(
            o,
            key,
            get_ci(m, field),
            &format!("{ctx}{field}"),
            &push_descriptor,
        )?;
    }
    Ok(())
}

fn push_crd_description(out: &mut String, m: &Map<String, Value>, ctx: &str) -> Result<(), String> {
    let mut o = GoObject::new(out);
    o.str("name", &s(m, "name", ctx)?);
    o.str("version", &s(m, "version", ctx)?);
    o.str("kind", &s(m, "kind", ctx)?);
    o.str_omitempty("displayName", &s(m, "displayName", ctx)?);
    o.str_omitempty("description", &s(m, "description", ctx)?);
    push_resources(&mut o, m, ctx)?;
    push_descriptor_lists(&mut o, m, ctx)?;
    o.end();
    Ok(())
}

fn push_api_service_description(
    out: &mut String,
    m: &Map<String, Value>,
    ctx: &str,
) -> Result<(), String> {
    let mut o = GoObject::new(out);
    o.str("name", &s(m, "name", ctx)?);
    o.str("group", &s(m, "group", ctx)?);
    o.str("version", &s(m, "version", ctx)?);
    o.str("kind", &s(m, "kind", ctx)?);
    o.str_omitempty("deploymentName", &s(m, "deploymentName", ctx)?);
    match get_ci(m, "containerPort") {
        None | Some(Value::Null) => {}
        Some(Value::Number(n)) => {
            let port = n
                .as_i64()
                .filter(|p| i32::try_from(*p).is_ok())
                .ok_or_else(|| {
                    format!("{ctx}containerPort: expected a 32-bit integer, found {n}")
                })?;
            if port != 0 {
                o.key("containerPort").push_str(&port.to_string());
            }
        }
        Some(other) => {
            return Err(format!(
                "{ctx}containerPort: expected a number, found {}",
                kind_name(other)
            ));
        }
    }
    o.str_omitempty("displayName", &s(m, "displayName", ctx)?);
    o.str_omitempty("description", &s(m, "description", ctx)?);
    push_resources(&mut o, m, ctx)?;
    push_descriptor_lists(&mut o, m, ctx)?;
    o.end();
    Ok(())
}

fn push_definitions(
    o: &mut GoObject<'_>,
    key: &str,
    defs: Option<&Value>,
    ctx: &str,
    each: &ObjectWriter,
) -> Result<(), String> {
    let empty = Map::new();
    let m = match defs {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(m)) => m,
        Some(other) => {
            return Err(format!(
                "{ctx}: expected an object, found {}",
                kind_name(other)
            ));
        }
    };
    let out = o.key(key);
    let mut d = GoObject::new(out);
    push_objects(
        &mut d,
        "owned",
        get_ci(m, "owned"),
        &format!("{ctx}.owned"),
        each,
    )?;
    push_objects(
        &mut d,
        "required",
        get_ci(m, "required"),
        &format!("{ctx}.required"),
        each,
    )?;
    d.end();
    Ok(())
}

fn push_string_map(o: &mut GoObject<'_>, key: &str, map: &BTreeMap<String, String>) {
    if map.is_empty() {
        return;
    }
    let out = o.key(key);
    let mut m = GoObject::new(out);
    for (k, v) in map {
        m.str(k, v);
    }
    m.end();
}

/// The `olm.csv.metadata` value for a CSV object (operator-registry `MustBuildCSVMetadata`).
pub fn csv_metadata_json(csv: &Value) -> Result<String, String> {
    let empty = Map::new();
    let root = csv.as_object().unwrap_or(&empty);
    let metadata = obj_at(csv, &["metadata"]).unwrap_or(&empty);
    let spec = match get_ci(root, "spec") {
        Some(Value::Object(m)) => m,
        _ => &empty,
    };
    let annotations = string_map(get_ci(metadata, "annotations"), "metadata.annotations")?;
    let labels = string_map(get_ci(metadata, "labels"), "metadata.labels")?;
    let mut out = String::new();
    let mut o = GoObject::new(&mut out);
    push_string_map(&mut o, "annotations", &annotations);
    push_definitions(
        &mut o,
        "apiServiceDefinitions",
        get_ci(spec, "apiservicedefinitions"),
        "spec.apiservicedefinitions",
        &push_api_service_description,
    )?;
    push_definitions(
        &mut o,
        "crdDescriptions",
        get_ci(spec, "customresourcedefinitions"),
        "spec.customresourcedefinitions",
        &push_crd_description,
    )?;
    o.str_omitempty("description", &s(spec, "description", "spec.")?);
    o.str_omitempty("displayName", &s(spec, "displayName", "spec.")?);
    push_objects(
        &mut o,
        "installModes",
        get_ci(spec, "installModes"),
        "spec.installModes",
        &|out, m, c| {
            let mut im = GoObject::new(out);
            im.str("type", &s(m, "type", c)?);
            let supported = match get_ci(m, "supported") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(other) => {
                    return Err(format!(
                        "{c}supported: expected a boolean, found {}",
                        kind_name(other)
                    ));
                }
            };
            im.key("supported")
                .push_str(if supported { "true" } else { "false" });
            im.end();
            Ok(())
        },
    )?;
    let keywords = strings(get_ci(spec, "keywords"), "spec.keywords")?;
    if !keywords.is_empty() {
        push_string_array(o.key("keywords"), &keywords);
    }
    push_string_map(&mut o, "labels", &labels);
    let app_link = |out: &mut String, m: &Map<String, Value>, c: &str| -> Result<(), String> {
        let mut l = GoObject::new(out);
        l.str_omitempty("name", &s(m, "name", c)?);
        l.str_omitempty("url", &s(m, "url", c)?);
        l.end();
        Ok(())
    };
    push_objects(
        &mut o,
        "links",
        get_ci(spec, "links"),
        "spec.links",
        &app_link,
    )?;
    push_objects(
        &mut o,
        "maintainers",
        get_ci(spec, "maintainers"),
        "spec.maintainers",
        &|out, m, c| {
            let mut l = GoObject::new(out);
            l.str_omitempty("name", &s(m, "name", c)?);
            l.str_omitempty("email", &s(m, "email", c)?);
            l.end();
            Ok(())
        },
    )?;
    o.str_omitempty("maturity", &s(spec, "maturity", "spec.")?);
    o.str_omitempty("minKubeVersion", &s(spec, "minKubeVersion", "spec.")?);
    push_objects(
        &mut o,
        "nativeAPIs",
        get_ci(spec, "nativeAPIs"),
        "spec.nativeAPIs",
        &|out, m, c| {
            let mut g = GoObject::new(out);
            g.str("group", &s(m, "group", c)?);
            g.str("version", &s(m, "version", c)?);
            g.str("kind", &s(m, "kind", c)?);
            g.end();
            Ok(())
        },
    )?;
    let provider = match get_ci(spec, "provider") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(m)) => m,
        Some(other) => {
            return Err(format!(
                "spec.provider: expected an object, found {}",
                kind_name(other)
            ));
        }
    };
    app_link(o.key("provider"), provider, "spec.provider.")?;
    o.end();
    Ok(out)
}
