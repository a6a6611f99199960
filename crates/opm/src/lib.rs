//! The `opm` command-line tool: argument handling resolves into calls to `fbc`,
//! `sqlite-index` and `catalog-templates`. See `docs/opm.md`.

pub mod cli;
pub mod dockerfile;
pub mod icon;
pub mod index;
pub mod migrations;
pub mod render;

use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use catalog_templates::{MermaidOptions, write_mermaid};
use catalog_templates::{TemplateKind, detect_schema};
use fbc::{DeclarativeConfig, Format};

use crate::cli::{AlphaCommand, Cli, Command, GenerateCommand};
use crate::migrations::Migrations;
use crate::render::{BundleDirs, ImageRefTemplate, RefMask, Render};

/// What a command printed, for `main` to write.
#[derive(Debug, Default)]
pub struct Outcome {
    pub stdout: Vec<u8>,
    /// A catalog to write after `stdout`. It is streamed by [`emit`] so that a large
    /// catalog is never held in memory twice (once loaded, once as text).
    pub catalog: Option<(DeclarativeConfig, Format)>,
    /// Warnings for stderr.
    pub warnings: Vec<String>,
    /// A failure whose report is already in `stdout` (structured validation output).
    pub failed: bool,
}

impl Outcome {
    fn text(s: String) -> Outcome {
        Outcome {
            stdout: s.into_bytes(),
            ..Default::default()
        }
    }
}

enum Output {
    Fbc(Format),
    Mermaid,
}

fn fbc_format(output: &str, mermaid: bool) -> Result<Output> {
    match output {
        "json" => Ok(Output::Fbc(Format::Json)),
        "yaml" => Ok(Output::Fbc(Format::Yaml)),
        "mermaid" if mermaid => Ok(Output::Mermaid),
        other if mermaid => bail!("invalid --output value {other:?}, expected (json|yaml|mermaid)"),
        other => bail!("invalid --output value {other:?}, expected (json|yaml)"),
    }
}

fn write_cfg(cfg: DeclarativeConfig, out: Output, v0_semantics: bool) -> Result<Outcome> {
    match out {
        Output::Fbc(f) => Ok(Outcome {
            catalog: Some((cfg, f)),
            ..Default::default()
        }),
        Output::Mermaid => {
            let (text, warnings) = write_mermaid(
                &cfg,
                &MermaidOptions {
                    draw_v0_semantics: v0_semantics,
                    ..Default::default()
                },
            )?;
            Ok(Outcome {
                stdout: text.into_bytes(),
                warnings,
                ..Default::default()
            })
        }
    }
}

