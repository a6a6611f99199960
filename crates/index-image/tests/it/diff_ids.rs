//! `index add` never copies a wrong `rootfs.diff_ids` into the image it pushes: a from-index
//! or `--binary-image` whose config does not match its layers is refused, nothing is pushed,
//! and what it does push carries diff_ids an independent decompression agrees with.

use index_image::{AddRequest, IndexOutput, Output};
use oci::{ImageRef, Sha256Digest};
use testenv::{RegistryEnv, listed_and_recomputed_diff_ids, with_diff_ids};

use crate::support::{add, add_request, store_with_cache};

const KG: &str = "kube-green";
const BOGUS: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000bad";

/// A one-layer FBC index pushed as `catalog/good:v1`, and copies of it listing `diff_ids`
/// pushed as `catalog/<name>:v1`. Returns (bundles, good, crafted references).
async fn crafted_indexes(
    env: &RegistryEnv,
    crafted: &[(&str, Vec<String>)],
) -> (Vec<String>, String, Vec<String>) {
    let bundles = env.push_bundles(KG, &["0.3.0", "0.3.1"]).await;
    let good = env.reference("catalog/good:v1");
    add(env, &add_request(bundles[..1].to_vec(), None, &good)).await;
    let image = env
        .store
        .fetch(&ImageRef::parse(&good).unwrap())
        .await
        .unwrap();
    let mut refs = Vec::new();
    for (name, ids) in crafted {
        let r = env.reference(&format!("catalog/{name}:v1"));
        let bad = with_diff_ids(&env.store, &image, ids.clone());
        env.store
            .push(&bad, &ImageRef::parse(&r).unwrap())
            .await
            .unwrap();
        refs.push(r);
    }
    (bundles, good, refs)
}

/// Runs the add, which must fail without pushing `catalog/out:<tag>`; returns its message.
async fn refused(env: &RegistryEnv, store: &oci::ImageStore, req: AddRequest, tag: &str) -> String {
    let out = format!("catalog/out:{tag}");
    let req = AddRequest {
        out: IndexOutput {
            output: Output::Push(env.reference(&out)),
            ..req.out
        },
        ..req
    };
    let msg = index_image::add(store, &req).await.unwrap_err().to_string();
    assert!(
        testenv::registry::run_command(&mut env.registry.skopeo_inspect(&out, None)).is_err(),
        "{out} must not be pushed after: {msg}"
    );
    msg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_from_index_with_a_wrong_diff_id_is_refused() {
    let Some(env) = RegistryEnv::start().await else {
        return;
    };
    let (bundles, good, crafted) = crafted_indexes(
        &env,
        &[("wrong", vec![BOGUS.into()]), ("count", Vec::new())],
    )
    .await;
    let good_image = env
        .store
        .fetch(&ImageRef::parse(&good).unwrap())
        .await
        .unwrap();
    let layer = &good_image.manifest.layers[0].digest;
    let actual = &good_image.diff_ids().unwrap()[0];

    let cache = tempfile::tempdir().unwrap();
    let store = store_with_cache(&env, cache.path());
    for (from, tag, expected) in [
        (
            &crafted[0],
            "wrong",
            format!(
                "wrong diff_id in image {}: layer 0 ({layer}) decompresses to {actual}, but the config's rootfs.diff_ids[0] is {BOGUS}",
                crafted[0]
            ),
        ),
        (
            &crafted[1],
            "count",
            format!(
                "mismatched rootfs and layers in image {}: the config's rootfs.diff_ids lists 0 entries for the manifest's 1 layers",
                crafted[1]
            ),
        ),
    ] {
        let req = add_request(vec![bundles[1].clone()], Some(from.clone()), "");
        let msg = refused(&env, &store, req, tag).await;
        assert!(msg.contains(&expected), "{msg}");
    }
}

/// A `--binary-image` is never read, only copied under the new layer: its layers are read
/// once to check them, and a wrong diff_id is refused before anything is pushed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_image_with_a_wrong_diff_id_is_refused() {
    let Some(env) = RegistryEnv::start().await else {
        return;
    };
    let (bundles, _, crafted) = crafted_indexes(&env, &[("base", vec![BOGUS.into()])]).await;
    let cache = tempfile::tempdir().unwrap();
    let store = store_with_cache(&env, cache.path());
    let mut req = add_request(vec![bundles[1].clone()], None, "");
    req.out.binary_image = crafted[0].clone();
    let msg = refused(&env, &store, req, "binary").await;
    assert!(
        msg.contains(&format!("wrong diff_id in image {}: layer 0", crafted[0])),
        "{msg}"
    );
    assert!(msg.contains(BOGUS), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_added_to_carries_correct_diff_ids() {
    let Some(env) = RegistryEnv::start().await else {
        return;
    };
    let (bundles, good, _) = crafted_indexes(&env, &[]).await;
    let cache = tempfile::tempdir().unwrap();
    let store = store_with_cache(&env, cache.path());
    let out = env.reference("catalog/out:good");
    let req = add_request(vec![bundles[1].clone()], Some(good), &out);
    index_image::add(&store, &req).await.unwrap();
    // The from-index layer was verified while its catalog was unpacked, and recorded so
    // (docs/images.md), so building on it needed no second read.
    let base_layer = Sha256Digest::parse(
        env.skopeo_manifest("catalog/good:v1")["layers"][0]["digest"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert!(
        cache
            .path()
            .join("diff_ids")
            .join(base_layer.hex())
            .is_file()
    );

    let check = tempfile::tempdir().unwrap();
    let (listed, recomputed) =
        listed_and_recomputed_diff_ids(&store_with_cache(&env, check.path()), &out).await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed, recomputed);
}
