//! `index add` on file-based catalog images against a real registry: new index, adds in each
//! mode, the pushed image checked with skopeo and by reading its catalog back.

use index_image::{Mode, Output};
use testenv::RegistryEnv;

use crate::support::{add, add_request, catalog_of, entries, entry};

const KG: &str = "kube-green";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_index_then_add_in_replaces_mode() {
    let Some(env) = RegistryEnv::start().await else {
        return;
    };
    let first = env.push_bundles(KG, &["0.3.0", "0.3.1", "0.4.0"]).await;
    let v1 = env.reference("catalog/index:v1");
    let out = add(&env, &add_request(first.clone(), None, &v1)).await;
    assert_eq!(out.kind, "file-based catalog");
    assert_eq!(out.changed_packages, vec![KG.to_string()]);
    let (pushed, digest) = out.pushed.clone().unwrap();
    assert_eq!(pushed, v1);

    let inspect = env.skopeo_inspect("catalog/index:v1");
    assert_eq!(inspect["Digest"], digest.as_str());
    assert_eq!(
        inspect["Labels"]["operators.operatorframework.io.index.configs.v1"],
        "/configs"
    );
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 1);

    let cfg = catalog_of(&env, &v1).await;
    assert_eq!(cfg.packages.len(), 1);
    assert_eq!(cfg.packages[0].default_channel, "alpha");
    assert_eq!(
        entries(&cfg, KG, "alpha"),
        vec![
            entry("kube-green.v0.3.0", "", &[]),
            entry("kube-green.v0.3.1", "kube-green.v0.3.0", &[]),
            entry("kube-green.v0.4.0", "kube-green.v0.3.1", &[]),
        ]
    );
    let images: Vec<&str> = cfg.bundles.iter().map(|b| b.image.as_str()).collect();
    for r in &first {
        assert!(images.contains(&r.as_str()), "{r} missing from {images:?}");
    }

    // Add two more on top: the from-index layers are kept, one layer is added.
    let more = env.push_bundles(KG, &["0.4.1", "0.5.0"]).await;
    let v2 = env.reference("catalog/index:v2");
    let out = add(&env, &add_request(more, Some(v1.clone()), &v2)).await;
    let report = out.report.unwrap();
    assert_eq!(
        report.skipped, 1,
        "the from-index layer already in the repository"
    );
    let m1 = env.skopeo_manifest("catalog/index:v1");
    let m2 = env.skopeo_manifest("catalog/index:v2");
    let layers1 = m1["layers"].as_array().unwrap();
    let layers2 = m2["layers"].as_array().unwrap();
    assert_eq!(layers2.len(), layers1.len() + 1);
    assert_eq!(layers2[..layers1.len()], layers1[..]);
    let inspect = env.skopeo_inspect("catalog/index:v2");
    assert_eq!(
        inspect["Labels"]["operators.operatorframework.io.index.configs.v1"],
        "/configs"
    );

    let cfg = catalog_of(&env, &v2).await;
    assert_eq!(cfg.bundles.len(), 5);
    assert_eq!(
        entries(&cfg, KG, "alpha"),
        vec![
            entry("kube-green.v0.3.0", "", &[]),
            entry("kube-green.v0.3.1", "kube-green.v0.3.0", &[]),
            entry("kube-green.v0.4.0", "kube-green.v0.3.1", &[]),
            entry("kube-green.v0.4.1", "kube-green.v0.4.0", &[]),
            entry("kube-green.v0.5.0", "kube-green.v0.4.1", &[]),
        ]
    );
    fbc::convert_to_model(&cfg).expect("the pushed catalog is valid");

    // Pushing the same result again uploads nothing.
    let v2b = env.reference("catalog/index:v2b");
    let again = env.push_bundles(KG, &["0.4.1", "0.5.0"]).await;
    let out = add(&env, &add_request(again, Some(v1), &v2b)).await;
    let report = out.report.unwrap();
    assert_eq!(report.uploaded, 0, "{report:?}");
    assert_eq!(out.pushed.unwrap().1, digest_of(&env, "catalog/index:v2"));
}

