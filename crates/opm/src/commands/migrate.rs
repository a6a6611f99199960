//! `opm migrate`: an sqlite index (database or image) to a file-based catalog directory.

use anyhow::{Context, Result, bail};
use index_image::RegistryAccess;

use super::catalog_format;
use crate::cli::MigrateArgs;
use crate::migrations::Migrations;
use crate::outcome::Outcome;
use crate::render::{RefMask, Render};

pub(crate) fn run(a: MigrateArgs, access: RegistryAccess) -> Result<Outcome> {
    let format = catalog_format(a.output.get()?);
    let migrations = Migrations::from_flag(&a.migrate_level)?;
    let out_dir = a.output_dir.as_path();
    match std::fs::read_dir(out_dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "output dir {:?} must be empty",
                    out_dir.display().to_string()
                );
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("read {}", out_dir.display())),
    }
    let mut r = Render::new(vec![a.index_ref], RefMask::CATALOGS);
    r.migrations = migrations;
    r.registry = access;
    let cfg = r.run().context("render catalog image")?;
    fbc::write_fs(&cfg, out_dir, format)?;
    Ok(Outcome::default())
}
