//! What the loader reads from a ClusterServiceVersion, with the semantics of upstream's
//! `registry.ClusterServiceVersion` accessors (operator-registry v1.73.0 `pkg/registry/csv.go`):
//! `spec` fields are looked up by exact key in a `map[string]*json.RawMessage`, while the
//! definition lists decode into Go structs (case-insensitive field names).

use std::collections::BTreeSet;

use go_encoding::go_kind;
use serde_json::{Map, Value};

/// `{group, version, kind, plural}` of an API (upstream `APIKey`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiKey {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
}

/// A struct field as Go's `encoding/json` matches it: case-insensitively, the last one winning.
fn field<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
        .next_back()
}

fn string_of(v: Option<&Value>, target: &str) -> Result<String, String> {
    match v {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!(
            "json: cannot unmarshal {} into Go {target} of type string",
            go_kind(other)
        )),
    }
}

/// The CSV's `spec` as upstream's `map[string]*json.RawMessage` sees it. A CSV without `spec`
/// has a nil spec, which fails to unmarshal.
fn spec(csv: &Value) -> Result<&Map<String, Value>, String> {
    match csv.as_object().and_then(|o| o.get("spec")) {
        None => Err("unexpected end of JSON input".to_string()),
        Some(Value::Object(m)) => Ok(m),
        Some(Value::Null) => Err("unexpected end of JSON input".to_string()),
        Some(other) => Err(format!(
            "json: cannot unmarshal {} into Go value of type map[string]*json.RawMessage",
            go_kind(other)
        )),
    }
}

/// `metadata.name`.
pub fn name(csv: &Value) -> String {
    csv.get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// `metadata.annotations[key]`.
pub fn annotation(csv: &Value, key: &str) -> String {
    csv.get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// A string field of `spec` (`GetVersion`, `GetReplaces`).
pub fn spec_string(csv: &Value, key: &str) -> Result<String, String> {
    string_of(spec(csv)?.get(key), "value")
}

/// `spec.version` ("" when absent).
pub fn version(csv: &Value) -> Result<String, String> {
    spec_string(csv, "version")
}

/// `spec.replaces` ("" when absent).
pub fn replaces(csv: &Value) -> Result<String, String> {
    spec_string(csv, "replaces")
}

/// `spec.skips`.
pub fn skips(csv: &Value) -> Result<Vec<String>, String> {
    match spec(csv)?.get("skips") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(|v| string_of(Some(v), "value")).collect(),
        Some(other) => Err(format!(
            "json: cannot unmarshal {} into Go value of type []string",
            go_kind(other)
        )),
    }
}

/// `metadata.annotations["olm.skipRange"]`.
pub fn skip_range(csv: &Value) -> String {
    annotation(csv, "olm.skipRange")
}

/// `metadata.annotations["olm.substitutesFor"]`.
pub fn substitutes_for(csv: &Value) -> String {
    annotation(csv, "olm.substitutesFor")
}

/// One entry of `owned`/`required` in a definitions block (upstream `DefinitionKey`).
#[derive(Clone, Debug, Default)]
pub struct DefinitionKey {
    pub group: String,
    pub kind: String,
    pub name: String,
    pub version: String,
}

/// `(owned, required)` of `spec.<key>` (`customresourcedefinitions` or `apiservicedefinitions`).
pub fn definitions(
    csv: &Value,
    key: &str,
) -> Result<(Vec<DefinitionKey>, Vec<DefinitionKey>), String> {
    let defs = match spec(csv)?.get(key) {
        None | Some(Value::Null) => return Ok((Vec::new(), Vec::new())),
        Some(Value::Object(m)) => m,
        Some(other) => {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type struct {{ Owned []*registry.DefinitionKey \"json:\\\"owned\\\"\"; Required []*registry.DefinitionKey \"json:\\\"required\\\"\" }}",
                go_kind(other)
            ));
        }
    };
    let list = |which: &str| -> Result<Vec<DefinitionKey>, String> {
        match field(defs, which) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                for item in items {
                    match item {
                        // A null element is a nil pointer upstream; it is skipped where used.
                        Value::Null => {}
                        Value::Object(o) => out.push(DefinitionKey {
                            group: string_of(
                                field(o, "group"),
                                "struct field DefinitionKey.group",
                            )?,
                            kind: string_of(field(o, "kind"), "struct field DefinitionKey.kind")?,
                            name: string_of(field(o, "name"), "struct field DefinitionKey.name")?,
                            version: string_of(
                                field(o, "version"),
                                "struct field DefinitionKey.version",
                            )?,
                        }),
                        other => {
                            return Err(format!(
                                "json: cannot unmarshal {} into Go struct field .{which} of type registry.DefinitionKey",
                                go_kind(other)
                            ));
                        }
                    }
                }
                Ok(out)
            }
            Some(other) => Err(format!(
                "json: cannot unmarshal {} into Go struct field .{which} of type []*registry.DefinitionKey",
                go_kind(other)
            )),
        }
    };
    Ok((list("owned")?, list("required")?))
}

/// `plural.group` of a CRD description name.
pub fn split_crd_name(name: &str) -> Result<(String, String), String> {
    match name.split_once('.') {
        Some((plural, group)) => Ok((plural.to_string(), group.to_string())),
        None => Err(format!("couldn't parse plural.group from crd name: {name}")),
    }
}

