//! A serving certificate for webhooks and content servers without cert-manager: a private
//! CA and a certificate for the Service's names, kept in one Secret so every replica serves
//! the same one, renewed before expiry, hot-reloaded into the TLS listeners, and the CA
//! injected as `caBundle` into the named webhook configurations.
//!
//! Replicas race safely: the Secret is created once (a loser reads the winner's) and
//! replaced only at the `resourceVersion` it was read at. Expiry times are recorded as
//! annotations on the Secret, so nothing here parses X.509.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use axum_server::tls_rustls::RustlsConfig;
use jiff::Timestamp;
use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::{Api, ObjectMeta, PostParams};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};

use crate::listen::Tls;

/// `t` as rcgen's time type, built without depending on the `time` crate rcgen uses.
macro_rules! asn1_time {
    ($t:expr) => {
        rcgen::date_time_ymd(1970, 1, 1)
            + Duration::from_secs(u64::try_from($t.as_second()).unwrap_or(0))
    };
}

const CA_NOT_AFTER: &str = "olm-rs.io/ca-not-after";
const CERT_NOT_AFTER: &str = "olm-rs.io/cert-not-after";
const CERT_NAMES: &str = "olm-rs.io/cert-names";

/// What to issue and where to keep and publish it.
#[derive(Clone, Debug)]
pub struct ServingCertConfig {
    /// Namespace and name of the Secret holding CA and certificate.
    pub namespace: String,
    pub secret_name: String,
    /// Names the CA (`<this> CA`) and the certificate's subject.
    pub common_name: String,
    /// DNS names the certificate is valid for, e.g. `<service>.<namespace>.svc`.
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    pub ca_validity: Duration,
    pub cert_validity: Duration,
    /// ValidatingWebhookConfigurations whose `caBundle` is kept current.
    pub webhook_configurations: Vec<String>,
    /// How often the Secret is checked for renewal and changes by other replicas.
    pub check_interval: Duration,
}

