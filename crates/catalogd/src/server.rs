//! The catalog content server (catalogd.md §9.2):
//!
//! | path | body | Content-Type |
//! |---|---|---|
//! | `/catalogs/<name>/all.json` | all metas, JSON Lines | `application/json` |
//! | `/catalogs/<name>/api/v1/all` | the same bytes | `application/jsonl` |
//! | `/catalogs/<name>/api/v1/metas?schema=&package=&name=` | matching metas, file order | `application/jsonl` |
//!
//! GET and HEAD only. The full-catalog paths are served from the file with ETag,
//! Last-Modified, conditional requests, ranges and a precompressed gzip copy; metas come
//! from the offset index, never a scan. Any replica can serve: nothing here needs the
//! leader.
//!
//! Per catalog, what is served (the stored catalog, its index, an open `all.json` and the
//! bodies of recent metas queries, plain and gzipped) is kept in memory and revalidated on
//! every request with one `lstat` of the `current` link, which every commit replaces
//! ([`Store::version`]). A hot metas query therefore costs no file I/O at all.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::SystemTime;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower::ServiceExt;
use tower_http::services::ServeFile;

use crate::index::{MetaIndex, MetaQuery, Section};
use crate::metrics::{Metrics, RequestDurations, time_requests};
use crate::store::{Store, StoreError, StoredCatalog, Version};

const JSONL: &str = "application/jsonl";

/// The content routes over one [`Store`]; cloning shares its caches.
#[derive(Clone)]
pub struct ContentServer {
    store: Store,
    /// Where request durations are recorded; unregistered unless [`Self::with_metrics`].
    durations: Arc<RequestDurations>,
    served: Arc<RwLock<HashMap<String, Arc<Served>>>>,
    /// Serialises reloads so a burst of requests after a commit loads the index once.
    reloading: Arc<tokio::sync::Mutex<()>>,
}

/// Bodies of metas queries kept per catalog (keys, bodies and bookkeeping counted).
const RESPONSE_CACHE_BYTES: usize = 64 << 20;
/// Larger bodies (e.g. every bundle) are read from the file each time instead.
const RESPONSE_CACHE_MAX_ENTRY: usize = 4 << 20;
/// Read size for streaming `all.json`: fewer, larger reads than tower-http's 64 KiB.
const FILE_CHUNK: usize = 1 << 20;
/// Metas bodies up to this size are sent uncompressed even to gzip clients (one packet).
const GZIP_MIN_BYTES: usize = 1400;

/// One stored digest of one catalog, as long as the `current` link is unchanged.
struct Served {
    version: Version,
    catalog: StoredCatalog,
    last_modified: Option<HeaderValue>,
    index: MetaIndex,
    all: Arc<File>,
    responses: Mutex<ResponseCache>,
}

#[derive(Default)]
struct ResponseCache {
    bytes: usize,
    bodies: HashMap<MetaQuery, MetasBody>,
}

/// One metas response; its gzip form is made on the first request that accepts it and then
/// kept, so hot queries are compressed once per catalog digest, not once per request.
#[derive(Clone)]
struct MetasBody {
    plain: Bytes,
    gzip: Arc<OnceLock<Bytes>>,
}

impl MetasBody {
    fn new(plain: Bytes) -> Self {
        Self {
            plain,
            gzip: Arc::default(),
        }
    }

    async fn gzipped(&self) -> std::io::Result<Bytes> {
        if let Some(z) = self.gzip.get() {
            return Ok(z.clone());
        }
        let plain = self.plain.clone();
        let z = tokio::task::spawn_blocking(move || gzip(&plain))
            .await
            .map_err(std::io::Error::other)??;
        // Concurrent first requests may both compress; the bytes are identical.
        Ok(self.gzip.get_or_init(|| z).clone())
    }
}

fn gzip(data: &[u8]) -> std::io::Result<Bytes> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4),
        flate2::Compression::default(),
    );
    enc.write_all(data)?;
    Ok(Bytes::from(enc.finish()?))
}

impl ResponseCache {
    fn get(&self, query: &MetaQuery) -> Option<MetasBody> {
        self.bodies.get(query).cloned()
    }

    fn insert(&mut self, query: MetaQuery, body: MetasBody) {
        // The plain body twice: it bounds the gzip copy that may be added later.
        let cost = 2 * body.plain.len()
            + query.schema.as_ref().map_or(0, String::len)
            + query.package.as_ref().map_or(0, String::len)
            + query.name.as_ref().map_or(0, String::len)
            + 128;
        if body.plain.len() > RESPONSE_CACHE_MAX_ENTRY {
            return;
        }
        if self.bytes + cost > RESPONSE_CACHE_BYTES {
            // Simplest bound that cannot grow: start over. Hot queries come back at once.
            self.bodies.clear();
            self.bytes = 0;
        }
        if self.bodies.insert(query, body).is_none() {
            self.bytes += cost;
        }
    }
}

