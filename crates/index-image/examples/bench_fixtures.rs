//! Benchmark fixtures for `bench/index-add/run.sh`: synthetic bundles (renamed copies of a
//! corpus bundle) built as images and pushed to a registry, and the reference lists the
//! benchmark adds.
//!
//! `bench_fixtures <registry host:port> <out dir> <packages> <versions> <extra packages>`
//! writes `<out>/base.txt` (packages × versions references), `<out>/one.txt` (the next
//! version of the first package) and `<out>/many.txt` (extra packages × versions), each a
//! comma-separated list.

use std::path::{Path, PathBuf};

use futures::{StreamExt, TryStreamExt};
use oci::{ImageRef, ImageStore, RegistryOptions, bundle_image};
use serde_json::Value;
use testenv::fixtures::corpus;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Writes a copy of the template bundle as package `pkg`, version `1.0.<v>`.
fn write_bundle(template: &Path, dir: &Path, pkg: &str, v: usize) -> Result<(), Error> {
    std::fs::create_dir_all(dir.join("manifests"))?;
    std::fs::create_dir_all(dir.join("metadata"))?;
    for entry in std::fs::read_dir(template.join("manifests"))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(entry.path())?;
        if name.contains("clusterserviceversion") {
            let mut csv: Value = serde_saphyr::from_str(&text)?;
            csv["metadata"]["name"] = Value::from(format!("{pkg}.v1.0.{v}"));
            csv["spec"]["version"] = Value::from(format!("1.0.{v}"));
            match v {
                0 => {
                    if let Some(spec) = csv["spec"].as_object_mut() {
                        spec.remove("replaces");
                    }
                }
                _ => csv["spec"]["replaces"] = Value::from(format!("{pkg}.v1.0.{}", v - 1)),
            }
            std::fs::write(dir.join("manifests").join(name), serde_json::to_vec(&csv)?)?;
        } else {
            std::fs::write(dir.join("manifests").join(name), text)?;
        }
    }
    let annotations = std::fs::read_to_string(template.join("metadata/annotations.yaml"))?;
    let annotations = annotations
        .lines()
        .map(|l| {
            if l.trim_start()
                .starts_with("operators.operatorframework.io.bundle.package.v1:")
            {
                format!("  operators.operatorframework.io.bundle.package.v1: {pkg}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dir.join("metadata/annotations.yaml"), annotations)?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let [_, registry, out, packages, versions, extra] = args.as_slice() else {
        return Err(
            "usage: bench_fixtures <registry> <out dir> <packages> <versions> <extra packages>"
                .into(),
        );
    };
    let (packages, versions, extra): (usize, usize, usize) =
        (packages.parse()?, versions.parse()?, extra.parse()?);
    let out = PathBuf::from(out);
    let template = corpus().join("bundles/kube-green/0.7.0");
    let store = ImageStore::new(
        out.join("fixture-cache"),
        RegistryOptions {
            use_http: true,
            ..Default::default()
        },
    )?;
    let mut jobs = Vec::new();
    for p in 0..packages + extra {
        let pkg = format!("bench-pkg-{p}");
        // The base packages get one more version: the single bundle added later.
        let count = if p == 0 { versions + 1 } else { versions };
        for v in 0..count {
            jobs.push((pkg.clone(), v, p >= packages, p == 0 && v == versions));
        }
    }
    let dirs = out.join("bundles");
    let pushes = jobs.iter().map(|(pkg, v, _, _)| {
        let store = store.clone();
        let dir = dirs.join(pkg).join(v.to_string());
        let template = template.clone();
        let reference = format!("{registry}/bench/{pkg}:1.0.{v}");
        async move {
            write_bundle(&template, &dir, pkg, *v)?;
            let image = bundle_image(&dir)?.build(&store).await?;
            store.push(&image, &ImageRef::parse(&reference)?).await?;
            Ok::<String, Error>(reference)
        }
    });
    let refs: Vec<String> = futures::stream::iter(pushes)
        .buffered(8)
        .try_collect()
        .await?;
    let mut base = Vec::new();
    let mut one = Vec::new();
    let mut many = Vec::new();
    for ((_, _, is_extra, is_one), r) in jobs.iter().zip(refs) {
        match (is_extra, is_one) {
            (_, true) => one.push(r),
            (true, _) => many.push(r),
            _ => base.push(r),
        }
    }
    std::fs::write(out.join("base.txt"), base.join(","))?;
    std::fs::write(out.join("one.txt"), one.join(","))?;
    std::fs::write(out.join("many.txt"), many.join(","))?;
    eprintln!(
        "pushed {} base, {} single, {} extra bundles",
        base.len(),
        one.len(),
        many.len()
    );
    Ok(())
}
