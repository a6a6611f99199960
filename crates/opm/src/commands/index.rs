//! `opm index …`: flags resolved into `index-image` requests, run on a tokio runtime.

use std::path::PathBuf;

use anyhow::{Result, bail};
use index_image::{
    AddRequest, Change, ChangeRequest, ExportRequest, IndexOutput, Mode, NewIndexKind, Outcome,
    Output, RegistryAccess,
};
use oci::ImageStore;

use crate::cli::{IndexCommand, IndexFormat, IndexOutputArgs, ToolArgs};
use crate::outcome::Outcome as CliOutcome;
use crate::runtime::block_on;

/// Validates the container tool flags as upstream does; returns the notice to print once when
/// an engine was asked for (none is ever run).
fn tools_notice(tools: &ToolArgs, build_tool_allowed_none: bool) -> Result<Option<String>> {
    let named = |v: &Option<String>| v.as_deref().filter(|s| !s.is_empty()).map(str::to_string);
    let (container, build, pull) = (
        named(&tools.container_tool),
        named(&tools.build_tool),
        named(&tools.pull_tool),
    );
    if !build_tool_allowed_none && build.as_deref() == Some("none") {
        bail!("none is not a valid container-tool for index add");
    }
    if container.is_some() && (build.is_some() || pull.is_some()) {
        bail!("container-tool cannot be set alongside pull-tool or build-tool");
    }
    for (flag, value, allowed) in [
        (
            "--container-tool",
            &container,
            &["none", "docker", "podman"][..],
        ),
        ("--build-tool", &build, &["docker", "podman"][..]),
        ("--pull-tool", &pull, &["none", "docker", "podman"][..]),
    ] {
        if let Some(v) = value
            && !allowed.contains(&v.as_str())
        {
            bail!("unrecognized {flag} {v:?}: one of [{}]", allowed.join(", "));
        }
    }
    Ok(engine_notice([container, build, pull]))
}

pub(crate) fn engine_notice(values: [Option<String>; 3]) -> Option<String> {
    let engines: Vec<String> = values
        .into_iter()
        .flatten()
        .filter(|v| ["docker", "podman", "buildah"].contains(&v.as_str()))
        .collect();
    let first = engines.first()?;
    Some(format!(
        "opm: {first} is not used: images are pulled, built and pushed in-process (no container engine needed)"
    ))
}

fn output(args: &IndexOutputArgs) -> Result<IndexOutput> {
    let output = if args.generate {
        let dir = std::env::current_dir()?;
        Output::Generate {
            dir,
            dockerfile: PathBuf::from(&args.out_dockerfile),
        }
    } else {
        if args.tag.is_empty() {
            bail!(
                "--tag is required: opm builds and pushes the index image itself, to a registry reference (registry/namespace/index:tag) or an OCI layout (oci:<dir>[:tag]); use --generate to write a Dockerfile and build context instead"
            );
        }
        Output::Push(args.tag.clone())
    };
    Ok(IndexOutput {
        output,
        binary_image: args.binary_image.clone(),
    })
}

const DEPRECATION: &str = "DEPRECATION NOTICE:\nSqlite-based catalogs and their related subcommands are deprecated. Support for\nthem will be removed in a future release. Please migrate your catalog workflows\nto the new file-based catalog format.";

fn report(outcome: Outcome, mut notices: Vec<String>) -> CliOutcome {
    notices.extend(outcome.warnings.iter().cloned());
    if outcome.kind == "sqlite" {
        tracing::warn!("{DEPRECATION}");
    }
    if let Some((tag, digest)) = &outcome.pushed {
        let mut line = format!("pushed {tag} ({} index, {digest})", outcome.kind);
        if let Some(r) = &outcome.report {
            line.push_str(&format!(
                ": {} blob(s) uploaded, {} already present, {} mounted",
                r.uploaded, r.skipped, r.mounted
            ));
        }
        notices.push(line);
    }
    for p in &outcome.generated {
        notices.push(format!("wrote {}", p.display()));
    }
    CliOutcome {
        warnings: notices,
        ..Default::default()
    }
}

pub(crate) fn run(command: IndexCommand, access: RegistryAccess) -> Result<CliOutcome> {
    let store = access.store()?;
    let (notice, outcome) = match command {
        IndexCommand::Add(a) => {
            let notice = tools_notice(&a.tools, false)?;
            let mode = Mode::parse(&a.mode)?;
            let new_index_kind = match a.index_format.get()? {
                IndexFormat::Sqlite => NewIndexKind::Sqlite,
                IndexFormat::Fbc => NewIndexKind::Fbc,
            };
            let req = AddRequest {
                bundles: a
                    .bundles
                    .iter()
                    .map(|b| b.trim().to_string())
                    .filter(|b| !b.is_empty())
                    .collect(),
                from_index: Some(a.from_index.clone()).filter(|f| !f.is_empty()),
                out: output(&a.output)?,
                mode,
                overwrite_latest: a.overwrite_latest,
                permissive: a.permissive,
                new_index_kind,
            };
            (notice, block_on(index_image::add(&store, &req))??)
        }
        IndexCommand::Rm(a) => {
            let notice = tools_notice(&a.tools, true)?;
            let change = Change::Remove(a.operators);
            (notice, run_change(&store, a.from_index, &a.output, change)?)
        }
        IndexCommand::Prune(a) => {
            let notice = engine_notice([a.container_tool.clone(), None, None]);
            let change = Change::Prune(a.packages);
            (notice, run_change(&store, a.from_index, &a.output, change)?)
        }
        IndexCommand::PruneStranded(a) => {
            let notice = engine_notice([a.container_tool.clone(), None, None]);
            let change = Change::PruneStranded;
            (notice, run_change(&store, a.from_index, &a.output, change)?)
        }
        IndexCommand::Deprecatetruncate(a) => {
            let notice = tools_notice(&a.tools, true)?;
            let change = Change::DeprecateTruncate {
                bundles: a.bundles,
                allow_package_removal: a.allow_package_removal,
            };
            (notice, run_change(&store, a.from_index, &a.output, change)?)
        }
        IndexCommand::Export(a) => {
            let notice = engine_notice([a.container_tool.clone(), None, None]);
            let req = ExportRequest {
                index: a.index,
                packages: a.packages,
                download_folder: a.download_folder,
            };
            (notice, block_on(index_image::export(&store, &req))??)
        }
    };
    Ok(report(outcome, notice.into_iter().collect()))
}

/// `rm`, `prune`, `prune-stranded` and `deprecatetruncate`: a change of the from-index.
fn run_change(
    store: &ImageStore,
    from_index: String,
    out: &IndexOutputArgs,
    change: Change,
) -> Result<Outcome> {
    let req = ChangeRequest {
        from_index,
        out: output(out)?,
        change,
    };
    Ok(block_on(index_image::change(store, &req))??)
}
