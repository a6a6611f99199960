//! `opm alpha catalog build`: what `opm generate dockerfile` plus `docker build` and `docker
//! push` do upstream, in-process: the validated catalog as `/configs` on scratch or a base.

use anyhow::{Context, Result, bail};
use oci::ImageRef;

use crate::cli::CatalogBuildArgs;
use crate::outcome::Outcome;
use crate::push::{build_and_push, destination};
use crate::runtime::block_on;

pub(crate) fn run(a: CatalogBuildArgs, access: index_image::RegistryAccess) -> Result<Outcome> {
    let dest = destination(&a.tag)?;
    let labels = super::generate::parse_labels(&a.extra_labels)?;
    let meta = std::fs::metadata(&a.dir)
        .with_context(|| format!("catalog directory {}", a.dir.display()))?;
    if !meta.is_dir() {
        bail!("catalog directory {}: not a directory", a.dir.display());
    }
    super::validate::check(&a.dir)
        .with_context(|| format!("invalid catalog {}", a.dir.display()))?;
    eprintln!("validated catalog {}", a.dir.display());
    let base = match a.base_image.as_str() {
        "" => bail!("--base-image is empty: give \"scratch\" or an image reference"),
        "scratch" => None,
        other => Some(ImageRef::parse(other).with_context(|| format!("--base-image {other:?}"))?),
    };
    let store = access.store()?;
    let pushed = block_on(async {
        let base = match &base {
            Some(r) => {
                eprintln!("fetching base image {r}");
                Some(
                    store
                        .fetch(r)
                        .await
                        .with_context(|| format!("fetching the base image {r}"))?,
                )
            }
            None => None,
        };
        let builder = oci::catalog_image(base, &a.dir)
            .with_context(|| format!("reading {}", a.dir.display()))?
            .labels(labels);
        build_and_push(&store, builder, 1, &dest).await
    })??;
    Ok(Outcome::text(format!("{pushed}\n")))
}