impl ServingCertConfig {
    /// Defaults: a 10-year CA and a 1-year certificate, each renewed with a third of its
    /// life left, checked every minute.
    pub fn new(namespace: &str, secret_name: &str, common_name: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
            secret_name: secret_name.to_owned(),
            common_name: common_name.to_owned(),
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
            ca_validity: Duration::from_secs(10 * 365 * 86400),
            cert_validity: Duration::from_secs(365 * 86400),
            webhook_configurations: Vec::new(),
            check_interval: Duration::from_secs(60),
        }
    }

    /// The SANs as recorded on the Secret: DNS names then IPs, comma-joined.
    fn names(&self) -> String {
        self.dns_names
            .iter()
            .cloned()
            .chain(self.ip_addresses.iter().map(ToString::to_string))
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("secret {namespace}/{name}: {source}")]
    Secret {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("issuing a certificate: {0}")]
    Issue(#[from] rcgen::Error),
    #[error("loading the serving certificate: {0}")]
    Load(#[source] std::io::Error),
    #[error("secret {namespace}/{name} lost its data while in use (key {key})")]
    Incomplete {
        namespace: String,
        name: String,
        key: &'static str,
    },
    #[error("updating caBundle of ValidatingWebhookConfiguration {name}: {source}")]
    Inject {
        name: String,
        #[source]
        source: kube::Error,
    },
}

/// A certificate issued by [`ServingCertificate::issue_for`].
#[derive(Clone, Debug)]
pub struct IssuedCertificate {
    pub cert_pem: String,
    pub key_pem: String,
    pub not_after: Timestamp,
}

/// The PEM material kept in the Secret.
#[derive(Clone, Debug, PartialEq)]
struct Material {
    /// Trusted CAs, the current one first (a retired CA stays until the next rotation).
    ca_bundle: String,
    ca_cert: String,
    ca_key: String,
    cert: String,
    key: String,
    ca_not_after: Timestamp,
    cert_not_after: Timestamp,
    names: String,
}

/// What the Secret needs.
#[derive(Debug, PartialEq, Eq)]
enum Renewal {
    None,
    Certificate,
    Authority,
}

fn renewal(material: &Material, config: &ServingCertConfig, now: Timestamp) -> Renewal {
    let left = |not_after: Timestamp, validity: Duration| {
        let remaining = not_after.as_second() - now.as_second();
        remaining < i64::try_from(validity.as_secs() / 3).unwrap_or(i64::MAX)
    };
    if left(material.ca_not_after, config.ca_validity) {
        Renewal::Authority
    } else if left(material.cert_not_after, config.cert_validity)
        || material.names != config.names()
        || material.cert_not_after > material.ca_not_after
    {
        Renewal::Certificate
    } else {
        Renewal::None
    }
}

/// A certificate kept fresh; clone it into each listener with [`Self::tls`].
#[derive(Clone)]
pub struct ServingCertificate {
    tls: RustlsConfig,
    /// The configured common name; the CA's subject is `<this> CA`.
    ca_common_name: String,
    material: std::sync::Arc<std::sync::Mutex<Material>>,
}

impl ServingCertificate {
    /// Reads, creates or renews the Secret, injects the CA into the webhook
    /// configurations, and loads the certificate.
    pub async fn ensure(client: &Client, config: &ServingCertConfig) -> Result<Self, CertError> {
        let material = sync_secret(client, config).await?;
        inject_ca(client, config, &material.ca_bundle).await?;
        let tls = RustlsConfig::from_pem(material.cert.clone().into(), material.key.clone().into())
            .await
            .map_err(CertError::Load)?;
        Ok(Self {
            tls,
            ca_common_name: config.common_name.clone(),
            material: std::sync::Arc::new(std::sync::Mutex::new(material)),
        })
    }

    /// A listener TLS setting that follows renewals.
    pub fn tls(&self) -> Tls {
        Tls::Reloadable(self.tls.clone())
    }

    /// The CA bundle clients should trust (PEM).
    pub fn ca_pem(&self) -> String {
        self.material
            .lock()
            .expect("material lock")
            .ca_bundle
            .clone()
    }

    /// A serving certificate for another server (a webhook a BundleDeployment installs, say),
    /// signed by the current CA, valid for `validity` (never past the CA's end).
    pub fn issue_for(
        &self,
        common_name: &str,
        dns_names: &[String],
        validity: Duration,
        now: Timestamp,
    ) -> Result<IssuedCertificate, CertError> {
        let (ca_key, ca_not_after) = {
            let m = self.material.lock().expect("material lock");
            (m.ca_key.clone(), m.ca_not_after)
        };
        let signer = Signer {
            key: &ca_key,
            common_name: &self.ca_common_name,
            not_after: ca_not_after,
        };
        sign_leaf(&signer, common_name, dns_names, &[], (now, validity))
    }

    /// The current CA certificate (PEM), the one [`Self::issue_for`] signs with.
    pub fn ca_cert_pem(&self) -> String {
        self.material.lock().expect("material lock").ca_cert.clone()
    }

    /// Checks every `check_interval`, forever: renews when due, reloads the listeners when
    /// the Secret changed (here or on another replica), and re-injects the CA. Errors are
    /// logged and retried at the next check.
    pub async fn keep_fresh(self, client: Client, config: ServingCertConfig) {
        loop {
            tokio::time::sleep(config.check_interval).await;
            if let Err(e) = self.refresh(&client, &config).await {
                tracing::warn!("serving certificate: {e}");
            }
        }
    }

    async fn refresh(&self, client: &Client, config: &ServingCertConfig) -> Result<(), CertError> {
        let material = sync_secret(client, config).await?;
        let changed = *self.material.lock().expect("material lock") != material;
        if changed {
            self.tls
                .reload_from_pem(material.cert.clone().into(), material.key.clone().into())
                .await
                .map_err(CertError::Load)?;
            tracing::info!(
                "serving certificate reloaded (valid until {})",
                material.cert_not_after
            );
        }
        inject_ca(client, config, &material.ca_bundle).await?;
        *self.material.lock().expect("material lock") = material;
        Ok(())
    }
}

/// A certificate another tool issues and renews into files (cert-manager, OpenShift's
/// service CA): loaded now and reloaded whenever the files change, checked every
/// `check_interval`.
pub async fn watched_files(
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
    check_interval: Duration,
) -> Result<Tls, CertError> {
    let read =
        |cert: &std::path::Path, key: &std::path::Path| -> std::io::Result<(Vec<u8>, Vec<u8>)> {
            Ok((std::fs::read(cert)?, std::fs::read(key)?))
        };
    let (mut cert_pem, mut key_pem) = read(&cert, &key).map_err(CertError::Load)?;
    let tls = RustlsConfig::from_pem(cert_pem.clone(), key_pem.clone())
        .await
        .map_err(CertError::Load)?;
    let reloading = tls.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(check_interval).await;
            match read(&cert, &key) {
                Ok((c, k)) if (&c, &k) != (&cert_pem, &key_pem) => {
                    match reloading.reload_from_pem(c.clone(), k.clone()).await {
                        Ok(()) => {
                            tracing::info!("serving certificate reloaded from {}", cert.display());
                            (cert_pem, key_pem) = (c, k);
                        }
                        // A half-written pair is retried at the next check.
                        Err(e) => tracing::warn!("reloading {}: {e}", cert.display()),
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("reading {}: {e}", cert.display()),
            }
        }
    });
    Ok(Tls::Reloadable(tls))
}

