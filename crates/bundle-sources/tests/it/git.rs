//! The git source against real servers: `file://` (git-upload-pack), `git daemon` and HTTPS
//! with Basic auth (git http-backend), with a plain bundle from the shared corpus committed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use bundle_sources::{GitError, GitOptions, SecretData, fetch_git};
use olm_api::bundle::{Authorization, GitRef, GitSource};
use testenv::FaultProxy;
use testenv::git::{GitDaemon, GitHttps, GitRepo};

const MANIFESTS: &str = "manifests";

/// The corpus bundle `plain/combo-v0.0.2`: relative path → content.
fn combo_bundle() -> BTreeMap<String, String> {
    let root = match std::env::var_os("OLMRS_CORPUS") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    };
    read_tree(&root.join("plain/combo-v0.0.2"))
}

/// Every regular file under `dir`, by path relative to it.
fn read_tree(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                pending.push(entry.path());
            } else {
                assert!(
                    kind.is_file(),
                    "{} is not a regular file",
                    entry.path().display()
                );
                let rel = entry
                    .path()
                    .strip_prefix(dir)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned();
                files.insert(rel, std::fs::read_to_string(entry.path()).unwrap());
            }
        }
    }
    files
}

/// A workspace: served repositories under `root`, a work dir for temporary clones, and
/// fresh destinations.
struct Env {
    tmp: tempfile::TempDir,
    options: GitOptions,
}

impl Env {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let work = tmp.path().join("work");
        std::fs::create_dir_all(&work).unwrap();
        std::fs::create_dir_all(tmp.path().join("served")).unwrap();
        let options = GitOptions {
            work_dir: Some(work),
            timeout: Duration::from_secs(60),
            ..GitOptions::default()
        };
        Self { tmp, options }
    }

    fn served(&self) -> PathBuf {
        self.tmp.path().join("served")
    }

    /// The combo bundle at the root (commit 1), then also under `dev/deploy` with an extra
    /// file, a symlink and a changed namespace (commit 2). Tags `v0.0.1` (lightweight, commit
    /// 1) and `v0.0.2` (annotated, commit 2); branch `release` stays at commit 1.
    fn combo_repo(&self) -> Combo {
        let repo = GitRepo::init(&self.served().join("combo")).unwrap();
        let bundle = combo_bundle();
        let files: Vec<(&str, &str)> = bundle
            .iter()
            .map(|(p, c)| (p.as_str(), c.as_str()))
            .collect();
        let first = repo.commit_files(&files, "combo v0.0.1").unwrap();
        repo.tag("v0.0.1").unwrap();
        repo.branch("release").unwrap();
        let nested: Vec<(String, &str)> = bundle
            .iter()
            .map(|(p, c)| (format!("dev/deploy/{p}"), c.as_str()))
            .collect();
        let mut files: Vec<(&str, &str)> = nested.iter().map(|(p, c)| (p.as_str(), *c)).collect();
        files.push(("dev/deploy/manifests/07_extra.yaml", "kind: ConfigMap\n"));
        std::fs::create_dir_all(repo.path().join("dev")).unwrap();
        std::os::unix::fs::symlink("../manifests", repo.path().join("dev/link")).unwrap();
        let second = repo.commit_files(&files, "combo v0.0.2").unwrap();
        repo.annotated_tag("v0.0.2", "release v0.0.2").unwrap();
        Combo {
            repo,
            first,
            second,
        }
    }

    fn dest(&self) -> PathBuf {
        tempfile::Builder::new()
            .prefix("dest-")
            .tempdir_in(self.tmp.path())
            .unwrap()
            .keep()
    }

    /// Fetches into a fresh destination; checks that no temporary repository is left behind.
    async fn fetch(
        &self,
        source: &GitSource,
        secret: Option<&SecretData>,
    ) -> Result<(String, BTreeMap<String, String>), GitError> {
        let dest = self.dest();
        let result = fetch_git(source, secret, &dest, &self.options).await;
        let leftovers: Vec<_> = std::fs::read_dir(self.options.work_dir.as_ref().unwrap())
            .unwrap()
            .collect();
        assert!(
            leftovers.is_empty(),
            "temporary repositories left: {leftovers:?}"
        );
        result.map(|commit| (commit, read_tree(&dest)))
    }
}

