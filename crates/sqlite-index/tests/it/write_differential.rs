//! Differential tests of the index writer against upstream `opm` v1.73.0 (built by
//! `scripts/build-go-tools.sh opm`): the same bundles (corpus bundle directories pushed as
//! images to a loopback registry) are added with `opm registry add` and with our writer, and the
//! resulting databases must hold the same rows and render to the same catalog; removals,
//! pruning and deprecation run on copies of one database with both and must agree too.
//!
//! Without the binary, the registry or skopeo the tests print `SKIP:` and pass, except in CI
//! (`CI=true`), where they fail.

use std::path::{Path, PathBuf};
use std::process::Command;

use sqlite_index::{BundleToAdd, IndexWriter, Mode};
use testenv::fixtures::upstream_opm as upstream;
use testenv::registry::{Registry, require_binaries, write_oci_layout};

use crate::write_support::{assert_same_tables, bundle_dir, corpus_bundle};

/// Every regular file of a bundle directory, relative to it.
fn bundle_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for sub in ["manifests", "metadata"] {
        let mut entries: Vec<_> = std::fs::read_dir(dir.join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        entries.sort();
        for p in entries {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            out.push((format!("{sub}/{name}"), std::fs::read(&p).unwrap()));
        }
    }
    out
}

struct Env {
    opm: PathBuf,
    registry: Registry,
    work: tempfile::TempDir,
}

impl Env {
    async fn start() -> Option<Env> {
        let opm = upstream()?;
        if !require_binaries(&["docker-registry", "skopeo"]) {
            return None;
        }
        let registry = Registry::start_plain().await.unwrap();
        Some(Env {
            opm,
            registry,
            work: tempfile::tempdir().unwrap(),
        })
    }

