//! `opm alpha bundle build` and `opm alpha catalog build` against a real registry and `oci:`
//! layouts, checked with an independent client (skopeo) and by rendering what was pushed.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use testenv::fixtures::{copy_dir, corpus, corpus_bundle};
use testenv::registry::{Credentials, Registry, run_command};
use testenv::{RegistryEnv, SnapshotFilters, cli_snapshot};

use crate::support::{OpmInEnv, blobs};

const KG: &str = "kube-green";
const MEDIATYPE: &str = "operators.operatorframework.io.bundle.mediatype.v1";

fn kube_green() -> PathBuf {
    corpus_bundle(KG, "0.7.0")
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Paths, the registry's address and digests as placeholders.
fn filters(env: &RegistryEnv, dir: &Path) -> SnapshotFilters {
    SnapshotFilters::new()
        .path(dir, "[TMP]")
        .path(&corpus(), "[CORPUS]")
        .text(env.host(), "[REGISTRY]")
        .digests()
}

/// `opm --use-http alpha <kind> build <args>` in `env`, from `d`.
fn build(env: &RegistryEnv, d: &Path, kind: &str, args: &[&str]) -> Command {
    let mut c = env.opm(d);
    c.args(["--use-http", "alpha", kind, "build"]).args(args);
    c
}

/// `opm alpha bundle build -d DIR -t TAG <extra>`.
fn bundle(env: &RegistryEnv, d: &Path, dir: &Path, tag: &str, extra: &[&str]) -> Command {
    let mut c = build(env, d, "bundle", &["-d", path(dir), "-t", tag]);
    c.args(extra);
    c
}

/// Runs a command that must succeed; returns its stdout.
fn succeeds(mut c: Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// skopeo's view of an image: `oci:` layout, or `<registry>/<repo>:<tag>` of `env`.
fn skopeo_inspect(env: &RegistryEnv, reference: &str) -> serde_json::Value {
    let mut cmd = match reference.strip_prefix(&format!("{}/", env.host())) {
        Some(repo_tag) => env.registry.skopeo_inspect(repo_tag, None),
        None => {
            let mut c = std::process::Command::new("skopeo");
            c.args(["--insecure-policy", "inspect", reference]);
            c
        }
    };
    serde_json::from_str(&run_command(&mut cmd).unwrap()).unwrap()
}

/// Every annotation of `metadata/annotations.yaml` is a label of the image.
fn assert_annotation_labels(inspected: &serde_json::Value, bundle: &Path) {
    let annotations = oci::bundle_annotations(bundle).unwrap();
    assert!(annotations.len() >= 5, "{annotations:?}");
    for (k, v) in &annotations {
        assert_eq!(inspected["Labels"][k], *v, "label {k} in {inspected}");
    }
}

/// `opm render` of an image equals the render of the directory it was built from, given the
/// image reference (the one field a directory cannot know).
fn assert_renders_as_dir(env: &RegistryEnv, d: &Path, image: &str, bundle: &Path) {
    let from_image = env.ok(d, &["--use-http", "render", image]);
    let template = ["--alpha-image-ref-template", image];
    let from_dir = env.ok(d, &[&["render", path(bundle)][..], &template].concat());
    assert_eq!(blobs(&from_image), blobs(&from_dir));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundle_build_pushes_to_a_registry_and_a_layout() {
    let Some(env) = RegistryEnv::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tag = env.reference("built/kube-green:0.7.0");
    let out = filters(&env, d).bind(|| {
        cli_snapshot!(
            "bundle_build_registry",
            bundle(&env, d, &kube_green(), &tag, &[])
        )
    });
    let pushed = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let (repo, digest) = pushed.split_once('@').unwrap();
    assert_eq!(repo, env.reference("built/kube-green"));
    let inspected = skopeo_inspect(&env, &tag);
    assert_eq!(inspected["Digest"], digest);
    assert_annotation_labels(&inspected, &kube_green());
    assert_renders_as_dir(&env, d, &pushed, &kube_green());
    assert_renders_as_dir(&env, d, &tag, &kube_green());

    // The same image again: the same digest.
    let again = succeeds(bundle(&env, d, &kube_green(), &tag, &[]));
    assert_eq!(again.trim(), pushed);

    let layout = format!("oci:{}:kg", d.join("layout").display());
    let out = succeeds(bundle(&env, d, &kube_green(), &layout, &[]));
    assert_eq!(out, format!("{layout}@{digest}\n"));
    let inspected = skopeo_inspect(&env, &layout);
    assert_eq!(inspected["Digest"], digest);
    assert_annotation_labels(&inspected, &kube_green());
    assert_renders_as_dir(&env, d, &layout, &kube_green());
}

/// Upstream's form: `--directory` is the manifests directory and annotations.yaml is written
/// from `--package`/`--channels`/`--default` beside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundle_build_writes_missing_annotations() {
    let Some(env) = RegistryEnv::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let root = d.join("kg");
    let manifests = root.join("manifests");
    copy_dir(&kube_green().join("manifests"), &manifests);
    let layout = format!("oci:{}:kg", d.join("layout").display());
    let build = |extra: &[&str]| bundle(&env, d, &manifests, &layout, extra);
    filters(&env, d).bind(|| {
        cli_snapshot!("bundle_build_no_annotations", build(&[]));
        cli_snapshot!(
            "bundle_build_generates_annotations",
            build(&["-p", KG, "-c", "alpha", "-e", "alpha", "-b", "podman"])
        );
        cli_snapshot!(
            "bundle_build_annotations_mismatch",
            build(&["--package", "other", "--channels", "alpha"])
        );
    });
    let written = std::fs::read_to_string(root.join("metadata/annotations.yaml")).unwrap();
    insta::assert_snapshot!(written, @r"
    annotations:
      operators.operatorframework.io.bundle.channel.default.v1: alpha
      operators.operatorframework.io.bundle.channels.v1: alpha
      operators.operatorframework.io.bundle.manifests.v1: manifests/
      operators.operatorframework.io.bundle.mediatype.v1: registry+v1
      operators.operatorframework.io.bundle.metadata.v1: metadata/
      operators.operatorframework.io.bundle.package.v1: kube-green
    ");
    assert_annotation_labels(&skopeo_inspect(&env, &layout), &root);
    assert_renders_as_dir(&env, d, &layout, &root);

    // --overwrite rewrites it from the flags.
    succeeds(build(&["-p", KG, "-c", "beta", "--overwrite"]));
    let labels = skopeo_inspect(&env, &layout)["Labels"].clone();
    assert_eq!(
        labels["operators.operatorframework.io.bundle.channels.v1"],
        "beta"
    );
    assert!(labels["operators.operatorframework.io.bundle.channel.default.v1"].is_null());

    // --output-dir lays a manifests directory of any name out again.
    let flat = d.join("0.7.0");
    copy_dir(&kube_green().join("manifests"), &flat);
    let out_dir = d.join("out");
    let mut c = bundle(&env, d, &flat, &layout, &["-p", KG, "-c", "alpha"]);
    c.args(["--output-dir", path(&out_dir)]);
    succeeds(c);
    assert!(
        out_dir
            .join("manifests/kube-green.clusterserviceversion.yaml")
            .is_file()
    );
    assert_renders_as_dir(&env, d, &layout, &out_dir);
}

/// A directory without a CSV is a plain bundle: annotated `plain`, every document checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundle_build_plain() {
    let Some(env) = RegistryEnv::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let root = d.join("plain");
    let manifests = root.join("manifests");
    std::fs::create_dir_all(&manifests).unwrap();
    std::fs::write(
        manifests.join("objects.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n",
    )
    .unwrap();
    let tag = env.reference("built/plain:v1");
    succeeds(bundle(
        &env,
        d,
        &root,
        &tag,
        &["-p", "plain", "-c", "stable"],
    ));
    let labels = skopeo_inspect(&env, &tag)["Labels"].clone();
    assert_eq!(labels[MEDIATYPE], "plain");
    assert_eq!(
        labels["operators.operatorframework.io.bundle.package.v1"],
        "plain"
    );

    std::fs::write(manifests.join("broken.yaml"), "metadata:\n  name: c\n").unwrap();
    let out = bundle(&env, d, &root, &tag, &[]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    let broken = manifests.join("broken.yaml");
    assert!(
        err.contains(&format!(
            "{}: a document has no apiVersion",
            broken.display()
        )),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundle_build_refuses_bad_input() {
    let Some(env) = RegistryEnv::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let csv = "manifests/kube-green.clusterserviceversion.yaml";
    let no_csv = d.join("no-csv");
    copy_dir(&kube_green(), &no_csv);
    std::fs::remove_file(no_csv.join(csv)).unwrap();
    let broken = d.join("broken");
    copy_dir(&kube_green(), &broken);
    std::fs::write(broken.join(csv), "kind: [\n").unwrap();
    let unlabelled = d.join("unlabelled");
    copy_dir(&kube_green(), &unlabelled);
    std::fs::write(
        unlabelled.join("metadata/annotations.yaml"),
        "annotations:\n  a: b\n",
    )
    .unwrap();
    let tag = env.reference("built/bad:1");
    let kg = kube_green();
    filters(&env, d).bind(|| {
        let missing = d.join("nope");
        cli_snapshot!(
            "bundle_build_missing_dir",
            bundle(&env, d, &missing, &tag, &[])
        );
        cli_snapshot!("bundle_build_no_csv", bundle(&env, d, &no_csv, &tag, &[]));
        cli_snapshot!(
            "bundle_build_broken_manifest",
            bundle(&env, d, &broken, &tag, &[])
        );
        cli_snapshot!(
            "bundle_build_no_package",
            bundle(&env, d, &unlabelled, &tag, &[])
        );
        cli_snapshot!(
            "bundle_build_bad_tag",
            bundle(&env, d, &kg, "Not A Reference", &[])
        );
        let unreachable = "127.0.0.1:1/built/kg:1";
        cli_snapshot!(
            "bundle_build_unreachable",
            bundle(&env, d, &kg, unreachable, &[])
        );
        let kaniko = ["--image-builder", "kaniko"];
        cli_snapshot!(
            "bundle_build_bad_builder",
            bundle(&env, d, &kg, &tag, &kaniko)
        );
    });
    let listed = run_command(&mut env.registry.skopeo_inspect("built/bad:1", None));
    assert!(listed.is_err(), "nothing was pushed: {listed:?}");
}

/// Wrong credentials for a TLS registry with Basic auth: the error says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundle_build_wrong_credentials() {
    let Some(env) = RegistryEnv::start().await else {
        return;
    };
    let registry = Registry::start_tls_auth("admin", "s3cret").await.unwrap();
    let d = env.home.path();
    let ca = d.join("ca.pem");
    std::fs::write(&ca, registry.ca_pem().unwrap()).unwrap();
    let docker = d.join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    let login = |password: &str| {
        use base64::Engine;
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("admin:{password}"));
        let host = registry.host_port();
        let config = format!(r#"{{"auths":{{"{host}":{{"auth":"{auth}"}}}}}}"#);
        std::fs::write(docker.join("config.json"), config).unwrap();
    };
    let tag = format!("{}/built/kg:1", registry.host_port());
    let kg = kube_green();
    let push = || {
        let mut c = env.opm(d);
        c.args(["--ca-file", path(&ca), "alpha", "bundle", "build"]);
        c.args(["-d", path(&kg), "-t", tag.as_str()]);
        c
    };
    login("wrong");
    let filters = filters(&env, d).text(registry.host_port(), "[TLS-REGISTRY]");
    filters.bind(|| {
        cli_snapshot!("bundle_build_wrong_credentials", push());
    });
    login("s3cret");
    let out = succeeds(push());
    let creds = Credentials::new("admin", "s3cret");
    let mut inspect = registry.skopeo_inspect("built/kg:1", Some(&creds));
    let inspected: serde_json::Value =
        serde_json::from_str(&run_command(&mut inspect).unwrap()).unwrap();
    let digest = inspected["Digest"].as_str().unwrap();
    assert_eq!(
        out.trim(),
        format!("{}/built/kg@{digest}", registry.host_port())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_build_on_scratch_and_on_a_base() {
    let Some(env) = RegistryEnv::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let catalog = corpus().join("catalogs/v4.15");
    let tag = env.reference("catalogs/v4.15:scratch");
    let out = filters(&env, d).bind(|| {
        let args = [path(&catalog), "--tag", tag.as_str(), "-l", "team=olm"];
        cli_snapshot!("catalog_build_scratch", build(&env, d, "catalog", &args))
    });
    let pushed = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let inspected = skopeo_inspect(&env, &tag);
    let digest = inspected["Digest"].as_str().unwrap();
    assert_eq!(
        pushed,
        format!("{}@{digest}", env.reference("catalogs/v4.15"))
    );
    let labels = &inspected["Labels"];
    assert_eq!(
        labels["operators.operatorframework.io.index.configs.v1"],
        "/configs"
    );
    assert_eq!(labels["team"], "olm");
    let from_dir = blobs(&env.ok(d, &["render", path(&catalog)]));
    assert_eq!(
        blobs(&env.ok(d, &["--use-http", "render", &pushed])),
        from_dir
    );

    // On a base that already holds a catalog: the new /configs replaces the old one.
    let small = d.join("small");
    copy_dir(&catalog.join(KG), &small.join(KG));
    let on_base = env.reference("catalogs/small:v1");
    let args = [
        path(&small),
        "-t",
        on_base.as_str(),
        "--binary-image",
        tag.as_str(),
    ];
    succeeds(build(&env, d, "catalog", &args));
    let rendered = blobs(&env.ok(d, &["--use-http", "render", &on_base]));
    assert_eq!(rendered, blobs(&env.ok(d, &["render", path(&small)])));
    assert!(rendered.len() < from_dir.len());

    let layout = format!("oci:{}", d.join("catalog-layout").display());
    let out = succeeds(build(&env, d, "catalog", &[path(&small), "-t", &layout]));
    assert!(out.starts_with(&format!("{layout}@sha256:")), "{out}");
    assert_eq!(blobs(&env.ok(d, &["render", &layout])), rendered);

    // Invalid catalogs are refused before anything is built.
    let invalid = d.join("invalid");
    copy_dir(&catalog.join(KG), &invalid.join(KG));
    std::fs::write(
        invalid.join("kube-green/extra.json"),
        r#"{"schema":"olm.channel","package":"kube-green","name":"alpha","entries":[{"name":"nope.v1"}]}"#,
    )
    .unwrap();
    let missing = d.join("nope");
    let no_base = env.reference("catalogs/none:v1");
    filters(&env, d).bind(|| {
        let args = [path(&invalid), "-t", layout.as_str()];
        cli_snapshot!("catalog_build_invalid", build(&env, d, "catalog", &args));
        let args = [path(&missing), "-t", layout.as_str()];
        cli_snapshot!(
            "catalog_build_missing_dir",
            build(&env, d, "catalog", &args)
        );
        let args = [path(&small), "-t", layout.as_str(), "-i", no_base.as_str()];
        cli_snapshot!(
            "catalog_build_missing_base",
            build(&env, d, "catalog", &args)
        );
    });
}