impl ContentServer {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            durations: Arc::default(),
            served: Arc::default(),
            reloading: Arc::default(),
        }
    }

    /// Times requests into `metrics` (`catalogd_http_request_duration_seconds`).
    #[must_use]
    pub fn with_metrics(mut self, metrics: &Metrics) -> Self {
        self.durations = metrics.request_durations();
        self
    }

    /// The routes, with request timing and upstream's 404 text for anything else.
    pub fn router(self) -> Router {
        Router::new()
            .route("/catalogs/{name}/all.json", get(all_json))
            .route("/catalogs/{name}/api/v1/all", get(api_all))
            .route("/catalogs/{name}/api/v1/metas", get(metas))
            .fallback(|| async { (StatusCode::NOT_FOUND, "404 page not found\n") })
            .layer(axum::middleware::from_fn_with_state(
                self.durations.clone(),
                time_requests,
            ))
            .with_state(self)
    }

    /// What is served for `name` now: the cached entry if `current` has not been replaced
    /// since it was loaded, else a fresh load.
    async fn served(&self, name: &str) -> Result<Arc<Served>, Response> {
        let version = match self.store.version(name) {
            Ok(Some(v)) => v,
            // An invalid name cannot be stored, so it is as unknown as a missing catalog.
            Ok(None) | Err(StoreError::InvalidName(_)) => {
                self.forget(name);
                return Err(not_found(name));
            }
            Err(e) => return Err(internal(name, &e)),
        };
        if let Some(hit) = self.cached(name, version) {
            return Ok(hit);
        }
        let _guard = self.reloading.lock().await;
        if let Some(hit) = self.cached(name, version) {
            return Ok(hit);
        }
        let store = self.store.clone();
        let owned = name.to_owned();
        let loaded = tokio::task::spawn_blocking(move || load(&store, &owned))
            .await
            .map_err(|e| internal(name, &e))?;
        match loaded {
            Ok(Some(served)) => {
                let served = Arc::new(served);
                self.served
                    .write()
                    .expect("served lock")
                    .insert(name.to_owned(), served.clone());
                Ok(served)
            }
            Ok(None) | Err(StoreError::InvalidName(_)) => {
                self.forget(name);
                Err(not_found(name))
            }
            Err(e) => Err(internal(name, &e)),
        }
    }

    fn cached(&self, name: &str, version: Version) -> Option<Arc<Served>> {
        let served = self.served.read().expect("served lock");
        served.get(name).filter(|s| s.version == version).cloned()
    }

    fn forget(&self, name: &str) {
        if self.served.read().expect("served lock").contains_key(name) {
            self.served.write().expect("served lock").remove(name);
        }
    }
}

/// Loads what `current` points at. The version is read first: if a commit lands in
/// between, the entry is merely reloaded on the next request.
fn load(store: &Store, name: &str) -> Result<Option<Served>, StoreError> {
    let Some(version) = store.version(name)? else {
        return Ok(None);
    };
    let Some(catalog) = store.current(name)? else {
        return Ok(None);
    };
    let index = catalog.load_index()?;
    let path = catalog.all_path();
    let all = File::open(&path).map_err(|source| StoreError::Io {
        action: "opening",
        path,
        source,
    })?;
    Ok(Some(Served {
        version,
        last_modified: HeaderValue::from_str(&httpdate::fmt_http_date(catalog.stored_at)).ok(),
        catalog,
        index,
        all: Arc::new(all),
        responses: Mutex::default(),
    }))
}

fn internal(name: &str, e: &dyn std::fmt::Display) -> Response {
    tracing::error!("reading catalog {name}: {e}");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

fn not_found(name: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        format!("catalog {name:?} not found or not unpacked yet\n"),
    )
        .into_response()
}

async fn all_json(
    State(s): State<ContentServer>,
    Path(name): Path<String>,
    req: Request,
) -> Response {
    serve_all(&s, &name, req, "application/json").await
}

async fn api_all(
    State(s): State<ContentServer>,
    Path(name): Path<String>,
    req: Request,
) -> Response {
    serve_all(&s, &name, req, JSONL).await
}

