//! Properties (`{type, value}`) and the typed values of the well-known types. Unknown types keep
//! their raw JSON value untouched.

use std::fmt;

use go_encoding::{
    DecodeError, Fields, decode_array, decode_base64, decode_int, decode_string, join,
};
use serde_json::value::RawValue;

use crate::raw::RawJson;

pub const TYPE_PACKAGE: &str = "olm.package";
pub const TYPE_PACKAGE_REQUIRED: &str = "olm.package.required";
pub const TYPE_GVK: &str = "olm.gvk";
pub const TYPE_GVK_REQUIRED: &str = "olm.gvk.required";
pub const TYPE_BUNDLE_OBJECT: &str = "olm.bundle.object";
pub const TYPE_CSV_METADATA: &str = "olm.csv.metadata";
pub const TYPE_CHANNEL: &str = "olm.channel";
pub const TYPE_CONSTRAINT: &str = "olm.constraint";
pub const TYPE_BUNDLE_MEDIATYPE: &str = "olm.bundle.mediatype";
pub const TYPE_DEPRECATED: &str = "olm.deprecated";
pub const TYPE_LABEL: &str = "olm.label";
pub const TYPE_MAX_OPENSHIFT_VERSION: &str = "olm.maxOpenShiftVersion";

/// Largest accepted `olm.constraint` value (`2<<16` bytes, as operator-framework/api).
pub const MAX_CONSTRAINT_SIZE: usize = 2 << 16;

/// A `{type, value}` pair; `value` is the raw JSON (empty when absent).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Property {
    pub r#type: String,
    pub value: RawJson,
}

impl Property {
    pub fn new(r#type: impl Into<String>, value: RawJson) -> Self {
        Property {
            r#type: r#type.into(),
            value,
        }
    }

    /// Upstream `Property.Validate`: type and value set, value valid JSON.
    pub fn validate(&self) -> Result<(), PropertyError> {
        if self.r#type.is_empty() {
            return Err(PropertyError::TypeUnset);
        }
        if self.value.is_empty() {
            return Err(PropertyError::ValueUnset);
        }
        serde_json::from_str::<&RawValue>(self.value.get())
            .map(|_| ())
            .map_err(PropertyError::InvalidJson)
    }
}

/// A property upstream's `Property.Validate` rejects.
#[derive(Debug, thiserror::Error)]
pub enum PropertyError {
    #[error("type must be set")]
    TypeUnset,
    #[error("value must be set")]
    ValueUnset,
    #[error("value is not valid json: {0}")]
    InvalidJson(#[source] serde_json::Error),
}

/// `olm.package`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PackageProperty {
    pub package_name: String,
    pub version: String,
    /// v1.73 `release` (empty when absent).
    pub release: String,
}

/// `olm.gvk` / `olm.gvk.required`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gvk {
    pub group: String,
    pub kind: String,
    pub version: String,
}

/// `olm.package.required`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct PackageRequired {
    pub package_name: String,
    pub version_range: String,
}

/// `olm.bundle.object`: one manifest, base64-encoded; legacy catalogs may reference a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BundleObject {
    Data(Vec<u8>),
    Ref(String),
}

/// `olm.channel` (internal channel priority).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelPriority {
    pub channel_name: String,
    pub priority: i64,
}

/// `olm.constraint` (operator-framework/api `constraints.Constraint`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Constraint {
    pub failure_message: String,
    pub kind: ConstraintKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConstraintKind {
    Cel { rule: String },
    Package(PackageRequired),
    Gvk(Gvk),
    All(Vec<Constraint>),
    Any(Vec<Constraint>),
    Not(Vec<Constraint>),
    None(Vec<Constraint>),
}

/// A parse failure of one property, phrased as upstream: `parse property[i] of type "t": …`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PropertyParseError {
    pub index: usize,
    pub r#type: String,
    pub error: DecodeError,
}

impl fmt::Display for PropertyParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "parse property[{}] of type {:?}: {}",
            self.index, self.r#type, self.error
        )
    }
}