struct Combo {
    repo: GitRepo,
    first: String,
    second: String,
}

fn source(repository: String, git_ref: GitRef, directory: Option<&str>) -> GitSource {
    GitSource {
        repository,
        directory: directory.map(str::to_owned),
        ref_: git_ref,
        auth: None,
    }
}

fn branch(name: &str) -> GitRef {
    GitRef {
        branch: Some(name.into()),
        ..GitRef::default()
    }
}

fn tag(name: &str) -> GitRef {
    GitRef {
        tag: Some(name.into()),
        ..GitRef::default()
    }
}

fn commit(sha: &str) -> GitRef {
    GitRef {
        commit: Some(sha.into()),
        ..GitRef::default()
    }
}

/// The combo bundle with `prefix` in front of every path.
fn expected(prefix: &str) -> BTreeMap<String, String> {
    combo_bundle()
        .into_iter()
        .map(|(p, c)| (format!("{prefix}{p}"), c))
        .collect()
}

/// Branch, both kinds of tag and a commit, with directories, over one URL.
async fn check_refs(env: &Env, combo: &Combo, url: &str) -> Result<()> {
    let (id, files) = env
        .fetch(&source(url.into(), branch("main"), None), None)
        .await?;
    assert_eq!(id, combo.second);
    let mut at_root = expected("");
    for (p, c) in expected("dev/deploy/") {
        at_root.insert(p, c);
    }
    at_root.insert(
        "dev/deploy/manifests/07_extra.yaml".into(),
        "kind: ConfigMap\n".into(),
    );
    assert_eq!(
        files, at_root,
        "the whole tree at the root, the symlink skipped"
    );

    let (id, files) = env
        .fetch(&source(url.into(), branch("release"), None), None)
        .await?;
    assert_eq!((id.as_str(), files), (combo.first.as_str(), expected("")));

    let (id, files) = env
        .fetch(&source(url.into(), tag("v0.0.1"), Some(".")), None)
        .await?;
    assert_eq!((id.as_str(), files), (combo.first.as_str(), expected("")));

    let mut deploy = expected("");
    deploy.insert("manifests/07_extra.yaml".into(), "kind: ConfigMap\n".into());
    let annotated = source(url.into(), tag("v0.0.2"), Some("./dev/deploy"));
    let (id, files) = env.fetch(&annotated, None).await?;
    assert_eq!(
        id, combo.second,
        "the annotated tag is peeled to its commit"
    );
    assert_eq!(files, deploy);

    let (id, files) = env
        .fetch(
            &source(url.into(), commit(&combo.first), Some(MANIFESTS)),
            None,
        )
        .await?;
    assert_eq!(id, combo.first);
    assert_eq!(
        files,
        expected("")
            .into_iter()
            .map(|(p, c)| (p.trim_start_matches("manifests/").to_owned(), c))
            .collect()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn file_url_branch_tags_commit_and_directories() -> Result<()> {
    let env = Env::new();
    let combo = env.combo_repo();
    check_refs(&env, &combo, &combo.repo.file_url()).await
}

#[tokio::test(flavor = "multi_thread")]
async fn git_daemon_branch_tags_commit_and_directories() -> Result<()> {
    let env = Env::new();
    let combo = env.combo_repo();
    let daemon = GitDaemon::start(&env.served()).await?;
    check_refs(&env, &combo, &daemon.url_for("combo")).await
}

fn basic_secret(username: &str, password: &str) -> SecretData {
    SecretData::from([
        ("username".to_owned(), username.as_bytes().to_vec()),
        ("password".to_owned(), password.as_bytes().to_vec()),
    ])
}

#[tokio::test(flavor = "multi_thread")]
async fn https_with_basic_auth_and_a_private_ca() -> Result<()> {
    testenv::install_crypto_provider();
    let mut env = Env::new();
    let combo = env.combo_repo();
    let server = GitHttps::start(&env.served(), "bundle-reader", "s3cr3t:pw").await?;
    let url = server.url_for("combo");
    let secret = basic_secret("bundle-reader", "s3cr3t:pw");
    let mut with_auth = source(url.clone(), tag("v0.0.2"), Some("dev/deploy/manifests"));
    with_auth.auth = Some(Authorization {
        secret: Some(auth_secret("git-auth")),
        insecure_skip_verify: false,
    });

    // Without the CA: the server's certificate is not trusted.
    let err = env.fetch(&with_auth, Some(&secret)).await.unwrap_err();
    let message = err.to_string();
    assert_eq!(
        message,
        "bundle unpack git clone error: the server's TLS certificate is not trusted (UnknownIssuer): \
         give the controller its CA, or set auth.insecureSkipVerify"
    );

    env.options.ca_pem = Some(server.ca_pem().as_bytes().to_vec());
    let (id, files) = env.fetch(&with_auth, Some(&secret)).await?;
    assert_eq!(id, combo.second);
    assert_eq!(files.len(), 8, "{files:?}");
    assert_eq!(files["07_extra.yaml"], "kind: ConfigMap\n");

    let commit_source = source(url.clone(), commit(&combo.first), None);
    let mut commit_source = GitSource {
        auth: with_auth.auth.clone(),
        ..commit_source
    };
    commit_source.directory = Some("manifests".into());
    let (id, files) = env.fetch(&commit_source, Some(&secret)).await?;
    assert_eq!(id, combo.first);
    assert_eq!(files.len(), 7);

    let wrong = basic_secret("bundle-reader", "wrong");
    let err = env.fetch(&with_auth, Some(&wrong)).await.unwrap_err();
    let message = err.to_string();
    assert_eq!(
        message,
        "bundle unpack git clone error: the server refused the credentials of the auth Secret \
         (HTTP 401): check its \"username\" and \"password\""
    );

    let err = env.fetch(&with_auth, None).await.unwrap_err();
    assert!(
        err.to_string().contains("the server requires credentials"),
        "{err}"
    );

    let err = env
        .fetch(
            &source(server.url_for("absent"), branch("main"), None),
            Some(&secret),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("does not exist or cannot be read"),
        "{err}"
    );

    // Credentials in the URL work too, and never show in messages.
    let in_url = source(server.url_with_credentials("combo"), tag("v0.0.1"), None);
    env.options.ca_pem = None;
    let err = env.fetch(&in_url, None).await.unwrap_err().to_string();
    assert!(
        err.contains("not trusted") && !err.contains("s3cr3t"),
        "{err}"
    );
    env.options.ca_pem = Some(server.ca_pem().as_bytes().to_vec());
    let err = env
        .fetch(
            &source(server.url_with_credentials("absent"), tag("v0.0.1"), None),
            None,
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("does not exist") && !err.contains("s3cr3t"),
        "{err}"
    );
    let (id, _) = env.fetch(&in_url, None).await?;
    assert_eq!(id, combo.first);

    let mut no_password = secret.clone();
    no_password.remove("password");
    let err = env.fetch(&with_auth, Some(&no_password)).await.unwrap_err();
    assert_eq!(err.to_string(), "the auth Secret has no \"password\" key");

    // insecureSkipVerify instead of the CA.
    env.options.ca_pem = None;
    with_auth.auth.as_mut().unwrap().insecure_skip_verify = true;
    let (id, _) = env.fetch(&with_auth, Some(&secret)).await?;
    assert_eq!(id, combo.second);
    Ok(())
}

fn auth_secret(name: &str) -> olm_api::bundle::AuthSecret {
    olm_api::bundle::AuthSecret { name: name.into() }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_moving_branch_gives_a_new_commit() -> Result<()> {
    let env = Env::new();
    let combo = env.combo_repo();
    let daemon = GitDaemon::start(&env.served()).await?;
    let release = source(
        daemon.url_for("combo"),
        branch("release"),
        Some("manifests"),
    );
    let (before, files) = env.fetch(&release, None).await?;
    assert_eq!(before, combo.first);
    assert!(!files.contains_key("08_new.yaml"));

    combo.repo.switch("release")?;
    let moved = combo
        .repo
        .commit_files(&[("manifests/08_new.yaml", "kind: Secret\n")], "more")?;
    let (after, files) = env.fetch(&release, None).await?;
    assert_eq!(after, moved);
    assert_ne!(after, before);
    assert_eq!(files["08_new.yaml"], "kind: Secret\n");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_repository_ref_and_directory_are_named() -> Result<()> {
    let env = Env::new();
    let combo = env.combo_repo();
    let daemon = GitDaemon::start(&env.served()).await?;
    let url = daemon.url_for("combo");
    let mut messages = Vec::new();
    for (what, src) in [
        (
            "missing repo (file)",
            source(
                format!("file://{}/absent", env.served().display()),
                branch("main"),
                None,
            ),
        ),
        (
            "missing repo (daemon)",
            source(daemon.url_for("absent"), branch("main"), None),
        ),
        ("missing branch", source(url.clone(), branch("nope"), None)),
        ("missing tag", source(url.clone(), tag("v9.9.9"), None)),
        (
            "missing commit",
            source(url.clone(), commit(&"0123456789".repeat(4)), None),
        ),
    ] {
        let err = env.fetch(&src, None).await.unwrap_err().to_string();
        assert!(
            err.starts_with("bundle unpack git clone error: "),
            "{what}: {err}"
        );
        messages.push(err);
    }
    let distinct: std::collections::BTreeSet<_> = messages.iter().collect();
    assert_eq!(distinct.len(), messages.len(), "{messages:#?}");
    assert!(
        messages[0].contains("does not exist or cannot be read"),
        "{}",
        messages[0]
    );
    assert!(
        messages[1].contains("no such repository"),
        "{}",
        messages[1]
    );
    let refs = &messages[2..];
    assert_eq!(
        refs,
        [
            "bundle unpack git clone error: branch \"nope\" does not exist in the repository",
            "bundle unpack git clone error: tag \"v9.9.9\" does not exist in the repository",
            "bundle unpack git clone error: commit \"0123456789012345678901234567890123456789\" does not exist in the repository",
        ]
    );

    let err = env
        .fetch(
            &source(url.clone(), branch("main"), Some("./deploy/prod")),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "checkout commit \"{}\": directory \"deploy/prod\" does not exist in the repository",
            combo.second
        )
    );
    let err = env
        .fetch(
            &source(
                url.clone(),
                branch("main"),
                Some("manifests/02_namespace.yaml"),
            ),
            None,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is not a directory"), "{err}");

    for escaping in ["..", "../x", "/etc", "dev/../../x"] {
        let err = env
            .fetch(&source(url.clone(), branch("main"), Some(escaping)), None)
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "directory can not start with '../' or '/'");
    }
    let err = env
        .fetch(&source(url.clone(), commit("9e3ab7f"), None), None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("full 40-character"), "{err}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_dropped_mid_transfer_fails_cleanly() -> Result<()> {
    let env = Env::new();
    let combo = env.combo_repo();
    // Enough content that the pack spans many reads: the cut lands inside it.
    let big: String = (0..20_000)
        .map(|i| format!("line {i} {}\n", i * 7919))
        .collect();
    combo
        .repo
        .commit_files(&[("manifests/big.txt", big.as_str())], "big")?;
    let daemon = GitDaemon::start(&env.served()).await?;
    let upstream = daemon
        .url_for("")
        .trim_start_matches("git://")
        .trim_end_matches('/')
        .to_owned();
    let proxy = FaultProxy::cut_after(&upstream, 4096).await?;
    let url = format!("git://{}/combo", proxy.addr());
    let err = env
        .fetch(&source(url, branch("main"), None), None)
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with(
            "bundle unpack git clone error: the connection was closed during the transfer: "
        ),
        "{message}"
    );

    // The same through an intact relay works, so the failure above is the cut.
    let relay = FaultProxy::relay(&upstream).await?;
    let url = format!("git://{}/combo", relay.addr());
    let (_, files) = env
        .fetch(&source(url, branch("main"), Some("manifests")), None)
        .await?;
    assert_eq!(files["big.txt"], big);

    // Over HTTPS: the cut falls inside the pack response.
    testenv::install_crypto_provider();
    let mut env = env;
    let https = GitHttps::start(&env.served(), "u", "p").await?;
    env.options.ca_pem = Some(https.ca_pem().as_bytes().to_vec());
    let upstream = https
        .url_for("")
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_owned();
    let proxy = FaultProxy::cut_after(&upstream, 24 << 10).await?;
    let url = format!("https://{}/combo", proxy.addr());
    let err = env
        .fetch(
            &source(url, branch("main"), None),
            Some(&basic_secret("u", "p")),
        )
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with(
            "bundle unpack git clone error: the connection was closed during the transfer: "
        ),
        "{message}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_never_answers_hits_the_timeout() -> Result<()> {
    let mut env = Env::new();
    env.options.timeout = Duration::from_secs(2);
    // Accepts connections and holds them open without a byte of reply.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            open.push(stream);
        }
    });
    let started = std::time::Instant::now();
    let err = env
        .fetch(
            &source(format!("git://{addr}/combo"), branch("main"), None),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "bundle unpack git clone error: no result within 2s (the controller's git timeout)"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    held.abort();
    Ok(())
}

/// OpenSSH's `sshd` on a loopback port with a temporary host key, accepting one client key
/// for the current user. Runs only where openssh-server is installed.
struct Sshd {
    child: std::process::Child,
    port: u16,
    host_public_key: String,
    client_key: Vec<u8>,
}

impl Sshd {
    const BINARY: &str = "/usr/sbin/sshd";

    fn start(dir: &Path) -> Result<Self> {
        ssh_keygen(&dir.join("host_key"))?;
        ssh_keygen(&dir.join("client_key"))?;
        std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys"))?;
        // sshd wants its privilege-separation directory even when it never uses it.
        std::fs::create_dir_all("/run/sshd")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {dir}/host_key\n\
             AuthorizedKeysFile {dir}/authorized_keys\nPidFile {dir}/sshd.pid\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
             PermitRootLogin prohibit-password\nStrictModes no\n",
            dir = dir.display()
        );
        std::fs::write(dir.join("sshd_config"), config)?;
        let child = std::process::Command::new(Self::BINARY)
            .args(["-D", "-e", "-f"])
            .arg(dir.join("sshd_config"))
            .stderr(std::fs::File::create(dir.join("sshd.log"))?)
            .spawn()?;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "sshd did not listen: {}",
                std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let host_public_key = std::fs::read_to_string(dir.join("host_key.pub"))?;
        Ok(Self {
            child,
            port,
            host_public_key: host_public_key.trim().to_owned(),
            client_key: std::fs::read(dir.join("client_key"))?,
        })
    }

    fn url_for(&self, path: &Path) -> String {
        let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
        format!("ssh://{user}@127.0.0.1:{}{}", self.port, path.display())
    }

    fn known_hosts(&self) -> String {
        format!("[127.0.0.1]:{} {}\n", self.port, self.host_public_key)
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A new ed25519 key pair without passphrase at `path` and `path.pub`.
fn ssh_keygen(path: &Path) -> Result<()> {
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()?;
    anyhow::ensure!(status.success(), "ssh-keygen {}: {status}", path.display());
    Ok(())
}

fn ssh_secret(key: &[u8], known_hosts: Option<&str>) -> SecretData {
    let mut secret = SecretData::from([("ssh-privatekey".to_owned(), key.to_vec())]);
    if let Some(known_hosts) = known_hosts {
        secret.insert("ssh-knownhosts".into(), known_hosts.as_bytes().to_vec());
    }
    secret
}

#[tokio::test(flavor = "multi_thread")]
async fn ssh_with_a_key_and_known_hosts() -> Result<()> {
    if !Path::new(Sshd::BINARY).exists() {
        testenv::unavailable("sshd (Debian package openssh-server)");
        return Ok(());
    }
    let env = Env::new();
    let combo = env.combo_repo();
    let ssh_dir = env.tmp.path().join("ssh");
    std::fs::create_dir_all(&ssh_dir)?;
    let sshd = Sshd::start(&ssh_dir)?;
    let mut src = source(
        sshd.url_for(combo.repo.path()),
        tag("v0.0.2"),
        Some("dev/deploy"),
    );
    src.auth = Some(Authorization {
        secret: Some(auth_secret("git-ssh")),
        insecure_skip_verify: false,
    });

    let trusted = ssh_secret(&sshd.client_key, Some(&sshd.known_hosts()));
    let (id, files) = env.fetch(&src, Some(&trusted)).await?;
    assert_eq!(id, combo.second);
    assert_eq!(files.len(), 8, "{files:?}");

    // A known_hosts entry with another key: the host is not the one pinned.
    let other_host = format!(
        "[127.0.0.1]:{} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0Kv1xO2Mw3ZgTqM2fQ9WmWQyW0lJ0oQ4cI7b2l5zS\n",
        sshd.port
    );
    let err = env
        .fetch(&src, Some(&ssh_secret(&sshd.client_key, Some(&other_host))))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "bundle unpack git clone error: the server's ssh host key is not trusted (Host key verification failed.): \
         add it to \"ssh-knownhosts\" in the auth Secret, or set auth.insecureSkipVerify"
    );

    // insecureSkipVerify: any host key.
    src.auth.as_mut().unwrap().insecure_skip_verify = true;
    let (id, _) = env
        .fetch(&src, Some(&ssh_secret(&sshd.client_key, None)))
        .await?;
    assert_eq!(id, combo.second);

    // A key the server does not know.
    let stranger_dir = env.tmp.path().join("stranger");
    std::fs::create_dir_all(&stranger_dir)?;
    ssh_keygen(&stranger_dir.join("key"))?;
    let stranger = std::fs::read(stranger_dir.join("key"))?;
    let err = env
        .fetch(&src, Some(&ssh_secret(&stranger, None)))
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with(
            "bundle unpack git clone error: the server refused the ssh key of the auth Secret ("
        ),
        "{message}"
    );
    assert!(message.contains("Permission denied"), "{message}");

    let err = env.fetch(&src, Some(&SecretData::new())).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "the auth Secret has no \"ssh-privatekey\" key"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn content_over_the_size_limit_is_refused() -> Result<()> {
    let mut env = Env::new();
    let combo = env.combo_repo();
    let source = source(combo.repo.file_url(), branch("release"), Some("manifests"));
    let total: usize = combo_bundle().values().map(String::len).sum();
    env.options.max_bytes = total as u64;
    let (_, files) = env.fetch(&source, None).await?;
    assert_eq!(files.len(), 7);
    env.options.max_bytes = total as u64 - 1;
    let err = env.fetch(&source, None).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "checkout commit \"{}\": the content is larger than the limit of {} bytes",
            combo.first,
            total - 1
        )
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_commit_that_no_ref_points_at() -> Result<()> {
    testenv::install_crypto_provider();
    let mut env = Env::new();
    let repo = GitRepo::init(&env.served().join("history"))?;
    let bundle = combo_bundle();
    let files: Vec<(&str, &str)> = bundle
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    repo.commit_files(&files, "first")?;
    let middle = repo.commit_files(&[("manifests/08_middle.yaml", "kind: Secret\n")], "middle")?;
    repo.commit_files(&[("manifests/09_last.yaml", "kind: Service\n")], "last")?;
    let daemon = GitDaemon::start(&env.served()).await?;
    let https = GitHttps::start(&env.served(), "u", "p").await?;
    env.options.ca_pem = Some(https.ca_pem().as_bytes().to_vec());
    let secret = basic_secret("u", "p");
    for url in [
        repo.file_url(),
        daemon.url_for("history"),
        https.url_for("history"),
    ] {
        let src = source(url.clone(), commit(&middle), Some("manifests"));
        let (id, files) = env.fetch(&src, Some(&secret)).await?;
        assert_eq!(id, middle, "{url}");
        assert_eq!(files.len(), 8, "{url}: {files:?}");
        assert_eq!(files["08_middle.yaml"], "kind: Secret\n");
    }
    Ok(())
}