/// Brings the Secret to a valid state and returns what it holds.
async fn sync_secret(client: &Client, config: &ServingCertConfig) -> Result<Material, CertError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), &config.namespace);
    let secret_err = |source| CertError::Secret {
        namespace: config.namespace.clone(),
        name: config.secret_name.clone(),
        source,
    };
    let now = Timestamp::now();
    let existing = api.get_opt(&config.secret_name).await.map_err(secret_err)?;
    let Some(existing) = existing else {
        let material = issue(None, config, now)?;
        let created = api
            .create(&PostParams::default(), &to_secret(config, &material, None))
            .await;
        return match created {
            Ok(_) => Ok(material),
            // Another replica was first: use its certificate.
            Err(kube::Error::Api(e)) if e.code == 409 => {
                let theirs = api.get(&config.secret_name).await.map_err(secret_err)?;
                from_secret(config, &theirs).ok_or_else(|| incomplete(config, "data"))
            }
            Err(e) => Err(secret_err(e)),
        };
    };
    let current = from_secret(config, &existing);
    let due = current
        .as_ref()
        .map_or(Renewal::Authority, |m| renewal(m, config, now));
    if due == Renewal::None {
        return current.ok_or_else(|| incomplete(config, "data"));
    }
    let material = issue(
        current.as_ref().filter(|_| due == Renewal::Certificate),
        config,
        now,
    )
    .map(|mut m| {
        if let (Renewal::Authority, Some(old)) = (&due, &current) {
            // Clients keep trusting certificates of the retired CA until they expire.
            m.ca_bundle = format!("{}{}", m.ca_cert, old.ca_cert);
        }
        m
    })?;
    let version = existing.metadata.resource_version.clone();
    match api
        .replace(
            &config.secret_name,
            &PostParams::default(),
            &to_secret(config, &material, version),
        )
        .await
    {
        Ok(_) => {
            tracing::info!("serving certificate renewed ({due:?})");
            Ok(material)
        }
        Err(kube::Error::Api(e)) if e.code == 409 => {
            let theirs = api.get(&config.secret_name).await.map_err(secret_err)?;
            from_secret(config, &theirs).ok_or_else(|| incomplete(config, "data"))
        }
        Err(e) => Err(secret_err(e)),
    }
}

fn incomplete(config: &ServingCertConfig, key: &'static str) -> CertError {
    CertError::Incomplete {
        namespace: config.namespace.clone(),
        name: config.secret_name.clone(),
        key,
    }
}