fn digest_of(env: &RegistryEnv, repo_tag: &str) -> String {
    env.skopeo_inspect(repo_tag)["Digest"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semver_mode_inserts_between_versions() {
    let Some(env) = RegistryEnv::start().await else {
        return;
    };
    let first = env.push_bundles(KG, &["0.3.0", "0.5.0"]).await;
    let v1 = env.reference("catalog/semver:v1");
    let mut req = add_request(first, None, &v1);
    req.mode = Mode::Semver;
    add(&env, &req).await;
    let cfg = catalog_of(&env, &v1).await;
    assert_eq!(
        entries(&cfg, KG, "alpha"),
        vec![
            entry("kube-green.v0.3.0", "", &[]),
            entry("kube-green.v0.5.0", "kube-green.v0.3.0", &[]),
        ]
    );

    let middle = env.push_bundles(KG, &["0.4.0"]).await;
    let v2 = env.reference("catalog/semver:v2");
    let mut req = add_request(middle, Some(v1), &v2);
    req.mode = Mode::Semver;
    add(&env, &req).await;
    let cfg = catalog_of(&env, &v2).await;
    assert_eq!(
        entries(&cfg, KG, "alpha"),
        vec![
            entry("kube-green.v0.3.0", "", &[]),
            entry("kube-green.v0.4.0", "kube-green.v0.3.0", &[]),
            entry("kube-green.v0.5.0", "kube-green.v0.4.0", &[]),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semver_skippatch_mode_skips_lower_patches() {
    let Some(env) = RegistryEnv::start().await else {
        return;
    };
    let first = env.push_bundles(KG, &["0.4.1", "0.5.0", "0.5.1"]).await;
    let v1 = env.reference("catalog/skippatch:v1");
    let mut req = add_request(first, None, &v1);
    req.mode = Mode::SemverSkipPatch;
    add(&env, &req).await;

    let next = env.push_bundles(KG, &["0.5.2"]).await;
    let v2 = env.reference("catalog/skippatch:v2");
    let mut req = add_request(next, Some(v1), &v2);
    req.mode = Mode::SemverSkipPatch;
    add(&env, &req).await;
    let cfg = catalog_of(&env, &v2).await;
    assert_eq!(
        entries(&cfg, KG, "alpha"),
        vec![
            entry("kube-green.v0.4.1", "", &[]),
            entry("kube-green.v0.5.0", "kube-green.v0.4.1", &[]),
            entry(
                "kube-green.v0.5.1",
                "kube-green.v0.4.1",
                &["kube-green.v0.5.0"]
            ),
            entry(
                "kube-green.v0.5.2",
                "kube-green.v0.4.1",
                &["kube-green.v0.5.0", "kube-green.v0.5.1"]
            ),
        ]
    );
    fbc::convert_to_model(&cfg).expect("valid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generate_writes_catalog_and_dockerfile() {
    let Some(env) = RegistryEnv::start().await else {
        return;
    };
    let first = env.push_bundles(KG, &["0.3.0"]).await;
    let v1 = env.reference("catalog/gen:v1");
    add(&env, &add_request(first, None, &v1)).await;
    let next = env.push_bundles(KG, &["0.3.1"]).await;

    let ctx = tempfile::tempdir().unwrap();
    let mut req = add_request(next.clone(), Some(v1.clone()), "unused");
    req.out.output = Output::Generate {
        dir: ctx.path().to_path_buf(),
        dockerfile: "index.Dockerfile".into(),
    };
    req.out.binary_image = String::new();
    let out = add(&env, &req).await;
    assert!(out.pushed.is_none());
    let dockerfile = std::fs::read_to_string(ctx.path().join("index.Dockerfile")).unwrap();
    assert_eq!(
        dockerfile,
        "FROM quay.io/operator-framework/opm:latest\nLABEL operators.operatorframework.io.index.configs.v1=/configs\nADD configs /configs\nEXPOSE 50051\nENTRYPOINT [\"/bin/opm\"]\nCMD [\"serve\",\"/configs\"]\n"
    );
    let cfg = fbc::load_fs(&ctx.path().join("configs")).unwrap();
    assert_eq!(
        entries(&cfg, KG, "alpha"),
        vec![
            entry("kube-green.v0.3.0", "", &[]),
            entry("kube-green.v0.3.1", "kube-green.v0.3.0", &[]),
        ]
    );
    // Only the build context: no temp dirs left behind.
    let mut names: Vec<_> = std::fs::read_dir(ctx.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["configs", "index.Dockerfile"]);

    // A second run refuses to overwrite the catalog directory.
    let err = index_image::add(&env.store, &req).await.unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_layout_source_and_destination() {
    let Some(env) = RegistryEnv::start().await else {
        return;
    };
    let first = env.push_bundles(KG, &["0.6.0"]).await;
    let dir = tempfile::tempdir().unwrap();
    let v1 = format!("oci:{}:v1", dir.path().join("layout").display());
    add(&env, &add_request(first, None, &v1)).await;
    let next = env.push_bundles(KG, &["0.7.0"]).await;
    let v2 = format!("oci:{}:v2", dir.path().join("layout").display());
    add(&env, &add_request(next, Some(v1), &v2)).await;
    let cfg = catalog_of(&env, &v2).await;
    assert_eq!(
        entries(&cfg, KG, "alpha"),
        vec![
            // The CSV's spec.replaces names a bundle the catalog does not have: allowed.
            entry("kube-green.v0.6.0", "kube-green.v0.5.2", &[]),
            entry("kube-green.v0.7.0", "kube-green.v0.6.0", &[]),
        ]
    );
}
