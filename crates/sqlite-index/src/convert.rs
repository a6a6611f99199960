//! Index → File-Based Catalog, as upstream `opm render <db>` / `opm migrate` do it
//! (operator-registry v1.73.0 `sqlite.ToModel`, `api.ConvertAPIBundleToModelBundle`,
//! `declcfg.ConvertFromModel` and `populateDBRelatedImages`).

use std::collections::{BTreeSet, HashMap};

use base64::Engine as _;
use fbc::property::{self, Property};
use fbc::{DeclarativeConfig, Icon, RawJson, RelatedImage};
use fbc::{Model, ModelBundle, ModelChannel, ModelPackage};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::IndexError;
use crate::read::{BundleRow, Index};
use go_encoding::{DecodeError, Node, Problem, go_kind};

const DEPRECATED_TYPE: &str = "olm.deprecated";
const GVK_TYPE: &str = "olm.gvk";
const PACKAGE_TYPE: &str = "olm.package";

/// A struct field of `obj` as Go's `encoding/json` matches it (ignoring ASCII case, the last
/// duplicate winning): go-encoding's reader decides.
fn field<'a>(obj: &'a Value, key: &str) -> Option<&'a Value> {
    Node::root(obj).field(key).value()
}

/// Why a stored bundle cannot be converted, with upstream's message.
#[derive(Debug, thiserror::Error)]
enum BundleError {
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    #[error("json: cannot unmarshal {found} into Go struct field .{field} of type string")]
    NotString { found: &'static str, field: String },
    #[error("json: cannot unmarshal {0} into Go value of type struct")]
    NotObject(&'static str),
    #[error(transparent)]
    Decode(DecodeError),
    #[error("Object 'Kind' is missing in unstructured object")]
    KindMissing,
    #[error("no csv in bundle")]
    NoCsv,
    #[error("unmarshal csv: {0}")]
    Csv(Box<BundleError>),
    #[error("parse property[{index}] of type {kind:?}: {inner}")]
    Property {
        index: usize,
        kind: String,
        inner: Box<BundleError>,
    },
    #[error("convert properties: {0}")]
    Properties(Box<BundleError>),
    #[error("get related iamges: {0}")]
    RelatedImages(Box<BundleError>),
    /// `reason` is blang's message.
    #[error("parse version {version:?}: {reason}")]
    Version {
        version: String,
        reason: fbc::blang::BlangError,
    },
}

impl BundleError {
    /// Wraps an error of the `index`th property or dependency, of type `r#type`.
    fn property(index: usize, kind: &str) -> impl Fn(BundleError) -> BundleError + '_ {
        move |inner| BundleError::Property {
            index,
            kind: kind.to_string(),
            inner: Box::new(inner),
        }
    }

    fn csv(inner: BundleError) -> BundleError {
        BundleError::Csv(Box::new(inner))
    }
}

/// A string struct field (`null` or absent: ""), with upstream's message for another kind.
fn string_field(obj: &Value, key: &str) -> Result<String, BundleError> {
    Node::root(obj)
        .field(key)
        .string()
        .map_err(|e| match e.problem {
            Problem::Type { found, .. } => BundleError::NotString {
                found: found.go_name(),
                field: key.to_string(),
            },
            Problem::Other(_) => BundleError::Decode(e),
        })
}

/// A JSON object as Go decodes it into a struct: `null` is the empty struct.
fn parse_object(text: &str) -> Result<Value, BundleError> {
    match serde_json::from_str::<Value>(text)? {
        v @ Value::Object(_) => Ok(v),
        Value::Null => Ok(Value::Object(Map::new())),
        other => Err(BundleError::NotObject(go_kind(&other))),
    }
}

/// `{group, kind, version}` of a GVK property or dependency value.
fn gvk_of(value: &str) -> Result<(String, String, String), BundleError> {
    let m = parse_object(value)?;
    Ok((
        string_field(&m, "group")?,
        string_field(&m, "kind")?,
        string_field(&m, "version")?,
    ))
}

/// Go's `json.Compact` of a property value (upstream `Model.Normalize`); invalid JSON is kept.
fn normalized(value: &str) -> RawJson {
    if serde_json::from_str::<&RawValue>(value).is_err() {
        return RawJson::new(value.to_string());
    }
    let mut out = String::with_capacity(value.len());
    go_encoding::push_compact(&mut out, value);
    RawJson::new(out)
}

/// The manifests of a stored bundle: each JSON value of the stream, verbatim.
fn bundle_objects(bundle: &str) -> Result<Vec<String>, BundleError> {
    let mut out = Vec::new();
    for v in serde_json::Deserializer::from_str(bundle).into_iter::<&RawValue>() {
        out.push(v?.get().to_string());
    }
    Ok(out)
}

/// The CSV JSON among a bundle's manifests (the first `ClusterServiceVersion`, which must have a
/// name), as `BundleStringToAPIBundle`.
fn find_csv(objects: &[String]) -> Result<String, BundleError> {
    for o in objects {
        let v: Value = serde_json::from_str(o)?;
        let Value::Object(m) = v else {
            return Err(BundleError::KindMissing);
        };
        if m.get("kind").and_then(Value::as_str) == Some("ClusterServiceVersion") {
            let has_name = m
                .get("metadata")
                .and_then(|md| md.get("name"))
                .and_then(Value::as_str)
                .is_some_and(|n| !n.is_empty());
            if !has_name {
                return Err(BundleError::NoCsv);
            }
            return Ok(o.clone());
        }
    }
    Err(BundleError::NoCsv)
}

fn related_images_of(csv_json: &str) -> Result<Vec<RelatedImage>, BundleError> {
    if csv_json.is_empty() {
        return Ok(Vec::new());
    }
    let csv = parse_object(csv_json).map_err(BundleError::csv)?;
    let spec = match field(&csv, "spec") {
        Some(s @ Value::Object(_)) => s,
        _ => return Ok(Vec::new()),
    };
    let mut out = Vec::new();
    if let Some(Value::Array(items)) = field(spec, "relatedImages") {
        for item in items {
            let ri @ Value::Object(_) = item else {
                continue;
            };
            out.push(RelatedImage {
                name: string_field(ri, "name").map_err(BundleError::csv)?,
                image: string_field(ri, "image").map_err(BundleError::csv)?,
            });
        }
    }
    Ok(out)
}

/// Upstream `convertAPIBundleToModelProperties` + `Normalize` + `Deduplicate` and the final
/// sort by (type, value).
fn bundle_properties(row: &BundleRow, objects: &[String]) -> Result<Vec<Property>, BundleError> {
    let mut out: Vec<Property> = Vec::new();
    let mut provided: BTreeSet<(String, String, String)> = BTreeSet::new();
    let mut required: BTreeSet<(String, String, String)> = BTreeSet::new();
    let mut found_package = false;
    for (i, p) in row.properties.iter().enumerate() {
        match p.r#type.as_str() {
            GVK_TYPE => {
                let gvk = gvk_of(&p.value).map_err(BundleError::property(i, &p.r#type))?;
                provided.insert(gvk);
            }
            t => {
                found_package |= t == PACKAGE_TYPE;
                out.push(Property::new(t, normalized(&p.value)));
            }
        }
    }
    for (i, d) in row.dependencies.iter().enumerate() {
        match d.r#type.as_str() {
            GVK_TYPE => {
                let gvk = gvk_of(&d.value).map_err(BundleError::property(i, &d.r#type))?;
                required.insert(gvk);
            }
            PACKAGE_TYPE => {
                let wrap = BundleError::property(i, &d.r#type);
                let m = parse_object(&d.value).map_err(&wrap)?;
                let name = string_field(&m, "packageName").map_err(&wrap)?;
                let range = string_field(&m, "version").map_err(&wrap)?;
                out.push(property::build::package_required(&name, &range));
            }
            // Other dependency types (olm.label, olm.constraint) are not carried over upstream.
            _ => {}
        }
    }
    if !found_package {
        out.push(property::build::package(&row.package, &row.version, ""));
    }
    for (g, k, v) in provided {
        out.push(property::build::gvk(&g, &v, &k));
    }
    for (g, k, v) in required {
        out.push(property::build::gvk_required(&g, &v, &k));
    }
    for o in objects {
        out.push(property::build::bundle_object(o.as_bytes()));
    }
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    out.retain(|p| seen.insert((p.r#type.clone(), p.value.get().to_string())));
    out.sort_by(|a, b| {
        a.r#type
            .cmp(&b.r#type)
            .then_with(|| a.value.get().cmp(b.value.get()))
    });
    Ok(out)
}

fn convert_bundle(row: &BundleRow) -> Result<ModelBundle, BundleError> {
    let (objects, csv_json) = if row.bundle.is_empty() {
        (Vec::new(), String::new())
    } else {
        let objects = bundle_objects(&row.bundle)?;
        let csv = find_csv(&objects)?;
        (objects, csv)
    };
    let properties =
        bundle_properties(row, &objects).map_err(|e| BundleError::Properties(Box::new(e)))?;
    let related_images =
        related_images_of(&csv_json).map_err(|e| BundleError::RelatedImages(Box::new(e)))?;
    let version =
        fbc::blang::parse_version(&row.version).map_err(|reason| BundleError::Version {
            version: row.version.clone(),
            reason,
        })?;
    Ok(ModelBundle {
        name: row.name.clone(),
        package: row.package.clone(),
        channel: row.channel.clone(),
        image: row.bundle_path.clone(),
        replaces: row.replaces.clone(),
        skips: row.skips.clone(),
        skip_range: row.skip_range.clone(),
        properties,
        related_images,
        version,
        release: String::new(),
        deprecation: None,
    })
}

/// The icon of the default channel head's CSV (`populatePackageIcons`).
fn package_icon(index: &Index, pkg: &str, channel: &str) -> Result<Option<Icon>, IndexError> {
    let (name, csv) = index.channel_head(pkg, channel)?.ok_or_else(|| {
        IndexError::Convert(format!(
            "populate package icons: get default channel head for package {pkg:?}: no entry found for {pkg} {channel}"
        ))
    })?;
    let csv = parse_object(&csv).map_err(|e| {
        IndexError::Convert(format!(
            "populate package icons: unmarshal CSV json for bundle {name:?}: {}",
            if csv.is_empty() {
                "unexpected end of JSON input".to_string()
            } else {
                e.to_string()
            }
        ))
    })?;
    let Some(spec @ Value::Object(_)) = field(&csv, "spec") else {
        return Ok(None);
    };
    let Some(Value::Array(icons)) = field(spec, "icon") else {
        return Ok(None);
    };
    let Some(first @ Value::Object(_)) = icons.first() else {
        return Ok(None);
    };
    let data = string_field(first, "base64data").unwrap_or_default();
    let media_type = string_field(first, "mediatype").unwrap_or_default();
    let engine = base64::engine::general_purpose::STANDARD;
    let decoded = match engine.decode(&data) {
        Ok(d) => d,
        // Some CSVs wrap their base64 with spaces; upstream retries without them.
        Err(_) => match engine.decode(data.replace(' ', "")) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!("base64 decode CSV icon for bundle {name:?}: {e}");
                return Ok(None);
            }
        },
    };
    if decoded.is_empty() {
        return Ok(None);
    }
    Ok(Some(Icon {
        data: decoded,
        media_type,
    }))
}

impl Index {
    /// The package → channel → bundle model of the index, validated (upstream `sqlite.ToModel`).
    /// Bundles carrying the legacy `olm.deprecated` property are left out.
    pub fn to_model(&self) -> Result<Model, IndexError> {
        let mut model = Model::default();
        for row in self.packages()? {
            let mut pkg = ModelPackage {
                name: row.name.clone(),
                ..Default::default()
            };
            for ch in &row.channels {
                pkg.channels.insert(
                    ch.name.clone(),
                    ModelChannel {
                        name: ch.name.clone(),
                        package: row.name.clone(),
                        ..Default::default()
                    },
                );
            }
            if pkg.channels.contains_key(&row.default_channel) {
                pkg.default_channel = row.default_channel.clone();
            }
            model.packages.insert(row.name.clone(), pkg);
        }
        for row in self.bundles()? {
            if row.properties.iter().any(|p| p.r#type == DEPRECATED_TYPE) {
                continue;
            }
            let pkg = model.packages.get_mut(&row.package).ok_or_else(|| {
                IndexError::Convert(format!(
                    "populate channels: unknown package {:?} for bundle {:?}",
                    row.package, row.name
                ))
            })?;
            let ch = pkg.channels.get_mut(&row.channel).ok_or_else(|| {
                IndexError::Convert(format!(
                    "populate channels: unknown channel {:?} for bundle {:?}",
                    row.channel, row.name
                ))
            })?;
            let b = convert_bundle(&row).map_err(|e| {
                IndexError::Convert(format!(
                    "populate channels: convert bundle {:?}: {e}",
                    row.name
                ))
            })?;
            ch.bundles.insert(row.name.clone(), b);
        }
        for pkg in model.packages.values_mut() {
            if pkg.default_channel.is_empty() {
                return Err(IndexError::Convert(format!(
                    "populate package icons: package {:?} has no default channel among its channels",
                    pkg.name
                )));
            }
            pkg.icon = package_icon(self, &pkg.name, &pkg.default_channel)?;
        }
        fbc::validate_model(&model)?;
        Ok(model)
    }

    /// The index as a File-Based Catalog (`ConvertFromModel` + the `related_image` table).
    pub fn to_declcfg(&self) -> Result<DeclarativeConfig, IndexError> {
        let model = self.to_model()?;
        let mut cfg = model.to_declcfg();
        let mut images: HashMap<String, BTreeSet<String>> = HashMap::new();
        for (image, bundle) in self.related_images()? {
            images.entry(bundle).or_default().insert(image);
        }
        for b in &mut cfg.bundles {
            let Some(extra) = images.get(&b.name) else {
                continue;
            };
            let present: BTreeSet<&str> =
                b.related_images.iter().map(|r| r.image.as_str()).collect();
            let missing: Vec<String> = extra
                .iter()
                .filter(|i| !present.contains(i.as_str()))
                .cloned()
                .collect();
            b.related_images
                .extend(missing.into_iter().map(|image| RelatedImage {
                    name: String::new(),
                    image,
                }));
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_fields_match_as_go_decodes_them() {
        // Case-insensitive, the last duplicate wins, null is "".
        let v = parse_object(r#"{"Group":"a","GROUP":"b","kind":null,"version":"v1"}"#).unwrap();
        assert_eq!(
            gvk_of(&v.to_string()).unwrap(),
            ("b".to_string(), String::new(), "v1".to_string())
        );
        assert!(matches!(parse_object("null"), Ok(Value::Object(m)) if m.is_empty()));
    }

    #[test]
    fn wrong_kinds_keep_upstreams_messages() {
        assert_eq!(
            gvk_of(r#"{"group":1}"#).unwrap_err().to_string(),
            "json: cannot unmarshal number into Go struct field .group of type string"
        );
        assert_eq!(
            gvk_of("[1]").unwrap_err().to_string(),
            "json: cannot unmarshal array into Go value of type struct"
        );
        assert_eq!(
            related_images_of(r#"{"spec":{"relatedImages":[{"image":true}]}}"#)
                .unwrap_err()
                .to_string(),
            "unmarshal csv: json: cannot unmarshal bool into Go struct field .image of type string"
        );
    }
}