/// Issues a certificate, with the CA of `keep_ca` or a new one.
fn issue(
    keep_ca: Option<&Material>,
    config: &ServingCertConfig,
    now: Timestamp,
) -> Result<Material, CertError> {
    let ca_params = ca_params(&config.common_name);
    let (ca_cert, ca_key, ca_bundle, ca_not_after) = match keep_ca {
        Some(m) => (
            m.ca_cert.clone(),
            m.ca_key.clone(),
            m.ca_bundle.clone(),
            m.ca_not_after,
        ),
        None => {
            let key = KeyPair::generate()?;
            let mut params = ca_params.clone();
            let not_after = valid_for(&mut params, now, config.ca_validity);
            let cert = params.self_signed(&key)?.pem();
            (cert.clone(), key.serialize_pem(), cert, not_after)
        }
    };
    let signer = Signer {
        key: &ca_key,
        common_name: &config.common_name,
        not_after: ca_not_after,
    };
    let leaf = sign_leaf(
        &signer,
        &config.common_name,
        &config.dns_names,
        &config.ip_addresses,
        (now, config.cert_validity),
    )?;
    let (cert, key, cert_not_after) = (leaf.cert_pem, leaf.key_pem, leaf.not_after);
    Ok(Material {
        ca_bundle,
        ca_cert,
        ca_key,
        cert,
        key,
        ca_not_after,
        cert_not_after,
        names: config.names(),
    })
}

/// The CA that signs: its key (PEM), the common name its own subject was made from, and
/// its end of validity.
struct Signer<'a> {
    key: &'a str,
    common_name: &'a str,
    not_after: Timestamp,
}

/// A certificate signed by `ca`, valid from `now` for `validity` but never past the CA's end.
fn sign_leaf(
    ca: &Signer<'_>,
    common_name: &str,
    dns_names: &[String],
    ip_addresses: &[IpAddr],
    (now, validity): (Timestamp, Duration),
) -> Result<IssuedCertificate, CertError> {
    let issuer = Issuer::new(ca_params(ca.common_name), KeyPair::from_pem(ca.key)?);
    let mut params = CertificateParams::default();
    params.distinguished_name = name(common_name);
    params.subject_alt_names = dns_names
        .iter()
        .map(|d| Ok(SanType::DnsName(d.as_str().try_into()?)))
        .chain(ip_addresses.iter().map(|ip| Ok(SanType::IpAddress(*ip))))
        .collect::<Result<_, rcgen::Error>>()?;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let not_after = valid_for(&mut params, now, validity).min(ca.not_after);
    params.not_after = asn1_time!(not_after);
    let key = KeyPair::generate()?;
    let cert_pem = params.signed_by(&key, &issuer)?.pem();
    Ok(IssuedCertificate {
        cert_pem,
        key_pem: key.serialize_pem(),
        not_after,
    })
}

fn ca_params(common_name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(&format!("{common_name} CA"));
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

/// Sets validity from an hour ago (clock skew) for `validity`; returns the end, to the second.
fn valid_for(params: &mut CertificateParams, now: Timestamp, validity: Duration) -> Timestamp {
    let start = Timestamp::from_second(now.as_second() - 3600).unwrap_or(now);
    let secs = i64::try_from(validity.as_secs()).unwrap_or(i64::MAX / 2);
    let end =
        Timestamp::from_second(now.as_second().saturating_add(secs)).unwrap_or(Timestamp::MAX);
    params.not_before = asn1_time!(start);
    params.not_after = asn1_time!(end);
    end
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

fn to_secret(config: &ServingCertConfig, m: &Material, version: Option<String>) -> Secret {
    let data = [
        ("ca.crt", &m.ca_bundle),
        ("ca-cert.pem", &m.ca_cert),
        ("ca.key", &m.ca_key),
        ("tls.crt", &m.cert),
        ("tls.key", &m.key),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), ByteString(v.as_bytes().to_vec())))
    .collect();
    let annotations = BTreeMap::from([
        (CA_NOT_AFTER.to_owned(), m.ca_not_after.to_string()),
        (CERT_NOT_AFTER.to_owned(), m.cert_not_after.to_string()),
        (CERT_NAMES.to_owned(), m.names.clone()),
    ]);
    Secret {
        metadata: ObjectMeta {
            name: Some(config.secret_name.clone()),
            namespace: Some(config.namespace.clone()),
            annotations: Some(annotations),
            resource_version: version,
            ..ObjectMeta::default()
        },
        type_: Some("kubernetes.io/tls".to_owned()),
        data: Some(data),
        ..Secret::default()
    }
}

