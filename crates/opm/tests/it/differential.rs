//! Byte comparisons with upstream `opm` v1.73.0 (built by `scripts/build-go-tools.sh opm`).
//! Without the binary the tests print `SKIP:` and pass, except in CI (`CI=true`), where they fail.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use testenv::fixtures::corpus;
use testenv::fixtures::upstream_opm as upstream;

fn run(bin: Option<&Path>, dir: &Path, args: &[&str]) -> Output {
    let mut c = match bin {
        Some(b) => Command::new(b),
        None => Command::cargo_bin("opm").unwrap(),
    };
    c.current_dir(dir).args(args).output().unwrap()
}

/// Same exit status and identical stdout.
fn same(up: &Path, dir: &Path, args: &[&str]) {
    let theirs = run(Some(up), dir, args);
    let ours = run(None, dir, args);
    assert_eq!(
        theirs.status.code(),
        ours.status.code(),
        "exit of {args:?}: {}",
        String::from_utf8_lossy(&ours.stderr)
    );
    assert!(theirs.stdout == ours.stdout, "stdout of {args:?} differs");
}

#[test]
fn render_fbc_and_bundle_dirs() {
    let Some(up) = upstream() else { return };
    let c = corpus();
    let d = tempfile::tempdir().unwrap();
    for rel in [
        "catalogs/v4.15/kube-green",
        "catalogs/v4.22/trident-operator",
        "bundles/kube-green/0.7.1",
        "bundles/coherence-operator/3.5.6",
    ] {
        let p = c.join(rel);
        let p = p.to_str().unwrap();
        for o in ["json", "yaml"] {
            same(&up, d.path(), &["render", p, "-o", o]);
        }
        same(
            &up,
            d.path(),
            &[
                "render",
                p,
                "--migrate-level",
                "bundle-object-to-csv-metadata",
            ],
        );
    }
    let b = c.join("bundles/infinispan/2.5.14");
    same(
        &up,
        d.path(),
        &[
            "render",
            b.to_str().unwrap(),
            "--alpha-image-ref-template",
            "quay.io/x/{{.Package}}:{{.Version}}",
            "--migrate",
        ],
    );
    render_graph_with_v0_semantics(&up, d.path(), &c.join("catalogs/v4.22"));
}

/// The edges a graph's `linkStyle` line marks, by their text (mermaid numbers links in the order
/// they appear).
fn marked_edges(graph: &str) -> BTreeSet<String> {
    let edges: Vec<&str> = graph.lines().filter(|l| l.contains("-->")).collect();
    let Some(ids) = graph.lines().find_map(|l| l.strip_prefix("linkStyle ")) else {
        return BTreeSet::new();
    };
    let ids = ids.split_once(' ').unwrap().0;
    ids.split(',')
        .map(|i| edges[i.parse::<usize>().unwrap()].trim().to_string())
        .collect()
}

