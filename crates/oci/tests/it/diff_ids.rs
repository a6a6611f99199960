//! `rootfs.diff_ids` against the layers: crafted images with a wrong diff_id, or the wrong
//! number of them, pushed to a real registry and to an `oci:` layout, are refused by every
//! reader and by building on them; images we build carry the right ones.

use std::path::Path;

use oci::{
    ExtractLimits, ExtractOptions, Image, ImageBuilder, ImageError, ImageRef, ImageStore,
    LayerContent, RegistryOptions, bundle_image, catalog_image,
};
use testenv::fixtures::corpus;
use testenv::registry::{REGISTRY_BINARIES, Registry, require_binaries};
use testenv::{listed_and_recomputed_diff_ids, with_diff_ids};

fn store(cache: &Path) -> ImageStore {
    ImageStore::new(
        cache,
        RegistryOptions {
            use_http: true,
            ..Default::default()
        },
    )
    .expect("image store")
}

/// A two-layer image with `configs/` and `manifests/` content.
async fn two_layers(s: &ImageStore) -> Image {
    let mut lower = LayerContent::new();
    lower.add_bytes("configs/a.json", "{}").unwrap();
    let mut upper = LayerContent::new();
    upper.add_bytes("manifests/csv.yaml", "kind: x").unwrap();
    upper.add_bytes("configs/b.json", "{}").unwrap();
    ImageBuilder::scratch()
        .layer(lower, "lower")
        .layer(upper, "upper")
        .label(olm_labels::INDEX_CONFIGS, "/configs")
        .build(s)
        .await
        .unwrap()
}

/// A registry, a layout and a good two-layer image, to publish crafted copies of.
struct Crafting {
    registry: Registry,
    layout: tempfile::TempDir,
    _cache: tempfile::TempDir,
    store: ImageStore,
    good: Image,
}

impl Crafting {
    async fn start() -> Option<Crafting> {
        if !require_binaries(REGISTRY_BINARIES) {
            return None;
        }
        let cache = tempfile::tempdir().unwrap();
        let store = store(cache.path());
        Some(Crafting {
            registry: Registry::start_plain().await.unwrap(),
            layout: tempfile::tempdir().unwrap(),
            good: two_layers(&store).await,
            _cache: cache,
            store,
        })
    }

    /// The good image with `diff_ids` instead, pushed to the registry and to the layout;
    /// returns both references.
    async fn publish(&self, diff_ids: Vec<String>) -> [String; 2] {
        let image = with_diff_ids(&self.store, &self.good, diff_ids);
        let tag = &image.digest.hex()[..12];
        let refs = [
            format!("{}/crafted/diffids:{tag}", self.registry.host_port()),
            format!("oci:{}:{tag}", self.layout.path().join("l").display()),
        ];
        for r in &refs {
            self.store
                .push(&image, &ImageRef::parse(r).unwrap())
                .await
                .unwrap();
        }
        refs
    }
}

/// Every way a layer is read or carried into a new image, each from a fresh cache.
async fn every_reader(reference: &str) -> Vec<ImageError> {
    let r = ImageRef::parse(reference).unwrap();
    let mut errors = Vec::new();
    for reader in 0..3 {
        let cache = tempfile::tempdir().unwrap();
        let s = store(cache.path());
        let image = s.fetch(&r).await.unwrap();
        let out = tempfile::tempdir().unwrap();
        let dest = out.path().join("root");
        let err = match reader {
            0 => s
                .unpack_image(&image, &dest, &ExtractOptions::default())
                .await
                .map(drop),
            1 => s
                .read_image_files(&image, &["manifests"], &ExtractLimits::default())
                .await
                .map(drop),
            _ => {
                let mut layer = LayerContent::new();
                layer.add_bytes("extra/x", "y").unwrap();
                ImageBuilder::on(image)
                    .layer(layer, "on top")
                    .build(&s)
                    .await
                    .map(drop)
            }
        }
        .expect_err("a crafted image must be refused");
        assert!(!dest.exists(), "nothing unpacked");
        errors.push(err);
    }
    errors
}

