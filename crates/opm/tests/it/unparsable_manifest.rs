//! A bundle image with a manifest that cannot be parsed, through the `opm` binary: `index add`
//! refuses it naming the file and the image (both index kinds); `render` warns and goes on.

use testenv::{RegistryEnv, SnapshotFilters, cli_snapshot};

use crate::support::OpmInEnv;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_add_fails_and_render_warns_on_an_unparsable_manifest() {
    let Some(env) = RegistryEnv::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bundle = env
        .push_bundle_with_manifests(
            "kube-green",
            "0.3.0",
            &[(
                "broken.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\n  bad: [\n",
            )],
            "broken",
        )
        .await;

    let filters = SnapshotFilters::new().text(env.host(), "[REGISTRY]");
    filters.bind(|| {
        for kind in ["sqlite", "fbc"] {
            let index = env.reference(&format!("index/{kind}:v1"));
            cli_snapshot!(
                format!("index_add_unparsable_manifest_{kind}"),
                env.opm(dir.path()).args([
                    "--use-http",
                    "index",
                    "add",
                    "--bundles",
                    &bundle,
                    "--tag",
                    &index,
                    "--index-format",
                    kind,
                    "--binary-image",
                    "scratch",
                ])
            );
        }
    });
    let out = env.run(dir.path(), &["--use-http", "render", &bundle]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        format!(
            "warning: failed to decode: {bundle}/manifests/broken.yaml:4:6: while parsing a flow mapping, did not find expected ',' or '}}'\n"
        )
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.matches("olm.bundle.object").count(), 6, "{stdout}");
}