async fn serve_all(
    s: &ContentServer,
    name: &str,
    req: Request,
    content_type: &'static str,
) -> Response {
    let served = match s.served(name).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let service = ServeFile::new(served.catalog.all_path())
        .precompressed_gzip()
        .with_buf_chunk_size(FILE_CHUNK);
    let mut resp = match service.oneshot(req).await {
        Ok(r) => r.map(Body::new),
        Err(infallible) => match infallible {},
    };
    // Only bodies carry a type; a 304 or 416 keeps what the file service set.
    if resp.headers().contains_key(header::CONTENT_TYPE) {
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    resp
}

async fn metas(State(s): State<ContentServer>, Path(name): Path<String>, req: Request) -> Response {
    let params = match Query::<Vec<(String, String)>>::try_from_uri(req.uri()) {
        Ok(Query(params)) => params,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    };
    let query = match parse_query(&params) {
        Ok(q) => q,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    };
    if query == MetaQuery::default() {
        // The whole catalog: exactly the stored file, so serve it with its precompressed
        // gzip copy instead of reading (and compressing) the whole catalog per request.
        return serve_all(&s, &name, req, JSONL).await;
    }
    let headers = req.headers();
    let served = match s.served(&name).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Some(status) = precondition(headers, served.catalog.stored_at) {
        return status.into_response();
    }
    let cached = served.responses.lock().expect("responses lock").get(&query);
    let body = match cached {
        Some(body) => body,
        None => {
            let sections = served.index.query(&query);
            let (file, size) = (served.all.clone(), served.catalog.size);
            let read =
                tokio::task::spawn_blocking(move || read_sections(&file, sections, size)).await;
            let body = match read {
                Ok(Ok(bytes)) => MetasBody::new(Bytes::from(bytes)),
                Ok(Err(e)) => return internal(&name, &e),
                Err(e) => return internal(&name, &e),
            };
            served
                .responses
                .lock()
                .expect("responses lock")
                .insert(query, body.clone());
            body
        }
    };
    let gzipped = body.plain.len() > GZIP_MIN_BYTES && accepts_gzip(headers);
    let mut resp = if gzipped {
        match body.gzipped().await {
            Ok(z) => Body::from(z).into_response(),
            Err(e) => return internal(&name, &e),
        }
    } else {
        Body::from(body.plain).into_response()
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSONL));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if gzipped {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    if let Some(v) = &served.last_modified {
        h.insert(header::LAST_MODIFIED, v.clone());
    }
    resp
}

/// Whether `Accept-Encoding` allows gzip (RFC 9110 §12.5.3): listed as `gzip` or
/// `x-gzip`, or covered by `*`, with a non-zero quality.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let mut star = None;
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or_default().trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q=").or(p.trim().strip_prefix("Q=")))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                return q > 0.0;
            }
            if coding == "*" {
                star = Some(q > 0.0);
            }
        }
    }
    star.unwrap_or(false)
}

/// A metas query named a parameter other than `schema`, `package` and `name`.
#[derive(Debug, thiserror::Error)]
#[error("unknown query parameter {0:?}: only schema, package and name are supported")]
struct UnknownParameter(String);

/// Only `schema`, `package` and `name` are accepted; the first value of each is used.
fn parse_query(params: &[(String, String)]) -> Result<MetaQuery, UnknownParameter> {
    let mut q = MetaQuery::default();
    for (k, v) in params {
        let slot = match k.as_str() {
            "schema" => &mut q.schema,
            "package" => &mut q.package,
            "name" => &mut q.name,
            other => return Err(UnknownParameter(other.to_owned())),
        };
        slot.get_or_insert_with(|| v.clone());
    }
    Ok(q)
}

/// RFC 7232 date preconditions at one-second resolution (HTTP dates have no fractions).
fn precondition(headers: &HeaderMap, modified: SystemTime) -> Option<StatusCode> {
    let modified_secs = secs(modified);
    let date = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .map(secs)
    };
    if let Some(ius) = date(header::IF_UNMODIFIED_SINCE)
        && modified_secs > ius
    {
        return Some(StatusCode::PRECONDITION_FAILED);
    }
    if let Some(ims) = date(header::IF_MODIFIED_SINCE)
        && modified_secs <= ims
    {
        return Some(StatusCode::NOT_MODIFIED);
    }
    None
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Reads the given sections (or the whole file for `None`), merging adjacent ones so a
/// package's metas, which are contiguous, cost one read.
fn read_sections(
    file: &File,
    sections: Option<Vec<Section>>,
    size: u64,
) -> std::io::Result<Vec<u8>> {
    let sections = sections.unwrap_or_else(|| vec![(0, size)]);
    let mut merged: Vec<Section> = Vec::with_capacity(sections.len());
    for (off, len) in sections {
        match merged.last_mut() {
            Some(last) if last.0 + last.1 == off => last.1 += len,
            _ => merged.push((off, len)),
        }
    }
    let total: u64 = merged.iter().map(|s| s.1).sum();
    let mut out = vec![0u8; usize::try_from(total).map_err(std::io::Error::other)?];
    let mut pos = 0usize;
    for (off, len) in merged {
        let len = usize::try_from(len).map_err(std::io::Error::other)?;
        file.read_exact_at(&mut out[pos..pos + len], off)?;
        pos += len;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepts(values: &[&str]) -> bool {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
        }
        accepts_gzip(&h)
    }

    #[test]
    fn accept_encoding_negotiation() {
        assert!(accepts(&["gzip"]));
        assert!(accepts(&["br;q=1.0, GZIP;q=0.5"]));
        assert!(accepts(&["deflate", "x-gzip"]));
        assert!(accepts(&["*"]));
        assert!(!accepts(&[]));
        assert!(!accepts(&["identity"]));
        assert!(!accepts(&["gzip;q=0"]));
        assert!(!accepts(&["gzip; q=0.0, *"]), "explicit refusal beats *");
        assert!(!accepts(&["*;q=0"]));
        assert!(!accepts(&["br, deflate"]));
    }
}
