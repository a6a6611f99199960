//! Registry credentials from a docker `config.json` or a Kubernetes pull secret
//! (`kubernetes.io/dockerconfigjson`, `.dockerconfigjson` key; also the legacy
//! `kubernetes.io/dockercfg`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use base64::Engine as _;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::error::ImageError;

/// One way to authenticate to a registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    Basic {
        username: String,
        password: String,
    },
    /// A registry access token sent as `Authorization: Bearer` (`registrytoken`).
    RegistryToken(String),
    /// An OAuth2 refresh token (`identitytoken`); exchanging it is not supported yet, so
    /// using it gives a clear error instead of an anonymous request.
    IdentityToken(String),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Basic { username, .. } => {
                write!(f, "Basic({username:?}, <redacted>)")
            }
            Credential::RegistryToken(_) => f.write_str("RegistryToken(<redacted>)"),
            Credential::IdentityToken(_) => f.write_str("IdentityToken(<redacted>)"),
        }
    }
}

impl Credential {
    /// A stable fingerprint, to key per-credential clients without keeping secrets in keys.
    pub(crate) fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        match self {
            Credential::Basic { username, password } => {
                h.update(b"basic\0");
                h.update(username.as_bytes());
                h.update(b"\0");
                h.update(password.as_bytes());
            }
            Credential::RegistryToken(t) => {
                h.update(b"token\0");
                h.update(t.as_bytes());
            }
            Credential::IdentityToken(t) => {
                h.update(b"identity\0");
                h.update(t.as_bytes());
            }
        }
        hex::encode(h.finalize())
    }
}

/// Credentials keyed by registry host, optionally narrowed to a repository path
/// (`quay.io/myorg`). Docker Hub's spellings all mean `docker.io`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    by_key: BTreeMap<String, Credential>,
}

#[derive(Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: Option<BTreeMap<String, AuthEntry>>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
    #[serde(default)]
    registrytoken: Option<String>,
}

