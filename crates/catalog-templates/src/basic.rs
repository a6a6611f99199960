//! `olm.template.basic`: an FBC whose `olm.bundle` entries carry only `schema` and `image`;
//! each bundle is rendered from its image, everything else passes through.

use std::path::Path;

use fbc::DeclarativeConfig;
use serde_json::Value;

use crate::decode::{field, first_document, go_kind};
use crate::{BundleRenderer, TemplateError};

pub const SCHEMA: &str = "olm.template.basic";

/// Renders a basic template (the first document of `text`).
pub fn render(
    text: &str,
    renderer: &dyn BundleRenderer,
) -> Result<DeclarativeConfig, TemplateError> {
    let root = first_document(text)
        .map_err(|e| TemplateError::Decode(format!("decoding template schema: {e}")))?;
    let Value::Object(root) = root else {
        return Err(TemplateError::Decode(format!(
            "unmarshalling template: json: cannot unmarshal {} into Go value of type basic.BasicTemplateData",
            go_kind(&root)
        )));
    };
    let schema = match field(&root, "schema") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => {
            return Err(TemplateError::Decode(format!(
                "unmarshalling template: json: cannot unmarshal {} into Go struct field BasicTemplateData.schema of type string",
                go_kind(v)
            )));
        }
    };
    if schema != SCHEMA {
        return Err(TemplateError::Decode(format!(
            "template has unknown schema ({schema:?}), should be {SCHEMA:?}"
        )));
    }
    let entries = match field(&root, "entries") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(v) => {
            return Err(TemplateError::Decode(format!(
                "unmarshalling template: json: cannot unmarshal {} into Go struct field BasicTemplateData.entries of type []*declcfg.Meta",
                go_kind(v)
            )));
        }
    };
    // The entries are a catalog in their own right: decode them with the FBC loader.
    let mut stream = String::new();
    for e in entries.iter().filter(|e| !e.is_null()) {
        stream.push_str(&e.to_string());
        stream.push('\n');
    }
    let mut cfg = fbc::load_str(Path::new("template entries"), &stream)
        .map_err(|e| TemplateError::Decode(e.to_string()))?;

    let mut out = Vec::with_capacity(cfg.bundles.len());
    for b in std::mem::take(&mut cfg.bundles) {
        let is_template = !b.schema.is_empty()
            && !b.image.is_empty()
            && b.package.is_empty()
            && b.properties.is_empty()
            && b.related_images.is_empty();
        if !is_template {
            return Err(TemplateError::Render(
                "unexpected fields present in basic template bundle".to_string(),
            ));
        }
        let rendered = renderer
            .render_bundle(&b.image)
            .map_err(TemplateError::Render)?;
        out.extend(rendered.into_iter().map(|r| r.bundle));
    }
    cfg.bundles = out;
    Ok(cfg)
}
