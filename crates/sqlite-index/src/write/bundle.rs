//! A registry+v1 bundle ready to be loaded into an index: what upstream's `registry.Bundle`
//! carries after `NewImageInput` parsed an unpacked bundle image.

use std::collections::BTreeSet;

use fbc::RegistryBundle;
use go_encoding::{Canonical, push_canonical};
use serde_json::Value;

use super::csv::{self, ApiKey, CsvError};
use crate::read::TypedValue;

/// A bundle's `metadata/annotations.yaml` values that the loader uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BundleAnnotations {
    /// `operators.operatorframework.io.bundle.package.v1`.
    pub package: String,
    /// `operators.operatorframework.io.bundle.channels.v1`, split on `,` exactly as upstream
    /// does (no trimming; an empty annotation gives no channels).
    pub channels: Vec<String>,
    /// `operators.operatorframework.io.bundle.channel.default.v1` ("" when absent).
    pub default_channel: String,
}

impl BundleAnnotations {
    /// Splits a raw channels annotation like upstream's `AnnotationsFile.GetChannels`.
    pub fn split_channels(raw: &str) -> Vec<String> {
        if raw.is_empty() {
            Vec::new()
        } else {
            raw.split(',').map(str::to_string).collect()
        }
    }

    /// The first channel in lexicographic order (upstream `SelectDefaultChannel`).
    pub(crate) fn select_default_channel(&self) -> String {
        let mut c = self.channels.clone();
        c.sort();
        c.into_iter().next().unwrap_or_default()
    }
}

/// A bundle that the writer can add. Build it with [`BundleToAdd::new`] or
/// [`BundleToAdd::from_registry_bundle`]; the CSV-derived fields are filled from the CSV.
#[derive(Clone, Debug, PartialEq)]
pub struct BundleToAdd {
    /// The bundle image pull spec as given by the user (stored as `operatorbundle.bundlepath`).
    pub image: String,
    /// CSV `metadata.name`.
    pub name: String,
    pub annotations: BundleAnnotations,
    /// Every manifest, in file-name order, the CSV among them.
    pub objects: Vec<Value>,
    /// Index of the CSV in `objects`.
    pub csv_index: usize,
    /// CSV `spec.version` ("" when absent).
    pub version: String,
    /// CSV `spec.replaces`.
    pub replaces: String,
    /// CSV `spec.skips`.
    pub skips: Vec<String>,
    /// CSV annotation `olm.skipRange`.
    pub skip_range: String,
    /// CSV annotation `olm.substitutesFor` (an alpha feature this writer refuses).
    pub substitutes_for: String,
    /// `metadata/properties.yaml` followed by the derived properties (`olm.package`, the CSV's
    /// `olm.properties` annotation, `olm.gvk` of provided APIs), raw JSON values.
    pub properties: Vec<TypedValue>,
    /// `metadata/dependencies.yaml` entries, raw JSON values.
    pub dependencies: Vec<TypedValue>,
}

/// A bundle that cannot be loaded, phrased as upstream reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleInputError {
    #[error("no bundle objects found")]
    NoObjects,
    #[error("no csv in bundle")]
    NoCsv,
    #[error("two csvs found in one bundle")]
    TwoCsvs,
    #[error("csv name not found")]
    NoCsvName,
    #[error("{what} : {error}")]
    Csv { what: &'static str, error: CsvError },
}

impl BundleToAdd {
    /// Builds a bundle from its manifests (the CSV among them), its annotations and the
    /// properties and dependencies upstream's bundle parser collects.
    pub fn new(
        image: impl Into<String>,
        objects: Vec<Value>,
        annotations: BundleAnnotations,
        properties: Vec<TypedValue>,
        dependencies: Vec<TypedValue>,
    ) -> Result<Self, BundleInputError> {
        if objects.is_empty() {
            return Err(BundleInputError::NoObjects);
        }
        let mut csv_index = None;
        for (i, o) in objects.iter().enumerate() {
            if o.get("kind").and_then(Value::as_str) == Some("ClusterServiceVersion") {
                if csv_index.is_some() {
                    return Err(BundleInputError::TwoCsvs);
                }
                csv_index = Some(i);
            }
        }
        let csv_index = csv_index.ok_or(BundleInputError::NoCsv)?;
        let csv = &objects[csv_index];
        let name = csv::name(csv);
        if name.is_empty() {
            return Err(BundleInputError::NoCsvName);
        }
        let err = |what: &'static str| move |error: CsvError| BundleInputError::Csv { what, error };
        let version = csv::version(csv).map_err(err("unable to obtain bundle version"))?;
        let replaces = csv::replaces(csv).map_err(err("unable to obtain replaces"))?;
        let skips = csv::skips(csv).map_err(err("unable to obtain skips"))?;
        let skip_range = csv::skip_range(csv);
        let substitutes_for = csv::substitutes_for(csv);
        Ok(BundleToAdd {
            image: image.into(),
            name,
            annotations,
            objects,
            csv_index,
            version,
            replaces,
            skips,
            skip_range,
            substitutes_for,
            properties,
            dependencies,
        })
    }

