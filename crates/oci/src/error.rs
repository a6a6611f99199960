//! Errors for every image operation, each specific enough to act on.

use std::path::PathBuf;

use oci_client::errors::{OciDistributionError, OciErrorCode};

use crate::extract::ExtractError;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("invalid image reference {reference:?}: {reason}")]
    InvalidReference { reference: String, reason: String },

    #[error("unauthorized: registry {registry} refused access to {reference}; {hint}")]
    Unauthorized {
        registry: String,
        reference: String,
        hint: String,
    },

    #[error("manifest unknown: {reference} was not found (no such tag or digest in {registry})")]
    ManifestUnknown { registry: String, reference: String },

    #[error("blob unknown: {digest} is not in {reference}")]
    BlobUnknown { reference: String, digest: String },

    #[error("registry {registry} is unreachable: {detail}")]
    Unreachable { registry: String, detail: String },

    #[error(
        "TLS verification failed for registry {registry}: {detail} (trust the registry's CA with a CA bundle, or use --skip-tls-verify for a registry you trust)"
    )]
    TlsVerification { registry: String, detail: String },

    #[error(
        "registry {registry} speaks plain HTTP, not HTTPS ({detail}); for a plain-HTTP registry pass --use-http (opm) or --registry-use-http (catalogd)"
    )]
    PlainHttp { registry: String, detail: String },

    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },

    #[error(
        "wrong diff_id in image {image}: layer {index} ({layer}) decompresses to {actual}, but the config's rootfs.diff_ids[{index}] is {expected}; the image config does not match its layers (container runtimes refuse it: \"wrong diff id calculated on extraction\")"
    )]
    DiffIdMismatch {
        image: String,
        index: usize,
        layer: String,
        expected: String,
        actual: String,
    },

    #[error(
        "mismatched rootfs and layers in image {image}: the config's rootfs.diff_ids lists {diff_ids} entries for the manifest's {layers} layers"
    )]
    DiffIdCount {
        image: String,
        diff_ids: usize,
        layers: usize,
    },

    #[error("registry {registry} failed for {reference}: {detail}")]
    Registry {
        registry: String,
        reference: String,
        detail: String,
    },

    #[error(
        "no image for platform {wanted} in the image index of {reference} (available: {available})"
    )]
    PlatformNotFound {
        reference: String,
        wanted: String,
        available: String,
    },

    #[error("unsupported {what} media type {media_type:?} in {reference}")]
    UnsupportedMediaType {
        reference: String,
        what: String,
        media_type: String,
    },

    #[error("invalid {what} in {reference}: {detail}")]
    InvalidContent {
        reference: String,
        what: String,
        detail: String,
    },

    #[error("OCI layout {dir}: {detail}")]
    Layout { dir: PathBuf, detail: String },

    #[error("registry credentials: {0}")]
    Credentials(String),

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error(transparent)]
    Extract(#[from] ExtractError),

    #[error("building image: {0}")]
    Build(String),

    #[error("destination {0} already exists; unpack into a new directory")]
    DestinationExists(PathBuf),
}

impl ImageError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        ImageError::Io {
            context: context.into(),
            source,
        }
    }
}

/// What we were doing when a registry call failed; decides how a 404 reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operation {
    Manifest,
    Blob,
    Push,
}

/// Turns an oci-client error into one of ours, naming the registry and reference.
pub(crate) fn classify(
    err: OciDistributionError,
    registry: &str,
    reference: &str,
    op: Operation,
    authenticated: bool,
) -> ImageError {
    let unauthorized = || ImageError::Unauthorized {
        registry: registry.to_owned(),
        reference: reference.to_owned(),
        hint: if authenticated {
            format!(
                "the configured credentials for {registry} were rejected or lack permission; check the username/password or token"
            )
        } else {
            format!(
                "no credentials are configured for {registry}; add them to a docker config.json or a kubernetes.io/dockerconfigjson pull secret"
            )
        },
    };
    let not_found = |digest: Option<String>| match (op, digest) {
        (Operation::Blob, Some(digest)) => ImageError::BlobUnknown {
            reference: reference.to_owned(),
            digest,
        },
        _ => ImageError::ManifestUnknown {
            registry: registry.to_owned(),
            reference: reference.to_owned(),
        },
    };
    let other = |detail: String| ImageError::Registry {
        registry: registry.to_owned(),
        reference: reference.to_owned(),
        detail,
    };
    match err {
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_) => unauthorized(),
        OciDistributionError::RegistryError { envelope, url } => {
            let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
            if codes
                .iter()
                .any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied))
            {
                unauthorized()
            } else if codes.iter().any(|c| {
                matches!(
                    c,
                    OciErrorCode::ManifestUnknown
                        | OciErrorCode::NameUnknown
                        | OciErrorCode::NotFound
                )
            }) && op != Operation::Blob
            {
                not_found(None)
            } else if codes.iter().any(|c| matches!(c, OciErrorCode::BlobUnknown)) {
                not_found(Some(digest_in_url(&url)))
            } else {
                other(format!("{envelope} (url {url})"))
            }
        }
        OciDistributionError::ServerError { code, url, message } => match code {
            401 | 403 => unauthorized(),
            404 if op == Operation::Blob => not_found(Some(digest_in_url(&url))),
            404 => not_found(None),
            _ => other(format!("HTTP {code} from {url}: {}", message.trim())),
        },
        OciDistributionError::ImageManifestNotFoundError(_) => not_found(None),
        OciDistributionError::DigestError(e) => match e {
            oci_client::errors::DigestError::VerificationError { expected, actual } => {
                ImageError::DigestMismatch {
                    what: format!("content of {reference}"),
                    expected,
                    actual,
                }
            }
            e => other(e.to_string()),
        },
        OciDistributionError::RequestError(e) => match e.status().map(|s| s.as_u16()) {
            Some(401 | 403) => unauthorized(),
            Some(404) if op == Operation::Manifest => not_found(None),
            _ => classify_transport(&e, registry, reference),
        },
        OciDistributionError::IoError(e) => {
            let chain = error_chain(&e);
            if looks_like_plain_http(&chain) {
                ImageError::PlainHttp {
                    registry: registry.to_owned(),
                    detail: chain,
                }
            } else if looks_like_tls_failure(&chain) {
                ImageError::TlsVerification {
                    registry: registry.to_owned(),
                    detail: chain,
                }
            } else {
                other(chain)
            }
        }
        e => other(error_chain(&e)),
    }
}

