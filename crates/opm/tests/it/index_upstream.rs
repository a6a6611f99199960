//! Differential tests with upstream opm v1.73.0 against a loopback registry: upstream renders
//! the sqlite index we push; our render of the database upstream's `index add --generate`
//! builds equals upstream's; the generated Dockerfiles are byte-identical.

use std::path::Path;
use std::process::Command;

use testenv::RegistryEnv;
use testenv::fixtures::upstream_opm as upstream;

use crate::support::OpmInEnv;

fn upstream_run(bin: &Path, dir: &Path, env: &RegistryEnv, args: &[&str]) -> std::process::Output {
    Command::new(bin)
        .current_dir(dir)
        .env("HOME", env.home.path())
        .env("DOCKER_CONFIG", env.home.path().join("docker"))
        .args(args)
        .output()
        .unwrap()
}

fn upstream_ok(bin: &Path, dir: &Path, env: &RegistryEnv, args: &[&str]) -> String {
    let out = upstream_run(bin, dir, env, args);
    assert!(
        out.status.success(),
        "upstream opm {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generate_matches_upstream_and_upstream_renders_our_push() {
    let Some(up) = upstream() else { return };
    let Some(env) = RegistryEnv::start().await else {
        return;
    };
    let b1 = env.push_bundle("kube-green", "0.3.0").await.tag_ref;
    let b2 = env.push_bundle("kube-green", "0.3.1").await.tag_ref;
    let b3 = env.push_bundle("kube-green", "0.4.0").await.tag_ref;
    let bundles = format!("{b1},{b2}");

    // Upstream builds a database without an engine with --generate.
    let theirs = tempfile::tempdir().unwrap();
    upstream_ok(
        &up,
        theirs.path(),
        &env,
        &[
            "index",
            "add",
            "--bundles",
            &bundles,
            "--generate",
            "--pull-tool",
            "none",
            "--use-http",
        ],
    );
    let ours = tempfile::tempdir().unwrap();
    env.ok(
        ours.path(),
        &[
            "index",
            "add",
            "--bundles",
            &bundles,
            "--generate",
            "--pull-tool",
            "none",
            "--use-http",
        ],
    );
    let their_dockerfile = std::fs::read(theirs.path().join("index.Dockerfile")).unwrap();
    let our_dockerfile = std::fs::read(ours.path().join("index.Dockerfile")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&our_dockerfile),
        String::from_utf8_lossy(&their_dockerfile)
    );
    let their_db = theirs.path().join("database/index.db");
    let our_db = ours.path().join("database/index.db");
    assert!(their_db.is_file() && our_db.is_file());

    // The same FBC from both databases, rendered by both tools.
    let ref_render = upstream_ok(
        &up,
        theirs.path(),
        &env,
        &["render", their_db.to_str().unwrap()],
    );
    assert_eq!(
        env.ok(theirs.path(), &["render", their_db.to_str().unwrap()]),
        ref_render,
        "our render of upstream's database"
    );
    assert_eq!(
        upstream_ok(
            &up,
            ours.path(),
            &env,
            &["render", our_db.to_str().unwrap()]
        ),
        ref_render,
        "upstream's render of our database"
    );

    // We push the sqlite index (new, then add one more); upstream renders the pushed images.
    let v1 = env.reference("index/sqlite:v1");
    env.ok(
        ours.path(),
        &[
            "--use-http",
            "index",
            "add",
            "--bundles",
            &bundles,
            "--tag",
            &v1,
            "--binary-image",
            "scratch",
        ],
    );
    let ours_v1 = env.ok(ours.path(), &["render", &v1, "--use-http"]);
    assert_eq!(
        upstream_ok(&up, ours.path(), &env, &["render", &v1, "--use-http"]),
        ours_v1
    );
    assert_eq!(ours_v1, ref_render);

    let v2 = env.reference("index/sqlite:v2");
    env.ok(
        ours.path(),
        &[
            "--use-http",
            "index",
            "add",
            "--bundles",
            &b3,
            "--from-index",
            &v1,
            "--tag",
            &v2,
        ],
    );
    let ours_v2 = env.ok(ours.path(), &["render", &v2, "--use-http"]);
    assert_eq!(
        upstream_ok(&up, ours.path(), &env, &["render", &v2, "--use-http"]),
        ours_v2
    );
    assert!(ours_v2.contains("kube-green.v0.4.0"));

    // Without --from-index a second --generate replaces database/index.db with a new
    // database (upstream and ours), and -d names the Dockerfile.
    upstream_ok(
        &up,
        theirs.path(),
        &env,
        &[
            "index",
            "add",
            "--bundles",
            &b1,
            "--generate",
            "--pull-tool",
            "none",
            "--use-http",
            "--out-dockerfile",
            "second.Dockerfile",
        ],
    );
    let ours_b3 = tempfile::tempdir().unwrap();
    std::fs::create_dir(ours_b3.path().join("database")).unwrap();
    std::fs::copy(&our_db, ours_b3.path().join("database/index.db")).unwrap();
    env.ok(
        ours_b3.path(),
        &[
            "index",
            "add",
            "--bundles",
            &b1,
            "--generate",
            "--use-http",
            "-d",
            "second.Dockerfile",
        ],
    );
    assert_eq!(
        std::fs::read(ours_b3.path().join("second.Dockerfile")).unwrap(),
        std::fs::read(theirs.path().join("second.Dockerfile")).unwrap()
    );
    assert_eq!(
        env.ok(ours_b3.path(), &["render", "database/index.db"]),
        upstream_ok(&up, theirs.path(), &env, &["render", "database/index.db"])
    );
}

