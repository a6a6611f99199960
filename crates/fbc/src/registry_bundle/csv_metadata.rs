//! `olm.csv.metadata`: the subset of a CSV that catalogs keep instead of the bundle objects,
//! written field by field in the Go struct order of operator-framework/api so that the JSON is
//! byte-identical to upstream's `json.Marshal`.

use std::collections::BTreeMap;

use go_encoding::{
    Canonical, DecodeError, GoObject, Kind, Node, push_canonical, push_string_array,
};
use serde_json::Value;

use super::csv::{Csv, CsvError};

/// Writes one object of a list.
type ObjectWriter = dyn Fn(&mut String, &Node<'_>) -> Result<(), DecodeError>;

/// The `olm.csv.metadata` value for a CSV object (operator-registry `MustBuildCSVMetadata`).
pub fn csv_metadata_json(csv: &Value) -> Result<String, CsvError> {
    let view = Csv::new(csv);
    let annotations = view.annotations()?;
    let labels = view.labels()?;
    // Unlike the bundle's own reading of the CSV, a `spec` that is not an object reads as empty.
    let spec = Node::root(csv).field("spec");
    let mut out = String::new();
    let mut o = GoObject::new(&mut out);
    push_string_map(&mut o, "annotations", &annotations);
    push_definitions(
        &mut o,
        "apiServiceDefinitions",
        &spec.field("apiservicedefinitions"),
        &push_api_service_description,
    )?;
    push_definitions(
        &mut o,
        "crdDescriptions",
        &spec.field("customresourcedefinitions"),
        &push_crd_description,
    )?;
    o.str_omitempty("description", &spec.field("description").string()?);
    o.str_omitempty("displayName", &spec.field("displayName").string()?);
    push_objects(
        &mut o,
        "installModes",
        &spec.field("installModes"),
        &|out, m| {
            let mut im = GoObject::new(out);
            im.str("type", &m.field("type").string()?);
            let supported = m.field("supported").bool()?;
            im.key("supported")
                .push_str(if supported { "true" } else { "false" });
            im.end();
            Ok(())
        },
    )?;
    let keywords = spec.field("keywords").strings()?;
    if !keywords.is_empty() {
        push_string_array(o.key("keywords"), &keywords);
    }
    push_string_map(&mut o, "labels", &labels);
    push_objects(&mut o, "links", &spec.field("links"), &push_app_link)?;
    push_objects(
        &mut o,
        "maintainers",
        &spec.field("maintainers"),
        &|out, m| {
            let mut l = GoObject::new(out);
            l.str_omitempty("name", &m.field("name").string()?);
            l.str_omitempty("email", &m.field("email").string()?);
            l.end();
            Ok(())
        },
    )?;
    o.str_omitempty("maturity", &spec.field("maturity").string()?);
    o.str_omitempty("minKubeVersion", &spec.field("minKubeVersion").string()?);
    push_objects(
        &mut o,
        "nativeAPIs",
        &spec.field("nativeAPIs"),
        &|out, m| {
            let mut g = GoObject::new(out);
            g.str("group", &m.field("group").string()?);
            g.str("version", &m.field("version").string()?);
            g.str("kind", &m.field("kind").string()?);
            g.end();
            Ok(())
        },
    )?;
    let provider = spec.field("provider");
    provider.object()?;
    push_app_link(o.key("provider"), &provider)?;
    o.end();
    Ok(out)
}

fn push_app_link(out: &mut String, m: &Node<'_>) -> Result<(), DecodeError> {
    let mut l = GoObject::new(out);
    l.str_omitempty("name", &m.field("name").string()?);
    l.str_omitempty("url", &m.field("url").string()?);
    l.end();
    Ok(())
}

/// A list of objects (`omitempty`); `null` items are written as empty objects.
fn push_objects(
    o: &mut GoObject<'_>,
    key: &str,
    items: &Node<'_>,
    each: &ObjectWriter,
) -> Result<(), DecodeError> {
    let items = items.list()?;
    if items.is_empty() {
        return Ok(());
    }
    let out = o.key(key);
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        item.object()?;
        each(out, item)?;
    }
    out.push(']');
    Ok(())
}

