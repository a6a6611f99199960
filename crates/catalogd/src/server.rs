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
//! Per catalog, what is served (the stored catalog, its index and an open `all.json`) is
//! kept in memory and revalidated on every request with one `lstat` of the `current` link,
//! which every commit replaces ([`Store::version`]). Metas bodies up to
//! [`RESPONSE_CACHE_MAX_ENTRY`] are kept too, plain and gzipped, in one cache bounded for
//! all catalogs, so a hot query costs no file I/O at all. Every other body is streamed
//! from the file in chunks and gzipped on the fly, so a response holds a chunk in memory,
//! never its body; each client (IP address) may have a few of those in flight at once
//! ([`crate::clients`]).

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::TryStreamExt;
use tokio::sync::OnceCell;
use tower::ServiceExt;
use tower_http::services::ServeFile;

use crate::clients::{Busy, ClientLimits, ClientPermit, DEFAULT_MAX_PER_CLIENT};
use crate::guarded::keep_until_sent;
use crate::index::{MetaIndex, MetaQuery, Section};
use crate::metrics::{Metrics, RequestDurations, time_requests};
use crate::sections::{SectionReader, merge};
use crate::store::{Store, StoreError, StoredCatalog, Version};

const JSONL: &str = "application/jsonl";

/// The content routes over one [`Store`]; cloning shares its caches.
#[derive(Clone)]
pub struct ContentServer {
    store: Store,
    /// Where request durations are recorded; unregistered unless [`Self::with_metrics`].
    durations: Arc<RequestDurations>,
    served: Arc<RwLock<HashMap<String, Arc<Served>>>>,
    /// Small metas bodies of every catalog.
    responses: Arc<Mutex<ResponseCache>>,
    /// Responses streamed from disk, per client.
    limits: ClientLimits,
    /// Serialises reloads so a burst of requests after a commit loads the index once.
    reloading: Arc<tokio::sync::Mutex<()>>,
}

/// Bodies of metas queries kept for all catalogs (keys, bodies and bookkeeping counted).
const RESPONSE_CACHE_BYTES: usize = 64 << 20;
/// Larger bodies (e.g. every bundle) are streamed from the file each time instead.
const RESPONSE_CACHE_MAX_ENTRY: u64 = 4 << 20;
/// Read size for streaming `all.json`: fewer, larger reads than tower-http's 64 KiB.
const FILE_CHUNK: usize = 1 << 20;
/// Metas bodies up to this size are sent uncompressed even to gzip clients (one packet).
const GZIP_MIN_BYTES: u64 = 1400;

/// One stored digest of one catalog, as long as the `current` link is unchanged.
struct Served {
    version: Version,
    catalog: StoredCatalog,
    last_modified: Option<HeaderValue>,
    index: MetaIndex,
    all: Arc<File>,
}

/// One query of one stored version of one catalog.
#[derive(PartialEq, Eq, Hash)]
struct CacheKey {
    catalog: String,
    version: Version,
    query: MetaQuery,
}

/// Each body is read by the first request that needs it while the others wait for it,
/// so a burst of requests for a cold query reads (and holds) it once.
type CachedBody = Arc<OnceCell<MetasBody>>;

#[derive(Default)]
struct ResponseCache {
    bytes: usize,
    bodies: HashMap<CacheKey, CachedBody>,
}

/// One metas response; its gzip form is made on the first request that accepts it and then
/// kept, so hot queries are compressed once per catalog digest, not once per request.
#[derive(Clone)]
struct MetasBody {
    plain: Bytes,
    gzip: Arc<OnceCell<Bytes>>,
}

impl MetasBody {
    fn new(plain: Bytes) -> Self {
        Self {
            plain,
            gzip: Arc::default(),
        }
    }