/// One-package graphs are byte-identical. For a whole catalog, upstream numbers `linkStyle`
/// links in channel-name order across packages while writing them package by package, so it
/// marks the wrong edges (and which ones varies from run to run). Ours must match upstream on
/// every other line, and mark exactly the edges upstream marks in the one-package graphs.
fn render_graph_with_v0_semantics(up: &Path, dir: &Path, catalog: &Path) {
    let catalog = catalog.to_str().unwrap();
    let mut expected = BTreeSet::new();
    for entry in std::fs::read_dir(catalog).unwrap() {
        let package = entry.unwrap().file_name().into_string().unwrap();
        let args = [
            "alpha",
            "render-graph",
            catalog,
            "--draw-v0-semantics",
            "-p",
            &package,
        ];
        same(up, dir, &args);
        let graph = run(Some(up), dir, &args).stdout;
        expected.extend(marked_edges(&String::from_utf8(graph).unwrap()));
    }
    assert!(
        !expected.is_empty(),
        "no package of {catalog} marks an edge"
    );
    let args = ["alpha", "render-graph", catalog, "--draw-v0-semantics"];
    let theirs = String::from_utf8(run(Some(up), dir, &args).stdout).unwrap();
    let ours = String::from_utf8(run(None, dir, &args).stdout).unwrap();
    let unstyled = |g: &str| -> Vec<String> {
        g.lines()
            .filter(|l| !l.starts_with("linkStyle "))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(unstyled(&theirs), unstyled(&ours));
    assert_eq!(marked_edges(&ours), expected);
}

#[test]
fn init_generate_and_validate() {
    let Some(up) = upstream() else { return };
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("icon.svg"),
        "<svg xmlns=\"http://www.w3.org/2000/svg\"><g/></svg>",
    )
    .unwrap();
    std::fs::write(d.path().join("README.md"), "# Foo & <bar>\n").unwrap();
    for o in ["json", "yaml"] {
        same(
            &up,
            d.path(),
            &[
                "init",
                "foo",
                "-c",
                "stable",
                "-i",
                "icon.svg",
                "-d",
                "README.md",
                "-o",
                o,
            ],
        );
    }
    std::fs::create_dir_all(d.path().join("catalog")).unwrap();
    for (i, args) in [
        vec![],
        vec!["-l", "z=1,a=b c", "-l", "a=2"],
        vec!["-i", "scratch", "-b", "example.com/b:1"],
        vec!["--binary-image", "example.com/bin:1"],
    ]
    .into_iter()
    .enumerate()
    {
        let mut full = vec!["generate", "dockerfile", "catalog"];
        full.extend(args.iter().copied());
        assert!(run(Some(&up), d.path(), &full).status.success());
        let theirs = std::fs::read(d.path().join("catalog.Dockerfile")).unwrap();
        std::fs::remove_file(d.path().join("catalog.Dockerfile")).unwrap();
        assert!(run(None, d.path(), &full).status.success());
        let ours = std::fs::read(d.path().join("catalog.Dockerfile")).unwrap();
        std::fs::remove_file(d.path().join("catalog.Dockerfile")).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&theirs),
            String::from_utf8_lossy(&ours),
            "case {i}"
        );
    }
    std::fs::create_dir_all(d.path().join("bad/foo")).unwrap();
    std::fs::write(
        d.path().join("bad/foo/c.yaml"),
        "schema: olm.package\nname: foo\ndefaultChannel: stable\n---\nschema: olm.channel\npackage: foo\nname: stable\nentries:\n- name: foo.v1\n- name: foo.v2\n  replaces: foo.v1\n  skipRange: v1.0.0\n---\nschema: olm.bundle\nname: foo.v1\npackage: foo\nimage: example.com/foo:v1\nproperties:\n- {type: olm.package, value: {packageName: foo, version: 1.0.0}}\n---\nschema: olm.bundle\nname: foo.v2\npackage: foo\nimage: example.com/foo:v2\nproperties:\n- {type: olm.package, value: {packageName: foo, version: 2.0.0}}\n",
    )
    .unwrap();
    for o in ["json", "yaml"] {
        same(&up, d.path(), &["validate", "bad", "-o", o]);
        same(
            &up,
            d.path(),
            &[
                "validate",
                corpus().join("catalogs/v4.15").to_str().unwrap(),
                "-o",
                o,
            ],
        );
    }
}

