//! What an operator serving webhooks or API services needs besides its Deployment: a Service per
//! serving deployment, a serving certificate (requested from the controller, or cert-manager
//! objects), the certificate mounted where OLM v0 mounts it, the webhook configurations,
//! conversion webhooks wired into the bundle's CRDs, and APIServices with their auth bindings.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::csv::{ApiService, Csv, Webhook};
use crate::deployment::{containers, object_at, pod_spec, replace_by_name};
use crate::install_mode::Targets;
use crate::rbac::{binding, service_account_name};
use crate::{CertificateMode, ConvertError};

/// Set on webhook configurations, APIServices and CRDs with a conversion webhook in
/// [`CertificateMode::BuiltIn`]: the value is `<namespace>/<secret>`, the Secret whose CA the
/// controller writes into the object's `caBundle`.
pub const INJECT_CA_ANNOTATION: &str = "core.rukpak.io/inject-ca-from-secret";
/// cert-manager's CA injector annotation: `<namespace>/<certificate>`.
pub const CERT_MANAGER_INJECT_CA_ANNOTATION: &str = "cert-manager.io/inject-ca-from";

const VALIDATING: &str = "ValidatingAdmissionWebhook";
const MUTATING: &str = "MutatingAdmissionWebhook";
const CONVERSION: &str = "ConversionWebhook";
/// Where OLM v0 serves a webhook or API service when the CSV names no port.
const DEFAULT_PORT: i32 = 443;

/// A serving certificate the controller must provide in [`CertificateMode::BuiltIn`]: a Secret
/// `secret_name` in `namespace` with `tls.crt` and `tls.key`, valid for `dns_names`, signed by
/// the provisioner's CA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateRequest {
    pub namespace: String,
    pub secret_name: String,
    pub service_name: String,
    pub dns_names: Vec<String>,
}

/// The serving objects, in their output groups.
#[derive(Debug, Default)]
pub(crate) struct Serving {
    pub(crate) role_bindings: Vec<Value>,
    pub(crate) cluster_role_bindings: Vec<Value>,
    pub(crate) issuers: Vec<Value>,
    pub(crate) services: Vec<Value>,
    pub(crate) api_services: Vec<Value>,
    pub(crate) validating: Vec<Value>,
    pub(crate) mutating: Vec<Value>,
    pub(crate) certificates: Vec<CertificateRequest>,
}

/// One serving deployment: its Service and certificate names.
struct Server<'a> {
    deployment: &'a str,
    service: String,
    secret: String,
}

impl Server<'_> {
    fn new(deployment: &str) -> Server<'_> {
        // OLM v0 names the Service after the deployment, dots made dashes.
        let service = format!("{}-service", deployment.replace('.', "-"));
        Server {
            deployment,
            secret: format!("{service}-cert"),
            service,
        }
    }
}

pub(crate) struct Context<'a> {
    pub(crate) csv: &'a Csv,
    pub(crate) package: &'a str,
    pub(crate) namespace: &'a str,
    pub(crate) targets: &'a Targets,
    pub(crate) mode: CertificateMode,
}

impl Context<'_> {
    /// The annotation that gets `server`'s CA injected.
    fn inject(&self, server: &Server<'_>) -> (&'static str, String) {
        let key = match self.mode {
            CertificateMode::BuiltIn => INJECT_CA_ANNOTATION,
            CertificateMode::CertManager => CERT_MANAGER_INJECT_CA_ANNOTATION,
        };
        (key, format!("{}/{}", self.namespace, server.secret))
    }

    fn service_ref(&self, server: &Server<'_>, port: i32, path: Option<&str>) -> Value {
        let mut service =
            json!({"name": server.service, "namespace": self.namespace, "port": port});
        if let Some(path) = path {
            service["path"] = path.into();
        }
        service
    }
}