    async fn gzipped(&self) -> std::io::Result<Bytes> {
        let z = self
            .gzip
            .get_or_try_init(|| {
                let plain = self.plain.clone();
                async move {
                    tokio::task::spawn_blocking(move || gzip(&plain))
                        .await
                        .map_err(std::io::Error::other)?
                }
            })
            .await?;
        Ok(z.clone())
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
    /// The entry for `key`, added (empty) if missing; `len` is its plain body's length,
    /// known from the index before anything is read.
    fn entry(&mut self, key: CacheKey, len: usize) -> CachedBody {
        if let Some(hit) = self.bodies.get(&key) {
            return hit.clone();
        }
        // The plain body twice: it bounds the gzip copy that may be added later.
        let query = &key.query;
        let cost = 2 * len
            + key.catalog.len()
            + query.schema.as_ref().map_or(0, String::len)
            + query.package.as_ref().map_or(0, String::len)
            + query.name.as_ref().map_or(0, String::len)
            + 128;
        if self.bytes + cost > RESPONSE_CACHE_BYTES {
            // Simplest bound that cannot grow: start over. Hot queries come back at once.
            self.bodies.clear();
            self.bytes = 0;
        }
        self.bytes += cost;
        self.bodies.entry(key).or_default().clone()
    }
}

impl ContentServer {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            durations: Arc::default(),
            served: Arc::default(),
            responses: Arc::default(),
            limits: ClientLimits::new(DEFAULT_MAX_PER_CLIENT),
            reloading: Arc::default(),
        }
    }

    /// How many responses streamed from disk one client (IP address) may have in flight,
    /// with as many more waiting (`--max-requests-per-client`). Applies when the router is
    /// served with connect info (`into_make_service_with_connect_info::<SocketAddr>`), as
    /// [`controller_runtime::Listener`] does.
    #[must_use]
    pub fn with_max_requests_per_client(mut self, max: NonZeroUsize) -> Self {
        self.limits = ClientLimits::new(max);
        self
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

    /// A slot for `client` (see [`crate::clients`]); `None` for a request without one.
    async fn admit(&self, client: Option<IpAddr>) -> Result<Option<ClientPermit>, Response> {
        let Some(client) = client else {
            return Ok(None);
        };
        match self.limits.acquire(client).await {
            Ok(permit) => Ok(Some(permit)),
            Err(busy) => Err(too_many(&busy)),
        }
    }

    /// A metas body small enough to keep: from the cache, or read once and kept.
    async fn cached_metas(
        &self,
        name: &str,
        served: &Served,
        query: MetaQuery,
        sections: Vec<Section>,
        len: u64,
        gzipped: bool,
    ) -> Result<Body, Response> {
        let key = CacheKey {
            catalog: name.to_owned(),
            version: served.version,
            query,
        };
        let len = usize::try_from(len).map_err(|e| internal(name, &e))?;
        let cell = self
            .responses
            .lock()
            .expect("responses lock")
            .entry(key, len);
        let body = cell
            .get_or_try_init(|| {
                let reader = SectionReader::plain(served.all.clone(), sections);
                async move {
                    let plain = tokio::task::spawn_blocking(move || reader.read_to_end())
                        .await
                        .map_err(std::io::Error::other)??;
                    Ok::<_, std::io::Error>(MetasBody::new(Bytes::from(plain)))
                }
            })
            .await
            .map_err(|e| internal(name, &e))?;
        if gzipped {
            let z = body.gzipped().await.map_err(|e| internal(name, &e))?;
            Ok(Body::from(z))
        } else {
            Ok(Body::from(body.plain.clone()))
        }
    }

    /// A metas body too large to keep, read from the file as the client takes it, in one
    /// of the client's slots.
    async fn streamed_metas(
        &self,
        name: &str,
        served: &Served,
        sections: Vec<Section>,
        len: u64,
        gzipped: bool,
        client: Option<IpAddr>,
    ) -> Result<Response, Response> {
        let permit = self.admit(client).await?;
        let file = served.all.clone();
        let reader = if gzipped {
            SectionReader::gzip(file, sections)
        } else {
            SectionReader::plain(file, sections)
        };
        let owned = name.to_owned();
        let stream = reader
            .into_stream()
            .inspect_err(move |e| tracing::error!("reading catalog {owned}: {e}"));
        let mut resp = Body::from_stream(stream).into_response();
        if !gzipped {
            resp.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        }
        Ok(match permit {
            Some(permit) => keep_until_sent(resp, permit),
            None => resp,
        })
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
    }))
}

fn internal(name: &str, e: &dyn std::fmt::Display) -> Response {
    tracing::error!("reading catalog {name}: {e}");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

/// The address of the client that sent `req`, if the router is served with connect info.
fn client(req: &Request) -> Option<IpAddr> {
    let ConnectInfo(peer) = req.extensions().get::<ConnectInfo<SocketAddr>>()?;
    Some(peer.ip().to_canonical())
}

/// The client's slots and queue are full: it may try again shortly.
fn too_many(busy: &Busy) -> Response {
    tracing::debug!("refusing a request: {busy}");
    let mut resp = (
        StatusCode::TOO_MANY_REQUESTS,
        format!(
            "too many concurrent requests: {busy}; at most {} are served at once per client\n",
            busy.max
        ),
    )
        .into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    resp
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
    let permit = match s.admit(client(&req)).await {
        Ok(p) => p,
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
    match permit {
        Some(permit) => keep_until_sent(resp, permit),
        None => resp,
    }
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
    let served = match s.served(&name).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Some(status) = precondition(req.headers(), served.catalog.stored_at) {
        return status.into_response();
    }
    let sections = merge(served.index.query(&query).unwrap_or_default());
    let len: u64 = sections.iter().map(|s| s.1).sum();
    let gzipped = len > GZIP_MIN_BYTES && accepts_gzip(req.headers());
    let resp = if len <= RESPONSE_CACHE_MAX_ENTRY {
        s.cached_metas(&name, &served, query, sections, len, gzipped)
            .await
            .map(IntoResponse::into_response)
    } else {
        s.streamed_metas(&name, &served, sections, len, gzipped, client(&req))
            .await
    };
    let mut resp = match resp {
        Ok(r) => r,
        Err(r) => return r,
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