    /// A bundle directory parsed by `fbc::parse_bundle_dir`, pushed as `image`.
    pub fn from_registry_bundle(
        bundle: &RegistryBundle,
        image: impl Into<String>,
    ) -> Result<Self, BundleInputError> {
        let raw_channels = bundle
            .annotations
            .all
            .get(olm_labels::BUNDLE_CHANNELS)
            .cloned()
            .unwrap_or_else(|| bundle.annotations.channels.join(","));
        let annotations = BundleAnnotations {
            package: bundle.annotations.package.clone(),
            channels: BundleAnnotations::split_channels(&raw_channels),
            default_channel: bundle.annotations.default_channel.clone(),
        };
        let typed = |p: &fbc::Property| TypedValue {
            r#type: p.r#type.clone(),
            value: p.value.get().to_string(),
        };
        BundleToAdd::new(
            image,
            bundle.manifests.iter().map(|m| m.object.clone()).collect(),
            annotations,
            bundle.properties.iter().map(typed).collect(),
            bundle.dependencies.iter().map(typed).collect(),
        )
    }

    pub fn package(&self) -> &str {
        &self.annotations.package
    }

    pub fn channels(&self) -> &[String] {
        &self.annotations.channels
    }

    pub fn csv(&self) -> &Value {
        &self.objects[self.csv_index]
    }

    /// The CSV as stored in `operatorbundle.csv`: `json.Encoder` output of the unstructured
    /// object (sorted keys, HTML escaped, trailing newline).
    pub(crate) fn csv_json(&self) -> String {
        encode_object(self.csv())
    }

    /// Every manifest as stored in `operatorbundle.bundle`, concatenated.
    pub(crate) fn bundle_json(&self) -> String {
        self.objects.iter().map(encode_object).collect()
    }

    pub(crate) fn provided_apis(&self) -> Result<BTreeSet<ApiKey>, CsvError> {
        csv::provided_apis(&self.objects, self.csv())
    }

    pub(crate) fn required_apis(&self) -> Result<BTreeSet<ApiKey>, CsvError> {
        csv::required_apis(self.csv())
    }

    /// The bundle image, the operator images and the related images (upstream `Bundle.Images`).
    pub(crate) fn images(&self) -> Result<BTreeSet<String>, CsvError> {
        let mut out = BTreeSet::new();
        if !self.image.is_empty() {
            out.insert(self.image.clone());
        }
        out.extend(csv::operator_images(self.csv())?);
        out.extend(csv::related_images(self.csv())?);
        Ok(out)
    }
}

/// One object as `runtime.Encode(unstructured.UnstructuredJSONScheme, obj)` writes it.
fn encode_object(v: &Value) -> String {
    let mut s = String::new();
    push_canonical(&mut s, v, Canonical::MANIFEST);
    s.push('\n');
    s
}

/// `json.Marshal` of a `json.RawMessage`: compacted, with `<`, `>`, `&`, U+2028 and U+2029
/// escaped. Invalid JSON is kept as is (upstream would fail; the caller validates first).
pub(crate) fn marshal_raw(raw: &str) -> String {
    let mut compact = String::with_capacity(raw.len());
    go_encoding::push_compact(&mut compact, raw);
    // Outside strings valid JSON has none of these characters, so replacing everywhere only
    // touches string contents.
    let mut out = String::with_capacity(compact.len());
    for c in compact.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}
