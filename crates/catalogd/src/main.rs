//! catalogd: reconciles `Catalog` objects and serves their content over HTTP.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    controller_runtime::init_process();
    catalogd::Args::parse().run().await?;
    Ok(())
}