impl Credentials {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Adds (or replaces) the credential for `registry` (a host, `host:port`, a URL, or
    /// `host/repository-prefix`).
    pub fn insert(&mut self, registry: &str, credential: Credential) {
        self.by_key.insert(normalise_key(registry), credential);
    }

    /// Parses a docker `config.json` (`{"auths": {...}}`).
    pub fn from_docker_config_json(json: &[u8]) -> Result<Self, ImageError> {
        let config: DockerConfig = serde_json::from_slice(json)
            .map_err(|e| ImageError::Credentials(format!("invalid docker config JSON: {e}")))?;
        if config.creds_store.is_some() || config.cred_helpers.is_some() {
            tracing::warn!(
                "docker config uses credsStore/credHelpers, which are not supported; only inline `auths` entries are used"
            );
        }
        Self::from_auths(config.auths.unwrap_or_default())
    }

    /// Reads a docker `config.json` file.
    pub fn from_docker_config_file(path: &Path) -> Result<Self, ImageError> {
        let bytes = std::fs::read(path).map_err(|e| {
            ImageError::Credentials(format!("reading docker config {}: {e}", path.display()))
        })?;
        Self::from_docker_config_json(&bytes).map_err(|e| match e {
            ImageError::Credentials(msg) => {
                ImageError::Credentials(format!("{}: {msg}", path.display()))
            }
            other => other,
        })
    }

    /// Parses a pull secret's data: `.dockerconfigjson` (type `kubernetes.io/dockerconfigjson`)
    /// or `.dockercfg` (legacy `kubernetes.io/dockercfg`, the bare `auths` map). Values are
    /// the decoded secret bytes, as a Kubernetes client hands them over.
    pub fn from_pull_secret(data: &BTreeMap<String, Vec<u8>>) -> Result<Self, ImageError> {
        if let Some(json) = data.get(".dockerconfigjson") {
            return Self::from_docker_config_json(json).map_err(|e| match e {
                ImageError::Credentials(msg) => {
                    ImageError::Credentials(format!("pull secret .dockerconfigjson: {msg}"))
                }
                other => other,
            });
        }
        if let Some(json) = data.get(".dockercfg") {
            let auths: BTreeMap<String, AuthEntry> = serde_json::from_slice(json).map_err(|e| {
                ImageError::Credentials(format!("pull secret .dockercfg: invalid JSON: {e}"))
            })?;
            return Self::from_auths(auths);
        }
        let keys: Vec<&str> = data.keys().map(String::as_str).collect();
        Err(ImageError::Credentials(format!(
            "pull secret has neither a .dockerconfigjson nor a .dockercfg key (keys: {})",
            if keys.is_empty() {
                "none".to_owned()
            } else {
                keys.join(", ")
            }
        )))
    }

    fn from_auths(auths: BTreeMap<String, AuthEntry>) -> Result<Self, ImageError> {
        let mut creds = Credentials::new();
        for (key, entry) in auths {
            if let Some(c) = entry_credential(&key, entry)? {
                creds.insert(&key, c);
            }
        }
        Ok(creds)
    }

    /// The most specific credential for `registry`/`repository`: the longest matching
    /// `host/path` prefix, then the host, then a `*.domain` wildcard.
    pub fn lookup(&self, registry: &str, repository: &str) -> Option<&Credential> {
        let host = normalise_key(registry);
        let mut path = format!("{host}/{repository}");
        loop {
            if let Some(c) = self.by_key.get(&path) {
                return Some(c);
            }
            match path.rfind('/') {
                Some(i) => path.truncate(i),
                None => break,
            }
        }
        let bare = host.split(':').next().unwrap_or(&host);
        self.by_key.iter().find_map(|(k, c)| {
            let suffix = k.strip_prefix("*.")?;
            (bare.ends_with(&format!(".{suffix}"))).then_some(c)
        })
    }
}

fn entry_credential(key: &str, entry: AuthEntry) -> Result<Option<Credential>, ImageError> {
    if let Some(token) = entry.registrytoken.filter(|t| !t.is_empty()) {
        return Ok(Some(Credential::RegistryToken(token)));
    }
    if let Some(token) = entry.identitytoken.filter(|t| !t.is_empty()) {
        return Ok(Some(Credential::IdentityToken(token)));
    }
    if let Some(auth) = entry.auth.filter(|a| !a.is_empty()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|e| {
                ImageError::Credentials(format!("auths[{key:?}].auth is not valid base64: {e}"))
            })?;
        let text = String::from_utf8(decoded).map_err(|_| {
            ImageError::Credentials(format!("auths[{key:?}].auth does not decode to UTF-8"))
        })?;
        let (username, password) = text.split_once(':').ok_or_else(|| {
            ImageError::Credentials(format!(
                "auths[{key:?}].auth must decode to username:password"
            ))
        })?;
        return Ok(Some(Credential::Basic {
            username: username.to_owned(),
            password: password.to_owned(),
        }));
    }
    match (entry.username, entry.password) {
        (Some(username), Some(password)) if !username.is_empty() => {
            Ok(Some(Credential::Basic { username, password }))
        }
        (Some(_), None) | (None, Some(_)) => Err(ImageError::Credentials(format!(
            "auths[{key:?}] has a username or a password but not both"
        ))),
        _ => Ok(None),
    }
}

