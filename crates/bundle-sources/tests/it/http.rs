//! The `http` source against an HTTPS file server.

use std::path::Path;
use std::time::Duration;

use bundle_sources::{SourceError, Sources, Unpack};
use oci::{ExtractLimits, RegistryOptions};
use olm_api::BundleSource;
use olm_api::bundle::{AuthSecret, Authorization, HttpSource, SourceType};
use testenv::FaultProxy;

use crate::fixtures::{
    Entry, FileServer, NO_UPLOADS, Objects, Workspace, error_message, files_under, gzip,
    plain_bundle, raw_tgz, sources, tgz_of_dir, unpack,
};

fn http_source(url: &str, secret: Option<&str>, insecure_skip_verify: bool) -> BundleSource {
    BundleSource {
        http: Some(HttpSource {
            url: url.to_owned(),
            auth: (secret.is_some() || insecure_skip_verify).then(|| Authorization {
                secret: secret.map(|name| AuthSecret {
                    name: name.to_owned(),
                }),
                insecure_skip_verify,
            }),
        }),
        ..BundleSource::of_type(SourceType::Http)
    }
}

/// Sources trusting `server`'s CA.
fn trusting(server: &FileServer) -> (Sources, tempfile::TempDir) {
    let (sources, cache) = sources(RegistryOptions::default(), Path::new(NO_UPLOADS));
    (sources.with_http_ca_pem(server.ca_pem()).unwrap(), cache)
}

/// Unpacks `url` without auth for the Bundle `combo`.
async fn get(sources: &Sources, url: &str) -> (Workspace, Result<Unpack, SourceError>) {
    fetch(sources, &http_source(url, None, false), &Objects::default()).await
}

async fn fetch(
    sources: &Sources,
    source: &BundleSource,
    objects: &Objects,
) -> (Workspace, Result<Unpack, SourceError>) {
    unpack(sources, "combo", source, objects).await
}

#[tokio::test]
async fn a_tgz_is_unpacked_and_resolved_to_the_spec() {
    let server = FileServer::start(None).await;
    server.put("combo.tgz", tgz_of_dir(&plain_bundle()));
    let (sources, _cache) = trusting(&server);
    let source = http_source(&server.url("combo.tgz"), None, false);

    let (ws, result) = fetch(&sources, &source, &Objects::default()).await;

    assert_eq!(result.unwrap(), Unpack::Unpacked { resolved: source });
    assert_eq!(ws.files(), files_under(&plain_bundle()));
    assert_eq!(
        std::fs::read(ws.dest().join("manifests/06_deployment.yaml")).unwrap(),
        std::fs::read(plain_bundle().join("manifests/06_deployment.yaml")).unwrap()
    );
    ws.assert_nothing_beside_dest(&[]);
}

/// Go clients send an unset secret reference as `{}`: an empty name means no Secret.
#[tokio::test]
async fn an_empty_secret_name_means_no_credentials() {
    let server = FileServer::start(None).await;
    server.put("combo.tgz", tgz_of_dir(&plain_bundle()));
    let (sources, _cache) = trusting(&server);
    let source = http_source(&server.url("combo.tgz"), Some(""), false);

    let (ws, result) = fetch(&sources, &source, &Objects::default()).await;

    assert_eq!(result.unwrap(), Unpack::Unpacked { resolved: source });
    assert_eq!(ws.files(), files_under(&plain_bundle()));
}

