//! Every plain bundle and every registry+v1 bundle of the shared corpus passes its check.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use bundle_format::{Format, Summary, check};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
}

fn subdirectories(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| dir.display().to_string())? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            dirs.push(entry.path());
        }
    }
    dirs.sort();
    Ok(dirs)
}

#[test]
fn plain_bundles_pass() -> Result<()> {
    let bundles = subdirectories(&corpus().join("plain"))?;
    if bundles.is_empty() {
        bail!("no plain bundles in the corpus");
    }
    for bundle in bundles {
        let checked =
            check(Format::PlainV0, &bundle).with_context(|| bundle.display().to_string())?;
        let Summary::Plain { objects } = checked.summary else {
            bail!("{}: {:?}", bundle.display(), checked.summary);
        };
        // Every file of these bundles holds at least one object.
        let files = fs::read_dir(bundle.join("manifests"))?.count();
        assert!(
            objects >= files,
            "{}: {objects} objects in {files} files",
            bundle.display()
        );
    }
    Ok(())
}

#[test]
fn registry_bundles_pass() -> Result<()> {
    let mut checked_count = 0;
    for package in subdirectories(&corpus().join("bundles"))? {
        let package_name = package.file_name().unwrap().to_string_lossy().into_owned();
        for bundle in subdirectories(&package)? {
            // Package directories also hold the authors' catalog templates.
            if !bundle.join("manifests").is_dir() {
                continue;
            }
            let checked =
                check(Format::RegistryV1, &bundle).with_context(|| bundle.display().to_string())?;
            let Summary::Registry {
                package,
                csv_name,
                manifests,
                ..
            } = checked.summary
            else {
                bail!("{}: {:?}", bundle.display(), checked.summary);
            };
            assert_eq!(package, package_name, "{}", bundle.display());
            assert!(!csv_name.is_empty());
            assert!(manifests >= 1);
            checked_count += 1;
        }
    }
    // The corpus README lists 313 bundles.
    assert_eq!(checked_count, 313);
    Ok(())
}

#[test]
fn plain_content_is_not_a_registry_bundle() -> Result<()> {
    let plain = subdirectories(&corpus().join("plain"))?;
    let e = check(Format::RegistryV1, &plain[0]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid registry+v1 bundle: open metadata/annotations.yaml: file does not exist"
    );
    Ok(())
}
