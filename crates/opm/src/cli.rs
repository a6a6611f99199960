//! The command line, with upstream `opm` v1.73.0 command and flag names.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const MIGRATE_LEVEL_HELP: &str = "Name of the last migration to run (default: none)

The migrator will run all migrations up to and including the selected level.

Available migrators:
  - none                          : do nothing
  - bundle-object-to-csv-metadata : migrates bundles' \"olm.bundle.object\" to \"olm.csv.metadata\"";

const BUNDLE_DIR_MAP_HELP: &str = "Render the bundle image IMAGE from the local registry+v1 bundle directory DIR instead of pulling it (IMAGE=DIR, repeatable)";

/// `-o` of the commands that write a catalog (`init`, `migrate`, `validate`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CatalogFormat {
    Json,
    Yaml,
}

/// `-o` of `validate`: a line of text unless a structured result is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValidateFormat {
    Text,
    Structured(CatalogFormat),
}

/// `-o` of the commands that may also draw the upgrade graph (`render`, `render-template`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Json,
    Yaml,
    Mermaid,
}

/// `--index-format` of `index add`: the kind of index to create without `--from-index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum IndexFormat {
    Sqlite,
    Fbc,
}

/// A flag value parsed by clap but checked by the command, at the point where opm has
/// always reported a bad value: after the errors that come before it (an unreadable
/// directory, a bad `--mode`, …) and never in place of one of clap's usage errors.
#[derive(Clone, Debug)]
pub struct Checked<T>(Result<T, InvalidFlagValue>);

impl<T: Copy> Checked<T> {
    /// The value, or the error opm prints for it.
    pub fn get(&self) -> Result<T, InvalidFlagValue> {
        self.0.clone()
    }
}

/// A flag value outside its enum, with the message opm prints for it.
#[derive(Clone, Debug, thiserror::Error)]
pub enum InvalidFlagValue {
    #[error("invalid --output value {value:?}, expected ({expected})")]
    Output {
        value: String,
        expected: &'static str,
    },
    #[error("invalid --index-format {0:?}: one of [sqlite, fbc]")]
    IndexFormat(String),
}

/// A clap value parser that never fails, so that [`Checked::get`] reports the error later.
fn checked<T: 'static>(
    parse: fn(&str) -> Result<T, InvalidFlagValue>,
) -> impl Fn(&str) -> Result<Checked<T>, std::convert::Infallible> + Clone + Send + Sync + 'static {
    move |value| Ok(Checked(parse(value)))
}

fn parse_catalog_format(value: &str) -> Result<CatalogFormat, InvalidFlagValue> {
    CatalogFormat::from_str(value, false).map_err(|_| InvalidFlagValue::Output {
        value: value.to_string(),
        expected: "json|yaml",
    })
}

fn parse_validate_format(value: &str) -> Result<ValidateFormat, InvalidFlagValue> {
    if value.is_empty() {
        return Ok(ValidateFormat::Text);
    }
    parse_catalog_format(value).map(ValidateFormat::Structured)
}

fn parse_graph_format(value: &str) -> Result<GraphFormat, InvalidFlagValue> {
    GraphFormat::from_str(value, false).map_err(|_| InvalidFlagValue::Output {
        value: value.to_string(),
        expected: "json|yaml|mermaid",
    })
}

