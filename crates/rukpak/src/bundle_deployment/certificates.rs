//! Serving certificates for what registry+v1 bundles serve (webhooks, API services): a
//! `kubernetes.io/tls` Secret per request of the conversion, signed by RukPak's own CA and
//! installed with the bundle's objects, and the CA written into the `caBundle` of every
//! object the conversion marked. A Secret still valid for a third of its life and signed by
//! a trusted CA is kept as it is, so the desired objects (and their digest) stay the same from
//! one reconcile to the next.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use registry_convert::{CertificateRequest, INJECT_CA_ANNOTATION};
use serde_json::{Value, json};

/// How long an issued certificate is valid; it is replaced with a third of that left.
pub(crate) const VALIDITY: Duration = Duration::from_secs(365 * 86400);
/// Annotation on the Secrets: when the certificate expires (RFC 3339).
const NOT_AFTER: &str = "core.rukpak.io/cert-not-after";
/// Annotation on the Secrets: the DNS names, comma-joined.
const NAMES: &str = "core.rukpak.io/cert-names";

/// Why the serving certificates of a bundle could not be provided.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    #[error(
        "the bundle serves webhooks or API services, whose certificates come from RukPak's own CA, which is not in use (--tls-cert-dir); run with --bundle-certificates cert-manager instead"
    )]
    NoAuthority,
    #[error("reading secret {secret}: {source}")]
    Read {
        secret: String,
        #[source]
        source: kube::Error,
    },
    #[error("issuing a certificate for {names}: {source}")]
    Issue {
        names: String,
        #[source]
        source: controller_runtime::CertError,
    },
}

/// Signs certificates (RukPak's CA).
pub(crate) trait Authority {
    fn issue(
        &self,
        common_name: &str,
        dns_names: &[String],
        now: Timestamp,
    ) -> Result<Issued, controller_runtime::CertError>;
    /// The CA certificates clients should trust (PEM).
    fn trusted(&self) -> String;
    /// The CA certificate that [`Authority::issue`] signs with (PEM).
    fn signing(&self) -> String;
}

/// A certificate and its key (PEM), and its end of validity.
pub(crate) struct Issued {
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
    pub(crate) not_after: Timestamp,
}

/// The Secret object for `request`: `current` (the Secret in the cluster, if any) when it is
/// still good, else a newly issued certificate.
pub(crate) fn secret_object(
    request: &CertificateRequest,
    current: Option<&Secret>,
    ca: &impl Authority,
    now: Timestamp,
) -> Result<Value, CertificateError> {
    let names = request.dns_names.join(",");
    let reusable = current.and_then(|secret| reusable(secret, &names, ca, now));
    let (cert, key, ca_pem, not_after) = match reusable {
        Some(kept) => kept,
        None => {
            let issued = ca
                .issue(&request.service_name, &request.dns_names, now)
                .map_err(|source| CertificateError::Issue {
                    names: names.clone(),
                    source,
                })?;
            (
                issued.cert_pem,
                issued.key_pem,
                ca.signing(),
                issued.not_after.to_string(),
            )
        }
    };
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    Ok(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {
            "name": request.secret_name,
            "namespace": request.namespace,
            "annotations": {NOT_AFTER: not_after, NAMES: names},
        },
        "data": {"tls.crt": b64(&cert), "tls.key": b64(&key), "ca.crt": b64(&ca_pem)},
    }))
}

/// The certificate, key, CA and end of a Secret worth keeping: issued for the same names,
/// signed by a CA still trusted, with more than a third of its life left.
fn reusable(
    secret: &Secret,
    names: &str,
    ca: &impl Authority,
    now: Timestamp,
) -> Option<(String, String, String, String)> {
    let annotations = secret.metadata.annotations.as_ref()?;
    if annotations.get(NAMES).map(String::as_str) != Some(names) {
        return None;
    }
    let not_after_text = annotations.get(NOT_AFTER)?;
    let not_after: Timestamp = not_after_text.parse().ok()?;
    let third = i64::try_from(VALIDITY.as_secs() / 3).unwrap_or(i64::MAX);
    if not_after.as_second() - now.as_second() < third {
        return None;
    }
    let data: BTreeMap<&str, String> = secret
        .data
        .as_ref()?
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), String::from_utf8(v.0.clone()).ok()?)))
        .collect();
    let ca_pem = data.get("ca.crt")?;
    if ca_pem.trim().is_empty() || !ca.trusted().contains(ca_pem.trim()) {
        return None;
    }
    Some((
        data.get("tls.crt")?.clone(),
        data.get("tls.key")?.clone(),
        ca_pem.clone(),
        not_after_text.clone(),
    ))
}

