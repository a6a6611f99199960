//! The `opm` command-line tool: argument handling resolves into calls to `fbc`,
//! `sqlite-index`, `index-image` and `catalog-templates`. See `docs/opm.md`.
//!
//! Layout: `cli` (the clap command line), [`run`] (dispatch), `commands` (one module per
//! command, each a `run` from its arguments to an [`Outcome`]), and below them `render` (the
//! reference renderer `render`, `migrate` and the templates share), `migrations`
//! (`--migrate-level`), `icon`, `runtime` (the tokio runtime for image I/O), `push` (pushing a
//! built image with progress) and `outcome`.
//! `cli` is public for the binary; the other modules are private behind the `pub use` list.

pub mod cli;
mod commands;
mod icon;
mod migrations;
mod outcome;
mod push;
mod render;
mod runtime;

use std::io::Read;

use anyhow::{Result, bail};

use crate::cli::{
    AlphaBundleCommand, AlphaCatalogCommand, AlphaCommand, Cli, Command, GenerateCommand,
};

pub use migrations::Migrations;
pub use outcome::{Outcome, emit};
pub use render::{BundleDirs, ImageRefTemplate, RefMask, Render};

/// Runs a parsed command line; `stdin` feeds `alpha render-template` without a file.
pub fn run(cli: Cli, stdin: &mut dyn Read) -> Result<Outcome> {
    let access = registry_access(&cli)?;
    match cli.command {
        Command::Index { command } => commands::index::run(command, access),
        Command::Render(a) => commands::render::run(a, access),
        Command::Validate(a) => commands::validate::run(a),
        Command::Init(a) => commands::init::run(a),
        Command::Migrate(a) => commands::migrate::run(a, access),
        Command::Generate {
            command: GenerateCommand::Dockerfile(a),
        } => commands::generate::dockerfile_command(a).map(|()| Outcome::default()),
        Command::Alpha {
            command: AlphaCommand::RenderTemplate(a),
        } => commands::alpha_render_template::run(a, stdin, access),
        Command::Alpha {
            command: AlphaCommand::RenderGraph(a),
        } => commands::alpha_render_graph::run(a, access),
        Command::Alpha {
            command:
                AlphaCommand::Bundle {
                    command: AlphaBundleCommand::Build(a),
                },
        } => commands::alpha_bundle_build::run(a, access),
        Command::Alpha {
            command:
                AlphaCommand::Catalog {
                    command: AlphaCatalogCommand::Build(a),
                },
        } => commands::alpha_catalog_build::run(a, access),
    }
}

/// Registry access from the global flags, with upstream's flag-combination rules.
fn registry_access(cli: &Cli) -> Result<index_image::RegistryAccess> {
    if cli.skip_tls && cli.use_http {
        bail!("invalid flag combination: cannot use --use-http with --skip-tls");
    }
    if cli.skip_tls && cli.skip_tls_verify {
        bail!("invalid flag combination: cannot use --skip-tls-verify with --skip-tls");
    }
    if cli.use_http && cli.skip_tls_verify {
        bail!("invalid flag combination: --use-http and --skip-tls-verify cannot both be true");
    }
    Ok(index_image::RegistryAccess {
        use_http: cli.use_http || cli.skip_tls,
        skip_tls_verify: cli.skip_tls_verify,
        ca_file: cli.ca_file.clone(),
        ..Default::default()
    })
}
