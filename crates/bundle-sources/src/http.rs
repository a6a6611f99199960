//! The `http` source: GET a `.tgz` (optionally with Basic auth), streamed to a temp file
//! under a size cap, then extracted like any archive.

use std::error::Error as _;
use std::path::Path;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

/// Settings of HTTP downloads that do not come from the Bundle.
#[derive(Clone, Debug)]
pub(crate) struct HttpSettings {
    /// For the whole request, body included.
    pub(crate) timeout: Duration,
    /// Trusted on top of the system roots.
    pub(crate) extra_roots: Vec<reqwest::Certificate>,
    /// Largest body accepted.
    pub(crate) max_bytes: u64,
}

/// One download: the URL and what the Bundle says about auth and TLS.
pub(crate) struct Request<'a> {
    pub(crate) url: &'a str,
    pub(crate) basic_auth: Option<(String, String)>,
    pub(crate) insecure_skip_verify: bool,
}

/// Why a download failed. Messages start with `GET <url>` as upstream's do.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("GET {url}: building the HTTP client: {detail}")]
    Client { url: String, detail: String },
    #[error("GET {url}: {detail}")]
    Request { url: String, detail: String },
    #[error("GET {url}: no response within {timeout:?}")]
    Timeout { url: String, timeout: Duration },
    #[error("GET {url}: unexpected status {status:?}")]
    Status { url: String, status: String },
    #[error("GET {url}: the archive is larger than the {limit}-byte limit for bundles")]
    TooLarge { url: String, limit: u64 },
    #[error("GET {url}: the download broke off after {received} bytes: {detail}")]
    Interrupted {
        url: String,
        received: u64,
        detail: String,
    },
    #[error("GET {url}: writing the archive to {path}: {source}")]
    Write {
        url: String,
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Downloads `request.url` into `file` (at `path`, for messages); returns the byte count.
pub(crate) async fn download(
    settings: &HttpSettings,
    request: &Request<'_>,
    file: &mut tokio::fs::File,
    path: &Path,
) -> Result<u64, HttpError> {
    let url = request.url.to_owned();
    let client = reqwest::Client::builder()
        .timeout(settings.timeout)
        .tls_certs_merge(settings.extra_roots.iter().cloned())
        .tls_danger_accept_invalid_certs(request.insecure_skip_verify)
        .build()
        .map_err(|e| HttpError::Client {
            url: url.clone(),
            detail: error_chain(&e),
        })?;
    let mut get = client.get(request.url);
    if let Some((username, password)) = &request.basic_auth {
        get = get.basic_auth(username, Some(password));
    }
    let transport = |e: reqwest::Error| {
        if e.is_timeout() {
            HttpError::Timeout {
                url: url.clone(),
                timeout: settings.timeout,
            }
        } else {
            HttpError::Request {
                url: url.clone(),
                detail: error_chain(&e),
            }
        }
    };
    let mut response = get.send().await.map_err(transport)?;
    if response.status() != reqwest::StatusCode::OK {
        return Err(HttpError::Status {
            url,
            status: response.status().to_string(),
        });
    }
    let too_large = || HttpError::TooLarge {
        url: url.clone(),
        limit: settings.max_bytes,
    };
    if response
        .content_length()
        .is_some_and(|n| n > settings.max_bytes)
    {
        return Err(too_large());
    }
    let write_error = |source| HttpError::Write {
        url: url.clone(),
        path: path.display().to_string(),
        source,
    };
    let mut received = 0u64;
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(e) if e.is_timeout() => return Err(transport(e)),
            Err(e) => {
                return Err(HttpError::Interrupted {
                    url: url.clone(),
                    received,
                    detail: error_chain(&e),
                });
            }
        };
        received += chunk.len() as u64;
        if received > settings.max_bytes {
            return Err(too_large());
        }
        file.write_all(&chunk).await.map_err(write_error)?;
    }
    file.flush().await.map_err(write_error)?;
    Ok(received)
}

/// `e` and its sources, `: `-joined (reqwest's own message names only the request).
fn error_chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}
