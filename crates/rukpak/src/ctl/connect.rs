//! Reaching RukPak's content and upload server from a workstation: the CA from the serving
//! certificate's Secret, a bearer token the server's access check accepts, and a route — a
//! port-forward to a Pod behind the Service (as upstream's `rukpakctl run` does), an address
//! given with `--address`, or the URL itself.

use std::net::SocketAddr;

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Pod, Secret, Service, ServiceAccount};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleRef, Subject};
use kube::api::{Api, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use secrecy::ExposeSecret;
use tokio::net::TcpListener;

use super::CtlError;

/// The ServiceAccount whose tokens `rukpakctl` uses when the kubeconfig holds no token.
pub(super) const SERVICE_ACCOUNT: &str = "rukpakctl";
const FIELD_MANAGER: &str = "rukpakctl";
/// Lifetime of a minted token: one command's worth.
const TOKEN_SECONDS: i64 = 600;

/// What a token is for: the ClusterRole of deploy/rukpak/rbac.yaml that grants it.
#[derive(Clone, Copy)]
pub(super) enum Purpose {
    ReadContent,
    Upload,
}

impl Purpose {
    fn cluster_role(self) -> &'static str {
        match self {
            Purpose::ReadContent => "bundle-reader",
            Purpose::Upload => "bundle-uploader",
        }
    }
}

/// Where to connect for a URL.
pub(super) enum Route {
    /// `--address HOST:PORT`: connect there; the certificate is still checked for the URL's host.
    Address(String),
    /// Through the API server to a ready Pod behind the Service the URL names.
    PortForward { service: String, namespace: String },
    /// The URL as it is.
    Direct,
}

impl Route {
    /// `--address` if given; else a port-forward when the URL names a Service
    /// (`<service>.<namespace>.svc[.cluster.local]`); else the URL itself.
    pub(super) fn for_url(url: &reqwest::Url, address: Option<&str>) -> Route {
        if let Some(address) = address {
            return Route::Address(address.to_owned());
        }
        let host = url.host_str().unwrap_or_default();
        let labels: Vec<&str> = host.split('.').collect();
        match labels.as_slice() {
            [service, namespace, "svc"] | [service, namespace, "svc", "cluster", "local"] => {
                Route::PortForward {
                    service: (*service).to_owned(),
                    namespace: (*namespace).to_owned(),
                }
            }
            _ => Route::Direct,
        }
    }
}

/// An HTTP client for one URL, trusting only RukPak's CA, with its route in place. A
/// port-forward lives as long as this value.
pub(super) struct Connection {
    pub(super) http: reqwest::Client,
    _forward: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(forward) = &self._forward {
            forward.abort();
        }
    }
}

/// Reads `ca.crt` of the serving-certificate Secret.
pub(super) async fn ca_pem(
    kube: &kube::Client,
    namespace: &str,
    secret: &str,
) -> Result<Vec<u8>, CtlError> {
    let api: Api<Secret> = Api::namespaced(kube.clone(), namespace);
    let found = api.get_opt(secret).await.map_err(|e| CtlError::Kube {
        action: format!("reading the RukPak CA from secret {namespace}/{secret}"),
        source: e,
    })?;
    found
        .and_then(|s| s.data)
        .and_then(|mut d| d.remove("ca.crt"))
        .map(|b| b.0)
        .ok_or_else(|| CtlError::NoCa {
            secret: format!("{namespace}/{secret}"),
        })
}