impl std::error::Error for PropertyParseError {}

/// Properties sorted into the kinds upstream's `property.Parse` knows; everything else in
/// `others`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParsedProperties {
    pub packages: Vec<PackageProperty>,
    pub packages_required: Vec<PackageRequired>,
    pub gvks: Vec<Gvk>,
    pub gvks_required: Vec<Gvk>,
    pub bundle_objects: Vec<BundleObject>,
    pub channels: Vec<ChannelPriority>,
    pub others: Vec<Property>,
}

fn raw_of(value: &RawJson) -> Result<&RawValue, DecodeError> {
    if value.is_empty() {
        return Err(DecodeError::new("", "unexpected end of JSON input"));
    }
    serde_json::from_str::<&RawValue>(value.get())
        .map_err(|e| DecodeError::new("", format!("invalid JSON: {e}")))
}

fn fields_of<'a>(raw: &'a RawValue) -> Result<Option<Fields<'a>>, DecodeError> {
    Fields::parse(raw.get(), "")
}

pub fn parse_package(value: &RawJson) -> Result<PackageProperty, DecodeError> {
    let raw = raw_of(value)?;
    let Some(f) = fields_of(raw)? else {
        return Ok(PackageProperty::default());
    };
    Ok(PackageProperty {
        package_name: f.string("packageName", "")?,
        version: f.string("version", "")?,
        release: f.string("release", "")?,
    })
}

pub fn parse_gvk(value: &RawJson) -> Result<Gvk, DecodeError> {
    let raw = raw_of(value)?;
    gvk_from(raw, "")
}

fn gvk_from(raw: &RawValue, path: &str) -> Result<Gvk, DecodeError> {
    let Some(f) = Fields::parse(raw.get(), path)? else {
        return Ok(Gvk::default());
    };
    Ok(Gvk {
        group: f.string("group", path)?,
        kind: f.string("kind", path)?,
        version: f.string("version", path)?,
    })
}

pub fn parse_package_required(value: &RawJson) -> Result<PackageRequired, DecodeError> {
    let raw = raw_of(value)?;
    package_required_from(raw, "")
}

fn package_required_from(raw: &RawValue, path: &str) -> Result<PackageRequired, DecodeError> {
    let Some(f) = Fields::parse(raw.get(), path)? else {
        return Ok(PackageRequired::default());
    };
    Ok(PackageRequired {
        package_name: f.string("packageName", path)?,
        version_range: f.string("versionRange", path)?,
    })
}

pub fn parse_bundle_object(value: &RawJson) -> Result<BundleObject, DecodeError> {
    let raw = raw_of(value)?;
    let Some(f) = fields_of(raw)? else {
        return Ok(BundleObject::Data(Vec::new()));
    };
    let reference = f.string("ref", "")?;
    let data = decode_base64(f.get("data"), "data")?;
    if !reference.is_empty() && !data.is_empty() {
        return Err(DecodeError::new(
            "",
            "fields 'ref' and 'data' are mutually exclusive",
        ));
    }
    if !reference.is_empty() {
        Ok(BundleObject::Ref(reference))
    } else {
        Ok(BundleObject::Data(data))
    }
}

pub fn parse_channel_priority(value: &RawJson) -> Result<ChannelPriority, DecodeError> {
    let raw = raw_of(value)?;
    let Some(f) = fields_of(raw)? else {
        return Ok(ChannelPriority::default());
    };
    Ok(ChannelPriority {
        channel_name: f.string("channelName", "")?,
        priority: decode_int(f.get("priority"), "priority")?,
    })
}

/// `olm.bundle.mediatype`: a JSON string such as `"registry+v1"` or `"plain+v0"`.
pub fn parse_bundle_mediatype(value: &RawJson) -> Result<String, DecodeError> {
    let raw = raw_of(value)?;
    decode_string(Some(raw), "")
}