    /// Pushes corpus bundle `pkg/version` as `<registry>/<pkg>-bundle:<version>`; returns the
    /// pull spec and the bundle to add with it.
    fn push(&self, pkg: &str, version: &str) -> (String, BundleToAdd) {
        let dir = bundle_dir(pkg, version);
        let layout = self.work.path().join(format!("layout-{pkg}-{version}"));
        let reference = format!("{pkg}-bundle:{version}");
        if !layout.exists() {
            let files = bundle_files(&dir);
            let refs: Vec<(&str, &[u8])> = files
                .iter()
                .map(|(p, d)| (p.as_str(), d.as_slice()))
                .collect();
            write_oci_layout(&layout, "latest", &refs, &[]).unwrap();
            let out = self
                .registry
                .skopeo_push(&layout, "latest", &reference, None)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "skopeo push: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let image = format!("{}/{reference}", self.registry.host_port());
        let b = corpus_bundle(pkg, version, &image);
        (image, b)
    }

    fn opm(&self, args: &[&str]) -> std::process::Output {
        Command::new(&self.opm)
            .current_dir(self.work.path())
            .args(args)
            .output()
            .unwrap()
    }

    /// `opm registry add` of `images`; `Err(stderr)` on failure.
    fn upstream_add(
        &self,
        db: &Path,
        images: &[String],
        mode: &str,
        overwrite: bool,
    ) -> Result<(), String> {
        let joined = images.join(",");
        let db = db.to_string_lossy().into_owned();
        let mut args = vec![
            "registry",
            "add",
            "--use-http",
            "-d",
            &db,
            "-b",
            &joined,
            "--mode",
            mode,
        ];
        if overwrite {
            args.push("--overwrite-latest");
        }
        let out = self.opm(&args);
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    fn render(&self, db: &Path) -> String {
        let out = self.opm(&["render", &db.to_string_lossy(), "-o", "json"]);
        assert!(
            out.status.success(),
            "opm render {}: {}",
            db.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

/// logrus quotes the message and escapes `"`; the plain message must be in there.
fn assert_upstream_says(stderr: &str, ours: &str) {
    let unescaped = stderr.replace("\\\"", "\"");
    assert!(
        unescaped.contains(ours),
        "upstream error differs:\n  ours:     {ours}\n  upstream: {stderr}"
    );
}

/// Compares rendered blobs, reporting the first differing blob and property compactly.
///
/// Property order is not compared: the reader (`convert.rs`) sorts all properties by type
/// while upstream moves `olm.bundle.object` after the others — a reader difference reported
/// separately, outside the writer's scope.
fn assert_same_blobs(what: &str, ours: &[serde_json::Value], theirs: &[serde_json::Value]) {
    let norm = |v: &[serde_json::Value]| -> Vec<serde_json::Value> {
        v.iter()
            .map(|b| {
                let mut b = b.clone();
                if let Some(serde_json::Value::Array(p)) = b.get_mut("properties") {
                    p.sort_by_key(|e| e.to_string());
                }
                b
            })
            .collect()
    };
    let (ours, theirs) = (&norm(ours)[..], &norm(theirs)[..]);
    if ours == theirs {
        return;
    }
    let short = |v: &serde_json::Value| {
        let s = v.to_string();
        if s.len() > 300 {
            format!("{}…", &s[..300])
        } else {
            s
        }
    };
    for (a, b) in ours.iter().zip(theirs.iter()) {
        if a == b {
            continue;
        }
        let (Some(ma), Some(mb)) = (a.as_object(), b.as_object()) else {
            panic!(
                "{what}: blob differs: ours {} upstream {}",
                short(a),
                short(b)
            );
        };
        for k in ma.keys().chain(mb.keys()) {
            if ma.get(k) != mb.get(k) {
                if let (Some(serde_json::Value::Array(x)), Some(serde_json::Value::Array(y))) =
                    (ma.get(k), mb.get(k))
                {
                    let only_a: Vec<String> =
                        x.iter().filter(|e| !y.contains(e)).map(short).collect();
                    let only_b: Vec<String> =
                        y.iter().filter(|e| !x.contains(e)).map(short).collect();
                    let order = |v: &Vec<serde_json::Value>| -> Vec<String> {
                        v.iter()
                            .map(|e| {
                                let s = e.to_string();
                                s[..s.len().min(60)].to_string()
                            })
                            .collect()
                    };
                    panic!(
                        "{what}: blob {:?} key {k}: only ours {only_a:#?} only upstream {only_b:#?}\n ours order {:#?}\n upstream order {:#?}",
                        ma.get("name"),
                        order(x),
                        order(y)
                    );
                }
                panic!(
                    "{what}: blob {:?} key {k}: ours {:?} upstream {:?}",
                    ma.get("name"),
                    ma.get(k).map(short),
                    mb.get(k).map(short)
                );
            }
        }
    }
    panic!(
        "{what}: blob counts differ: ours {} upstream {}",
        ours.len(),
        theirs.len()
    );
}

/// One add step: `(package, versions)` added in one call.
type Step<'a> = (&'a str, &'a [&'a str]);

/// Runs the steps with both tools, comparing outcome, tables and renders after every step.
async fn differential(name: &str, mode: Mode, mode_flag: &str, steps: &[Step<'_>]) {
    let Some(env) = Env::start().await else {
        return;
    };
    let theirs = env.work.path().join(format!("{name}-upstream.db"));
    let ours = env.work.path().join(format!("{name}-ours.db"));
    let depths = mode == Mode::Replaces;
    for (i, (pkg, versions)) in steps.iter().enumerate() {
        let pushed: Vec<(String, BundleToAdd)> =
            versions.iter().map(|v| env.push(pkg, v)).collect();
        let images: Vec<String> = pushed.iter().map(|(i, _)| i.clone()).collect();
        let bundles: Vec<BundleToAdd> = pushed.into_iter().map(|(_, b)| b).collect();
        let up = env.upstream_add(&theirs, &images, mode_flag, false);
        let mut w = IndexWriter::open_or_create(&ours).unwrap();
        let mine = w.add_bundles(&bundles, mode, false);
        let what = format!("{name} step {i} ({pkg} {versions:?})");
        match (&up, &mine) {
            (Ok(()), Ok(())) => w.commit().unwrap(),
            (Err(stderr), Err(e)) => {
                assert_upstream_says(stderr, &e.to_string());
                // Upstream keeps partial writes on failure; compare no further.
                return;
            }
            _ => panic!("{what}: upstream {up:?}, ours {mine:?}"),
        }
        assert_same_tables(&what, &ours, &theirs, depths);
        assert_eq!(
            env.render(&ours),
            env.render(&theirs),
            "{what}: renders differ"
        );
        // Our reader agrees with upstream's render of our database.
        let ours_cfg = sqlite_index::Index::open(&ours)
            .unwrap()
            .to_declcfg()
            .unwrap();
        let ours_json = fbc::write::to_string(&ours_cfg, fbc::Format::Json);
        let upstream_values: Vec<serde_json::Value> =
            serde_json::Deserializer::from_str(&env.render(&ours))
                .into_iter()
                .map(Result::unwrap)
                .collect();
        let our_values: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&ours_json)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_same_blobs(&what, &our_values, &upstream_values);
    }
}

#[tokio::test]
async fn replaces_mode_linear_chain_one_by_one_and_batched() {
    differential(
        "replaces-linear",
        Mode::Replaces,
        "replaces",
        &[
            ("kube-green", &["0.3.0"]),
            ("kube-green", &["0.3.1"]),
            ("kube-green", &["0.4.0", "0.4.1", "0.5.0"]),
            ("kairos-operator", &["2.0.1", "2.1.0"]),
            ("kairos-operator", &["2.1.1", "2.2.0"]),
        ],
    )
    .await;
}

#[tokio::test]
async fn replaces_mode_default_channel_error() {
    // 0.3.2 declares channel v0.3 with default channel v0.4, which no bundle provides.
    differential(
        "replaces-default",
        Mode::Replaces,
        "replaces",
        &[
            ("ecr-secret-operator", &["0.4.0", "0.4.1"]),
            ("ecr-secret-operator", &["0.3.2"]),
        ],
    )
    .await;
}

#[tokio::test]
async fn semver_mode_out_of_order() {
    differential(
        "semver",
        Mode::Semver,
        "semver",
        &[
            ("kube-green", &["0.5.0"]),
            ("kube-green", &["0.3.0"]),
            ("kube-green", &["0.7.1", "0.4.0"]),
            ("cat-facts-operator", &["1.1.0", "1.0.0", "1.1.2"]),
        ],
    )
    .await;
}

#[tokio::test]
async fn semver_skippatch_mode() {
    differential(
        "skippatch",
        Mode::SemverSkipPatch,
        "semver-skippatch",
        &[
            ("kube-green", &["0.5.0"]),
            // One bundle per step: with several bundles in one call upstream's result depends
            // on Go's random map order (it sometimes rejects ["0.5.2", "0.4.1"] with "Invalid
            // graph"), while ours is deterministic.
            ("kube-green", &["0.5.2"]),
            ("kube-green", &["0.4.1"]),
            ("kube-green", &["0.5.1"]),
            ("kube-green", &["0.6.0"]),
        ],
    )
    .await;
}

#[tokio::test]
async fn semver_mode_same_version_twice_fails_alike() {
    differential(
        "semver-dup",
        Mode::Semver,
        "semver",
        &[("kube-green", &["0.5.0"]), ("kube-green", &["0.5.0"])],
    )
    .await;
}

/// Builds one index with both tools, then applies `op` with upstream (args after
/// `opm registry`) and with our writer on copies, and compares.
async fn differential_op(
    name: &str,
    upstream_args: &[&str],
    op: impl FnOnce(&mut IndexWriter) -> Result<(), sqlite_index::WriteError>,
) {
    let Some(env) = Env::start().await else {
        return;
    };
    let base = env.work.path().join(format!("{name}-base.db"));
    let mut w = IndexWriter::create(&base).unwrap();
    for (pkg, versions) in [
        (
            "kube-green",
            &["0.3.0", "0.3.1", "0.4.0", "0.4.1", "0.5.0", "0.5.1"][..],
        ),
        ("kairos-operator", &["2.1.1", "2.2.0"][..]),
        ("cat-facts-operator", &["1.1.0"][..]),
    ] {
        let bundles: Vec<BundleToAdd> = versions
            .iter()
            .map(|v| corpus_bundle(pkg, v, &format!("example.com/{pkg}-bundle:{v}")))
            .collect();
        w.add_bundles(&bundles, Mode::Replaces, false).unwrap();
    }
    w.commit().unwrap();
    let theirs = env.work.path().join(format!("{name}-upstream.db"));
    let ours = env.work.path().join(format!("{name}-ours.db"));
    std::fs::copy(&base, &theirs).unwrap();
    std::fs::copy(&base, &ours).unwrap();
    let db = theirs.to_string_lossy().into_owned();
    let mut args = vec!["registry"];
    args.extend_from_slice(upstream_args);
    args.extend_from_slice(&["-d", &db]);
    let up = env.opm(&args);
    let mut w = IndexWriter::open(&ours).unwrap();
    let mine = op(&mut w);
    match (up.status.success(), &mine) {
        (true, Ok(())) => w.commit().unwrap(),
        (false, Err(e)) => {
            assert_upstream_says(&String::from_utf8_lossy(&up.stderr), &e.to_string());
            return;
        }
        _ => panic!(
            "{name}: upstream {:?} {}, ours {mine:?}",
            up.status,
            String::from_utf8_lossy(&up.stderr)
        ),
    }
    assert_same_tables(name, &ours, &theirs, true);
    assert_eq!(
        env.render(&ours),
        env.render(&theirs),
        "{name}: renders differ"
    );
}

#[tokio::test]
async fn rm_matches_upstream() {
    differential_op("rm", &["rm", "-o", "kairos-operator"], |w| {
        w.remove_packages(&["kairos-operator"])
    })
    .await;
}

#[tokio::test]
async fn rm_unknown_package_fails_alike() {
    differential_op("rm-unknown", &["rm", "-o", "nope"], |w| {
        w.remove_packages(&["nope"])
    })
    .await;
}

#[tokio::test]
async fn prune_matches_upstream() {
    differential_op("prune", &["prune", "-p", "kube-green"], |w| {
        w.prune(&["kube-green"])
    })
    .await;
}

#[tokio::test]
async fn prune_stranded_matches_upstream() {
    differential_op("prune-stranded", &["prune-stranded"], |w| {
        w.prune_stranded()
    })
    .await;
}

#[tokio::test]
async fn deprecatetruncate_matches_upstream() {
    differential_op(
        "deprecate",
        &[
            "deprecatetruncate",
            "-b",
            "example.com/kube-green-bundle:0.4.1",
        ],
        |w| w.deprecate_truncate(&["example.com/kube-green-bundle:0.4.1"], false),
    )
    .await;
}

#[tokio::test]
async fn deprecatetruncate_default_head_fails_alike() {
    differential_op(
        "deprecate-head",
        &[
            "deprecatetruncate",
            "-b",
            "example.com/kube-green-bundle:0.5.1",
        ],
        |w| w.deprecate_truncate(&["example.com/kube-green-bundle:0.5.1"], false),
    )
    .await;
}

#[tokio::test]
async fn deprecatetruncate_package_removal_matches_upstream() {
    differential_op(
        "deprecate-pkg",
        &[
            "deprecatetruncate",
            "--allow-package-removal",
            "-b",
            "example.com/kube-green-bundle:0.5.1,example.com/kube-green-bundle:0.4.1",
        ],
        |w| {
            w.deprecate_truncate(
                &[
                    "example.com/kube-green-bundle:0.5.1",
                    "example.com/kube-green-bundle:0.4.1",
                ],
                true,
            )
        },
    )
    .await;
}

#[tokio::test]
async fn migration_of_old_indexes_matches_upstream() {
    let Some(env) = Env::start().await else {
        return;
    };
    // v6 migrates; v0 with bundles fails in migration 004 with both. (A v4 index with bundles
    // fails upstream with "database table is locked": a cursor leaked by migration 005 blocks
    // the DROP TABLE of 006. We migrate it; see `old_databases_are_migrated_with_backfills`.)
    for old in ["v6", "v0"] {
        let theirs = env.work.path().join(format!("{old}-upstream.db"));
        let ours = env.work.path().join(format!("{old}-ours.db"));
        if old == "v6" {
            crate::write_support::write_v6_index(&theirs);
        } else {
            crate::write_support::write_v0_index(&theirs);
        }
        std::fs::copy(&theirs, &ours).unwrap();
        // Any registry command migrates first; prune-stranded changes nothing else here.
        let up = env.opm(&[
            "registry",
            "prune-stranded",
            "-d",
            &theirs.to_string_lossy(),
        ]);
        let mine = IndexWriter::open(&ours).and_then(|mut w| {
            w.prune_stranded()?;
            w.commit()
        });
        match (up.status.success(), mine) {
            (true, Ok(())) => assert_same_tables(old, &ours, &theirs, true),
            (false, Err(e)) => {
                let msg = e.to_string();
                let cause = msg.rsplit(": ").next().unwrap();
                assert_upstream_says(&String::from_utf8_lossy(&up.stderr), cause);
            }
            (u, m) => panic!(
                "{old}: upstream ok={u} {}, ours {m:?}",
                String::from_utf8_lossy(&up.stderr)
            ),
        }
    }
}
