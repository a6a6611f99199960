//! The command line, with upstream `opm` v1.73.0 command and flag names.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const MIGRATE_LEVEL_HELP: &str = "Name of the last migration to run (default: none)

The migrator will run all migrations up to and including the selected level.

Available migrators:
  - none                          : do nothing
  - bundle-object-to-csv-metadata : migrates bundles' \"olm.bundle.object\" to \"olm.csv.metadata\"";

const BUNDLE_DIR_MAP_HELP: &str = "Render the bundle image IMAGE from the local registry+v1 bundle directory DIR (IMAGE=DIR, repeatable; image references are otherwise not supported yet)";

#[derive(Debug, Parser)]
#[command(
    name = "opm",
    about = "CLI to interact with operator-registry and build indexes of operator content.",
    version
)]
pub struct Cli {
    /// skip TLS certificate verification for container image registries while pulling bundles
    #[arg(long, global = true)]
    pub skip_tls_verify: bool,
    /// use plain HTTP for container image registries while pulling bundles
    #[arg(long, global = true)]
    pub use_http: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a stream of file-based catalog objects from catalogs and bundles
    Render(RenderArgs),
    /// Validate the declarative index config
    Validate(ValidateArgs),
    /// Generate an olm.package declarative config blob
    Init(InitArgs),
    /// Migrate a sqlite-based index image or database file to a file-based catalog
    Migrate(MigrateArgs),
    /// Generate various artifacts for file-based catalogs
    Generate {
        #[command(subcommand)]
        command: GenerateCommand,
    },
    /// Run an alpha subcommand
    Alpha {
        #[command(subcommand)]
        command: AlphaCommand,
    },
}

/// Maps bundle image references to local bundle directories.
#[derive(Debug, Args, Clone, Default)]
pub struct BundleDirMap {
    #[arg(long = "bundle-dir-map", value_name = "IMAGE=DIR", env = "OPM_BUNDLE_DIR_MAP", value_delimiter = ',', help = BUNDLE_DIR_MAP_HELP)]
    pub entries: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// catalog-directory | bundle-directory | sqlite-file (image references: see --bundle-dir-map)
    #[arg(required = true, value_name = "REF")]
    pub refs: Vec<String>,
    /// Output format of the streamed file-based catalog objects (json|yaml|mermaid)
    #[arg(short, long, default_value = "json")]
    pub output: String,
    #[arg(long, default_value = "", hide_default_value = true, help = MIGRATE_LEVEL_HELP, conflicts_with = "migrate")]
    pub migrate_level: String,
    /// Perform all available schema migrations on the rendered FBC
    #[arg(long)]
    pub migrate: bool,
    /// When bundle image reference information is unavailable, populate it with this template
    #[arg(long, default_value = "")]
    pub alpha_image_ref_template: String,
    #[command(flatten)]
    pub bundle_dirs: BundleDirMap,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The catalog directory
    #[arg(value_name = "directory")]
    pub directory: PathBuf,
    /// Output format for validation results (json|yaml)
    #[arg(short, long, default_value = "")]
    pub output: String,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    #[arg(value_name = "packageName")]
    pub package: String,
    /// The channel that subscriptions will default to if unspecified
    #[arg(short = 'c', long, default_value = "")]
    pub default_channel: String,
    /// Path to package's icon
    #[arg(short, long)]
    pub icon: Option<PathBuf>,
    /// Path to the operator's README.md (or other documentation)
    #[arg(short, long)]
    pub description: Option<PathBuf>,
    /// Output format (json|yaml)
    #[arg(short, long, default_value = "json")]
    pub output: String,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The sqlite database file (or catalog directory) to migrate
    #[arg(value_name = "indexRef")]
    pub index_ref: String,
    #[arg(value_name = "outputDir")]
    pub output_dir: PathBuf,
    /// Output format (json|yaml)
    #[arg(short, long, default_value = "json")]
    pub output: String,
    #[arg(long, default_value = "", hide_default_value = true, help = MIGRATE_LEVEL_HELP)]
    pub migrate_level: String,
}

#[derive(Debug, Subcommand)]
pub enum GenerateCommand {
    /// Generate a Dockerfile for a file-based catalog
    Dockerfile(DockerfileArgs),
}

pub const DEFAULT_BINARY_IMAGE: &str = "quay.io/operator-framework/opm:latest";

#[derive(Debug, Args)]
pub struct DockerfileArgs {
    #[arg(value_name = "fbcRootDir")]
    pub dir: PathBuf,
    /// Image base to use to build catalog.
    #[arg(short = 'i', long, conflicts_with = "binary_image")]
    pub base_image: Option<String>,
    /// Image in which to build catalog (deprecated: use --base-image instead).
    #[arg(long, hide = true)]
    pub binary_image: Option<String>,
    /// Image to use as a build stage.
    #[arg(short = 'b', long)]
    pub builder_image: Option<String>,
    /// Extra labels to include in the generated Dockerfile. Labels should be of the form 'key=value'.
    #[arg(short = 'l', long, value_delimiter = ',')]
    pub extra_labels: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum AlphaCommand {
    /// Render a catalog template (auto-detects type from schema if TYPE not specified)
    RenderTemplate(RenderTemplateArgs),
    /// Generate mermaid-formatted view of upgrade graph of operators in an index
    RenderGraph(RenderGraphArgs),
}

#[derive(Debug, Args)]
pub struct RenderTemplateArgs {
    /// [TYPE] [FILE]: TYPE is basic or semver (auto-detected from the schema when omitted);
    /// FILE '-' or omitted reads standard input
    #[arg(num_args = 0..=2, value_name = "ARGS")]
    pub args: Vec<String>,
    /// Output format (json|yaml|mermaid)
    #[arg(short, long, default_value = "json")]
    pub output: String,
    #[arg(long, default_value = "", hide_default_value = true, help = MIGRATE_LEVEL_HELP)]
    pub migrate_level: String,
    #[command(flatten)]
    pub bundle_dirs: BundleDirMap,
}

#[derive(Debug, Args)]
pub struct RenderGraphArgs {
    /// fbc-dir or sqlite-file
    #[arg(required = true, value_name = "REF")]
    pub refs: Vec<String>,
    /// the channel edge to be used as the lower bound of the set of edges composing the upgrade graph; default is to include all edges
    #[arg(long, default_value = "")]
    pub minimum_edge: String,
    /// a specific package name to filter output; default is to include all packages in reference
    #[arg(short, long, default_value = "")]
    pub package_name: String,
    /// whether to indicate OLMv0 semantics in the output; default is to simply represent the upgrade graph
    #[arg(long)]
    pub draw_v0_semantics: bool,
}