pub(crate) fn serving(
    cx: &Context<'_>,
    crds: &mut [Value],
    deployments: &mut [Value],
) -> Result<Serving, ConvertError> {
    let csv = cx.csv;
    let mut out = Serving::default();
    // OLM v0 lists API services before webhooks; a deployment's Service ports follow that order.
    let mut servers: Vec<(Server<'_>, Vec<Value>)> = Vec::new();
    for api in &csv.api_services {
        check_deployment(csv, "API service", &api.name, &api.deployment_name)?;
        let port = port_or_default(api.container_port);
        let ports = server_ports(&mut servers, &api.deployment_name);
        push_port(ports, service_port(port, json!(port)));
    }
    for webhook in &csv.webhooks {
        check_deployment(
            csv,
            "webhook",
            &webhook.generate_name,
            &webhook.deployment_name,
        )?;
        let port = port_or_default(webhook.container_port);
        let target = webhook.target_port.clone().unwrap_or(json!(port));
        let ports = server_ports(&mut servers, &webhook.deployment_name);
        push_port(ports, service_port(port, target));
    }
    for api in &csv.api_services {
        let server = Server::new(&api.deployment_name);
        out.api_services.push(api_service(cx, api, &server));
        let sa = deployment_service_account(csv, &api.deployment_name);
        auth_bindings(cx, &server, sa, &mut out);
    }
    for webhook in &csv.webhooks {
        let server = Server::new(&webhook.deployment_name);
        match webhook.kind.as_str() {
            VALIDATING => out
                .validating
                .push(webhook_configuration(cx, webhook, &server, false)?),
            MUTATING => out
                .mutating
                .push(webhook_configuration(cx, webhook, &server, true)?),
            CONVERSION => wire_conversion(cx, webhook, &server, crds)?,
            other => {
                return Err(ConvertError::UnknownWebhookType {
                    name: webhook.generate_name.clone(),
                    kind: other.to_owned(),
                });
            }
        }
    }
    if cx.mode == CertificateMode::CertManager && !servers.is_empty() {
        out.issuers.extend(issuer_chain(cx));
    }
    for (server, ports) in servers {
        let Some(spec) = csv.deployment(server.deployment) else {
            continue;
        };
        let selector = spec
            .spec
            .get("selector")
            .and_then(|s| s.get("matchLabels"))
            .cloned()
            .unwrap_or_else(|| json!({}));
        out.services.push(json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": server.service, "namespace": cx.namespace},
            "spec": {"ports": ports, "selector": selector},
        }));
        let dns_names = dns_names(&server.service, cx.namespace);
        match cx.mode {
            CertificateMode::BuiltIn => out.certificates.push(CertificateRequest {
                namespace: cx.namespace.to_owned(),
                secret_name: server.secret.clone(),
                service_name: server.service.clone(),
                dns_names,
            }),
            CertificateMode::CertManager => out.issuers.push(json!({
                "apiVersion": "cert-manager.io/v1",
                "kind": "Certificate",
                "metadata": {"name": server.secret, "namespace": cx.namespace},
                "spec": {
                    "secretName": server.secret,
                    "dnsNames": dns_names,
                    "issuerRef": {"name": ca_issuer_name(cx.package), "kind": "Issuer"},
                },
            })),
        }
        for deployment in deployments.iter_mut() {
            if deployment.pointer("/metadata/name").and_then(Value::as_str)
                == Some(server.deployment)
            {
                mount_certificate(deployment, &server.secret);
            }
        }
    }
    Ok(out)
}

fn check_deployment(
    csv: &Csv,
    what: &'static str,
    name: &str,
    deployment: &str,
) -> Result<(), ConvertError> {
    match csv.deployment(deployment) {
        Some(_) => Ok(()),
        None => Err(ConvertError::UnknownDeployment {
            what,
            name: name.to_owned(),
            deployment: deployment.to_owned(),
        }),
    }
}

fn port_or_default(port: i32) -> i32 {
    if port > 0 { port } else { DEFAULT_PORT }
}

fn server_ports<'a, 'b>(
    servers: &'a mut Vec<(Server<'b>, Vec<Value>)>,
    deployment: &'b str,
) -> &'a mut Vec<Value> {
    let index = match servers.iter().position(|(s, _)| s.deployment == deployment) {
        Some(index) => index,
        None => {
            servers.push((Server::new(deployment), Vec::new()));
            servers.len() - 1
        }
    };
    &mut servers[index].1
}

fn service_port(port: i32, target: Value) -> Value {
    json!({"name": port.to_string(), "port": port, "targetPort": target})
}

/// OLM v0 keeps one Service port per distinct (name, port, target) triple.
fn push_port(ports: &mut Vec<Value>, port: Value) {
    if !ports.contains(&port) {
        ports.push(port);
    }
}

/// The names a Service answers to inside the cluster, as OLM v0 lists them.
fn dns_names(service: &str, namespace: &str) -> Vec<String> {
    vec![
        format!("{service}.{namespace}"),
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.cluster.local"),
    ]
}

fn deployment_service_account<'a>(csv: &'a Csv, deployment: &str) -> &'a str {
    let name = csv
        .deployment(deployment)
        .and_then(|d| d.spec.get("template"))
        .and_then(|t| t.pointer("/spec/serviceAccountName"))
        .and_then(Value::as_str)
        .unwrap_or("");
    service_account_name(name)
}