/// `https://index.docker.io/v1/` → `docker.io`; `quay.io/org/` → `quay.io/org`.
fn normalise_key(key: &str) -> String {
    let key = key.trim();
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let key = key.trim_end_matches('/');
    let (host, path) = match key.split_once('/') {
        Some((h, p)) => (h, p),
        None => (key, ""),
    };
    let host = host.to_ascii_lowercase();
    let host = match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io".to_owned()
        }
        _ => host,
    };
    // Docker Hub keys carry API version paths (`/v1/`, `/v2/`), never repositories.
    let path = if matches!(path, "v1" | "v2") {
        ""
    } else {
        path
    };
    if path.is_empty() {
        host
    } else {
        format!("{host}/{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn docker_config_entries() {
        let json = format!(
            r#"{{"auths": {{
                "https://index.docker.io/v1/": {{"auth": "{}"}},
                "quay.io": {{"username": "u", "password": "p"}},
                "quay.io/private/": {{"auth": "{}"}},
                "ghcr.io": {{"identitytoken": "refresh"}},
                "registry.example:5000": {{"registrytoken": "tok"}},
                "*.corp.example": {{"auth": "{}"}},
                "empty.example": {{}}
            }}}}"#,
            b64("hub:secret"),
            b64("priv:pw:with:colons"),
            b64("w:x")
        );
        let c = Credentials::from_docker_config_json(json.as_bytes()).unwrap();
        let basic = |u: &str, p: &str| Credential::Basic {
            username: u.into(),
            password: p.into(),
        };
        assert_eq!(
            c.lookup("docker.io", "library/busybox"),
            Some(&basic("hub", "secret"))
        );
        assert_eq!(c.lookup("quay.io", "public/x"), Some(&basic("u", "p")));
        assert_eq!(
            c.lookup("quay.io", "private/x"),
            Some(&basic("priv", "pw:with:colons"))
        );
        assert_eq!(
            c.lookup("ghcr.io", "a/b"),
            Some(&Credential::IdentityToken("refresh".into()))
        );
        assert_eq!(
            c.lookup("registry.example:5000", "a"),
            Some(&Credential::RegistryToken("tok".into()))
        );
        assert_eq!(c.lookup("reg.corp.example", "a"), Some(&basic("w", "x")));
        assert_eq!(c.lookup("empty.example", "a"), None);
        assert_eq!(c.lookup("other.example", "a"), None);
        assert!(!format!("{c:?}").contains("secret"));
    }

    #[test]
    fn docker_hub_key_spellings_are_one_registry() {
        for key in [
            "docker.io",
            "index.docker.io",
            "registry-1.docker.io",
            "https://index.docker.io/v1/",
            "https://registry-1.docker.io/v2/",
        ] {
            let mut c = Credentials::new();
            c.insert(key, Credential::RegistryToken("t".into()));
            assert!(c.lookup("docker.io", "library/x").is_some(), "{key}");
        }
    }

    #[test]
    fn pull_secret_payloads() {
        let cfg = format!(r#"{{"auths":{{"r.example":{{"auth":"{}"}}}}}}"#, b64("a:b"));
        let mut data = BTreeMap::new();
        data.insert(".dockerconfigjson".to_owned(), cfg.into_bytes());
        let c = Credentials::from_pull_secret(&data).unwrap();
        assert!(c.lookup("r.example", "x").is_some());

        let mut legacy = BTreeMap::new();
        legacy.insert(
            ".dockercfg".to_owned(),
            format!(r#"{{"r.example":{{"auth":"{}"}}}}"#, b64("a:b")).into_bytes(),
        );
        assert!(
            Credentials::from_pull_secret(&legacy)
                .unwrap()
                .lookup("r.example", "x")
                .is_some()
        );

        let mut wrong = BTreeMap::new();
        wrong.insert("token".to_owned(), b"x".to_vec());
        let err = Credentials::from_pull_secret(&wrong)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("neither a .dockerconfigjson") && err.contains("token"),
            "{err}"
        );
    }

    #[test]
    fn malformed_entries_are_specific() {
        for (json, needle) in [
            (r#"{"auths":{"r":{"auth":"%%%"}}}"#, "not valid base64"),
            (
                &format!(r#"{{"auths":{{"r":{{"auth":"{}"}}}}}}"#, b64("nocolon")),
                "username:password",
            ),
            (r#"{"auths":{"r":{"username":"u"}}}"#, "not both"),
            ("not json", "invalid docker config JSON"),
        ] {
            let err = Credentials::from_docker_config_json(json.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{json}: {err}");
        }
    }
}