/// The kubeconfig's bearer token, or else a short-lived token of the `rukpakctl`
/// ServiceAccount in `namespace`, bound to the ClusterRole `purpose` needs.
pub(super) async fn bearer_token(
    kube: &kube::Client,
    config: &kube::Config,
    namespace: &str,
    purpose: Purpose,
) -> Result<String, CtlError> {
    if let Some(token) = &config.auth_info.token {
        return Ok(token.expose_secret().to_owned());
    }
    let kube_err = |action: String| move |source| CtlError::Kube { action, source };
    let accounts: Api<ServiceAccount> = Api::namespaced(kube.clone(), namespace);
    let apply = PatchParams::apply(FIELD_MANAGER).force();
    let account = ServiceAccount {
        metadata: ObjectMeta {
            name: Some(SERVICE_ACCOUNT.to_owned()),
            namespace: Some(namespace.to_owned()),
            ..ObjectMeta::default()
        },
        ..ServiceAccount::default()
    };
    accounts
        .patch(
            SERVICE_ACCOUNT,
            &apply,
            &Patch::Apply(with_kind(&account, "v1", "ServiceAccount")),
        )
        .await
        .map_err(kube_err(format!(
            "applying serviceaccount {namespace}/{SERVICE_ACCOUNT}"
        )))?;
    let role = purpose.cluster_role();
    let binding_name = format!("{SERVICE_ACCOUNT}-{namespace}-{role}");
    let binding = ClusterRoleBinding {
        metadata: ObjectMeta {
            name: Some(binding_name.clone()),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "ClusterRole".into(),
            name: role.into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: SERVICE_ACCOUNT.into(),
            namespace: Some(namespace.to_owned()),
            ..Subject::default()
        }]),
    };
    let bindings: Api<ClusterRoleBinding> = Api::all(kube.clone());
    bindings
        .patch(
            &binding_name,
            &apply,
            &Patch::Apply(with_kind(
                &binding,
                "rbac.authorization.k8s.io/v1",
                "ClusterRoleBinding",
            )),
        )
        .await
        .map_err(kube_err(format!(
            "applying clusterrolebinding {binding_name}"
        )))?;
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            expiration_seconds: Some(TOKEN_SECONDS),
            ..TokenRequestSpec::default()
        }),
        ..TokenRequest::default()
    };
    let issued = accounts
        .create_token_request(SERVICE_ACCOUNT, &PostParams::default(), &request)
        .await
        .map_err(kube_err(format!(
            "requesting a token for serviceaccount {namespace}/{SERVICE_ACCOUNT}"
        )))?;
    issued
        .status
        .and_then(|s| s.token)
        .ok_or_else(|| CtlError::NoToken(format!("{namespace}/{SERVICE_ACCOUNT}")))
}

fn with_kind(object: &impl serde::Serialize, api_version: &str, kind: &str) -> serde_json::Value {
    let mut value = serde_json::to_value(object).expect("API objects serialize");
    value["apiVersion"] = api_version.into();
    value["kind"] = kind.into();
    value
}

/// Opens a connection for `url` along `route`.
pub(super) async fn connect(
    kube: &kube::Client,
    url: &reqwest::Url,
    route: Route,
    ca_pem: &[u8],
) -> Result<Connection, CtlError> {
    let certificate = reqwest::Certificate::from_pem(ca_pem).map_err(CtlError::Http)?;
    let builder = reqwest::Client::builder().tls_certs_only([certificate]);
    let host = url.host_str().unwrap_or_default().to_owned();
    let (builder, forward) = match route {
        Route::Direct => (builder, None),
        Route::Address(address) => {
            let addr = tokio::net::lookup_host(&address)
                .await
                .ok()
                .and_then(|mut a| a.next())
                .ok_or(CtlError::BadAddress(address))?;
            (builder.resolve(&host, addr), None)
        }
        Route::PortForward { service, namespace } => {
            let target =
                forward_target(kube, &service, &namespace, url.port_or_known_default()).await?;
            let (addr, task) = forward(kube.clone(), &namespace, target).await?;
            (builder.resolve(&host, addr), Some(task))
        }
    };
    Ok(Connection {
        http: builder.build().map_err(CtlError::Http)?,
        _forward: forward,
    })
}

