//! The git fixtures serve real traffic: a tag is cloned with the `git` CLI over `file://`,
//! `git://` and HTTPS with Basic auth, and the HTTPS server refuses missing or wrong credentials.

use std::path::Path;
use std::process::Command;

use testenv::git::{GitDaemon, GitHttps, GitRepo, git_command};
use testenv::registry::require_binaries;

/// `<root>/operator`: `v1.0.0` has the v1 manifest; `main` has moved on past it.
fn fixture(root: &Path) -> (GitRepo, String) {
    let repo = GitRepo::init(&root.join("operator")).unwrap();
    let v1 = repo
        .commit_files(&[("manifests/bundle.yaml", "version: 1\n")], "v1")
        .unwrap();
    repo.annotated_tag("v1.0.0", "release 1").unwrap();
    repo.tag("v1-light").unwrap();
    repo.branch("release-1").unwrap();
    repo.commit_files(&[("manifests/bundle.yaml", "version: 2\n")], "v2")
        .unwrap();
    assert_ne!(repo.git(&["rev-parse", "HEAD"]).unwrap(), v1);
    assert_eq!(repo.git(&["rev-parse", "release-1"]).unwrap(), v1);
    (repo, v1)
}

fn clone(mut cmd: Command, url: &str, dest: &Path) -> std::process::Output {
    cmd.args(["clone", "-q", "--branch", "v1.0.0"])
        .arg(url)
        .arg(dest)
        .output()
        .expect("running git clone")
}

/// Clones the `v1.0.0` tag and checks the checkout is the tagged commit and content.
fn assert_clones_tag(cmd: Command, url: &str, v1: &str) {
    let dest = tempfile::tempdir().unwrap();
    let out = clone(cmd, url, &dest.path().join("c"));
    assert!(
        out.status.success(),
        "clone {url} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let head = testenv::registry::run_command(
        git_command()
            .arg("-C")
            .arg(dest.path().join("c"))
            .args(["rev-parse", "HEAD"]),
    )
    .unwrap();
    assert_eq!(head.trim(), v1);
    let content = std::fs::read_to_string(dest.path().join("c/manifests/bundle.yaml")).unwrap();
    assert_eq!(content, "version: 1\n");
}

#[test]
fn clone_tag_over_file_url() {
    if !require_binaries(&["git"]) {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let (repo, v1) = fixture(root.path());
    assert!(repo.file_url().starts_with("file:///"));
    assert_eq!(repo.git(&["rev-parse", "v1-light"]).unwrap(), v1);
    // Annotated: the tag object differs from the commit it peels to.
    assert_ne!(repo.git(&["rev-parse", "v1.0.0"]).unwrap(), v1);
    assert_eq!(repo.git(&["rev-parse", "v1.0.0^{commit}"]).unwrap(), v1);
    repo.switch("release-1").unwrap();
    assert_eq!(repo.git(&["rev-parse", "HEAD"]).unwrap(), v1);
    repo.switch("main").unwrap();
    assert_clones_tag(git_command(), &repo.file_url(), &v1);
}

#[tokio::test]
async fn clone_tag_over_git_daemon() {
    if !require_binaries(&["git"]) {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let (_repo, v1) = fixture(root.path());
    let daemon = GitDaemon::start(root.path()).await.expect("git daemon");
    assert_clones_tag(git_command(), &daemon.url_for("operator"), &v1);

    let dest = tempfile::tempdir().unwrap();
    let out = clone(git_command(), &daemon.url_for("missing"), dest.path());
    assert!(!out.status.success(), "cloning a missing repo must fail");
    daemon.stop();
}

#[tokio::test]
async fn clone_tag_over_https_with_basic_auth() {
    if !require_binaries(&["git"]) {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let (_repo, v1) = fixture(root.path());
    let server = GitHttps::start(root.path(), "olm", "p@ss:word")
        .await
        .expect("git https");
    let with_ca = || {
        let mut cmd = git_command();
        cmd.env("GIT_SSL_CAINFO", server.ca_file());
        cmd
    };
    assert_clones_tag(with_ca(), &server.url_with_credentials("operator"), &v1);

    // No credentials: git cannot prompt, so it fails on the 401.
    let dest = tempfile::tempdir().unwrap();
    let out = clone(
        with_ca(),
        &server.url_for("operator"),
        &dest.path().join("a"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "anonymous clone must fail");
    // The 401 made git ask for a username, which it may not do here.
    assert!(stderr.contains("could not read Username"), "{stderr}");

    // Wrong credentials: the server rejects them.
    let url = server
        .url_with_credentials("operator")
        .replace("p%40ss%3Aword", "nope");
    let out = clone(with_ca(), &url, &dest.path().join("b"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("Authentication failed"), "{stderr}");

    // Without our CA, TLS verification fails.
    let out = clone(
        git_command(),
        &server.url_with_credentials("operator"),
        &dest.path().join("c"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "clone must not trust an unknown CA");
    assert!(stderr.contains("certificate"), "{stderr}");

    // The raw protocol: 401 with a Basic challenge, then 200 with credentials.
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(server.ca_pem().as_bytes()).unwrap()])
        .build()
        .unwrap();
    let refs = format!(
        "{}/info/refs?service=git-upload-pack",
        server.url_for("operator")
    );
    for auth in [None, Some(("olm", "nope"))] {
        let mut request = client.get(&refs);
        if let Some((user, pass)) = auth {
            request = request.basic_auth(user, Some(pass));
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "auth {auth:?}");
        assert_eq!(
            response.headers()["WWW-Authenticate"],
            "Basic realm=\"testenv git\""
        );
    }
    let response = client
        .get(&refs)
        .basic_auth("olm", Some("p@ss:word"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["Content-Type"],
        "application/x-git-upload-pack-advertisement"
    );
    assert!(response.text().await.unwrap().contains("refs/tags/v1.0.0"));
    server.stop();
}