/// Writes `ca_bundle` (PEM) into the `caBundle` of every object marked with the conversion's
/// annotation: each webhook of a webhook configuration, an APIService, a CRD's conversion
/// webhook.
pub(crate) fn inject_ca(objects: &mut [Value], ca_bundle: &str) {
    let encoded = Value::String(base64::engine::general_purpose::STANDARD.encode(ca_bundle));
    for object in objects.iter_mut() {
        let marked = object
            .pointer(&format!(
                "/metadata/annotations/{}",
                INJECT_CA_ANNOTATION.replace('/', "~1")
            ))
            .is_some();
        if !marked {
            continue;
        }
        match object["kind"].as_str().unwrap_or_default() {
            "ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration" => {
                for hook in object["webhooks"].as_array_mut().into_iter().flatten() {
                    hook["clientConfig"]["caBundle"] = encoded.clone();
                }
            }
            "APIService" => object["spec"]["caBundle"] = encoded.clone(),
            "CustomResourceDefinition" => {
                if let Some(client) = object.pointer_mut("/spec/conversion/webhook/clientConfig") {
                    client["caBundle"] = encoded.clone();
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    struct FakeCa {
        issued: Cell<u32>,
        trusted: String,
    }

    impl Authority for FakeCa {
        fn issue(
            &self,
            common_name: &str,
            dns: &[String],
            now: Timestamp,
        ) -> Result<Issued, controller_runtime::CertError> {
            self.issued.set(self.issued.get() + 1);
            Ok(Issued {
                cert_pem: format!(
                    "CERT {common_name} {} #{}",
                    dns.join(" "),
                    self.issued.get()
                ),
                key_pem: "KEY".into(),
                not_after: Timestamp::from_second(now.as_second() + 365 * 86400).unwrap(),
            })
        }
        fn trusted(&self) -> String {
            self.trusted.clone()
        }
        fn signing(&self) -> String {
            "CA-1".into()
        }
    }

    fn request() -> CertificateRequest {
        CertificateRequest {
            namespace: "ops".into(),
            secret_name: "webhook-cert".into(),
            service_name: "webhook-service".into(),
            dns_names: vec![
                "webhook-service.ops.svc".into(),
                "webhook-service.ops.svc.cluster.local".into(),
            ],
        }
    }

    fn as_secret(value: &Value) -> Secret {
        serde_json::from_value(value.clone()).unwrap()
    }

    #[test]
    fn a_good_secret_is_kept_and_a_stale_one_reissued() {
        let ca = FakeCa {
            issued: Cell::new(0),
            trusted: "CA-0\nCA-1".into(),
        };
        let now = Timestamp::from_second(1_000_000_000).unwrap();
        let first = secret_object(&request(), None, &ca, now).unwrap();
        assert_eq!(ca.issued.get(), 1);
        assert_eq!(first["type"], "kubernetes.io/tls");
        let again = secret_object(&request(), Some(&as_secret(&first)), &ca, now).unwrap();
        assert_eq!(again, first, "kept as it is");

        let later = Timestamp::from_second(now.as_second() + 300 * 86400).unwrap();
        let renewed = secret_object(&request(), Some(&as_secret(&first)), &ca, later).unwrap();
        assert_ne!(
            renewed["data"]["tls.crt"], first["data"]["tls.crt"],
            "a third of its life left: reissued"
        );

        let retired = FakeCa {
            issued: Cell::new(0),
            trusted: "CA-2".into(),
        };
        secret_object(&request(), Some(&as_secret(&first)), &retired, now).unwrap();
        assert_eq!(retired.issued.get(), 1, "its CA is no longer trusted");

        let mut other = request();
        other.dns_names.push("extra.ops.svc".into());
        secret_object(&other, Some(&as_secret(&first)), &ca, now).unwrap();
        assert_eq!(ca.issued.get(), 3, "new names: reissued");
    }

    #[test]
    fn the_ca_goes_into_every_marked_object() {
        let mark = json!({INJECT_CA_ANNOTATION: "ops/webhook-cert"});
        let mut objects = vec![
            json!({"kind": "ValidatingWebhookConfiguration", "metadata": {"annotations": mark},
                   "webhooks": [{"clientConfig": {}}, {"clientConfig": {}}]}),
            json!({"kind": "APIService", "metadata": {"annotations": mark}, "spec": {}}),
            json!({"kind": "CustomResourceDefinition", "metadata": {"annotations": mark},
                   "spec": {"conversion": {"strategy": "Webhook", "webhook": {"clientConfig": {}}}}}),
            json!({"kind": "MutatingWebhookConfiguration", "metadata": {}, "webhooks": [{"clientConfig": {}}]}),
        ];
        inject_ca(&mut objects, "PEM");
        let b64 = base64::engine::general_purpose::STANDARD.encode("PEM");
        assert_eq!(objects[0]["webhooks"][1]["clientConfig"]["caBundle"], b64);
        assert_eq!(objects[1]["spec"]["caBundle"], b64);
        assert_eq!(
            objects[2]["spec"]["conversion"]["webhook"]["clientConfig"]["caBundle"],
            b64
        );
        assert!(
            objects[3]["webhooks"][0]["clientConfig"]
                .get("caBundle")
                .is_none(),
            "unmarked"
        );
    }
}