/// semver-skippatch on sqlite behaves as upstream's, failures included (upstream's graph
/// loader refuses some shapes, e.g. 0.4.1 on top of 0.3.0, 0.3.1, 0.4.0).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_skippatch_matches_upstream() {
    let Some(up) = upstream() else { return };
    let Some(env) = RegistryEnv::start().await else {
        return;
    };
    let mut tag = std::collections::BTreeMap::new();
    for v in ["0.3.0", "0.3.1", "0.4.0", "0.4.1"] {
        tag.insert(v, env.push_bundle("kube-green", v).await.tag_ref);
    }
    for (case, first) in [["0.3.0", "0.3.1", "0.4.0"].as_slice(), &["0.3.0", "0.4.0"]]
        .into_iter()
        .enumerate()
    {
        let first: Vec<&str> = first.iter().map(|v| tag[v].as_str()).collect();
        let theirs = tempfile::tempdir().unwrap();
        let ours = tempfile::tempdir().unwrap();
        // Upstream inserts the bundles of one add in Go map order, which changes from run to
        // run, and the skip-patch graph depends on it; we insert them in the order given. So
        // upstream adds them one at a time, in that order.
        std::fs::create_dir(theirs.path().join("database")).unwrap();
        let upstream_add = |bundle: &str| {
            let args = [
                "registry",
                "add",
                "-d",
                "database/index.db",
                "-b",
                bundle,
                "--mode",
                "semver-skippatch",
                "--use-http",
            ];
            upstream_run(&up, theirs.path(), &env, &args)
        };
        for b in &first {
            let out = upstream_add(b);
            assert!(
                out.status.success(),
                "upstream registry add {b}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let first = first.join(",");
        env.ok(
            ours.path(),
            &[
                "index",
                "add",
                "--bundles",
                &first,
                "--generate",
                "--mode",
                "semver-skippatch",
                "--use-http",
            ],
        );
        assert_eq!(
            env.ok(ours.path(), &["render", "database/index.db"]),
            upstream_ok(&up, theirs.path(), &env, &["render", "database/index.db"]),
            "case {case}"
        );
        // The next patch: upstream on the database file (`registry add`), ours on the image.
        let theirs_out = upstream_add(&tag["0.4.1"]);
        let v1 = env.reference(&format!("skippatch/index{case}:v1"));
        let v2 = env.reference(&format!("skippatch/index{case}:v2"));
        env.ok(
            ours.path(),
            &[
                "--use-http",
                "index",
                "add",
                "-b",
                &first,
                "--mode",
                "semver-skippatch",
                "-t",
                &v1,
                "-i",
                "scratch",
            ],
        );
        let ours_out = env.run(
            ours.path(),
            &[
                "--use-http",
                "index",
                "add",
                "-b",
                &tag["0.4.1"],
                "-f",
                &v1,
                "-t",
                &v2,
                "--mode",
                "semver-skippatch",
            ],
        );
        let their_err = String::from_utf8_lossy(&theirs_out.stderr).into_owned();
        let our_err = String::from_utf8_lossy(&ours_out.stderr).into_owned();
        assert_eq!(
            theirs_out.status.success(),
            ours_out.status.success(),
            "case {case}: upstream: {their_err}\nours: {our_err}"
        );
        if theirs_out.status.success() {
            assert_eq!(
                env.ok(ours.path(), &["--use-http", "render", &v2]),
                upstream_ok(&up, theirs.path(), &env, &["render", "database/index.db"]),
                "case {case}"
            );
        } else {
            let needle = "Invalid graph: some (non-bottom) nodes defined in the graph were not mentioned as replacements of any node";
            assert!(their_err.contains(needle), "upstream: {their_err}");
            assert!(our_err.contains(needle), "ours: {our_err}");
        }
    }
}
