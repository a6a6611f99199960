//! A registry that drops the connection in the middle of a blob: the add fails with a
//! specific error, nothing is pushed, and the blob cache holds only verified blobs, so the
//! next run succeeds.

use std::path::Path;

use sha2::Digest;
use testenv::{FaultProxy, RegistryEnv};

use crate::support::{add, add_request, catalog_of, entries, entry, store_with_cache};

/// Every cached blob hashes to its name; the temp area is empty.
fn assert_cache_sound(cache: &Path) {
    let blobs = cache.join("blobs/sha256");
    if let Ok(entries) = std::fs::read_dir(&blobs) {
        for e in entries {
            let e = e.unwrap();
            let data = std::fs::read(e.path()).unwrap();
            assert_eq!(
                hex::encode(sha2::Sha256::digest(&data)),
                e.file_name().to_string_lossy(),
                "a cached blob does not match its digest"
            );
        }
    }
    if let Ok(tmp) = std::fs::read_dir(cache.join("tmp")) {
        assert_eq!(tmp.count(), 0, "partial downloads left in the cache");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connection_mid_blob() {
    let Some(env) = RegistryEnv::start().await else {
        return;
    };
    let bundles = env
        .push_bundles("kube-green", &["0.5.0", "0.5.1", "0.5.2", "0.6.0"])
        .await;
    let v1 = env.reference("catalog/cut:v1");
    add(&env, &add_request(bundles[..3].to_vec(), None, &v1)).await;
    let layer_size = env.skopeo_manifest("catalog/cut:v1")["layers"][0]["size"]
        .as_u64()
        .unwrap();
    assert!(layer_size > 6000, "the catalog layer is {layer_size} bytes");

    let proxy = FaultProxy::cut_after(env.host(), 4000).await.unwrap();
    let cache = tempfile::tempdir().unwrap();
    let through_proxy = store_with_cache(&env, cache.path());
    let via = |r: &str| r.replacen(env.host(), proxy.addr(), 1);
    let req = add_request(
        vec![via(&bundles[3])],
        Some(via(&v1)),
        &via(&env.reference("catalog/cut:v2")),
    );
    let err = index_image::add(&through_proxy, &req).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("was interrupted after"), "{msg}");
    assert!(
        msg.contains(proxy.addr()),
        "the error names the registry: {msg}"
    );
    assert!(
        testenv::registry::run_command(&mut env.registry.skopeo_inspect("catalog/cut:v2", None))
            .is_err(),
        "nothing may be pushed after a failed pull"
    );
    assert_cache_sound(cache.path());

    // The same cache, reached directly, completes the add.
    let direct = store_with_cache(&env, cache.path());
    let v2 = env.reference("catalog/cut:v2");
    index_image::add(
        &direct,
        &add_request(vec![bundles[3].clone()], Some(v1), &v2),
    )
    .await
    .unwrap();
    assert_cache_sound(cache.path());
    let cfg = catalog_of(&env, &v2).await;
    assert_eq!(
        entries(&cfg, "kube-green", "alpha"),
        vec![
            entry("kube-green.v0.5.0", "kube-green.v0.4.1", &[]),
            entry("kube-green.v0.5.1", "kube-green.v0.5.0", &[]),
            entry("kube-green.v0.5.2", "kube-green.v0.5.1", &[]),
            entry("kube-green.v0.6.0", "kube-green.v0.5.2", &[]),
        ]
    );
}