/// The material in `secret`, or `None` if anything is missing (then it is re-issued).
fn from_secret(_config: &ServingCertConfig, secret: &Secret) -> Option<Material> {
    let data = secret.data.as_ref()?;
    let text = |k: &str| {
        data.get(k)
            .and_then(|b| String::from_utf8(b.0.clone()).ok())
    };
    let annotations = secret.metadata.annotations.as_ref()?;
    let time = |k: &str| annotations.get(k)?.parse::<Timestamp>().ok();
    Some(Material {
        ca_bundle: text("ca.crt")?,
        ca_cert: text("ca-cert.pem")?,
        ca_key: text("ca.key")?,
        cert: text("tls.crt")?,
        key: text("tls.key")?,
        ca_not_after: time(CA_NOT_AFTER)?,
        cert_not_after: time(CERT_NOT_AFTER)?,
        names: annotations.get(CERT_NAMES)?.clone(),
    })
}

/// Sets `caBundle` of every webhook in the configured webhook configurations. A
/// configuration that does not exist (yet) is skipped.
async fn inject_ca(
    client: &Client,
    config: &ServingCertConfig,
    ca_bundle: &str,
) -> Result<(), CertError> {
    let api: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    for name in &config.webhook_configurations {
        let err = |source| CertError::Inject {
            name: name.clone(),
            source,
        };
        let Some(mut vwc) = api.get_opt(name).await.map_err(err)? else {
            tracing::debug!("ValidatingWebhookConfiguration {name} not found; caBundle not set");
            continue;
        };
        let bundle = ByteString(ca_bundle.as_bytes().to_vec());
        let mut changed = false;
        for webhook in vwc.webhooks.iter_mut().flatten() {
            if webhook.client_config.ca_bundle.as_ref() != Some(&bundle) {
                webhook.client_config.ca_bundle = Some(bundle.clone());
                changed = true;
            }
        }
        if changed {
            api.replace(name, &PostParams::default(), &vwc)
                .await
                .map_err(err)?;
            tracing::info!("caBundle of ValidatingWebhookConfiguration {name} updated");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ServingCertConfig {
        ServingCertConfig {
            dns_names: vec!["core.rukpak-system.svc".into()],
            ip_addresses: vec!["127.0.0.1".parse().unwrap()],
            ..ServingCertConfig::new("rukpak-system", "rukpak-tls", "rukpak")
        }
    }

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).unwrap()
    }

    #[test]
    fn a_fresh_certificate_needs_nothing_until_a_third_of_its_life_is_left() {
        let config = config();
        let now = at(1_800_000_000);
        let m = issue(None, &config, now).unwrap();
        assert_eq!(renewal(&m, &config, now), Renewal::None);
        let year = 365 * 86400;
        assert_eq!(
            renewal(&m, &config, at(1_800_000_000 + year / 2)),
            Renewal::None
        );
        assert_eq!(
            renewal(&m, &config, at(1_800_000_000 + year * 3 / 4)),
            Renewal::Certificate
        );
        assert_eq!(
            renewal(&m, &config, at(1_800_000_000 + 8 * year)),
            Renewal::Authority
        );
    }

    #[test]
    fn new_names_reissue_the_certificate_with_the_same_ca() {
        let mut config = config();
        let now = at(1_800_000_000);
        let m = issue(None, &config, now).unwrap();
        config
            .dns_names
            .push("core.rukpak-system.svc.cluster.local".into());
        assert_eq!(renewal(&m, &config, now), Renewal::Certificate);
        let renewed = issue(Some(&m), &config, now).unwrap();
        assert_eq!(renewed.ca_cert, m.ca_cert);
        assert_ne!(renewed.cert, m.cert);
        assert_eq!(renewal(&renewed, &config, now), Renewal::None);
    }

    #[test]
    fn the_secret_round_trips_and_incomplete_secrets_are_reissued() {
        let config = config();
        let m = issue(None, &config, at(1_800_000_000)).unwrap();
        let secret = to_secret(&config, &m, None);
        assert_eq!(from_secret(&config, &secret), Some(m));
        let mut broken = secret;
        broken.data.as_mut().unwrap().remove("tls.key");
        assert_eq!(from_secret(&config, &broken), None);
    }
}