/// A ready Pod behind `service` and the container port its `port` leads to.
async fn forward_target(
    kube: &kube::Client,
    service: &str,
    namespace: &str,
    port: Option<u16>,
) -> Result<(String, u16), CtlError> {
    let kube_err = |action: String| move |source| CtlError::Kube { action, source };
    let svc: Service = Api::namespaced(kube.clone(), namespace)
        .get(service)
        .await
        .map_err(kube_err(format!("reading service {namespace}/{service}")))?;
    let port = port.unwrap_or(443);
    let port_name = svc
        .spec
        .and_then(|s| s.ports)
        .into_iter()
        .flatten()
        .find(|p| p.port == i32::from(port))
        .and_then(|p| p.name)
        .unwrap_or_default();
    let slices: Api<EndpointSlice> = Api::namespaced(kube.clone(), namespace);
    let list = slices
        .list(&ListParams::default().labels(&format!("kubernetes.io/service-name={service}")))
        .await
        .map_err(kube_err(format!(
            "listing endpoints of service {namespace}/{service}"
        )))?;
    for slice in list.items {
        let Some(target_port) = slice
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref().unwrap_or_default() == port_name)
            .and_then(|p| p.port)
        else {
            continue;
        };
        let ready_pod = slice.endpoints.iter().flatten().find_map(|e| {
            let ready = e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
            let pod = e
                .target_ref
                .as_ref()
                .filter(|r| r.kind.as_deref() == Some("Pod"))?;
            ready.then(|| pod.name.clone()).flatten()
        });
        if let (Some(pod), Ok(target_port)) = (ready_pod, u16::try_from(target_port)) {
            return Ok((pod, target_port));
        }
    }
    Err(CtlError::NoEndpoint(format!("{namespace}/{service}")))
}

/// Listens on a loopback port and forwards each connection to `pod:port` through the API
/// server, as `kubectl port-forward` does.
async fn forward(
    kube: kube::Client,
    namespace: &str,
    (pod, port): (String, u16),
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), CtlError> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(CtlError::Forward)?;
    let addr = listener.local_addr().map_err(CtlError::Forward)?;
    let pods: Api<Pod> = Api::namespaced(kube, namespace);
    let task = tokio::spawn(async move {
        while let Ok((mut local, _)) = listener.accept().await {
            let pods = pods.clone();
            let pod = pod.clone();
            tokio::spawn(async move {
                match pods.portforward(&pod, &[port]).await {
                    Ok(mut forwarder) => {
                        if let Some(mut remote) = forwarder.take_stream(port) {
                            let _ = tokio::io::copy_bidirectional(&mut local, &mut remote).await;
                        }
                    }
                    Err(e) => tracing::warn!("port-forward to pod {pod}: {e}"),
                }
            });
        }
    });
    Ok((addr, task))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(url: &str, address: Option<&str>) -> String {
        match Route::for_url(&url.parse().unwrap(), address) {
            Route::Address(a) => format!("address {a}"),
            Route::PortForward { service, namespace } => format!("forward {namespace}/{service}"),
            Route::Direct => "direct".into(),
        }
    }

    #[test]
    fn service_urls_are_port_forwarded_unless_an_address_is_given() {
        assert_eq!(
            route("https://core.rukpak-system.svc/bundles/a.tgz", None),
            "forward rukpak-system/core"
        );
        assert_eq!(
            route(
                "https://core.rukpak-system.svc.cluster.local/bundles/a.tgz",
                None
            ),
            "forward rukpak-system/core"
        );
        assert_eq!(
            route("https://127.0.0.1:8443/bundles/a.tgz", None),
            "direct"
        );
        assert_eq!(
            route("https://rukpak.example.com/bundles/a.tgz", None),
            "direct"
        );
        assert_eq!(
            route(
                "https://core.rukpak-system.svc/bundles/a.tgz",
                Some("127.0.0.1:8443")
            ),
            "address 127.0.0.1:8443"
        );
    }
}
