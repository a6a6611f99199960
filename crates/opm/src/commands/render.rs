//! `opm render`: catalogs, bundles and sqlite databases to one stream of catalog objects.

use anyhow::Result;
use index_image::RegistryAccess;

use super::catalog_or_graph;
use crate::cli::RenderArgs;
use crate::migrations::Migrations;
use crate::outcome::Outcome;
use crate::render::{BundleDirs, ImageRefTemplate, RefMask, Render};

pub(crate) fn run(a: RenderArgs, access: RegistryAccess) -> Result<Outcome> {
    let format = a.output.get()?;
    let mut r = Render::new(a.refs, RefMask::ALL);
    r.registry = access;
    r.migrations = if a.migrate {
        Some(Migrations::new("all")?)
    } else {
        Migrations::from_flag(&a.migrate_level)?
    };
    if !a.alpha_image_ref_template.is_empty() {
        r.image_ref_template = Some(ImageRefTemplate::parse(&a.alpha_image_ref_template)?);
    }
    r.bundle_dirs = BundleDirs::parse(&a.bundle_dirs.entries)?;
    let cfg = r.run()?;
    let mut outcome = catalog_or_graph(cfg, format, false)?;
    outcome.warnings.splice(0..0, r.take_warnings());
    Ok(outcome)
}
