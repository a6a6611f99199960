//! One module per command (`opm <command>` or `opm <group> <command>`), each a `run`
//! from parsed arguments to an [`Outcome`].

pub(crate) mod alpha_bundle_build;
pub(crate) mod alpha_catalog_build;
pub(crate) mod alpha_render_graph;
pub(crate) mod alpha_render_template;
pub(crate) mod generate;
pub(crate) mod index;
pub(crate) mod init;
pub(crate) mod migrate;
pub(crate) mod render;
pub(crate) mod validate;

use anyhow::Result;
use catalog_templates::{MermaidOptions, write_mermaid};
use fbc::{DeclarativeConfig, Format};

use crate::cli::{CatalogFormat, GraphFormat};
use crate::outcome::Outcome;

/// The catalog format of `-o json|yaml`.
fn catalog_format(format: CatalogFormat) -> Format {
    match format {
        CatalogFormat::Json => Format::Json,
        CatalogFormat::Yaml => Format::Yaml,
    }
}

/// What `render` and `render-template` print: the catalog, or its upgrade graph in mermaid.
fn catalog_or_graph(
    cfg: DeclarativeConfig,
    format: GraphFormat,
    v0_semantics: bool,
) -> Result<Outcome> {
    let format = match format {
        GraphFormat::Json => catalog_format(CatalogFormat::Json),
        GraphFormat::Yaml => catalog_format(CatalogFormat::Yaml),
        GraphFormat::Mermaid => {
            return graph(
                &cfg,
                &MermaidOptions {
                    draw_v0_semantics: v0_semantics,
                    ..Default::default()
                },
            );
        }
    };
    Ok(Outcome {
        catalog: Some((cfg, format)),
        ..Default::default()
    })
}

/// The upgrade graph of `cfg` in mermaid.
fn graph(cfg: &DeclarativeConfig, options: &MermaidOptions) -> Result<Outcome> {
    let (text, warnings) = write_mermaid(cfg, options)?;
    Ok(Outcome {
        stdout: text.into_bytes(),
        warnings,
        ..Default::default()
    })
}