/// upstream's own sqlite fixture (schema migration 5), migrated in place by upstream `opm
/// render`, then rendered by both.
#[test]
fn render_and_migrate_sqlite_index() {
    let Some(up) = upstream() else { return };
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let gopath = std::env::var_os("GOPATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join("go"));
    let db = gopath.join("pkg/mod/github.com/operator-framework/operator-registry@v1.73.0/pkg/lib/indexer/testdata/bundles.db");
    if !db.is_file() {
        // Only a Go module cache has this fixture; CI machines build opm from it, so it is there.
        let reason = format!("{} not found", db.display());
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{reason}");
        }
        println!("SKIP: {reason}");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let copy = d.path().join("index.db");
    std::fs::write(&copy, std::fs::read(&db).unwrap()).unwrap();
    // Our reader refuses the unmigrated copy...
    let ours = run(None, d.path(), &["render", "index.db"]);
    assert!(!ours.status.success());
    assert!(String::from_utf8_lossy(&ours.stderr).contains("migration 5"));
    // ...upstream migrates it in place while rendering; then both agree.
    for o in ["json", "yaml"] {
        same(&up, d.path(), &["render", "index.db", "-o", o]);
    }
    assert!(
        run(
            Some(&up),
            d.path(),
            &["migrate", "index.db", "theirs", "-o", "yaml"]
        )
        .status
        .success()
    );
    assert!(
        run(
            None,
            d.path(),
            &["migrate", "index.db", "ours", "-o", "yaml"]
        )
        .status
        .success()
    );
    for e in walkdir::WalkDir::new(d.path().join("theirs")) {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let rel = e.path().strip_prefix(d.path().join("theirs")).unwrap();
            assert_eq!(
                std::fs::read(e.path()).unwrap(),
                std::fs::read(d.path().join("ours").join(rel)).unwrap(),
                "{}",
                rel.display()
            );
        }
    }
}

/// JSON catalog files upstream reads as YAML after a JSON syntax error (a trailing comma,
/// an unquoted value), and those it refuses: same exit status and output for each.
#[test]
fn json_files_that_fall_back_to_yaml() {
    let Some(up) = upstream() else { return };
    let pkg = |name: &str, tail: &str| {
        format!("{{\"schema\":\"olm.package\",\"name\":\"{name}\",\"defaultChannel\":\"s\"{tail}}}")
    };
    let cases = [
        ("trailing comma", pkg("a", ",")),
        (
            "nested trailing comma",
            pkg("a", ",\"icon\":{\"base64data\":\"\",\"mediatype\":\"x\",},"),
        ),
        (
            "unquoted value",
            "{\"schema\":\"olm.package\",\"name\":a,}".to_owned(),
        ),
        (
            "one good object first",
            format!("{}\n{}", pkg("a", ""), pkg("b", ",")),
        ),
        (
            "two good objects first",
            format!("{}\n{}\n{}", pkg("a", ""), pkg("b", ""), pkg("c", ",")),
        ),
        (
            "YAML documents after",
            format!(
                "{}\n---\n{}\n---\nschema: olm.package\nname: c\n",
                pkg("a", ","),
                pkg("b", ",")
            ),
        ),
        // Upstream's YAML reads the first node of a document and ignores what follows.
        (
            "one good object, then two",
            format!("{}\n{}\n{}", pkg("a", ""), pkg("b", ","), pkg("c", "")),
        ),
        (
            "a bad object, then garbage",
            format!("{}\n{}", pkg("a", ","), pkg("b", ",,")),
        ),
        ("double comma", pkg("a", ",,")),
        (
            "double comma after one object",
            format!("{}\n{}", pkg("a", ""), pkg("b", ",,")),
        ),
    ];
    for (what, text) in cases {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("c")).unwrap();
        std::fs::write(d.path().join("c/catalog.json"), &text).unwrap();
        let theirs = run(Some(&up), d.path(), &["render", "c"]);
        let ours = run(None, d.path(), &["render", "c"]);
        assert_eq!(
            theirs.status.code(),
            ours.status.code(),
            "{what}: exit of render; ours said {}",
            String::from_utf8_lossy(&ours.stderr)
        );
        assert!(
            theirs.stdout == ours.stdout,
            "{what}: stdout of render differs:\n{}\n{}",
            String::from_utf8_lossy(&theirs.stdout),
            String::from_utf8_lossy(&ours.stdout)
        );
    }
}
