//! `opm alpha render-template`: a basic or semver catalog template to a catalog.

use std::io::Read;

use anyhow::{Result, anyhow, bail};
use catalog_templates::{TemplateKind, detect_schema};
use index_image::RegistryAccess;

use super::catalog_or_graph;
use crate::cli::RenderTemplateArgs;
use crate::migrations::Migrations;
use crate::outcome::Outcome;
use crate::render::{BundleDirs, RefMask, Render};

pub(crate) fn run(
    a: RenderTemplateArgs,
    stdin: &mut dyn Read,
    access: RegistryAccess,
) -> Result<Outcome> {
    let is_type = |s: &str| TemplateKind::from_type_name(s).is_some() || s == "substitutes";
    let (kind_name, file) = match a.args.as_slice() {
        [] => (None, "-".to_string()),
        [one] if is_type(one) => (Some(one.clone()), "-".to_string()),
        [one] => (None, one.clone()),
        [t, f] => {
            if !is_type(t) {
                bail!("invalid template type {t:?}, must be one of: [basic semver substitutes]");
            }
            (Some(t.clone()), f.clone())
        }
        _ => bail!("accepts at most 2 arg(s), received {}", a.args.len()),
    };
    if kind_name.as_deref() == Some("substitutes") {
        bail!("the \"substitutes\" template type is not supported yet");
    }
    let text = if file == "-" {
        let mut s = String::new();
        stdin
            .read_to_string(&mut s)
            .map_err(|e| anyhow!("unable to open \"-\": {e}"))?;
        s
    } else {
        std::fs::read_to_string(&file).map_err(|e| anyhow!("unable to open {file:?}: {e}"))?
    };
    let format = a.output.get()?;
    let mut r = Render::new(Vec::new(), RefMask::BUNDLE_IMAGES);
    r.registry = access;
    r.migrations = Migrations::from_flag(&a.migrate_level)?;
    r.bundle_dirs = BundleDirs::parse(&a.bundle_dirs.entries)?;
    let kind = match kind_name {
        Some(k) => {
            TemplateKind::from_type_name(&k).ok_or_else(|| anyhow!("unknown template type: {k}"))?
        }
        None => {
            let schema =
                detect_schema(&text).map_err(|e| anyhow!("auto-detecting template type: {e}"))?;
            match TemplateKind::from_schema(&schema) {
                Some(k) => k,
                None if schema == "olm.template.substitutes" => {
                    bail!("the \"substitutes\" template type is not supported yet")
                }
                None => bail!("auto-detecting template type: unknown template schema: {schema}"),
            }
        }
    };
    let renderer = |image: &str| r.render_template_bundle(image);
    let cfg = kind
        .render(&text, &renderer)
        .map_err(|e| anyhow!("rendering template: {e}"))?;
    // `render-template -o mermaid` draws OLMv0 semantics (upstream's writer default).
    let mut outcome = catalog_or_graph(cfg, format, true)?;
    outcome.warnings.splice(0..0, r.take_warnings());
    Ok(outcome)
}
