//! Builds a bundle image from a registry+v1 directory and pushes it over plain HTTP; prints
//! the pushed `repo@sha256:…` reference. Used by `bench/rukpak/run.sh` until `opm` ships a
//! bundle build command.
//!
//!   push_bundle <host:port>/<repo>:<tag> <bundle-dir>

use std::path::Path;

use anyhow::{Context, Result};
use oci::{ImageRef, ImageStore, RegistryOptions};

#[tokio::main]
async fn main() -> Result<()> {
    controller_runtime::init_process();
    let mut args = std::env::args().skip(1);
    let (dest, dir) = args
        .next()
        .zip(args.next())
        .context("usage: push_bundle <host:port>/<repo>:<tag> <bundle-dir>")?;
    let cache = tempfile::tempdir()?;
    let store = ImageStore::new(
        cache.path(),
        RegistryOptions {
            use_http: true,
            ..RegistryOptions::default()
        },
    )?;
    let image = oci::bundle_image(Path::new(&dir))?.build(&store).await?;
    let dest = ImageRef::parse(&dest)?;
    let report = store.push(&image, &dest).await?;
    let repository = dest.to_string();
    let repository = repository
        .rsplit_once(':')
        .map_or(repository.as_str(), |(r, _)| r);
    println!("{repository}@{}", report.digest);
    Ok(())
}