#[tokio::test]
async fn a_wrong_diff_id_is_refused_by_every_reader() {
    let Some(c) = Crafting::start().await else {
        return;
    };
    let ids = c.good.diff_ids().unwrap();
    let bogus = "sha256:0000000000000000000000000000000000000000000000000000000000000bad";
    let layer = &c.good.manifest.layers[1].digest;
    for reference in c.publish(vec![ids[0].to_string(), bogus.into()]).await {
        for err in every_reader(&reference).await {
            match &err {
                ImageError::DiffIdMismatch {
                    image,
                    index,
                    layer: l,
                    expected,
                    actual,
                } => {
                    assert_eq!(
                        (image, *index, l, expected.as_str(), actual.as_str()),
                        (&reference, 1, layer, bogus, ids[1].as_str())
                    );
                }
                other => panic!("{reference}: expected a diff_id mismatch, got {other}"),
            }
            let msg = err.to_string();
            assert_eq!(
                msg,
                format!(
                    "wrong diff_id in image {reference}: layer 1 ({layer}) decompresses to {}, but the config's rootfs.diff_ids[1] is {bogus}; the image config does not match its layers (container runtimes refuse it: \"wrong diff id calculated on extraction\")",
                    ids[1]
                )
            );
        }
    }
}

#[tokio::test]
async fn a_diff_id_count_other_than_the_layer_count_is_refused() {
    let Some(c) = Crafting::start().await else {
        return;
    };
    let ids = c.good.diff_ids().unwrap();
    for listed in [
        vec![ids[0].to_string()],
        vec![ids[0].to_string(), ids[1].to_string(), ids[1].to_string()],
    ] {
        let n = listed.len();
        for reference in c.publish(listed).await {
            for err in every_reader(&reference).await {
                assert!(
                    matches!(err, ImageError::DiffIdCount { diff_ids, layers: 2, .. } if diff_ids == n),
                    "{err}"
                );
                assert_eq!(
                    err.to_string(),
                    format!(
                        "mismatched rootfs and layers in image {reference}: the config's rootfs.diff_ids lists {n} entries for the manifest's 2 layers"
                    )
                );
            }
        }
    }
}

/// What we build carries diff_ids that an independent decompression agrees with: scratch
/// bundle and catalog images, and a catalog on a base image read from a cold cache.
#[tokio::test]
async fn images_we_build_carry_correct_diff_ids() {
    let Some(c) = Crafting::start().await else {
        return;
    };
    let s = &c.store;
    let host = c.registry.host_port();
    let v415 = corpus().join("catalogs/v4.15");

    let bundle = bundle_image(&corpus().join("bundles/kube-green/0.7.0"))
        .unwrap()
        .build(s)
        .await
        .unwrap();
    let mut pushed = Vec::new();
    for (image, tag) in [(&bundle, "bundle"), (&c.good, "base")] {
        let r = format!("{host}/built/{tag}:v1");
        s.push(image, &ImageRef::parse(&r).unwrap()).await.unwrap();
        pushed.push(r);
    }
    let cold = tempfile::tempdir().unwrap();
    let builder = store(cold.path());
    let fetched = builder
        .fetch(&ImageRef::parse(&pushed[1]).unwrap())
        .await
        .unwrap();
    let on_base = catalog_image(Some(fetched), &v415.join("kube-green"))
        .unwrap()
        .build(&builder)
        .await
        .unwrap();
    let r = format!("{host}/built/on-base:v1");
    builder
        .push(&on_base, &ImageRef::parse(&r).unwrap())
        .await
        .unwrap();
    pushed.push(r);

    for reference in pushed {
        let check = tempfile::tempdir().unwrap();
        let (listed, recomputed) =
            listed_and_recomputed_diff_ids(&store(check.path()), &reference).await;
        assert!(!listed.is_empty(), "{reference}");
        assert_eq!(listed, recomputed, "{reference}");
    }
}