fn parse_index_format(value: &str) -> Result<IndexFormat, InvalidFlagValue> {
    IndexFormat::from_str(value, false)
        .map_err(|_| InvalidFlagValue::IndexFormat(value.to_string()))
}

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
    /// deprecated: use --use-http
    #[arg(long, global = true, hide = true)]
    pub skip_tls: bool,
    /// trust the CA certificates in this PEM file (in addition to the system roots) when pulling and pushing images
    #[arg(long, global = true, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
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
    /// generate operator index container images from preexisting operator bundles
    Index {
        #[command(subcommand)]
        command: IndexCommand,
    },
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
    /// catalog-image | catalog-directory | bundle-image | bundle-directory | sqlite-file (images: registry references or oci:<dir>[:tag])
    #[arg(required = true, value_name = "REF")]
    pub refs: Vec<String>,
    /// Output format of the streamed file-based catalog objects (json|yaml|mermaid)
    #[arg(short, long, default_value = "json", value_parser = checked(parse_graph_format))]
    pub output: Checked<GraphFormat>,
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
    #[arg(short, long, default_value = "", value_parser = checked(parse_validate_format))]
    pub output: Checked<ValidateFormat>,
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
    #[arg(short, long, default_value = "json", value_parser = checked(parse_catalog_format))]
    pub output: Checked<CatalogFormat>,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The sqlite database file (or catalog directory) to migrate
    #[arg(value_name = "indexRef")]
    pub index_ref: String,
    #[arg(value_name = "outputDir")]
    pub output_dir: PathBuf,
    /// Output format (json|yaml)
    #[arg(short, long, default_value = "json", value_parser = checked(parse_catalog_format))]
    pub output: Checked<CatalogFormat>,
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
    /// Operator bundle commands
    Bundle {
        #[command(subcommand)]
        command: AlphaBundleCommand,
    },
    /// File-based catalog image commands
    Catalog {
        #[command(subcommand)]
        command: AlphaCatalogCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum AlphaBundleCommand {
    /// Build an operator bundle image from a bundle directory and push it (no container engine)
    #[command(long_about = BUNDLE_BUILD_ABOUT)]
    Build(BundleBuildArgs),
}

const BUNDLE_BUILD_ABOUT: &str =
    "Build an operator bundle image from a bundle directory and push it (no container engine)

DIR is a bundle directory (DIR/manifests/ and DIR/metadata/) or, as upstream, the directory \
holding the manifests itself (then named manifests/, or laid out again under --output-dir). \
metadata/annotations.yaml is written from --package, --channels and --default when it is \
missing (or with --overwrite); when it exists, the values given must match it. The bundle is \
validated, built FROM scratch with every annotation as a label, and pushed to --tag: a \
registry reference or oci:<dir>[:tag]. The pushed reference with its digest is printed.";

#[derive(Debug, Args)]
pub struct BundleBuildArgs {
    /// The directory where bundle manifests and metadata for a specific version are located
    #[arg(short = 'd', long, value_name = "DIR")]
    pub directory: PathBuf,
    /// The image reference to push the bundle image to (a registry reference or oci:<dir>[:tag])
    #[arg(short = 't', long, value_name = "IMAGE")]
    pub tag: String,
    /// The name of the package that bundle image belongs to (to write metadata/annotations.yaml)
    #[arg(short = 'p', long)]
    pub package: Option<String>,
    /// The list of channels that bundle image belongs to (comma-separated; to write metadata/annotations.yaml)
    #[arg(short = 'c', long)]
    pub channels: Option<String>,
    /// The default channel for the bundle image
    #[arg(short = 'e', long = "default")]
    pub default_channel: Option<String>,
    /// Lay the bundle out here (OUT/manifests, OUT/metadata) and build it from there
    #[arg(short = 'u', long, value_name = "OUT")]
    pub output_dir: Option<PathBuf>,
    /// Tool used to manage container images. One of: [docker, podman, buildah] (accepted; no engine is used)
    #[arg(short = 'b', long)]
    pub image_builder: Option<String>,
    /// Overwrite metadata/annotations.yaml (and files under --output-dir) if they exist
    #[arg(short = 'o', long)]
    pub overwrite: bool,
}

#[derive(Debug, Subcommand)]
pub enum AlphaCatalogCommand {
    /// Build a catalog image from a file-based catalog directory and push it (no container engine)
    Build(CatalogBuildArgs),
}

#[derive(Debug, Args)]
pub struct CatalogBuildArgs {
    /// The file-based catalog directory (copied to /configs)
    #[arg(value_name = "fbcRootDir")]
    pub dir: PathBuf,
    /// The image reference to push the catalog image to (a registry reference or oci:<dir>[:tag])
    #[arg(short = 't', long, value_name = "IMAGE")]
    pub tag: String,
    /// Image base to build the catalog on: "scratch" (configs only, as catalogd needs), or an opm image such as quay.io/operator-framework/opm:latest to serve it
    #[arg(
        short = 'i',
        long,
        visible_alias = "binary-image",
        default_value = "scratch"
    )]
    pub base_image: String,
    /// Extra labels for the image. Labels should be of the form 'key=value'.
    #[arg(short = 'l', long, value_delimiter = ',')]
    pub extra_labels: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RenderTemplateArgs {
    /// [TYPE] [FILE]: TYPE is basic or semver (auto-detected from the schema when omitted);
    /// FILE '-' or omitted reads standard input
    #[arg(num_args = 0..=2, value_name = "ARGS")]
    pub args: Vec<String>,
    /// Output format (json|yaml|mermaid)
    #[arg(short, long, default_value = "json", value_parser = checked(parse_graph_format))]
    pub output: Checked<GraphFormat>,
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

/// Container tool flags, accepted for compatibility: no container engine is ever run.
#[derive(Debug, Args, Clone, Default)]
pub struct ToolArgs {
    /// tool to interact with container images (save, build, etc.). One of: [docker, podman] (accepted; opm pulls and pushes in-process)
    #[arg(short = 'c', long)]
    pub container_tool: Option<String>,
    /// tool to build container images. One of: [docker, podman] (accepted; no engine is used)
    #[arg(short = 'u', long)]
    pub build_tool: Option<String>,
    /// tool to pull container images. One of: [none, docker, podman] (accepted; opm pulls in-process)
    #[arg(short = 'p', long)]
    pub pull_tool: Option<String>,
}

/// Where an index command's result goes.
#[derive(Debug, Args, Clone, Default)]
pub struct IndexOutputArgs {
    /// the image reference to push the new index image to (a registry reference or oci:<dir>[:tag]); required unless --generate
    #[arg(short = 't', long, default_value = "", hide_default_value = true)]
    pub tag: String,
    /// container image for on-image `opm` command: the base of a new index and the FROM of --generate Dockerfiles ("scratch" for none)
    #[arg(short = 'i', long, default_value = DEFAULT_BINARY_IMAGE)]
    pub binary_image: String,
    /// if enabled, just creates the dockerfile and saves it to local disk
    #[arg(long)]
    pub generate: bool,
    /// if generating the dockerfile, this flag is used to (optionally) specify a dockerfile name
    #[arg(short = 'd', long, default_value = index_image::DEFAULT_DOCKERFILE)]
    pub out_dockerfile: String,
}

#[derive(Debug, Subcommand)]
pub enum IndexCommand {
    /// Add operator bundles to an index.
    Add(IndexAddArgs),
    /// delete an entire operator from an index
    Rm(IndexRmArgs),
    /// prune an index of all but specified packages
    Prune(IndexPruneArgs),
    /// prune an index of stranded bundles
    PruneStranded(IndexPruneStrandedArgs),
    /// Export an operator from an index into the appregistry format
    Export(IndexExportArgs),
    /// Deprecate and truncate operator bundles from an index (deprecated)
    #[command(hide = true)]
    Deprecatetruncate(IndexDeprecateTruncateArgs),
}

#[derive(Debug, Args)]
pub struct IndexAddArgs {
    /// comma separated list of bundles to add
    #[arg(short = 'b', long, value_delimiter = ',', required = true)]
    pub bundles: Vec<String>,
    /// previous index to add to (a new, empty index when omitted)
    #[arg(short = 'f', long, default_value = "", hide_default_value = true)]
    pub from_index: String,
    #[command(flatten)]
    pub output: IndexOutputArgs,
    #[command(flatten)]
    pub tools: ToolArgs,
    /// graph update mode that defines how channel graphs are updated. One of: [replaces, semver, semver-skippatch]
    #[arg(long, default_value = "replaces")]
    pub mode: String,
    /// allow registry load errors
    #[arg(long)]
    pub permissive: bool,
    /// overwrite the latest bundles (channel heads) with those of the same csv name given by --bundles
    #[arg(long)]
    pub overwrite_latest: bool,
    /// enable unsupported alpha features of the OPM CLI
    #[arg(long, hide = true)]
    pub enable_alpha: bool,
    /// enable debug logging
    #[arg(long, hide = true)]
    pub debug: bool,
    /// the kind of index to create when there is no --from-index: sqlite (upstream's) or fbc (a file-based catalog)
    #[arg(long, default_value = "sqlite", value_name = "sqlite|fbc", value_parser = checked(parse_index_format))]
    pub index_format: Checked<IndexFormat>,
}

#[derive(Debug, Args)]
pub struct IndexRmArgs {
    /// comma separated list of operators to delete
    #[arg(short = 'o', long, value_delimiter = ',', required = true)]
    pub operators: Vec<String>,
    /// previous index to delete from
    #[arg(short = 'f', long, required = true)]
    pub from_index: String,
    #[command(flatten)]
    pub output: IndexOutputArgs,
    #[command(flatten)]
    pub tools: ToolArgs,
    /// allow registry load errors
    #[arg(long)]
    pub permissive: bool,
}

#[derive(Debug, Args)]
pub struct IndexPruneArgs {
    /// comma separated list of packages to keep
    #[arg(short = 'p', long, value_delimiter = ',', required = true)]
    pub packages: Vec<String>,
    /// index to prune
    #[arg(short = 'f', long, required = true)]
    pub from_index: String,
    #[command(flatten)]
    pub output: IndexOutputArgs,
    /// tool to interact with container images (save, build, etc.). One of: [docker, podman] (accepted; no engine is used)
    #[arg(short = 'c', long)]
    pub container_tool: Option<String>,
    /// allow registry load errors
    #[arg(long)]
    pub permissive: bool,
}

#[derive(Debug, Args)]
pub struct IndexPruneStrandedArgs {
    /// index to prune
    #[arg(short = 'f', long, required = true)]
    pub from_index: String,
    #[command(flatten)]
    pub output: IndexOutputArgs,
    /// tool to interact with container images (save, build, etc.). One of: [docker, podman] (accepted; no engine is used)
    #[arg(short = 'c', long)]
    pub container_tool: Option<String>,
}

#[derive(Debug, Args)]
pub struct IndexExportArgs {
    /// index to get package from
    #[arg(short = 'i', long, required = true)]
    pub index: String,
    /// comma separated list of packages to export
    #[arg(short = 'p', long = "package", value_delimiter = ',')]
    pub packages: Vec<String>,
    /// directory where downloaded operator bundle(s) will be stored
    #[arg(short = 'f', long, default_value = "downloaded")]
    pub download_folder: PathBuf,
    /// tool to interact with container images (save, build, etc.). One of: [none, docker, podman] (accepted; opm pulls in-process)
    #[arg(short = 'c', long)]
    pub container_tool: Option<String>,
}

#[derive(Debug, Args)]
pub struct IndexDeprecateTruncateArgs {
    /// comma separated list of bundles to deprecate
    #[arg(short = 'b', long, value_delimiter = ',', required = true)]
    pub bundles: Vec<String>,
    /// previous index to deprecate from
    #[arg(short = 'f', long, required = true)]
    pub from_index: String,
    #[command(flatten)]
    pub output: IndexOutputArgs,
    #[command(flatten)]
    pub tools: ToolArgs,
    /// allow registry load errors
    #[arg(long)]
    pub permissive: bool,
    /// removes the entire package if the heads of all channels in the package are deprecated
    #[arg(long)]
    pub allow_package_removal: bool,
}