/// `olm.constraint`, decoded strictly (unknown fields rejected, size capped) as
/// operator-framework/api does.
pub fn parse_constraint(value: &RawJson) -> Result<Constraint, DecodeError> {
    if value.get().len() > MAX_CONSTRAINT_SIZE {
        return Err(DecodeError::new(
            "",
            format!("v is greater than {MAX_CONSTRAINT_SIZE} bytes"),
        ));
    }
    let raw = raw_of(value)?;
    constraint_from(raw, "")
}

fn constraint_from(raw: &RawValue, path: &str) -> Result<Constraint, DecodeError> {
    let Some(f) = Fields::parse(raw.get(), path)? else {
        return Err(DecodeError::new(path, "constraint must be an object"));
    };
    const KNOWN: &[&str] = &[
        "failureMessage",
        "cel",
        "package",
        "gvk",
        "all",
        "any",
        "not",
        "none",
    ];
    for (k, _) in f.iter() {
        if !KNOWN.iter().any(|n| n.eq_ignore_ascii_case(k)) {
            return Err(DecodeError::new(path, format!("json: unknown field {k:?}")));
        }
    }
    let failure_message = f.string("failureMessage", path)?;
    let mut kinds = Vec::new();
    let present = |name: &str| f.get(name).filter(|r| r.get().trim() != "null");
    if let Some(r) = present("cel") {
        let p = join(path, "cel");
        let Some(cf) = Fields::parse(r.get(), &p)? else {
            return Err(DecodeError::new(&p, "expected an object, found null"));
        };
        for (k, _) in cf.iter() {
            if !k.eq_ignore_ascii_case("rule") {
                return Err(DecodeError::new(&p, format!("json: unknown field {k:?}")));
            }
        }
        kinds.push(ConstraintKind::Cel {
            rule: cf.string("rule", &p)?,
        });
    }
    if let Some(r) = present("package") {
        kinds.push(ConstraintKind::Package(package_required_from(
            r,
            &join(path, "package"),
        )?));
    }
    if let Some(r) = present("gvk") {
        kinds.push(ConstraintKind::Gvk(gvk_from(r, &join(path, "gvk"))?));
    }
    for (name, make) in [
        (
            "all",
            ConstraintKind::All as fn(Vec<Constraint>) -> ConstraintKind,
        ),
        ("any", ConstraintKind::Any),
        ("not", ConstraintKind::Not),
        ("none", ConstraintKind::None),
    ] {
        if let Some(r) = present(name) {
            let p = join(path, name);
            let Some(cf) = Fields::parse(r.get(), &p)? else {
                return Err(DecodeError::new(&p, "expected an object, found null"));
            };
            let mut children = Vec::new();
            if let Some(list) = cf.get("constraints").filter(|r| r.get().trim() != "null") {
                let lp = join(&p, "constraints");
                for (i, item) in decode_array(list, &lp)?.into_iter().enumerate() {
                    children.push(constraint_from(item, &format!("{lp}[{i}]"))?);
                }
            }
            kinds.push(make(children));
        }
    }
    match kinds.len() {
        1 => Ok(Constraint {
            failure_message,
            kind: kinds.remove(0),
        }),
        0 => Err(DecodeError::new(
            path,
            "constraint has no type (cel, package, gvk, all, any, not or none)",
        )),
        _ => Err(DecodeError::new(
            path,
            "constraint must have exactly one type",
        )),
    }
}

/// Upstream `property.Parse`: decodes the well-known types, checks the others are valid JSON.
pub fn parse_properties(props: &[Property]) -> Result<ParsedProperties, PropertyParseError> {
    let mut out = ParsedProperties::default();
    for (i, p) in props.iter().enumerate() {
        let wrap = |error: DecodeError| PropertyParseError {
            index: i,
            r#type: p.r#type.clone(),
            error,
        };
        match p.r#type.as_str() {
            TYPE_PACKAGE => out.packages.push(parse_package(&p.value).map_err(wrap)?),
            TYPE_PACKAGE_REQUIRED => out
                .packages_required
                .push(parse_package_required(&p.value).map_err(wrap)?),
            TYPE_GVK => out.gvks.push(parse_gvk(&p.value).map_err(wrap)?),
            TYPE_GVK_REQUIRED => out.gvks_required.push(parse_gvk(&p.value).map_err(wrap)?),
            TYPE_BUNDLE_OBJECT => out
                .bundle_objects
                .push(parse_bundle_object(&p.value).map_err(wrap)?),
            TYPE_CHANNEL => out
                .channels
                .push(parse_channel_priority(&p.value).map_err(wrap)?),
            _ => {
                raw_of(&p.value).map_err(wrap)?;
                out.others.push(p.clone());
            }
        }
    }
    Ok(out)
}

