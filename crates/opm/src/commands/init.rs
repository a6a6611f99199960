//! `opm init`: an `olm.package` blob.

use anyhow::{Context, Result, anyhow, bail};
use fbc::DeclarativeConfig;

use super::catalog_format;
use crate::cli::InitArgs;
use crate::outcome::Outcome;

pub(crate) fn run(a: InitArgs) -> Result<Outcome> {
    let format = catalog_format(a.output.get()?);
    let mut pkg = fbc::Package {
        schema: fbc::SCHEMA_PACKAGE.to_string(),
        name: a.package,
        default_channel: a.default_channel,
        ..Default::default()
    };
    if let Some(path) = &a.icon {
        let data =
            std::fs::read(path).with_context(|| format!("open icon file {}", path.display()))?;
        let media_type = crate::icon::sniff(&data);
        if !media_type.starts_with("image/") {
            bail!("detected invalid type {media_type:?}: not an image");
        }
        pkg.icon = Some(fbc::Icon {
            data,
            media_type: media_type.to_string(),
        });
    }
    if let Some(path) = &a.description {
        let data = std::fs::read(path)
            .with_context(|| format!("open description file {}", path.display()))?;
        pkg.description = String::from_utf8(data)
            .map_err(|_| anyhow!("description file {} is not valid UTF-8", path.display()))?;
    }
    let cfg = DeclarativeConfig {
        packages: vec![pkg],
        ..Default::default()
    };
    Ok(Outcome::text(fbc::write::to_string(&cfg, format)))
}
