//! What callers hand the resolver: bundles with their channel entries and typed properties.
//!
//! The input types are deliberately small so that an adapter from parsed FBC (or from a
//! registry+v1 bundle directory) is a few lines: a bundle is its catalog, package, name, image,
//! channel memberships (with their upgrade edges) and typed properties.

use std::fmt;

use serde_json::{Value, json};

/// A GroupVersionKind.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gvk {
    /// API group.
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
}

impl Gvk {
    /// A GVK from its parts.
    pub fn new(
        group: impl Into<String>,
        version: impl Into<String>,
        kind: impl Into<String>,
    ) -> Self {
        Gvk {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
        }
    }
}

impl fmt::Display for Gvk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}/{})", self.kind, self.group, self.version)
    }
}

/// A bundle property, typed for the ones resolution uses.
#[derive(Debug, Clone, PartialEq)]
pub enum Property {
    /// `olm.package`: the bundle's package and version (and optional release).
    Package {
        /// `packageName`.
        package_name: String,
        /// `version` (strict SemVer).
        version: String,
        /// `release`, a newer optional tie-breaker.
        release: Option<String>,
    },
    /// `olm.gvk`: an API the bundle provides.
    Gvk(Gvk),
    /// `olm.package.required`: a package in a blang range.
    PackageRequired {
        /// `packageName`.
        package_name: String,
        /// `versionRange` (blang v4).
        version_range: String,
    },
    /// `olm.gvk.required`: an API some installed bundle must provide.
    GvkRequired(Gvk),
    /// `olm.constraint`: the raw JSON value (parsed and validated by the resolver).
    Constraint(Value),
    /// `olm.maxOpenShiftVersion`, e.g. `4.15`.
    MaxOpenShiftVersion(String),
    /// Legacy `olm.deprecated`.
    Deprecated,
    /// Any other property, kept for CEL rules.
    Other {
        /// The property type.
        type_name: String,
        /// The property value.
        value: Value,
    },
    /// A property of a known type whose value could not be decoded. The bundle is not
    /// installable; the message says why.
    Invalid {
        /// The property type.
        type_name: String,
        /// The decoding error.
        error: String,
    },
}

impl Property {
    /// Types a raw FBC property (`{"type": …, "value": …}`).
    pub fn from_json(type_name: &str, value: &Value) -> Property {
        let invalid = |error: PropertyError| Property::Invalid {
            type_name: type_name.to_string(),
            error: error.to_string(),
        };
        let field = |name: &'static str| match value.get(name) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(PropertyError::NotAString {
                field: name,
                found: other.clone(),
            }),
            None => Err(PropertyError::Missing { field: name }),
        };
        let gvk = || -> Result<Gvk, PropertyError> {
            Ok(Gvk::new(field("group")?, field("version")?, field("kind")?))
        };
        match type_name {
            "olm.package" => match (field("packageName"), field("version")) {
                (Ok(package_name), Ok(version)) => Property::Package {
                    package_name,
                    version,
                    release: value
                        .get("release")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                },
                (Err(e), _) | (_, Err(e)) => invalid(e),
            },
            "olm.gvk" => gvk().map(Property::Gvk).unwrap_or_else(invalid),
            "olm.gvk.required" => gvk().map(Property::GvkRequired).unwrap_or_else(invalid),
            "olm.package.required" => match (field("packageName"), field("versionRange")) {
                (Ok(package_name), Ok(version_range)) => Property::PackageRequired {
                    package_name,
                    version_range,
                },
                (Err(e), _) | (_, Err(e)) => invalid(e),
            },
            "olm.constraint" => Property::Constraint(value.clone()),
            "olm.maxOpenShiftVersion" => match value {
                Value::String(s) => Property::MaxOpenShiftVersion(s.clone()),
                Value::Number(n) => Property::MaxOpenShiftVersion(n.to_string()),
                other => invalid(PropertyError::NotAVersion(other.clone())),
            },
            "olm.deprecated" => Property::Deprecated,
            _ => Property::Other {
                type_name: type_name.to_string(),
                value: value.clone(),
            },
        }
    }

    /// The property as CEL rules see it: `{"type": …, "value": …}`.
    pub fn to_json(&self) -> Value {
        let (t, v) = match self {
            Property::Package {
                package_name,
                version,
                release,
            } => {
                let mut v = json!({"packageName": package_name, "version": version});
                if let Some(r) = release {
                    v["release"] = json!(r);
                }
                ("olm.package", v)
            }
            Property::Gvk(g) => (
                "olm.gvk",
                json!({"group": g.group, "version": g.version, "kind": g.kind}),
            ),
            Property::PackageRequired {
                package_name,
                version_range,
            } => (
                "olm.package.required",
                json!({"packageName": package_name, "versionRange": version_range}),
            ),
            Property::GvkRequired(g) => (
                "olm.gvk.required",
                json!({"group": g.group, "version": g.version, "kind": g.kind}),
            ),
            Property::Constraint(v) => ("olm.constraint", v.clone()),
            Property::MaxOpenShiftVersion(s) => ("olm.maxOpenShiftVersion", json!(s)),
            Property::Deprecated => ("olm.deprecated", json!({})),
            Property::Other { type_name, value } => (type_name.as_str(), value.clone()),
            Property::Invalid { type_name, .. } => (type_name.as_str(), Value::Null),
        };
        json!({"type": t, "value": v})
    }
}

/// One channel listing a bundle, with the upgrade edges its entry declares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelEntry {
    /// Channel name.
    pub channel: String,
    /// `replaces`: the bundle name this entry upgrades from.
    pub replaces: Option<String>,
    /// `skips`: bundle names this entry also upgrades from.
    pub skips: Vec<String>,
    /// `skipRange` (blang v4): versions this entry upgrades from.
    pub skip_range: Option<String>,
}

/// A bundle as the resolver needs it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BundleInput {
    /// The catalog the bundle comes from.
    pub catalog: String,
    /// Its package.
    pub package: String,
    /// Its name (e.g. `etcd.v0.9.4`).
    pub name: String,
    /// Its image reference.
    pub image: String,
    /// The channels listing it. A bundle in no channel is still a candidate when a request
    /// names no channel.
    pub channels: Vec<ChannelEntry>,
    /// Its properties, in catalog order.
    pub properties: Vec<Property>,
    /// Set when an `olm.deprecations` entry deprecates the bundle (the message).
    pub deprecation: Option<String>,
}

/// Why a property of a known type could not be decoded; kept as text in [`Property::Invalid`].
#[derive(Debug, thiserror::Error)]
enum PropertyError {
    #[error("field {field:?} must be a string, found {found}")]
    NotAString { field: &'static str, found: Value },
    #[error("missing field {field:?}")]
    Missing { field: &'static str },
    #[error("expected a version string such as \"4.15\", found {0}")]
    NotAVersion(Value),
}