/// Builds the canonical value JSON of well-known property kinds (Go struct field order, compact).
pub mod build {
    use super::*;
    use go_encoding::push_string;

    fn obj(fields: &[(&str, &str)]) -> RawJson {
        let mut s = String::from("{");
        for (i, (k, v)) in fields.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            push_string(&mut s, k, false);
            s.push(':');
            push_string(&mut s, v, false);
        }
        s.push('}');
        RawJson::new(s)
    }

    pub fn package(name: &str, version: &str, release: &str) -> Property {
        let value = if release.is_empty() {
            obj(&[("packageName", name), ("version", version)])
        } else {
            obj(&[
                ("packageName", name),
                ("version", version),
                ("release", release),
            ])
        };
        Property::new(TYPE_PACKAGE, value)
    }

    pub fn gvk(group: &str, version: &str, kind: &str) -> Property {
        Property::new(
            TYPE_GVK,
            obj(&[("group", group), ("kind", kind), ("version", version)]),
        )
    }

    pub fn gvk_required(group: &str, version: &str, kind: &str) -> Property {
        Property::new(
            TYPE_GVK_REQUIRED,
            obj(&[("group", group), ("kind", kind), ("version", version)]),
        )
    }

    pub fn package_required(name: &str, range: &str) -> Property {
        Property::new(
            TYPE_PACKAGE_REQUIRED,
            obj(&[("packageName", name), ("versionRange", range)]),
        )
    }

    pub fn bundle_object(data: &[u8]) -> Property {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(data);
        let mut s = String::with_capacity(b64.len() + 10);
        s.push_str("{\"data\":\"");
        s.push_str(&b64);
        s.push_str("\"}");
        Property::new(TYPE_BUNDLE_OBJECT, RawJson::new(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prop(t: &str, v: &str) -> Property {
        Property::new(t, RawJson::new(v.to_string()))
    }

    #[test]
    fn parses_known_types_case_insensitively() {
        let p = parse_properties(&[
            prop(
                "olm.package",
                r#"{"PackageName":"etcd","version":"0.9.4","extra":1}"#,
            ),
            prop("olm.gvk", r#"{"group":"g","kind":"K","version":"v1"}"#),
            prop("olm.bundle.object", r#"{"data":"eyJhIjoxfQ=="}"#),
            prop("custom", r#"[1,2]"#),
        ])
        .unwrap();
        assert_eq!(p.packages[0].package_name, "etcd");
        assert_eq!(p.gvks[0].kind, "K");
        assert_eq!(
            p.bundle_objects[0],
            BundleObject::Data(b"{\"a\":1}".to_vec())
        );
        assert_eq!(p.others.len(), 1);
    }

    #[test]
    fn reports_index_and_type() {
        let e =
            parse_properties(&[prop("olm.gvk", "{}"), prop("olm.package", r#""x""#)]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "parse property[1] of type \"olm.package\": expected an object, found a string"
        );
    }

    #[test]
    fn constraints_are_strict() {
        let c = parse_constraint(&RawJson::new(
            r#"{"failureMessage":"m","all":{"constraints":[{"gvk":{"group":"g","kind":"k","version":"v"}},{"cel":{"rule":"true"}}]}}"#,
        ))
        .unwrap();
        assert!(matches!(c.kind, ConstraintKind::All(ref v) if v.len() == 2));
        assert!(parse_constraint(&RawJson::new(r#"{"bogus":1}"#)).is_err());
        assert!(parse_constraint(&RawJson::new(r#"{}"#)).is_err());
    }
}
