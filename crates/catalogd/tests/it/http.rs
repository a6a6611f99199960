//! HTTP semantics of the content server over a real socket: conditional requests, gzip,
//! ranges, metas filters, unknown names and methods, streamed bodies, and the limits of
//! the listener and per client.

use std::num::NonZeroUsize;
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
    serve_with(3000, WRITE_STALL_TIMEOUT, None, None).await
}

/// Serves a catalog whose one bundle carries `padding` bytes, over TLS with `tls` (PEM
/// certificate and key files), with `max_per_client` (`--max-requests-per-client`) if given.
async fn serve_with(
    padding: usize,
    write_stall_timeout: Duration,
    tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
    max_per_client: Option<NonZeroUsize>,
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
    let mut server = ContentServer::new(store).with_metrics(&metrics);
    if let Some(max) = max_per_client {
        server = server.with_max_requests_per_client(max);
    }
    let app = server.router();
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

/// A GET of `url` that accepts gzip.
async fn get_gzip(url: &str) -> reqwest::Response {
    client()
        .get(url)
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap()
}

fn gunzip(zipped: &[u8]) -> Vec<u8> {
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(zipped), &mut plain).unwrap();
    plain
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

    let resp = get_gzip(&url).await;
    assert_eq!(resp.headers()[header::CONTENT_ENCODING], "gzip");
    let gz = resp.bytes().await.unwrap();
    assert_eq!(gunzip(&gz), body.as_bytes());

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
    let plain = get("?package=foo").await;
    assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
    assert_eq!(gunzip(&zipped), plain.bytes().await.unwrap());
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
    let s = serve_with(PADDING, Duration::from_millis(500), None, None).await;
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
    let s = serve_with(3000, WRITE_STALL_TIMEOUT, Some((cert_path, key_path)), None).await;
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

/// The large test catalog's `?package=foo` body: the channel line and the padded bundle.
const LARGE_PADDING: usize = 48 << 20;

/// Overwrites the last `n` bytes of the bundle's padding in the served `all.json` in place
/// (same length, so the index stays right) and returns the file's new content.
fn overwrite_padding_tail(s: &Served, n: usize) -> Vec<u8> {
    use std::io::{Seek, SeekFrom, Write};
    let path = Store::open(s._dir.path())
        .unwrap()
        .current("demo")
        .unwrap()
        .unwrap()
        .all_path();
    let content = std::fs::read(&path).unwrap();
    let marker = br#"","schema":"olm.bundle""#;
    let end = content
        .windows(marker.len())
        .position(|w| w == marker)
        .unwrap();
    let mut file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.seek(SeekFrom::Start((end - n) as u64)).unwrap();
    file.write_all(&vec![b'q'; n]).unwrap();
    std::fs::read(&path).unwrap()
}

/// The lines of `all` for `?package=foo`: the channel and the bundle.
fn package_foo(all: &[u8]) -> Vec<u8> {
    all.split_inclusive(|b| *b == b'\n')
        .filter(|l| l.starts_with(br#"{"entries""#) || l.starts_with(br#"{"name":"foo.v1""#))
        .flatten()
        .copied()
        .collect()
}

/// A metas body too large to cache is read from the file while it is being sent, plain and
/// gzipped: bytes changed on disk after the first chunk has arrived reach the client, so
/// the server cannot have held the body (48 MiB; the loopback socket buffers hold a few
/// MiB) in memory.
#[tokio::test]
async fn large_metas_bodies_are_read_from_the_file_while_being_sent() {
    let s = serve_with(LARGE_PADDING, WRITE_STALL_TIMEOUT, None, None).await;
    let url = format!("{}/catalogs/demo/api/v1/metas?package=foo", s.base);

    let mut resp = client().get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/jsonl");
    let announced = resp.content_length().unwrap();
    let mut got = resp.chunk().await.unwrap().unwrap().to_vec();
    let all = overwrite_padding_tail(&s, 1 << 20);
    let expected = package_foo(&all);
    assert_eq!(announced, expected.len() as u64);
    while let Some(chunk) = resp.chunk().await.unwrap() {
        got.extend_from_slice(&chunk);
    }
    assert!(got == expected, "the body was read before it was sent");

    let mut resp = get_gzip(&url).await;
    assert_eq!(resp.headers()[header::CONTENT_ENCODING], "gzip");
    assert_eq!(resp.headers()[header::VARY], "accept-encoding");
    assert!(resp.content_length().is_none(), "compressed on the fly");
    let mut zipped = resp.chunk().await.unwrap().unwrap().to_vec();
    let all = overwrite_padding_tail(&s, 2 << 20);
    while let Some(chunk) = resp.chunk().await.unwrap() {
        zipped.extend_from_slice(&chunk);
    }
    assert!(
        gunzip(&zipped) == package_foo(&all),
        "the body was compressed before it was sent"
    );
}

/// With `--max-requests-per-client=1`, a client streaming one large response has one more
/// request wait for it and the next refused with 429 and Retry-After; small cached metas
/// are not limited, and the waiting request is served once the first response ends.
#[tokio::test]
async fn a_client_gets_its_slots_then_a_queue_then_429() {
    use futures::future::{Either, select};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = serve_with(
        LARGE_PADDING,
        WRITE_STALL_TIMEOUT,
        None,
        NonZeroUsize::new(1),
    )
    .await;
    // Holds the only slot: its response has started and it reads no further.
    let mut holder = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    holder
        .write_all(b"GET /catalogs/demo/api/v1/metas?package=foo HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    holder.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");

    let small = client()
        .get(format!(
            "{}/catalogs/demo/api/v1/metas?schema=olm.package",
            s.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(small.status(), StatusCode::OK, "cached bodies take no slot");

    let get = |path: &'static str| {
        let url = format!("{}/catalogs/demo/{path}", s.base);
        tokio::spawn(async move { client().get(url).send().await.unwrap() })
    };
    // One of these waits for the holder; the other finds the queue full.
    let (refused, waiting) = match select(get("all.json"), get("api/v1/all")).await {
        Either::Left((first, other)) | Either::Right((first, other)) => (first.unwrap(), other),
    };
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()[header::RETRY_AFTER], "1");
    let text = refused.text().await.unwrap();
    assert!(
        text.contains("127.0.0.1 has 1 responses in flight and 1 more requests waiting"),
        "{text}"
    );
    assert!(!waiting.is_finished());

    drop(holder);
    let served = waiting.await.unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    assert!(served.bytes().await.unwrap().len() > LARGE_PADDING);
}
