//! `opm alpha render-graph`: the upgrade graph of catalogs in mermaid.

use anyhow::Result;
use catalog_templates::MermaidOptions;
use index_image::RegistryAccess;

use super::graph;
use crate::cli::RenderGraphArgs;
use crate::outcome::Outcome;
use crate::render::{RefMask, Render};

pub(crate) fn run(a: RenderGraphArgs, access: RegistryAccess) -> Result<Outcome> {
    let mut r = Render::new(a.refs, RefMask::CATALOGS);
    r.registry = access;
    let cfg = r.run()?;
    graph(
        &cfg,
        &MermaidOptions {
            minimum_edge: a.minimum_edge,
            package: a.package_name,
            draw_v0_semantics: a.draw_v0_semantics,
        },
    )
}
