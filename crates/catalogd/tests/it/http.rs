//! HTTP semantics of the content server over a real socket: conditional requests, gzip,
//! ranges, metas filters, unknown names and methods, and the listener's limits.

use std::time::Duration;

use catalogd::{ContentServer, Metrics, Store};
use controller_runtime::{Listener, MetricsEndpoint, WRITE_STALL_TIMEOUT};
use prometheus_client::registry::Registry;
use reqwest::StatusCode;
use reqwest::header;

const DIGEST: &str = "sha256:abababababababababababababababababababababababababababababababab";

/// Headers not complete after this are cut off in these tests (5 s in the binary).
const TEST_HEADER_TIMEOUT: Duration = Duration::from_millis(500);

struct Served {
    base: String,
    addr: std::net::SocketAddr,
    /// This server's `/metrics`, with nothing but catalogd's metrics registered.
    metrics: MetricsEndpoint,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::watch::Sender<bool>,
}

async fn serve() -> Served {
    serve_with(3000, WRITE_STALL_TIMEOUT, None).await
}

/// Serves a catalog whose one bundle carries `padding` bytes, over TLS with `tls` (PEM
/// certificate and key files).
async fn serve_with(
    padding: usize,
    write_stall_timeout: Duration,
    tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut w = store.begin("demo", DIGEST).unwrap();
    w.push(
        "olm.package",
        "",
        "foo",
        r#"{"defaultChannel":"stable","name":"foo","schema":"olm.package"}"#,
    )
    .unwrap();
    w.push(
        "olm.channel",
        "foo",
        "stable",
        r#"{"entries":[{"name":"foo.v1"}],"name":"stable","package":"foo","schema":"olm.channel"}"#,
    )
    .unwrap();
    let padding = "p".repeat(padding);
    let bundle =
        format!(r#"{{"name":"foo.v1","package":"foo","pad":"{padding}","schema":"olm.bundle"}}"#);
    w.push("olm.bundle", "foo", "foo.v1", &bundle).unwrap();
    w.push(
        "olm.package",
        "",
        "bar",
        r#"{"name":"bar","schema":"olm.package"}"#,
    )
    .unwrap();
    w.commit().unwrap();

    // The binary's listener, on a free port, timing requests into this server's registry.
    let metrics = Metrics::default();
    let mut registry = Registry::default();
    metrics.register(&mut registry);
    let endpoint = MetricsEndpoint::new(registry).with_text(metrics.request_durations());
    let app = ContentServer::new(store).with_metrics(&metrics).router();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let listener = Listener {
        tls: tls.map(|(cert, key)| controller_runtime::Tls::Files { cert, key }),
        header_read_timeout: TEST_HEADER_TIMEOUT,
        write_stall_timeout,
        ..Listener::plain("127.0.0.1:0".parse().unwrap())
    };
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let (bound, addr) = tokio::sync::oneshot::channel();
    tokio::spawn(async move { listener.serve(app, stopping, Some(bound)).await.unwrap() });
    let addr = addr.await.unwrap();
    Served {
        base: format!("{scheme}://{addr}"),
        addr,
        metrics: endpoint,
        _dir: dir,
        _stop: stop,
    }
}

fn client() -> reqwest::Client {
    // Plain client: no transparent gzip, so the test sees Content-Encoding.
    reqwest::Client::builder().no_gzip().build().unwrap()
}

#[tokio::test]
async fn all_json_supports_conditional_requests_ranges_and_gzip() {
    let s = serve().await;
    let url = format!("{}/catalogs/demo/all.json", s.base);
    let resp = client().get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/json");
    let etag = resp.headers()[header::ETAG].clone();
    let last_modified = resp.headers()[header::LAST_MODIFIED].clone();
    let body = resp.text().await.unwrap();
    assert_eq!(body.lines().count(), 4);
    assert!(body.starts_with(r#"{"defaultChannel":"stable","name":"foo","schema":"olm.package"}"#));

    let resp = client()
        .get(&url)
        .header(header::IF_NONE_MATCH, etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
    let resp = client()
        .get(&url)
        .header(header::IF_MODIFIED_SINCE, last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);

    let resp = client()
        .get(&url)
        .header(header::RANGE, "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.text().await.unwrap(), &body[..10]);

    let resp = client()
        .get(&url)
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()[header::CONTENT_ENCODING], "gzip");
    let gz = resp.bytes().await.unwrap();
    let mut plain = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut plain).unwrap();
    assert_eq!(plain, body);

    let api = format!("{}/catalogs/demo/api/v1/all", s.base);
    let resp = client().get(&api).send().await.unwrap();
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/jsonl");
    assert_eq!(resp.text().await.unwrap(), body);
}

#[tokio::test]
async fn metas_filters_from_the_index() {
    let s = serve().await;
    let get = |q: &str| {
        let url = format!("{}/catalogs/demo/api/v1/metas{q}", s.base);
        async move { client().get(url).send().await.unwrap() }
    };
    let resp = get("?schema=olm.package").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/jsonl");
    let text = resp.text().await.unwrap();
    let names: Vec<_> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["name"].clone())
        .collect();
    assert_eq!(names, ["foo", "bar"]);

    let text = get("?package=foo").await.text().await.unwrap();
    assert_eq!(
        text.lines().count(),
        2,
        "olm.package blobs have no package field"
    );
    let text = get("?package=foo&schema=olm.channel")
        .await
        .text()
        .await
        .unwrap();
    assert!(text.contains(r#""name":"stable""#) && text.lines().count() == 1);
    let text = get("?name=nothing").await.text().await.unwrap();
    assert_eq!(text, "");
    let all = get("").await.text().await.unwrap();
    assert_eq!(all.lines().count(), 4);
    // A GET of `path` (under the catalog) with the given Accept-Encoding.
    let encoded = |path: &str, encoding: &'static str| {
        let url = format!("{}/catalogs/demo/{path}", s.base);
        async move {
            client()
                .get(url)
                .header(header::ACCEPT_ENCODING, encoding)
                .send()
                .await
                .unwrap()
        }
    };
    // No filter: the stored file itself, gzip from its precompressed copy.
    let whole = encoded("api/v1/metas", "gzip").await;
    assert_eq!(whole.headers()[header::CONTENT_ENCODING], "gzip");
    assert_eq!(whole.headers()[header::CONTENT_TYPE], "application/jsonl");
    let whole = whole.bytes().await.unwrap();
    assert_eq!(
        whole,
        encoded("all.json", "gzip").await.bytes().await.unwrap()
    );

    let resp = get("?bogus=1").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains("bogus"));

    let resp = encoded("api/v1/metas?package=foo", "gzip").await;
    assert_eq!(
        resp.headers()[header::CONTENT_ENCODING],
        "gzip",
        "bodies over 1400 bytes are gzipped"
    );
    assert_eq!(resp.headers()[header::VARY], "accept-encoding");
    let zipped = resp.bytes().await.unwrap();
    let mut unzipped = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(&zipped[..]),
        &mut unzipped,
    )
    .unwrap();
    let plain = get("?package=foo").await;
    assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
    assert_eq!(unzipped, plain.text().await.unwrap());
    // The second gzip answer comes from the cache: the same bytes.
    let again = encoded("api/v1/metas?package=foo", "gzip").await;
    assert_eq!(again.bytes().await.unwrap(), zipped);
    let refused = encoded("api/v1/metas?package=foo", "gzip;q=0, *").await;
    assert!(refused.headers().get(header::CONTENT_ENCODING).is_none());

    let lm = get("?schema=olm.package").await.headers()[header::LAST_MODIFIED].clone();
    let resp = client()
        .get(format!(
            "{}/catalogs/demo/api/v1/metas?schema=olm.package",
            s.base
        ))
        .header(header::IF_MODIFIED_SINCE, lm)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn unknown_catalogs_paths_and_methods() {
    let s = serve().await;
    for path in [
        "/catalogs/missing/all.json",
        "/catalogs/missing/api/v1/metas",
        "/catalogs/demo/",
        "/catalogs/demo/sha256-ab",
        "/catalogs/../etc/passwd",
        "/",
    ] {
        let resp = client()
            .get(format!("{}{path}", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let resp = client()
        .post(format!("{}/catalogs/demo/all.json", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    let resp = client()
        .head(format!("{}/catalogs/demo/all.json", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_new_commit_or_a_deletion_is_seen_by_the_next_request() {
    let s = serve().await;
    let metas = format!("{}/catalogs/demo/api/v1/metas?schema=olm.package", s.base);
    let all = format!("{}/catalogs/demo/all.json", s.base);
    let before = client()
        .get(&metas)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(before.lines().count(), 2);
    // Asked twice: the second answer comes from the response cache and must be the same.
    let again = client()
        .get(&metas)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(before, again);

    // Another writer (a separate Store on the same directory, as the controller has).
    let store = Store::open(s._dir.path()).unwrap();
    let mut w = store
        .begin(
            "demo",
            "sha256:cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",
        )
        .unwrap();
    w.push(
        "olm.package",
        "",
        "baz",
        r#"{"name":"baz","schema":"olm.package"}"#,
    )
    .unwrap();
    w.commit().unwrap();
    let after = client()
        .get(&metas)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(after, "{\"name\":\"baz\",\"schema\":\"olm.package\"}\n");
    let body = client()
        .get(&all)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, after);

    store.delete("demo").unwrap();
    for url in [&metas, &all] {
        let resp = client().get(url).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{url}");
    }
}

#[tokio::test]
async fn clients_that_do_not_finish_their_headers_are_disconnected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = serve().await;
    let mut slow = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    slow.write_all(b"GET /catalogs/demo/all.json HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    // The bound only keeps a regression from hanging the suite.
    let read = tokio::time::timeout(Duration::from_secs(30), slow.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "connection still open after 30 s");
    assert!(
        started.elapsed() >= TEST_HEADER_TIMEOUT / 2,
        "closed before the timeout: {:?}",
        started.elapsed()
    );
    // An idle kept-alive connection is closed the same way.
    let mut idle = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    idle.write_all(b"HEAD /catalogs/demo/all.json HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), idle.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "idle connection still open after 30 s");
    assert!(String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 200"));
    // A complete request on a new connection is still answered.
    let resp = client()
        .get(format!("{}/catalogs/demo/all.json", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

/// Upstream's `catalogd_http_request_duration_seconds{code}` counts every answer once its body
/// has been sent; timing the body does not cost the Content-Length header.
#[tokio::test]
async fn request_durations_are_measured_per_status_code() {
    let s = serve().await;
    let resp = client()
        .get(format!("{}/catalogs/demo/all.json", s.base))
        .send()
        .await
        .unwrap();
    let length = resp.headers()[header::CONTENT_LENGTH].clone();
    let body = resp.bytes().await.unwrap();
    assert_eq!(length.to_str().unwrap(), body.len().to_string());
    let resp = client()
        .get(format!("{}/catalogs/nope/all.json", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    resp.bytes().await.unwrap();

    // The server drops a body just after its last bytes left, so allow it a moment.
    let wanted = [
        "catalogd_http_request_duration_seconds_count{code=\"200\"} 1\n",
        "catalogd_http_request_duration_seconds_count{code=\"404\"} 1\n",
        "catalogd_http_request_duration_seconds_bucket{code=\"200\",le=\"10\"} 1\n",
    ];
    let mut text = String::new();
    for _ in 0..100 {
        text = s.metrics.render();
        if wanted.iter().all(|w| text.contains(w)) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("metrics lack {wanted:?}:\n{text}");
}

/// A client that stops reading a large response is disconnected once it has taken nothing
/// for the write-stall timeout, instead of holding the connection until TCP gives up.
#[tokio::test]
async fn clients_that_stop_reading_are_disconnected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // Far more than the loopback socket buffers hold.
    const PADDING: usize = 48 << 20;
    let s = serve_with(PADDING, Duration::from_millis(500), None).await;
    let mut stalled = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    stalled
        .write_all(b"GET /catalogs/demo/all.json HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Reading now gets what the kernel had buffered, then the end of the connection.
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), stalled.read_to_end(&mut got)).await;
    assert!(read.is_ok(), "connection still open after 30 s");
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));
    assert!(
        got.len() < PADDING,
        "the whole body ({} bytes) arrived: the stalled connection was kept",
        got.len()
    );
    // A reader that keeps reading gets everything.
    let body = client()
        .get(format!("{}/catalogs/demo/all.json", s.base))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(body.len() > PADDING);
}

/// The TLS listener (`--tls-cert`/`--tls-key`) serves the same content, with the same
/// connection limits underneath.
#[tokio::test]
async fn tls_listener_serves_the_catalog() {
    testenv::install_crypto_provider();
    let ca = testenv::tls::CertificateAuthority::new("test-ca").unwrap();
    let cert = ca.issue_server("catalogd", &["127.0.0.1"]).unwrap();
    let pem = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (pem.path().join("tls.crt"), pem.path().join("tls.key"));
    std::fs::write(&cert_path, &cert.cert_pem).unwrap();
    std::fs::write(&key_path, &cert.key_pem).unwrap();
    let s = serve_with(3000, WRITE_STALL_TIMEOUT, Some((cert_path, key_path))).await;
    assert!(s.base.starts_with("https://"));
    let trusting = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.cert_pem().as_bytes()).unwrap()])
        .build()
        .unwrap();
    let resp = trusting
        .get(format!("{}/catalogs/demo/all.json", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.text().await.unwrap().lines().count(), 4);
    // Plain HTTP to the TLS port gets no catalog.
    let plain = client()
        .get(format!("http://{}/catalogs/demo/all.json", s.addr))
        .send()
        .await;
    assert!(plain.map_or(true, |r| !r.status().is_success()));
}
