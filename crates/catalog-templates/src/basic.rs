//! `olm.template.basic`: an FBC whose `olm.bundle` entries carry only `schema` and `image`;
//! each bundle is rendered from its image, everything else passes through.

use std::path::Path;

use fbc::DeclarativeConfig;
use go_encoding::{DecodeError, Kind, Node};

use crate::decode::first_document;
use crate::{BundleRenderer, TemplateError};

pub(crate) const SCHEMA: &str = "olm.template.basic";

/// Renders a basic template (the first document of `text`).
pub(crate) fn render(
    text: &str,
    renderer: &dyn BundleRenderer,
) -> Result<DeclarativeConfig, TemplateError> {
    let root = first_document(text)
        .map_err(|e| TemplateError::Decode(format!("decoding template schema: {e}")))?;
    let unmarshal = |e: DecodeError, go_type: &str| {
        TemplateError::Decode(format!(
            "unmarshalling template: {}",
            e.go_message("BasicTemplateData", go_type)
        ))
    };
    if !root.is_object() {
        let e = DecodeError::mismatch("", "an object", Kind::of(&root));
        return Err(unmarshal(e, "basic.BasicTemplateData"));
    }
    let root = Node::root(&root);
    let schema = root
        .field("schema")
        .string()
        .map_err(|e| unmarshal(e, "string"))?;
    if schema != SCHEMA {
        return Err(TemplateError::Decode(format!(
            "template has unknown schema ({schema:?}), should be {SCHEMA:?}"
        )));
    }
    let entries = root
        .field("entries")
        .list()
        .map_err(|e| unmarshal(e, "[]*declcfg.Meta"))?;
    // The entries are a catalog in their own right: decode them with the FBC loader.
    let mut stream = String::new();
    for e in entries
        .iter()
        .filter_map(Node::value)
        .filter(|e| !e.is_null())
    {
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
        let rendered = renderer.render_bundle(&b.image)?;
        out.extend(rendered.into_iter().map(|r| r.bundle));
    }
    cfg.bundles = out;
    Ok(cfg)
}
