//! `opm index …` and `opm render <image>` end to end against a real registry: the documented
//! OpenShift command verbatim, both index kinds, and the failures users hit.

use std::path::Path;

use base64::Engine;
use oci::{Credential, Credentials, ImageRef, ImageStore, RegistryOptions, bundle_image};
use testenv::RegistryEnv;
use testenv::fixtures::corpus_bundle as bundle_dir;
use testenv::registry::{REGISTRY_BINARIES, Registry, require_binaries, run_command};

use crate::support::{OpmInEnv, blobs, channel_entries};

const KG: &str = "kube-green";

fn entries(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// OpenShift 4.15's documented `opm index add` (seed-examples §1), verbatim, against a TLS
/// registry with Basic auth: the CA comes from `SSL_CERT_FILE` and the login from the docker
/// config, as on an admin's machine. `--pull-tool podman` with an empty `PATH`, so no podman
/// (or any other program) can be run even where one is installed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_command_verbatim_for_both_index_kinds() {
    if !require_binaries(REGISTRY_BINARIES) {
        return;
    }
    let registry = Registry::start_tls_auth("admin", "s3cret").await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let ca = home.path().join("ca.pem");
    std::fs::write(&ca, registry.ca_pem().unwrap()).unwrap();
    let docker = home.path().join("docker");
    std::fs::create_dir(&docker).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode("admin:s3cret");
    std::fs::write(
        docker.join("config.json"),
        format!(
            r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#,
            registry.host_port()
        ),
    )
    .unwrap();

    let mut creds = Credentials::new();
    creds.insert(
        registry.host_port(),
        Credential::Basic {
            username: "admin".into(),
            password: "s3cret".into(),
        },
    );
    let store = ImageStore::new(
        home.path().join("fixtures"),
        RegistryOptions {
            ca_pem: registry.ca_pem().map(str::to_owned),
            credentials: creds,
            ..Default::default()
        },
    )
    .unwrap();
    let host = registry.host_port().to_string();
    let push = |version: &'static str| {
        let store = store.clone();
        let host = host.clone();
        async move {
            let image = bundle_image(&bundle_dir(KG, version))
                .unwrap()
                .build(&store)
                .await
                .unwrap();
            store
                .push(
                    &image,
                    &ImageRef::parse(&format!("{host}/abc/kube-green-bundle:{version}")).unwrap(),
                )
                .await
                .unwrap();
            format!("{host}/abc/kube-green-bundle@{}", image.digest)
        }
    };
    let first = push("0.3.0").await;
    let new_bundle = push("0.3.1").await;

    let no_programs = home.path().join("empty-path");
    std::fs::create_dir(&no_programs).unwrap();
    let opm = |args: &[&str]| {
        let mut c = assert_cmd::Command::cargo_bin("opm").unwrap();
        c.current_dir(home.path())
            .env("PATH", &no_programs)
            .env("HOME", home.path())
            .env("DOCKER_CONFIG", &docker)
            .env("SSL_CERT_FILE", &ca)
            .env("OPM_CACHE_DIR", home.path().join("cache"))
            .env_remove("REGISTRY_AUTH_FILE")
            .args(args);
        c.output().unwrap()
    };

    for (kind, index) in [
        ("sqlite", "abc-redhat-operator-index"),
        ("fbc", "abc-fbc-index"),
    ] {
        let existing = format!("{host}/abc/{index}:4.6");
        let out = opm(&[
            "index",
            "add",
            "--bundles",
            &first,
            "--tag",
            &existing,
            "--index-format",
            kind,
            "--binary-image",
            "scratch",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );

        // The documented command, word for word.
        let updated = format!("{host}/abc/{index}:4.6.1");
        let out = opm(&[
            "index",
            "add",
            "--bundles",
            &new_bundle,
            "--from-index",
            &existing,
            "--tag",
            &updated,
            "--pull-tool",
            "podman",
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{kind}: {stderr}");
        assert_eq!(
            stderr.matches("podman is not used").count(),
            1,
            "one notice: {stderr}"
        );
        assert!(stderr.contains(&format!("pushed {updated}")), "{stderr}");

        let out = opm(&["render", &updated]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rendered = blobs(&String::from_utf8(out.stdout).unwrap());
        assert_eq!(
            channel_entries(&rendered, "alpha"),
            entries(&[
                ("kube-green.v0.3.0", ""),
                ("kube-green.v0.3.1", "kube-green.v0.3.0"),
            ]),
            "{kind}"
        );
        let images: Vec<&str> = rendered
            .iter()
            .filter(|b| b["schema"] == "olm.bundle")
            .map(|b| b["image"].as_str().unwrap())
            .collect();
        assert!(images.contains(&new_bundle.as_str()), "{images:?}");

        let inspect = run_command(
            &mut registry.skopeo_inspect(&format!("abc/{index}:4.6.1"), registry.credentials()),
        )
        .unwrap();
        let inspect: serde_json::Value = serde_json::from_str(&inspect).unwrap();
        let label = if kind == "sqlite" {
            "operators.operatorframework.io.index.database.v1"
        } else {
            "operators.operatorframework.io.index.configs.v1"
        };
        assert!(inspect["Labels"][label].is_string(), "{kind}: {inspect}");
        assert_eq!(inspect["Layers"].as_array().unwrap().len(), 2, "{kind}");
    }

    // Without credentials the registry refuses, and the error says what to do.
    let out = {
        let mut c = assert_cmd::Command::cargo_bin("opm").unwrap();
        c.current_dir(home.path())
            .env("HOME", home.path())
            .env("DOCKER_CONFIG", home.path().join("nowhere"))
            .env("SSL_CERT_FILE", &ca)
            .env("OPM_CACHE_DIR", home.path().join("cache"))
            .env_remove("REGISTRY_AUTH_FILE")
            .args(["render", &format!("{host}/abc/abc-fbc-index:4.6.1")]);
        c.output().unwrap()
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("unauthorized"), "{stderr}");
    assert!(stderr.contains("no credentials"), "{stderr}");

    // Wrong credentials.
    let wrong = home.path().join("wrong");
    std::fs::create_dir(&wrong).unwrap();
    let bad = base64::engine::general_purpose::STANDARD.encode("admin:nope");
    std::fs::write(
        wrong.join("auth.json"),
        format!(r#"{{"auths":{{"{host}":{{"auth":"{bad}"}}}}}}"#),
    )
    .unwrap();
    let out = {
        let mut c = assert_cmd::Command::cargo_bin("opm").unwrap();
        c.current_dir(home.path())
            .env("HOME", home.path())
            .env("REGISTRY_AUTH_FILE", wrong.join("auth.json"))
            .env("SSL_CERT_FILE", &ca)
            .env("OPM_CACHE_DIR", home.path().join("cache"))
            .args([
                "index",
                "add",
                "--bundles",
                &new_bundle,
                "--from-index",
                &format!("{host}/abc/abc-fbc-index:4.6"),
                "--tag",
                &format!("{host}/abc/abc-fbc-index:never"),
            ]);
        c.output().unwrap()
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("unauthorized"), "{stderr}");
    assert!(stderr.contains("rejected"), "{stderr}");
}

async fn fbc_index(env: &RegistryEnv, dir: &Path, versions: &[&str], tag: &str) -> Vec<String> {
    let mut tags = Vec::new();
    for v in versions {
        tags.push(env.push_bundle(KG, v).await.tag_ref);
    }
    env.ok(
        dir,
        &[
            "--use-http",
            "index",
            "add",
            "--bundles",
            &tags.join(","),
            "--tag",
            tag,
            "--index-format",
            "fbc",
            "-i",
            "scratch",
        ],
    );
    tags
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn render_images_of_every_kind() {
    let Some(env) = RegistryEnv::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let testenv::PushedBundle {
        digest_ref,
        tag_ref,
    } = env.push_bundle(KG, "0.7.0").await;

    // A bundle image renders exactly as its directory with that image reference.
    for r in [&digest_ref, &tag_ref] {
        let from_image = env.ok(d, &["--use-http", "render", r]);
        let from_dir = env.ok(
            d,
            &[
                "render",
                bundle_dir(KG, "0.7.0").to_str().unwrap(),
                "--alpha-image-ref-template",
                r,
            ],
        );
        assert_eq!(from_image, from_dir);
    }
    // oci: layouts too.
    let layout = format!("oci:{}:bundle", d.join("layout").display());
    env.store
        .copy(
            &ImageRef::parse(&tag_ref).unwrap(),
            &ImageRef::parse(&layout).unwrap(),
        )
        .await
        .unwrap();
    let from_layout = env.ok(d, &["render", &layout]);
    assert!(from_layout.contains(&format!("\"image\": \"{layout}\"")));

    // FBC and sqlite index images.
    let fbc = env.reference("index/fbc:v1");
    fbc_index(&env, d, &["0.6.0"], &fbc).await;
    let sqlite = env.reference("index/sqlite:v1");
    let first = env.push_bundle(KG, "0.3.0").await.tag_ref;
    env.ok(
        d,
        &[
            "--use-http",
            "index",
            "add",
            "--bundles",
            &first,
            "--tag",
            &sqlite,
            "-i",
            "scratch",
        ],
    );
    let fbc_out = blobs(&env.ok(d, &["--use-http", "render", &fbc]));
    assert_eq!(
        channel_entries(&fbc_out, "alpha"),
        entries(&[("kube-green.v0.6.0", "kube-green.v0.5.2")])
    );
    let sqlite_out = blobs(&env.ok(d, &["--use-http", "render", &sqlite, "-o", "json"]));
    assert_eq!(
        channel_entries(&sqlite_out, "alpha"),
        entries(&[("kube-green.v0.3.0", "")])
    );

    // Images that are none of these.
    let plain = d.join("plain");
    testenv::registry::write_oci_layout(&plain, "x", &[("etc/hello", b"hi")], &[("k", "v")])
        .unwrap();
    let err = env.fails(d, &["render", &format!("oci:{}:x", plain.display())]);
    assert!(
        err.contains(&format!(
            "render \"oci:{}:x\": image type could not be determined, found labels\n  k=v",
            plain.display()
        )),
        "{err}"
    );
    let err = env.fails(
        d,
        &["--use-http", "render", &env.reference("index/fbc:nope")],
    );
    assert!(err.contains("manifest unknown"), "{err}");
    assert!(err.contains("index/fbc:nope"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_failures_are_specific() {
    let Some(env) = RegistryEnv::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fbc = env.reference("index/fbc:v1");
    let tags = fbc_index(&env, d, &["0.3.0", "0.3.1"], &fbc).await;
    let sqlite = env.reference("index/sqlite:v1");
    env.ok(
        d,
        &[
            "--use-http",
            "index",
            "add",
            "--bundles",
            &tags.join(","),
            "--tag",
            &sqlite,
            "-i",
            "scratch",
        ],
    );
    let out_tag = env.reference("index/out:never");

    // A bundle already present.
    let err = env.fails(
        d,
        &[
            "--use-http",
            "index",
            "add",
            "-b",
            &tags[1],
            "-f",
            &fbc,
            "-t",
            &out_tag,
        ],
    );
    assert!(
        err.contains(&format!("Bundle {} already exists", tags[1])),
        "{err}"
    );
    let err = env.fails(
        d,
        &[
            "--use-http",
            "index",
            "add",
            "-b",
            &tags[1],
            "-f",
            &sqlite,
            "-t",
            &out_tag,
        ],
    );
    assert!(
        err.contains(&format!("Bundle {} already exists", tags[1])),
        "{err}"
    );

    // Unknown tag for the from-index and for a bundle.
    let err = env.fails(
        d,
        &[
            "--use-http",
            "index",
            "add",
            "-b",
            &tags[0],
            "-f",
            &env.reference("index/fbc:missing"),
            "-t",
            &out_tag,
        ],
    );
    assert!(err.contains("manifest unknown"), "{err}");
    let next = env.push_bundle(KG, "0.4.0").await.tag_ref;
    let missing_bundle = env.reference("bundles/kube-green:9.9.9");
    let err = env.fails(
        d,
        &[
            "--use-http",
            "index",
            "add",
            "-b",
            &format!("{next},{missing_bundle}"),
            "-f",
            &fbc,
            "-t",
            &out_tag,
        ],
    );
    assert!(err.contains("manifest unknown"), "{err}");
    assert!(err.contains("kube-green:9.9.9"), "{err}");

    // A bundle image that is not a bundle: the FBC index itself.
    let err = env.fails(
        d,
        &[
            "--use-http",
            "index",
            "add",
            "-b",
            &fbc,
            "-f",
            &sqlite,
            "-t",
            &out_tag,
        ],
    );
    assert!(
        err.contains(&format!("image {fbc} is not an operator bundle")),
        "{err}"
    );

    // An index with neither label: a bundle image as --from-index.
    let err = env.fails(
        d,
        &[
            "--use-http",
            "index",
            "add",
            "-b",
            &next,
            "-f",
            &tags[0],
            "-t",
            &out_tag,
        ],
    );
    assert!(
        err.contains(&format!(
            "index image {} has neither the operators.operatorframework.io.index.database.v1 label",
            tags[0]
        )),
        "{err}"
    );

    // Nothing was pushed by any failure.
    let out = run_command(&mut env.registry.skopeo_inspect("index/out:never", None));
    assert!(out.is_err(), "a failed add pushed an image");

    // No --tag, and bad modes.
    let err = env.fails(d, &["--use-http", "index", "add", "-b", &next, "-f", &fbc]);
    assert!(err.contains("--tag is required"), "{err}");
    let err = env.fails(
        d,
        &[
            "--use-http",
            "index",
            "add",
            "-b",
            &next,
            "-f",
            &fbc,
            "-t",
            &out_tag,
            "--mode",
            "x",
        ],
    );
    assert!(
        err.contains("Invalid channel update mode x specified"),
        "{err}"
    );
    let err = env.fails(
        d,
        &[
            "index", "add", "-b", &next, "-t", &out_tag, "-c", "podman", "-p", "none",
        ],
    );
    assert!(err.contains("container-tool cannot be set alongside pull-tool or build-tool"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rm_prune_export_on_both_kinds() {
    let Some(env) = RegistryEnv::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut tags = Vec::new();
    for v in ["0.3.0", "0.3.1"] {
        tags.push(env.push_bundle(KG, v).await.tag_ref);
    }
    for v in ["1.0.0"] {
        let image = bundle_image(&bundle_dir("cat-facts-operator", v))
            .unwrap()
            .build(&env.store)
            .await
            .unwrap();
        let r = env.reference(&format!("bundles/cat-facts:{v}"));
        env.store
            .push(&image, &ImageRef::parse(&r).unwrap())
            .await
            .unwrap();
        tags.push(r);
    }
    for kind in ["sqlite", "fbc"] {
        let v1 = env.reference(&format!("index/{kind}:v1"));
        env.ok(
            d,
            &[
                "--use-http",
                "index",
                "add",
                "-b",
                &tags.join(","),
                "-t",
                &v1,
                "--index-format",
                kind,
                "-i",
                "scratch",
            ],
        );
        let packages = |r: &str| {
            let mut p: Vec<String> = blobs(&env.ok(d, &["--use-http", "render", r]))
                .iter()
                .filter(|b| b["schema"] == "olm.package")
                .map(|b| b["name"].as_str().unwrap().to_string())
                .collect();
            p.sort();
            p
        };
        assert_eq!(packages(&v1), ["cat-facts-operator", KG]);

        let rm = env.reference(&format!("index/{kind}:rm"));
        env.ok(
            d,
            &["--use-http", "index", "rm", "-o", KG, "-f", &v1, "-t", &rm],
        );
        assert_eq!(packages(&rm), ["cat-facts-operator"]);

        let pruned = env.reference(&format!("index/{kind}:pruned"));
        env.ok(
            d,
            &[
                "--use-http",
                "index",
                "prune",
                "-p",
                KG,
                "-f",
                &v1,
                "-t",
                &pruned,
            ],
        );
        assert_eq!(packages(&pruned), [KG]);

        let export = d.join(format!("export-{kind}"));
        env.ok(
            d,
            &[
                "--use-http",
                "index",
                "export",
                "-i",
                &v1,
                "-p",
                KG,
                "-f",
                export.to_str().unwrap(),
            ],
        );
        let yaml = std::fs::read_to_string(export.join("kube-green/package.yaml")).unwrap();
        assert_eq!(
            yaml,
            "packageName: kube-green\nchannels:\n    - name: alpha\n      currentCSV: kube-green.v0.3.1\ndefaultChannel: alpha\n",
            "{kind}"
        );
        let csv = export.join("kube-green/0.3.1/kube-green.clusterserviceversion.yaml");
        assert_eq!(
            std::fs::read(&csv).unwrap(),
            std::fs::read(
                bundle_dir(KG, "0.3.1").join("manifests/kube-green.clusterserviceversion.yaml")
            )
            .unwrap(),
            "{kind}"
        );
    }
    // prune-stranded: an sqlite index is unchanged; a file-based catalog cannot have any.
    let stranded = env.reference("index/sqlite:stranded");
    env.ok(
        d,
        &[
            "--use-http",
            "index",
            "prune-stranded",
            "-f",
            &env.reference("index/sqlite:v1"),
            "-t",
            &stranded,
        ],
    );
    let err = env.fails(
        d,
        &[
            "--use-http",
            "index",
            "prune-stranded",
            "-f",
            &env.reference("index/fbc:v1"),
            "-t",
            &stranded,
        ],
    );
    assert!(
        err.contains("does not apply to the file-based catalog"),
        "{err}"
    );
}

/// Each `--mode` on a sqlite index and on a file-based catalog, checked by rendering the
/// pushed image.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modes_on_both_kinds() {
    let Some(env) = RegistryEnv::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut tag = std::collections::BTreeMap::new();
    for v in ["0.3.0", "0.3.1", "0.4.0", "0.4.1"] {
        tag.insert(v, env.push_bundle(KG, v).await.tag_ref);
    }
    for kind in ["sqlite", "fbc"] {
        // semver: 0.3.0 and 0.4.0, then 0.3.1 goes between them.
        let v1 = env.reference(&format!("modes/{kind}-semver:v1"));
        env.ok(
            d,
            &[
                "--use-http",
                "index",
                "add",
                "-b",
                &format!("{},{}", tag["0.3.0"], tag["0.4.0"]),
                "-t",
                &v1,
                "--mode",
                "semver",
                "--index-format",
                kind,
                "-i",
                "scratch",
            ],
        );
        let v2 = env.reference(&format!("modes/{kind}-semver:v2"));
        env.ok(
            d,
            &[
                "--use-http",
                "index",
                "add",
                "-b",
                &tag["0.3.1"],
                "-f",
                &v1,
                "-t",
                &v2,
                "--mode",
                "SemVer",
            ],
        );
        let out = blobs(&env.ok(d, &["--use-http", "render", &v2]));
        assert_eq!(
            channel_entries(&out, "alpha"),
            entries(&[
                ("kube-green.v0.3.0", ""),
                ("kube-green.v0.3.1", "kube-green.v0.3.0"),
                ("kube-green.v0.4.0", "kube-green.v0.3.1"),
            ]),
            "{kind} semver"
        );

        // replaces: the CSV's spec.replaces.
        let r2 = env.reference(&format!("modes/{kind}-replaces:v2"));
        env.ok(
            d,
            &[
                "--use-http",
                "index",
                "add",
                "-b",
                &tag["0.4.1"],
                "-f",
                &v2,
                "-t",
                &r2,
            ],
        );
        let out = blobs(&env.ok(d, &["--use-http", "render", &r2]));
        assert!(
            channel_entries(&out, "alpha")
                .contains(&("kube-green.v0.4.1".into(), "kube-green.v0.4.0".into())),
            "{kind} replaces"
        );

        // semver-skippatch: 0.4.1 on top of 0.3.0 and 0.4.0 (sqlite failure parity with
        // upstream for other shapes: index_upstream.rs).
        let s1 = env.reference(&format!("modes/{kind}-skippatch:v1"));
        env.ok(
            d,
            &[
                "--use-http",
                "index",
                "add",
                "-b",
                &format!("{},{}", tag["0.3.0"], tag["0.4.0"]),
                "-t",
                &s1,
                "--mode",
                "semver-skippatch",
                "--index-format",
                kind,
                "-i",
                "scratch",
            ],
        );
        let s2 = env.reference(&format!("modes/{kind}-skippatch:v2"));
        if kind == "fbc" {
            env.ok(
                d,
                &[
                    "--use-http",
                    "index",
                    "add",
                    "-b",
                    &tag["0.4.1"],
                    "-f",
                    &s1,
                    "-t",
                    &s2,
                    "--mode",
                    "semver-skippatch",
                ],
            );
        } else {
            // Upstream's sqlite skip-patch refuses a later patch on such an index (parity
            // test in index_upstream.rs); a patch within one add works.
            env.ok(
                d,
                &[
                    "--use-http",
                    "index",
                    "add",
                    "-b",
                    &format!("{},{},{}", tag["0.3.0"], tag["0.3.1"], tag["0.4.0"]),
                    "-t",
                    &s2,
                    "--mode",
                    "semver-skippatch",
                    "-i",
                    "scratch",
                ],
            );
        }
        let (patch, lower) = if kind == "fbc" {
            ("kube-green.v0.4.1", "kube-green.v0.4.0")
        } else {
            ("kube-green.v0.3.1", "kube-green.v0.3.0")
        };
        let out = blobs(&env.ok(d, &["--use-http", "render", &s2]));
        let ch = out.iter().find(|b| b["schema"] == "olm.channel").unwrap();
        let head = ch["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == patch)
            .unwrap_or_else(|| panic!("{kind}: {patch} missing: {ch}"));
        let skips: Vec<&str> = head["skips"]
            .as_array()
            .map(|a| a.iter().map(|s| s.as_str().unwrap()).collect())
            .unwrap_or_default();
        let replaces = head["replaces"].as_str().unwrap_or("");
        // Either way the lower patch upgrades to the new one directly.
        assert!(
            skips.contains(&lower) || replaces == lower,
            "{kind} skippatch: {head}"
        );
    }
}
