use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    controller_runtime::init_process();
    rukpak::Args::parse().run().await?;
    Ok(())
}
