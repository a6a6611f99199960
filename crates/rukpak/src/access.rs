//! Who may read content and upload it. Upstream puts kube-rbac-proxy in front of the
//! server; we make the same two API calls ourselves: a `TokenReview` authenticates the
//! bearer token, a `SubjectAccessReview` asks whether that user may use the non-resource
//! URL with the verb kube-rbac-proxy derives from the HTTP method (GET → `get`,
//! PUT → `update`). So the same ClusterRoles grant access (`bundle-reader`: `get` on
//! `/bundles/*`; `bundle-uploader`: `update` on `/uploads/*`).
//!
//! Verdicts are cached for a short time per (token, path, verb), so a client fetching a
//! Bundle repeatedly costs the API server two calls per [`CACHE_TTL`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, Method, StatusCode, header};
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::Client;
use kube::api::{Api, PostParams};
use sha2::{Digest, Sha256};

/// How long a verdict is reused.
pub(crate) const CACHE_TTL: Duration = Duration::from_secs(10);

/// Why a request was refused; `status()` is the HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("Unauthorized: a bearer token is required (Authorization: Bearer <token>)")]
    NoToken,
    #[error("Unauthorized: the token was not accepted by the API server{}", detail(.0))]
    BadToken(Option<String>),
    #[error("Forbidden (user={user}, verb={verb}, path={path})")]
    Forbidden {
        user: String,
        verb: &'static str,
        path: String,
    },
    #[error("checking access with the API server: {0}")]
    Api(#[from] kube::Error),
}

fn detail(message: &Option<String>) -> String {
    message
        .as_deref()
        .filter(|m| !m.is_empty())
        .map(|m| format!(": {m}"))
        .unwrap_or_default()
}

impl Refusal {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NoToken | Self::BadToken(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::Api(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The verb kube-rbac-proxy checks for `method`.
pub(crate) fn verb_for(method: &Method) -> &'static str {
    match *method {
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => "get",
    }
}

type CacheKey = ([u8; 32], String, &'static str);

/// A verdict: allowed, or refused for the named user.
type Verdict = Result<(), String>;

/// Authenticates and authorizes requests against the API server.
pub struct Access {
    client: Option<Client>,
    verdicts: Mutex<HashMap<CacheKey, (Instant, Verdict)>>,
}

impl Access {
    /// Checks every request with the API server `client` talks to.
    pub fn kubernetes(client: Client) -> Self {
        Self {
            client: Some(client),
            verdicts: Mutex::default(),
        }
    }

    /// Lets every request through (`--insecure-content-access`, for local use only).
    pub fn open() -> Self {
        Self {
            client: None,
            verdicts: Mutex::default(),
        }
    }

    /// Whether the request with `headers` may use `path` with `method`.
    pub async fn check(
        &self,
        headers: &HeaderMap,
        method: &Method,
        path: &str,
    ) -> Result<(), Refusal> {
        let Some(client) = &self.client else {
            return Ok(());
        };
        let token = bearer_token(headers).ok_or(Refusal::NoToken)?;
        let verb = verb_for(method);
        let key: CacheKey = (Sha256::digest(token).into(), path.to_owned(), verb);
        if let Some(cached) = self.cached(&key) {
            return cached.map_err(|user| Refusal::Forbidden {
                user,
                verb,
                path: path.to_owned(),
            });
        }
        let user = authenticate(client, token).await?;
        let allowed = authorize(client, &user, path, verb).await?;
        let verdict = if allowed {
            Ok(())
        } else {
            Err(user.name.clone())
        };
        self.verdicts
            .lock()
            .expect("verdict cache lock")
            .insert(key, (Instant::now(), verdict.clone()));
        verdict.map_err(|user| Refusal::Forbidden {
            user,
            verb,
            path: path.to_owned(),
        })
    }

    fn cached(&self, key: &CacheKey) -> Option<Verdict> {
        let mut verdicts = self.verdicts.lock().expect("verdict cache lock");
        verdicts.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
        verdicts.get(key).map(|(_, v)| v.clone())
    }
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

struct User {
    name: String,
    uid: Option<String>,
    groups: Option<Vec<String>>,
    extra: Option<std::collections::BTreeMap<String, Vec<String>>>,
}

async fn authenticate(client: &Client, token: &str) -> Result<User, Refusal> {
    let review = TokenReview {
        spec: TokenReviewSpec {
            token: token.to_owned(),
            audiences: None,
        },
        ..TokenReview::default()
    };
    let reviewed = Api::<TokenReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await?;
    let status = reviewed.status.unwrap_or_default();
    match (status.authenticated, status.user) {
        (Some(true), Some(user)) => Ok(User {
            name: user.username.unwrap_or_default(),
            uid: user.uid,
            groups: user.groups,
            extra: user.extra,
        }),
        _ => Err(Refusal::BadToken(status.error)),
    }
}

async fn authorize(
    client: &Client,
    user: &User,
    path: &str,
    verb: &'static str,
) -> Result<bool, Refusal> {
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(user.name.clone()),
            uid: user.uid.clone(),
            groups: user.groups.clone(),
            extra: user.extra.clone(),
            non_resource_attributes: Some(NonResourceAttributes {
                path: Some(path.to_owned()),
                verb: Some(verb.to_owned()),
            }),
            resource_attributes: None,
        },
        ..SubjectAccessReview::default()
    };
    let reviewed = Api::<SubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await?;
    Ok(reviewed.status.is_some_and(|s| s.allowed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn methods_map_to_kube_rbac_proxy_verbs() {
        assert_eq!(verb_for(&Method::GET), "get");
        assert_eq!(verb_for(&Method::HEAD), "get");
        assert_eq!(verb_for(&Method::PUT), "update");
        assert_eq!(verb_for(&Method::POST), "create");
    }

    #[test]
    fn only_bearer_tokens_are_read() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer_token(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(bearer_token(&h), Some("abc"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  abc "),
        );
        assert_eq!(bearer_token(&h), Some("abc"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic dTpw"),
        );
        assert_eq!(bearer_token(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer_token(&h), None);
    }

    #[tokio::test]
    async fn open_access_lets_everything_through() {
        let access = Access::open();
        assert!(
            access
                .check(&HeaderMap::new(), &Method::PUT, "/uploads/x.tgz")
                .await
                .is_ok()
        );
    }
}
