//! Catalog images (an OCI layout built from the fixture, no registry needed).

use std::path::{Path, PathBuf};

use crate::support::*;

fn layout_of(fbc_dir: &Path, dest: &Path) -> PathBuf {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let store = oci::ImageStore::new(dest.join("build-cache"), oci::RegistryOptions::default())
        .expect("store");
    let layout = dest.join("layout");
    runtime.block_on(async {
        let image = oci::catalog_image(None, fbc_dir)
            .expect("image")
            .build(&store)
            .await
            .expect("build");
        let target =
            oci::ImageRef::parse(&format!("oci:{}:latest", layout.display())).expect("reference");
        store.push(&image, &target).await.expect("push");
    });
    layout
}

#[test]
fn catalog_image_from_an_oci_layout() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed-success/catalog");
    let layout = layout_of(&fixture, tmp.path());
    let image = format!("cat=oci:{}:latest", layout.display());
    let cache = tmp.path().join("cache");
    let args = [
        "--catalog-image",
        image.as_str(),
        "--image-cache",
        cache.to_str().expect("utf-8"),
        "-p",
        "a",
        "--version",
        "0.1.0",
        "-p",
        "b",
        "--joint",
    ];
    let from_image = resolve(&args);
    assert_eq!(from_image.code, 0, "{}", from_image.stderr);
    let from_dir = resolve(&[
        "--catalog",
        SUCCESS,
        "-p",
        "a",
        "--version",
        "0.1.0",
        "-p",
        "b",
        "--joint",
    ]);
    assert_eq!(from_image.stdout, from_dir.stdout);

    let missing = format!("cat=oci:{}:nope", layout.display());
    let run = resolve(&[
        "--catalog-image",
        missing.as_str(),
        "--image-cache",
        cache.to_str().expect("utf-8"),
        "-p",
        "a",
    ]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("catalog cat: unpacking oci:"),
        "{}",
        run.stderr
    );
}