fn push_descriptor(out: &mut String, m: &Node<'_>) -> Result<(), DecodeError> {
    let mut o = GoObject::new(out);
    o.str("path", &m.field("path").string()?);
    o.str_omitempty("displayName", &m.field("displayName").string()?);
    o.str_omitempty("description", &m.field("description").string()?);
    let xd = m.field("x-descriptors").strings()?;
    if !xd.is_empty() {
        push_string_array(o.key("x-descriptors"), &xd);
    }
    if let Some(v) = m.field("value").value().filter(|v| !v.is_null()) {
        push_canonical(o.key("value"), v, Canonical::BLOB);
    }
    o.end();
    Ok(())
}

fn push_resources(o: &mut GoObject<'_>, m: &Node<'_>) -> Result<(), DecodeError> {
    push_objects(o, "resources", &m.field("resources"), &|out, r| {
        let mut ro = GoObject::new(out);
        ro.str("name", &r.field("name").string()?);
        ro.str("kind", &r.field("kind").string()?);
        ro.str("version", &r.field("version").string()?);
        ro.end();
        Ok(())
    })
}

fn push_descriptor_lists(o: &mut GoObject<'_>, m: &Node<'_>) -> Result<(), DecodeError> {
    for key in ["statusDescriptors", "specDescriptors", "actionDescriptors"] {
        push_objects(o, key, &m.field(key), &push_descriptor)?;
    }
    Ok(())
}

fn push_crd_description(out: &mut String, m: &Node<'_>) -> Result<(), DecodeError> {
    let mut o = GoObject::new(out);
    o.str("name", &m.field("name").string()?);
    o.str("version", &m.field("version").string()?);
    o.str("kind", &m.field("kind").string()?);
    o.str_omitempty("displayName", &m.field("displayName").string()?);
    o.str_omitempty("description", &m.field("description").string()?);
    push_resources(&mut o, m)?;
    push_descriptor_lists(&mut o, m)?;
    o.end();
    Ok(())
}

fn push_api_service_description(out: &mut String, m: &Node<'_>) -> Result<(), DecodeError> {
    let mut o = GoObject::new(out);
    o.str("name", &m.field("name").string()?);
    o.str("group", &m.field("group").string()?);
    o.str("version", &m.field("version").string()?);
    o.str("kind", &m.field("kind").string()?);
    o.str_omitempty("deploymentName", &m.field("deploymentName").string()?);
    let port = container_port(&m.field("containerPort"))?;
    if port != 0 {
        o.key("containerPort").push_str(&port.to_string());
    }
    o.str_omitempty("displayName", &m.field("displayName").string()?);
    o.str_omitempty("description", &m.field("description").string()?);
    push_resources(&mut o, m)?;
    push_descriptor_lists(&mut o, m)?;
    o.end();
    Ok(())
}

/// Go `int32` (`null` and absent are 0).
fn container_port(node: &Node<'_>) -> Result<i64, DecodeError> {
    match node.value() {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => {
            n.as_i64()
                .filter(|p| i32::try_from(*p).is_ok())
                .ok_or_else(|| {
                    DecodeError::new(node.path(), format!("expected a 32-bit integer, found {n}"))
                })
        }
        Some(other) => Err(DecodeError::mismatch(
            node.path(),
            "a number",
            Kind::of(other),
        )),
    }
}

/// `apiServiceDefinitions` / `crdDescriptions`: always written, with `owned` and `required`
/// lists.
fn push_definitions(
    o: &mut GoObject<'_>,
    key: &str,
    defs: &Node<'_>,
    each: &ObjectWriter,
) -> Result<(), DecodeError> {
    defs.object()?;
    let out = o.key(key);
    let mut d = GoObject::new(out);
    push_objects(&mut d, "owned", &defs.field("owned"), each)?;
    push_objects(&mut d, "required", &defs.field("required"), each)?;
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