/// An aggregated API server must read the authentication config in kube-system and delegate
/// authorization; OLM v0 grants both to the serving deployment's ServiceAccount.
fn auth_bindings(cx: &Context<'_>, server: &Server<'_>, sa: &str, out: &mut Serving) {
    let reader = binding(
        "RoleBinding",
        "Role",
        &format!("{}-auth-reader", server.service),
        Some("kube-system"),
        cx.namespace,
        sa,
    );
    let mut reader = reader;
    reader["roleRef"]["name"] = "extension-apiserver-authentication-reader".into();
    if !out.role_bindings.contains(&reader) {
        out.role_bindings.push(reader);
    }
    let mut delegator = binding(
        "ClusterRoleBinding",
        "ClusterRole",
        &format!("{}-system:auth-delegator", server.service),
        None,
        cx.namespace,
        sa,
    );
    delegator["roleRef"]["name"] = "system:auth-delegator".into();
    if !out.cluster_role_bindings.contains(&delegator) {
        out.cluster_role_bindings.push(delegator);
    }
}

fn api_service(cx: &Context<'_>, api: &ApiService, server: &Server<'_>) -> Value {
    let (key, value) = cx.inject(server);
    let port = port_or_default(api.container_port);
    json!({
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": format!("{}.{}", api.version, api.group), "annotations": {key: value}},
        "spec": {
            "group": api.group,
            "version": api.version,
            "service": cx.service_ref(server, port, None),
            "groupPriorityMinimum": 2000,
            "versionPriority": 15,
        },
    })
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Rule {
    api_groups: Vec<String>,
    resources: Vec<String>,
}

/// OLM v0 refuses webhooks that could lock administrators (or OLM) out of the cluster.
fn check_rules(webhook: &Webhook) -> Result<(), ConvertError> {
    let rules: Vec<Rule> = webhook
        .rules
        .as_ref()
        .and_then(|r| Vec::<Rule>::deserialize(r).ok())
        .unwrap_or_default();
    let refuse = |reason| {
        Err(ConvertError::ForbiddenWebhookRule {
            name: webhook.generate_name.clone(),
            reason,
        })
    };
    for rule in rules {
        let group = |g: &str| rule.api_groups.iter().any(|x| x == g);
        if group("*") {
            return refuse("webhook rules cannot include all groups");
        }
        if group("operators.coreos.com") {
            return refuse("webhook rules cannot include the OLM group");
        }
        let resource = |r: &str| rule.resources.iter().any(|x| x == r);
        if group("admissionregistration.k8s.io")
            && (resource("*")
                || resource("MutatingWebhookConfiguration")
                || resource("ValidatingWebhookConfiguration"))
        {
            return refuse(
                "webhook rules cannot include MutatingWebhookConfiguration or ValidatingWebhookConfiguration resources",
            );
        }
    }
    Ok(())
}

/// One configuration per webhook definition, named after its `generateName`, as OLM v0 creates
/// them (it adds a random suffix; ours must be stable).
fn webhook_configuration(
    cx: &Context<'_>,
    webhook: &Webhook,
    server: &Server<'_>,
    mutating: bool,
) -> Result<Value, ConvertError> {
    check_rules(webhook)?;
    let port = port_or_default(webhook.container_port);
    let mut entry = Map::new();
    entry.insert("name".into(), webhook.generate_name.clone().into());
    let copied = [
        ("rules", &webhook.rules),
        ("failurePolicy", &webhook.failure_policy),
        ("matchPolicy", &webhook.match_policy),
        ("objectSelector", &webhook.object_selector),
        ("sideEffects", &webhook.side_effects),
        ("timeoutSeconds", &webhook.timeout_seconds),
        (
            "admissionReviewVersions",
            &webhook.admission_review_versions,
        ),
    ];
    for (key, value) in copied {
        if let Some(value) = value {
            entry.insert(key.into(), value.clone());
        }
    }
    if let Targets::Namespaces(namespaces) = cx.targets {
        entry.insert(
            "namespaceSelector".into(),
            json!({"matchExpressions": [{
                "key": "kubernetes.io/metadata.name",
                "operator": "In",
                "values": namespaces,
            }]}),
        );
    }
    entry.insert(
        "clientConfig".into(),
        json!({"service": cx.service_ref(server, port, webhook.webhook_path.as_deref())}),
    );
    if mutating && let Some(policy) = &webhook.reinvocation_policy {
        entry.insert("reinvocationPolicy".into(), policy.clone());
    }
    let kind = match mutating {
        true => "MutatingWebhookConfiguration",
        false => "ValidatingWebhookConfiguration",
    };
    let (key, value) = cx.inject(server);
    Ok(json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": webhook.generate_name, "annotations": {key: value}},
        "webhooks": [Value::Object(entry)],
    }))
}