/// Runs a parsed command line; `stdin` feeds `alpha render-template` without a file.
pub fn run(cli: Cli, stdin: &mut dyn Read) -> Result<Outcome> {
    let access = registry_access(&cli)?;
    match cli.command {
        Command::Index { command } => index::run(command, access),
        Command::Render(a) => {
            let out = fbc_format(&a.output, true)?;
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
            write_cfg(cfg, out, false)
        }
        Command::Validate(a) => validate(&a.directory, &a.output),
        Command::Init(a) => init(a),
        Command::Migrate(a) => {
            let format = match fbc_format(&a.output, false)? {
                Output::Fbc(f) => f,
                Output::Mermaid => unreachable!("mermaid is rejected for migrate"),
            };
            let migrations = Migrations::from_flag(&a.migrate_level)?;
            migrate(&a.index_ref, &a.output_dir, format, migrations, access)
        }
        Command::Generate {
            command: GenerateCommand::Dockerfile(a),
        } => dockerfile::generate(a).map(|()| Outcome::default()),
        Command::Alpha {
            command: AlphaCommand::RenderTemplate(a),
        } => render_template(a, stdin, access),
        Command::Alpha {
            command: AlphaCommand::RenderGraph(a),
        } => {
            let mut r = Render::new(a.refs, RefMask::CATALOGS);
            r.registry = access;
            let cfg = r.run()?;
            let (text, warnings) = write_mermaid(
                &cfg,
                &MermaidOptions {
                    minimum_edge: a.minimum_edge,
                    package: a.package_name,
                    draw_v0_semantics: a.draw_v0_semantics,
                },
            )?;
            Ok(Outcome {
                stdout: text.into_bytes(),
                warnings,
                ..Default::default()
            })
        }
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

/// `opm validate`: load, convert, validate; with `-o json|yaml` a structured result on stdout.
fn validate(dir: &Path, output: &str) -> Result<Outcome> {
    let meta = std::fs::metadata(dir).with_context(|| format!("stat {}", dir.display()))?;
    if !meta.is_dir() {
        bail!("{:?} is not a directory", dir.display().to_string());
    }
    let result: Result<(), String> = fbc::load_fs(dir)
        .map_err(|e| e.to_string())
        .and_then(|cfg| {
            fbc::convert_to_model(&cfg)
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
    match output {
        "" => match result {
            Ok(()) => Ok(Outcome::default()),
            Err(e) => Err(anyhow!(e)),
        },
        "json" | "yaml" => {
            let mut text = String::new();
            if output == "json" {
                text.push_str("{\n  \"passed\": ");
                text.push_str(if result.is_ok() { "true" } else { "false" });
                if let Err(e) = &result {
                    text.push_str(",\n  \"error\": {\n    \"message\": ");
                    go_encoding::push_string(&mut text, e, true);
                    text.push_str("\n  }");
                }
                text.push_str("\n}\n");
            } else {
                let mut doc = serde_json::Map::new();
                if let Err(e) = &result {
                    let mut m = serde_json::Map::new();
                    m.insert("message".into(), serde_json::Value::String(e.clone()));
                    doc.insert("error".into(), serde_json::Value::Object(m));
                }
                doc.insert("passed".into(), serde_json::Value::Bool(result.is_ok()));
                text.push_str(&go_encoding::to_yaml_document(&serde_json::Value::Object(
                    doc,
                )));
                // Upstream prints the marshalled YAML (which ends in a newline) with Println.
                text.push('\n');
            }
            Ok(Outcome {
                stdout: text.into_bytes(),
                warnings: Vec::new(),
                failed: result.is_err(),
                ..Default::default()
            })
        }
        other => bail!("invalid --output value {other:?}, expected (json|yaml)"),
    }
}

fn init(a: cli::InitArgs) -> Result<Outcome> {
    let format = match fbc_format(&a.output, false)? {
        Output::Fbc(f) => f,
        Output::Mermaid => unreachable!("mermaid is rejected for init"),
    };
    let mut pkg = fbc::Package {
        schema: fbc::SCHEMA_PACKAGE.to_string(),
        name: a.package,
        default_channel: a.default_channel,
        ..Default::default()
    };
    if let Some(path) = &a.icon {
        let data =
            std::fs::read(path).with_context(|| format!("open icon file {}", path.display()))?;
        let media_type = icon::sniff(&data);
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

fn migrate(
    index_ref: &str,
    out_dir: &Path,
    format: Format,
    migrations: Option<Migrations>,
    access: index_image::RegistryAccess,
) -> Result<Outcome> {
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
    let mut r = Render::new(vec![index_ref.to_string()], RefMask::CATALOGS);
    r.migrations = migrations;
    r.registry = access;
    let cfg = r.run().context("render catalog image")?;
    fbc::write_fs(&cfg, out_dir, format)?;
    Ok(Outcome::default())
}

fn render_template(
    a: cli::RenderTemplateArgs,
    stdin: &mut dyn Read,
    access: index_image::RegistryAccess,
) -> Result<Outcome> {
    let is_type = |s: &str| TemplateKind::from_type_name(s).is_some() || s == "substitutes";
    let (kind_name, file) = match a.args.as_slice() {
        [] => (None, "-".to_string()),
        [one] if is_type(one) => (Some(one.clone()), "-".to_string()),
        [one] => (None, one.clone()),
        [t, f] => {
            if !is_type(t) {
                bail!("invalid template type {t:?}, must be one of: [basic semver substitutes]");
            }
            (Some(t.clone()), f.clone())
        }
        _ => bail!("accepts at most 2 arg(s), received {}", a.args.len()),
    };
    if kind_name.as_deref() == Some("substitutes") {
        bail!("the \"substitutes\" template type is not supported yet");
    }
    let text = if file == "-" {
        let mut s = String::new();
        stdin
            .read_to_string(&mut s)
            .map_err(|e| anyhow!("unable to open \"-\": {e}"))?;
        s
    } else {
        std::fs::read_to_string(&file).map_err(|e| anyhow!("unable to open {file:?}: {e}"))?
    };
    let out = fbc_format(&a.output, true)?;
    let mut r = Render::new(Vec::new(), RefMask::BUNDLE_IMAGES);
    r.registry = access;
    r.migrations = Migrations::from_flag(&a.migrate_level)?;
    r.bundle_dirs = BundleDirs::parse(&a.bundle_dirs.entries)?;
    let kind = match kind_name {
        Some(k) => {
            TemplateKind::from_type_name(&k).ok_or_else(|| anyhow!("unknown template type: {k}"))?
        }
        None => {
            let schema =
                detect_schema(&text).map_err(|e| anyhow!("auto-detecting template type: {e}"))?;
            match TemplateKind::from_schema(&schema) {
                Some(k) => k,
                None if schema == "olm.template.substitutes" => {
                    bail!("the \"substitutes\" template type is not supported yet")
                }
                None => bail!("auto-detecting template type: unknown template schema: {schema}"),
            }
        }
    };
    let renderer = |image: &str| r.render_template_bundle(image);
    let cfg = kind
        .render(&text, &renderer)
        .map_err(|e| anyhow!("rendering template: {e}"))?;
    // `render-template -o mermaid` draws OLMv0 semantics (upstream's writer default).
    write_cfg(cfg, out, true)
}

/// Writes an outcome's stdout.
pub fn emit(outcome: &Outcome, out: &mut dyn Write) -> std::io::Result<()> {
    out.write_all(&outcome.stdout)?;
    if let Some((cfg, format)) = &outcome.catalog {
        let mut buffered = std::io::BufWriter::with_capacity(1 << 20, &mut *out);
        fbc::write::write(cfg, *format, &mut buffered)?;
        buffered.flush()?;
    }
    out.flush()
}
