//! `index add` refuses a bundle whose manifest could not be parsed, naming the file and the
//! image, on both index kinds: adding it would publish the bundle without that manifest.

use std::path::Path;

use index_image::{IndexImageError, NewIndexKind};
use testenv::RegistryEnv;

use crate::support::add_request;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_add_refuses_a_bundle_with_an_unparsable_manifest() {
    let Some(env) = RegistryEnv::start().await else {
        return;
    };
    let n = 100_000;
    let cases = [
        (
            "broken",
            "broken.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\n  bad: [\n".to_string(),
            "broken.yaml:4:6: while parsing a flow mapping, did not find expected ',' or '}'",
        ),
        (
            "deep",
            "deep.yaml",
            format!("kind: ConfigMap\ndata:\n{}x\n", "- ".repeat(n)),
            "deep.yaml:3:1023: nested more than 512 levels deep",
        ),
    ];
    for (tag, name, text, what) in cases {
        let bundle = env
            .push_bundle_with_manifests("kube-green", "0.3.0", &[(name, &text)], tag)
            .await;
        for kind in [NewIndexKind::Fbc, NewIndexKind::Sqlite] {
            let mut req = add_request(vec![bundle.clone()], None, &env.reference("index:v1"));
            req.new_index_kind = kind;
            let e = index_image::add(&env.store, &req)
                .await
                .expect_err("a bundle with an unparsable manifest is refused");
            assert!(
                matches!(&e, IndexImageError::UnparsableManifest { path, .. }
                    if path == &Path::new("manifests").join(name)),
                "{e:?}"
            );
            assert_eq!(
                e.to_string(),
                format!(
                    "bundle image {bundle}: failed to decode: manifests/{what}; the bundle is not added without this manifest"
                ),
                "{kind:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permissive_index_add_skips_that_bundle_and_adds_the_others() {
    let Some(env) = RegistryEnv::start().await else {
        return;
    };
    let broken = env
        .push_bundle_with_manifests(
            "kube-green",
            "0.3.0",
            &[("broken.yaml", "kind: [\n")],
            "broken",
        )
        .await;
    let good = env.push_bundle("kube-green", "0.3.0").await.tag_ref;
    let mut req = add_request(vec![broken.clone(), good], None, &env.reference("index:v1"));
    req.permissive = true;
    let out = index_image::add(&env.store, &req).await.unwrap();
    assert_eq!(out.changed_packages, vec!["kube-green".to_string()]);
    assert!(
        out.warnings.iter().any(
            |w| w.starts_with("permissive: skipping a bundle: bundle image ")
                && w.contains(&broken)
                && w.contains("failed to decode: manifests/broken.yaml:1:7")
        ),
        "{:?}",
        out.warnings
    );
}