fn wire_conversion(
    cx: &Context<'_>,
    webhook: &Webhook,
    server: &Server<'_>,
    crds: &mut [Value],
) -> Result<(), ConvertError> {
    if !cx.targets.is_all_namespaces() {
        return Err(ConvertError::ConversionNeedsAllNamespaces {
            webhook: webhook.generate_name.clone(),
            targets: cx.targets.namespaces().to_vec(),
        });
    }
    if webhook.conversion_crds.is_empty() {
        return Err(ConvertError::ConversionWithoutCrds {
            webhook: webhook.generate_name.clone(),
        });
    }
    let port = port_or_default(webhook.container_port);
    // OLM v0 serves conversion at `/` when the CSV names no path.
    let path = webhook.webhook_path.as_deref().unwrap_or("/");
    for name in &webhook.conversion_crds {
        let crd = crds
            .iter_mut()
            .find(|c| c.pointer("/metadata/name").and_then(Value::as_str) == Some(name))
            .ok_or_else(|| ConvertError::ConversionCrdMissing {
                webhook: webhook.generate_name.clone(),
                crd: name.clone(),
            })?;
        if crd.pointer("/spec/preserveUnknownFields") == Some(&Value::Bool(true)) {
            return Err(ConvertError::ConversionPreservesUnknownFields {
                webhook: webhook.generate_name.clone(),
                crd: name.clone(),
            });
        }
        let mut conversion = json!({
            "strategy": "Webhook",
            "webhook": {"clientConfig": {"service": cx.service_ref(server, port, Some(path))}},
        });
        if let Some(versions) = &webhook.admission_review_versions {
            conversion["webhook"]["conversionReviewVersions"] = versions.clone();
        }
        let Value::Object(root) = crd else { continue };
        object_at(root, "spec").insert("conversion".into(), conversion);
        let (key, value) = cx.inject(server);
        object_at(object_at(root, "metadata"), "annotations").insert(key.into(), value.into());
    }
    Ok(())
}

fn ca_issuer_name(package: &str) -> String {
    format!("{package}-ca-issuer")
}

/// A self-signed root for the bundle, and a CA issuer signing every serving certificate of it.
fn issuer_chain(cx: &Context<'_>) -> Vec<Value> {
    let package = cx.package;
    let self_signed = format!("{package}-selfsigned-issuer");
    let ca = format!("{package}-ca");
    vec![
        json!({
            "apiVersion": "cert-manager.io/v1",
            "kind": "Issuer",
            "metadata": {"name": self_signed, "namespace": cx.namespace},
            "spec": {"selfSigned": {}},
        }),
        json!({
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": {"name": ca, "namespace": cx.namespace},
            "spec": {
                "isCA": true,
                "commonName": ca,
                "secretName": ca,
                "issuerRef": {"name": self_signed, "kind": "Issuer"},
            },
        }),
        json!({
            "apiVersion": "cert-manager.io/v1",
            "kind": "Issuer",
            "metadata": {"name": ca_issuer_name(package), "namespace": cx.namespace},
            "spec": {"ca": {"secretName": ca}},
        }),
    ]
}

/// OLM v0's two mounts of one serving Secret: `apiserver.crt`/`apiserver.key` under
/// `/apiserver.local.config/certificates` (aggregated API servers) and `tls.crt`/`tls.key` under
/// `/tmp/k8s-webhook-server/serving-certs` (controller-runtime webhook servers).
fn mount_certificate(deployment: &mut Value, secret: &str) {
    let volume = |name: &str, crt: &str, key: &str| {
        json!({"name": name, "secret": {"secretName": secret, "items": [
            {"key": "tls.crt", "path": crt},
            {"key": "tls.key", "path": key},
        ]}})
    };
    let volumes = [
        volume("apiservice-cert", "apiserver.crt", "apiserver.key"),
        volume("webhook-cert", "tls.crt", "tls.key"),
    ];
    let mounts = [
        json!({"name": "apiservice-cert", "mountPath": "/apiserver.local.config/certificates"}),
        json!({"name": "webhook-cert", "mountPath": "/tmp/k8s-webhook-server/serving-certs"}),
    ];
    let pod = pod_spec(deployment);
    let list = pod.entry("volumes").or_insert_with(|| json!([]));
    if let Value::Array(list) = list {
        replace_by_name(list, &volumes);
    }
    for container in containers(pod) {
        let list = container.entry("volumeMounts").or_insert_with(|| json!([]));
        if let Value::Array(list) = list {
            replace_by_name(list, &mounts);
        }
    }
}