#[tokio::test]
async fn a_missing_file_reports_the_status_as_go_does() {
    let server = FileServer::start(None).await;
    let (sources, _cache) = trusting(&server);
    let url = server.url("missing.tgz");

    let (ws, result) = get(&sources, &url).await;

    assert_eq!(
        error_message(result),
        format!(r#"GET {url}: unexpected status "404 Not Found""#)
    );
    ws.assert_nothing_beside_dest(&[]);
}

#[tokio::test]
async fn a_body_that_is_not_gzip_is_refused() {
    let server = FileServer::start(None).await;
    server.put("plain.txt", b"apiVersion: v1\nkind: Namespace\n".to_vec());
    let mut tar = tar::Builder::new(Vec::new());
    tar.append_dir_all(".", plain_bundle()).unwrap();
    server.put("bundle.tar", tar.into_inner().unwrap());
    server.put("empty", Vec::new());
    let (sources, _cache) = trusting(&server);

    for path in ["plain.txt", "bundle.tar", "empty"] {
        let url = server.url(path);
        let (ws, result) = get(&sources, &url).await;
        assert_eq!(
            error_message(result),
            format!("{url}: gzip: invalid header")
        );
        assert!(ws.files().is_empty());
        ws.assert_nothing_beside_dest(&[]);
    }
}

#[tokio::test]
async fn basic_auth_comes_from_the_secret() {
    let server = FileServer::start(Some(("bundles", "s3cret"))).await;
    server.put("combo.tgz", tgz_of_dir(&plain_bundle()));
    let (sources, _cache) = trusting(&server);
    let url = server.url("combo.tgz");
    let objects = Objects::default()
        .with_secret("good", &[("username", b"bundles"), ("password", b"s3cret")])
        .with_secret("bad", &[("username", b"bundles"), ("password", b"wrong")])
        .with_secret("no-password", &[("username", b"bundles")]);

    let source = http_source(&url, Some("good"), false);
    let (ws, result) = fetch(&sources, &source, &objects).await;
    assert_eq!(result.unwrap(), Unpack::Unpacked { resolved: source });
    assert_eq!(ws.files(), files_under(&plain_bundle()));

    let unauthorized = format!(r#"GET {url}: unexpected status "401 Unauthorized""#);
    let cases = [
        (Some("bad"), unauthorized.clone()),
        (None, unauthorized),
        (
            Some("no-password"),
            r#"secret rukpak-system/no-password has no "password" key, needed for basic auth"#
                .to_owned(),
        ),
        (
            Some("absent"),
            "secret rukpak-system/absent (named in bundle.spec.source.http.auth.secret) was not found"
                .to_owned(),
        ),
    ];
    for (secret, expected) in cases {
        let (_, result) = fetch(&sources, &http_source(&url, secret, false), &objects).await;
        assert_eq!(error_message(result), expected);
    }

    let failing = Objects {
        failing: Some("the server is currently unable to handle the request".into()),
        ..Objects::default()
    };
    let (_, result) = fetch(&sources, &http_source(&url, Some("good"), false), &failing).await;
    assert_eq!(
        error_message(result),
        "get secret rukpak-system/good: the server is currently unable to handle the request"
    );
}

#[tokio::test]
async fn an_untrusted_certificate_needs_insecure_skip_verify() {
    let server = FileServer::start(None).await;
    server.put("combo.tgz", tgz_of_dir(&plain_bundle()));
    let (sources, _cache) = sources(RegistryOptions::default(), Path::new(NO_UPLOADS));
    let url = server.url("combo.tgz");

    let (ws, result) = get(&sources, &url).await;
    let message = error_message(result);
    assert!(
        message.starts_with(&format!("GET {url}: ")) && message.contains("certificate"),
        "{message}"
    );
    ws.assert_nothing_beside_dest(&[]);

    let source = http_source(&url, None, true);
    let (ws, result) = fetch(&sources, &source, &Objects::default()).await;
    assert_eq!(result.unwrap(), Unpack::Unpacked { resolved: source });
    assert_eq!(ws.files(), files_under(&plain_bundle()));
}

#[tokio::test]
async fn hostile_tarballs_are_refused() {
    let server = FileServer::start(None).await;
    let cases: [(&str, Vec<u8>, &str); 4] = [
        (
            "traversal.tgz",
            raw_tgz(&[Entry::File("manifests/../../evil.yaml", b"x")]),
            r#"entry "manifests/../../evil.yaml" has a `..` component (path traversal)"#,
        ),
        (
            "absolute.tgz",
            raw_tgz(&[Entry::File("/etc/evil.yaml", b"x")]),
            r#"entry "/etc/evil.yaml" is an absolute path"#,
        ),
        (
            "symlink.tgz",
            raw_tgz(&[Entry::Symlink("manifests", "../../../etc")]),
            r#"symlink "manifests" -> "../../../etc" escapes the extraction root"#,
        ),
        (
            "hardlink.tgz",
            raw_tgz(&[
                Entry::File("a.yaml", b"x"),
                Entry::HardLink("b.yaml", "/etc/shadow"),
            ]),
            "is a hard link",
        ),
    ];
    for (path, content, _) in &cases {
        server.put(path, content.clone());
    }
    let (sources, _cache) = trusting(&server);
    for (path, _, expected) in cases {
        let url = server.url(path);
        let (ws, result) = get(&sources, &url).await;
        let message = error_message(result);
        assert!(
            message.starts_with(&format!("layer {url}: ")) && message.contains(expected),
            "{path}: {message}"
        );
        ws.assert_nothing_beside_dest(&[]);
        assert!(!ws.root.path().join("evil.yaml").exists());
    }
}

#[tokio::test]
async fn bombs_hit_the_bundle_limits() {
    let server = FileServer::start(None).await;
    // 1 MiB of zeros compresses to about 1 KiB.
    let zeros = vec![0u8; 1 << 20];
    server.put(
        "bomb.tgz",
        raw_tgz(&[Entry::File("manifests/zeros", &zeros)]),
    );
    let many: Vec<String> = (0..50).map(|i| format!("f{i}")).collect();
    let entries: Vec<Entry<'_>> = many.iter().map(|n| Entry::File(n, b"x")).collect();
    server.put("many.tgz", raw_tgz(&entries));
    server.put("big-download.tgz", gzip(&pseudo_random(64 << 10)));
    let limits = ExtractLimits {
        max_total_bytes: 32 << 10,
        max_file_bytes: 16 << 10,
        max_entries: 20,
        max_path_len: 4096,
    };
    let (sources, _cache) = trusting(&server);
    let sources = sources.with_limits(limits);

    let cases = [
        ("bomb.tgz", "over the 16384-byte per-file limit"),
        ("many.tgz", "more than 20 entries in the image (limit)"),
        (
            "big-download.tgz",
            "the archive is larger than the 32768-byte limit for bundles",
        ),
    ];
    for (path, expected) in cases {
        let (ws, result) = get(&sources, &server.url(path)).await;
        let message = error_message(result);
        assert!(message.contains(expected), "{path}: {message}");
        ws.assert_nothing_beside_dest(&[]);
    }
}

#[tokio::test]
async fn a_connection_cut_mid_transfer_is_an_error_and_leaves_nothing() {
    let server = FileServer::start(None).await;
    let mut tgz = tgz_of_dir(&plain_bundle());
    // Incompressible padding after the archive makes the body long enough to be cut.
    tgz.extend(pseudo_random(256 << 10));
    server.put("combo.tgz", tgz);
    let proxy = FaultProxy::cut_after(&server.addr(), 64 << 10)
        .await
        .unwrap();
    let (sources, _cache) = trusting(&server);
    let url = format!("https://{}/combo.tgz", proxy.addr());

    let (ws, result) = get(&sources, &url).await;

    let message = error_message(result);
    assert!(
        message.starts_with(&format!("GET {url}: the download broke off after ")),
        "{message}"
    );
    assert!(ws.files().is_empty());
    ws.assert_nothing_beside_dest(&[]);
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    // Accepts connections and never says anything, not even the TLS handshake.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let (sources, _cache) = sources(RegistryOptions::default(), Path::new(NO_UPLOADS));
    let sources = sources.with_http_timeout(Duration::from_millis(300));
    let url = format!("https://{addr}/combo.tgz");

    let (ws, result) = get(&sources, &url).await;

    assert_eq!(
        error_message(result),
        format!("GET {url}: no response within 300ms")
    );
    ws.assert_nothing_beside_dest(&[]);
    silent.abort();
}

#[tokio::test]
async fn a_source_without_its_member_is_refused() {
    let (sources, _cache) = sources(RegistryOptions::default(), Path::new(NO_UPLOADS));
    let (_, result) = fetch(
        &sources,
        &BundleSource::of_type(SourceType::Http),
        &Objects::default(),
    )
    .await;
    assert_eq!(
        error_message(result),
        r#"bundle.spec.source.http must be set for source type "http""#
    );
}

/// Deterministic bytes that do not compress.
fn pseudo_random(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}
