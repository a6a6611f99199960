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

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower::ServiceExt;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::SizeAbove;
use tower_http::services::ServeFile;

use crate::index::{MetaIndex, MetaQuery, Section};
use crate::store::{Store, StoredCatalog};

const JSONL: &str = "application/jsonl";

#[derive(Clone)]
pub struct ContentServer {
    store: Store,
    indexes: Arc<RwLock<HashMap<String, Arc<LoadedIndex>>>>,
}

struct LoadedIndex {
    digest: String,
    stored_at: SystemTime,
    index: MetaIndex,
}

impl ContentServer {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            indexes: Arc::default(),
        }
    }

    pub fn router(self) -> Router {
        let metas = get(metas).layer(
            CompressionLayer::new()
                .gzip(true)
                .compress_when(SizeAbove::new(1400)),
        );
        Router::new()
            .route("/catalogs/{name}/all.json", get(all_json))
            .route("/catalogs/{name}/api/v1/all", get(api_all))
            .route("/catalogs/{name}/api/v1/metas", metas)
            .fallback(|| async { (StatusCode::NOT_FOUND, "404 page not found\n") })
            .with_state(self)
    }

    fn current(&self, name: &str) -> Result<StoredCatalog, Response> {
        match self.store.current(name) {
            Ok(Some(c)) => Ok(c),
            // An invalid name cannot be stored, so it is as unknown as a missing catalog.
            Ok(None) | Err(crate::store::StoreError::InvalidName(_)) => Err(not_found(name)),
            Err(e) => {
                tracing::error!("reading catalog {name}: {e}");
                Err(StatusCode::INTERNAL_SERVER_ERROR.into_response())
            }
        }
    }

    /// The index for what is stored now; reloaded only when the digest or store time changes.
    fn index_for(&self, catalog: &StoredCatalog) -> Result<Arc<LoadedIndex>, Response> {
        if let Some(hit) = self.indexes.read().expect("index lock").get(&catalog.name)
            && hit.digest == catalog.digest
            && hit.stored_at == catalog.stored_at
        {
            return Ok(hit.clone());
        }
        let index = catalog.load_index().map_err(|e| {
            tracing::error!("{e}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        })?;
        let loaded = Arc::new(LoadedIndex {
            digest: catalog.digest.clone(),
            stored_at: catalog.stored_at,
            index,
        });
        self.indexes
            .write()
            .expect("index lock")
            .insert(catalog.name.clone(), loaded.clone());
        Ok(loaded)
    }
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
    let catalog = match s.current(name) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let service = ServeFile::new(catalog.all_path()).precompressed_gzip();
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

async fn metas(
    State(s): State<ContentServer>,
    Path(name): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let query = match parse_query(&params) {
        Ok(q) => q,
        Err(msg) => return (StatusCode::BAD_REQUEST, msg).into_response(),
    };
    let catalog = match s.current(&name) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Some(status) = precondition(&headers, catalog.stored_at) {
        return status.into_response();
    }
    let loaded = match s.index_for(&catalog) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let sections = loaded.index.query(&query);
    let path = catalog.all_path();
    let size = catalog.size;
    let body = tokio::task::spawn_blocking(move || read_sections(&path, sections, size)).await;
    match body {
        Ok(Ok(bytes)) => {
            let mut resp = bytes.into_response();
            let h = resp.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSONL));
            if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(catalog.stored_at)) {
                h.insert(header::LAST_MODIFIED, v);
            }
            resp
        }
        Ok(Err(e)) => {
            tracing::error!("reading catalog {name}: {e}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Err(e) => {
            tracing::error!("reading catalog {name}: {e}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Only `schema`, `package` and `name` are accepted; the first value of each is used.
fn parse_query(params: &[(String, String)]) -> Result<MetaQuery, String> {
    let mut q = MetaQuery::default();
    for (k, v) in params {
        let slot = match k.as_str() {
            "schema" => &mut q.schema,
            "package" => &mut q.package,
            "name" => &mut q.name,
            other => {
                return Err(format!(
                    "unknown query parameter {other:?}: only schema, package and name are supported\n"
                ));
            }
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
    path: &std::path::Path,
    sections: Option<Vec<Section>>,
    size: u64,
) -> std::io::Result<Vec<u8>> {
    let file = File::open(path)?;
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