/// APIs the CSV requires: required CRDs (`plural.group` names) and required API services
/// (upstream `Bundle.RequiredAPIs`).
pub fn required_apis(csv: &Value) -> Result<BTreeSet<ApiKey>, String> {
    let mut out = BTreeSet::new();
    let (_, required_crds) = definitions(csv, "customresourcedefinitions")?;
    for d in required_crds {
        let (plural, group) = split_crd_name(&d.name)?;
        out.insert(ApiKey {
            group,
            version: d.version,
            kind: d.kind,
            plural,
        });
    }
    let (_, required_services) = definitions(csv, "apiservicedefinitions")
        .map_err(|e| format!("error unmarshaling into object map: {e}"))?;
    for d in required_services {
        out.insert(ApiKey {
            group: d.group,
            version: d.version,
            kind: d.kind,
            plural: d.name,
        });
    }
    Ok(out)
}

/// APIs the bundle provides: every served version of each `apiextensions.k8s.io/v1` or
/// `v1beta1` CRD manifest, plus the CSV's owned API services (upstream `Bundle.ProvidedAPIs`).
pub fn provided_apis(objects: &[Value], csv: &Value) -> Result<BTreeSet<ApiKey>, String> {
    let mut out = BTreeSet::new();
    for o in objects {
        if o.get("kind").and_then(Value::as_str) != Some("CustomResourceDefinition") {
            continue;
        }
        let api_version = o.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let version = api_version.rsplit('/').next().unwrap_or("");
        let beta = match version {
            "v1" => false,
            "v1beta1" => true,
            // Upstream only decodes these two CRD versions; others provide nothing.
            _ => continue,
        };
        let crd_err = |e: String| {
            format!(
                "error getting crds: error decoding {} CRD: {e}",
                if beta { "v1beta1" } else { "v1" }
            )
        };
        let spec = match o.get("spec") {
            Some(Value::Object(s)) => s,
            None | Some(Value::Null) => continue,
            Some(other) => {
                return Err(crd_err(format!(
                    "json: cannot unmarshal {} into Go struct field CustomResourceDefinition.spec",
                    go_kind(other)
                )));
            }
        };
        let group = string_of(spec.get("group"), "struct field .spec.group").map_err(crd_err)?;
        let names = spec.get("names").and_then(Value::as_object);
        let kind = string_of(
            names.and_then(|n| n.get("kind")),
            "struct field .names.kind",
        )
        .map_err(crd_err)?;
        let plural = string_of(
            names.and_then(|n| n.get("plural")),
            "struct field .names.plural",
        )
        .map_err(crd_err)?;
        if let Some(Value::Array(versions)) = spec.get("versions") {
            for v in versions {
                let name = string_of(
                    v.as_object().and_then(|m| m.get("name")),
                    "struct field .versions.name",
                )
                .map_err(crd_err)?;
                out.insert(ApiKey {
                    group: group.clone(),
                    version: name,
                    kind: kind.clone(),
                    plural: plural.clone(),
                });
            }
        }
        if beta {
            let v =
                string_of(spec.get("version"), "struct field .spec.version").map_err(crd_err)?;
            if !v.is_empty() {
                out.insert(ApiKey {
                    group: group.clone(),
                    version: v,
                    kind: kind.clone(),
                    plural: plural.clone(),
                });
            }
        }
    }
    let (owned, _) = definitions(csv, "apiservicedefinitions").map_err(|e| {
        format!("error getting apiservice definitions: error unmarshaling into object map: {e}")
    })?;
    for d in owned {
        out.insert(ApiKey {
            group: d.group,
            version: d.version,
            kind: d.kind,
            plural: d.name,
        });
    }
    Ok(out)
}

/// Container and init-container images of the `deployment` install strategy
/// (upstream `GetOperatorImages`).
pub fn operator_images(csv: &Value) -> Result<BTreeSet<String>, String> {
    let mut out = BTreeSet::new();
    let spec = spec(csv)?;
    let Some(Value::Object(install)) = field(spec, "install") else {
        return Ok(out);
    };
    if string_of(field(install, "strategy"), "struct field strategy.strategy")? != "deployment" {
        return Ok(out);
    }
    let Some(Value::Object(strategy_spec)) = field(install, "spec") else {
        return Ok(out);
    };
    let Some(Value::Array(deployments)) = field(strategy_spec, "deployments") else {
        return Ok(out);
    };
    for d in deployments {
        let pod = d
            .as_object()
            .and_then(|d| field(d, "spec"))
            .and_then(Value::as_object)
            .and_then(|s| s.get("template"))
            .and_then(Value::as_object)
            .and_then(|t| t.get("spec"))
            .and_then(Value::as_object);
        let Some(pod) = pod else { continue };
        for key in ["containers", "initContainers"] {
            if let Some(Value::Array(cs)) = pod.get(key) {
                for c in cs {
                    out.insert(string_of(
                        c.as_object().and_then(|c| c.get("image")),
                        "struct field Container.image",
                    )?);
                }
            }
        }
    }
    Ok(out)
}

/// Images of `spec.relatedImages` (upstream `GetRelatedImages`).
pub fn related_images(csv: &Value) -> Result<BTreeSet<String>, String> {
    let mut out = BTreeSet::new();
    match spec(csv)?.get("relatedImages") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                match item {
                    Value::Null => {
                        out.insert(String::new());
                    }
                    Value::Object(o) => {
                        out.insert(string_of(
                            field(o, "image"),
                            "struct field relatedImage.image",
                        )?);
                    }
                    other => {
                        return Err(format!(
                            "json: cannot unmarshal {} into Go value of type registry.relatedImage",
                            go_kind(other)
                        ));
                    }
                }
            }
        }
        Some(other) => {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type []registry.relatedImage",
                go_kind(other)
            ));
        }
    }
    Ok(out)
}