/// Connection-level failures: TLS, refused connections, DNS, timeouts.
pub(crate) fn classify_transport(
    e: &reqwest::Error,
    registry: &str,
    reference: &str,
) -> ImageError {
    let chain = error_chain(e);
    if looks_like_plain_http(&chain) {
        return ImageError::PlainHttp {
            registry: registry.to_owned(),
            detail: chain,
        };
    }
    if looks_like_tls_failure(&chain) {
        return ImageError::TlsVerification {
            registry: registry.to_owned(),
            detail: chain,
        };
    }
    if e.is_connect() || e.is_timeout() {
        return ImageError::Unreachable {
            registry: registry.to_owned(),
            detail: chain,
        };
    }
    ImageError::Registry {
        registry: registry.to_owned(),
        reference: reference.to_owned(),
        detail: chain,
    }
}

/// rustls' words for a TLS handshake answered by something that is not TLS: an HTTP
/// response where a TLS record was expected.
fn looks_like_plain_http(chain: &str) -> bool {
    chain.contains("InvalidContentType")
}

fn looks_like_tls_failure(chain: &str) -> bool {
    let lower = chain.to_ascii_lowercase();
    [
        "certificate",
        "unknownissuer",
        "tls handshake",
        "invalid peer",
    ]
    .iter()
    .any(|needle| lower.contains(needle))
}

/// The whole source chain on one line. `io::Error::source` skips its inner error, so
/// inner errors are unwrapped by hand: that is where rustls puts certificate failures.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        let next = match err.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
        if let Some(n) = next {
            let text = n.to_string();
            if !parts.iter().any(|p| p.contains(&text)) {
                parts.push(text);
            }
        }
        current = next;
    }
    parts.join(": ")
}

fn digest_in_url(url: &str) -> String {
    url.rsplit('/')
        .next()
        .and_then(|last| last.split('?').next())
        .unwrap_or(url)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_client::errors::{OciEnvelope, OciError};

    fn envelope(code: OciErrorCode) -> OciDistributionError {
        OciDistributionError::RegistryError {
            envelope: OciEnvelope {
                errors: vec![OciError {
                    code,
                    message: "m".into(),
                    detail: serde_json::Value::Null,
                }],
            },
            url: "https://r.example/v2/a/blobs/sha256:abc".into(),
        }
    }

    #[test]
    fn registry_answers_become_specific_errors() {
        let c = |e, op, authed| classify(e, "r.example", "r.example/a:t", op, authed);
        assert!(matches!(
            c(
                envelope(OciErrorCode::ManifestUnknown),
                Operation::Manifest,
                false
            ),
            ImageError::ManifestUnknown { .. }
        ));
        match c(envelope(OciErrorCode::BlobUnknown), Operation::Blob, false) {
            ImageError::BlobUnknown { digest, .. } => assert_eq!(digest, "sha256:abc"),
            other => panic!("{other}"),
        }
        let denied = c(envelope(OciErrorCode::Denied), Operation::Push, true).to_string();
        assert!(denied.contains("were rejected"), "{denied}");
        let anon = c(
            OciDistributionError::UnauthorizedError { url: "u".into() },
            Operation::Manifest,
            false,
        )
        .to_string();
        assert!(
            anon.contains("no credentials are configured for r.example"),
            "{anon}"
        );
        let server = OciDistributionError::ServerError {
            code: 500,
            url: "u".into(),
            message: "boom\n".into(),
        };
        assert_eq!(
            c(server, Operation::Manifest, false).to_string(),
            "registry r.example failed for r.example/a:t: HTTP 500 from u: boom"
        );
    }

    #[test]
    fn error_chain_reaches_inside_io_errors() {
        #[derive(Debug, thiserror::Error)]
        #[error("invalid peer certificate: UnknownIssuer")]
        struct Inner;
        let io = std::io::Error::other(Inner);
        let chain = error_chain(&io);
        assert!(looks_like_tls_failure(&chain), "{chain}");
    }
}
