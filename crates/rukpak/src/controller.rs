//! The `Bundle` controller for the three built-in provisioner classes: watch, decide with
//! [`crate::plan`], unpack with `bundle_sources`, check the format with `bundle_format`,
//! store, write status. Bundles of other classes are left alone (their status stays
//! empty, as upstream).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::Api;
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::events::{EventType, Recorder};
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use olm_api::bundle::{
    self as api, Bundle, BundleSource, BundleStatus, FINALIZER_DELETE_CACHED_BUNDLE,
};

use bundle_sources::{LookupError, SecretData, Sources, SystemObjects, Unpack};

use crate::metrics::Metrics;
use crate::plan::{self, Decision};
use crate::store::{Store, StoreError, StoredBundle};
use crate::upload::Uploads;

/// Field manager of the controller's status patches, and its name in Events.
pub const FIELD_MANAGER: &str = "rukpak";

/// How many Bundles are unpacked at once.
const CONCURRENCY: u16 = 4;

/// Why a reconcile failed (it is retried with back-off).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("finalizer: {0}")]
    Finalizer(Box<kube::runtime::finalizer::Error<Error>>),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("uploads: {0}")]
    Upload(#[from] crate::upload::UploadError),
    #[error("{0}")]
    Unpack(String),
}

/// Everything a reconcile needs; built with [`Context::new`] and its setters.
pub struct Context {
    client: Client,
    store: Store,
    uploads: Uploads,
    sources: Sources,
    /// The system namespace: where Secrets and ConfigMaps of sources live.
    namespace: String,
    /// Base of `status.contentURL`, e.g. `https://core.rukpak-system.svc`.
    external_address: String,
    /// Only Bundles with these labels are handled (`--bundle-selector`).
    selector: Option<String>,
    recorder: Recorder,
    metrics: Metrics,
    backoff: controller_runtime::Backoff,
}

impl Context {
    pub fn new(
        client: Client,
        store: Store,
        uploads: Uploads,
        sources: Sources,
        namespace: &str,
    ) -> Self {
        Self {
            recorder: controller_runtime::recorder(client.clone(), FIELD_MANAGER, None),
            client,
            store,
            uploads,
            sources,
            namespace: namespace.to_owned(),
            external_address: crate::args::default_external_address(namespace),
            selector: None,
            metrics: Metrics::default(),
            backoff: controller_runtime::Backoff::default(),
        }
    }

    /// Base URL of the content server (`--http-external-address`).
    pub fn external_address(mut self, address: &str) -> Self {
        self.external_address = address.trim_end_matches('/').to_owned();
        self
    }

    /// Only Bundles matching this label selector (`--bundle-selector`).
    pub fn selector(mut self, selector: Option<String>) -> Self {
        self.selector = selector;
        self
    }

    /// Names this replica in Events (`reportingInstance`).
    pub fn instance(mut self, instance: &str) -> Self {
        self.recorder = controller_runtime::recorder(
            self.client.clone(),
            FIELD_MANAGER,
            Some(instance.to_owned()),
        );
        self
    }

    /// Where unpacks are counted.
    pub fn metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
}

/// Secrets and ConfigMaps of the system namespace, read from the API server.
struct ClusterObjects {
    client: Client,
    namespace: String,
}

impl SystemObjects for ClusterObjects {
    async fn secret(&self, name: &str) -> Result<Option<SecretData>, LookupError> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &self.namespace);
        let secret = api.get_opt(name).await.map_err(|e| LookupError {
            message: format!("get secret {}/{name}: {e}", self.namespace),
        })?;
        Ok(secret.map(|s| {
            s.data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.0))
                .collect()
        }))
    }

    async fn config_map(&self, name: &str) -> Result<Option<ConfigMap>, LookupError> {
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), &self.namespace);
        api.get_opt(name).await.map_err(|e| LookupError {
            message: format!("get configmap {}/{name}: {e}", self.namespace),
        })
    }
}

/// Runs the controller until `shutdown` resolves.
pub async fn run_controller(
    ctx: Arc<Context>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let bundles: Api<Bundle> = Api::all(ctx.client.clone());
    let config_maps: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let mut config = watcher::Config::default();
    if let Some(selector) = &ctx.selector {
        config = config.labels(selector);
    }
    let controller = Controller::new(bundles, config)
        .with_config(ControllerConfig::default().concurrency(CONCURRENCY));
    let reader = controller.store();
    controller
        // A ConfigMap that appears late lets a waiting configMaps Bundle unpack.
        .watches(
            config_maps,
            watcher::Config::default(),
            move |cm: ConfigMap| {
                let name = cm.name_any();
                reader
                    .state()
                    .into_iter()
                    .filter(|b| {
                        b.spec
                            .source
                            .config_maps
                            .iter()
                            .flatten()
                            .any(|c| c.config_map.name == name)
                    })
                    .map(|b| ObjectRef::from_obj(&*b))
                    .collect::<Vec<_>>()
            },
        )
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!("reconcile: {e}");
            }
        })
        .await;
}

fn error_policy(bundle: Arc<Bundle>, error: &Error, ctx: Arc<Context>) -> Action {
    tracing::warn!("bundle {}: {error}", bundle.name_any());
    Action::requeue(ctx.backoff.failed(&bundle.name_any()))
}

async fn reconcile(bundle: Arc<Bundle>, ctx: Arc<Context>) -> Result<Action, Error> {
    if !plan::handles_class(&bundle.spec.provisioner_class_name) {
        return Ok(Action::await_change());
    }
    let api: Api<Bundle> = Api::all(ctx.client.clone());
    finalizer(
        &api,
        FINALIZER_DELETE_CACHED_BUNDLE,
        bundle,
        |event| async {
            match event {
                FinalizerEvent::Apply(b) => apply(&b, &ctx).await,
                FinalizerEvent::Cleanup(b) => cleanup(&b, &ctx),
            }
        },
    )
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)))
}

fn cleanup(bundle: &Bundle, ctx: &Context) -> Result<Action, Error> {
    let name = bundle.name_any();
    ctx.store.delete(&name)?;
    ctx.uploads.delete(&name)?;
    ctx.backoff.reset(&name);
    Ok(Action::await_change())
}

async fn apply(bundle: &Bundle, ctx: &Context) -> Result<Action, Error> {
    let name = bundle.name_any();
    let stored = ctx.store.current(&name)?;
    let source = match plan::decide(bundle, stored.as_ref()) {
        Decision::UpToDate => {
            let stored = stored.expect("UpToDate means stored");
            write_unpacked(ctx, bundle, &stored).await?;
            return Ok(Action::await_change());
        }
        Decision::Unpack { source, why } => {
            tracing::info!("bundle {name}: unpacking ({why:?})");
            source
        }
    };
    let started = Instant::now();
    let outcome = unpack(ctx, bundle, &source).await;
    ctx.metrics
        .record_unpack(source.type_, outcome_label(&outcome), started.elapsed());
    match outcome {
        Ok(Some(stored)) => {
            ctx.backoff.reset(&name);
            write_unpacked(ctx, bundle, &stored).await?;
            Ok(Action::await_change())
        }
        Ok(None) => Ok(Action::await_change()),
        Err(message) => {
            let status = plan::failing_status(bundle, &message, jiff::Timestamp::now());
            let changed = bundle.status.as_ref() != Some(&status);
            write_status(ctx, bundle, status).await?;
            if changed {
                publish(
                    ctx,
                    bundle,
                    EventType::Warning,
                    api::REASON_UNPACK_FAILED,
                    message,
                )
                .await;
            }
            Ok(Action::requeue(ctx.backoff.failed(&name)))
        }
    }
}

fn outcome_label(outcome: &Result<Option<StoredBundle>, String>) -> &'static str {
    match outcome {
        Ok(Some(_)) => "unpacked",
        Ok(None) => "pending",
        Err(_) => "failed",
    }
}

/// Unpacks `source` for `bundle`, checks its format and stores it. `Ok(None)`: pending
/// (status already written); `Err`: the message for the `Unpacked` condition.
async fn unpack(
    ctx: &Context,
    bundle: &Bundle,
    source: &BundleSource,
) -> Result<Option<StoredBundle>, String> {
    let name = bundle.name_any();
    let scratch = tempfile::Builder::new()
        .prefix(&format!("unpack-{name}-"))
        .tempdir_in(ctx.store.scratch())
        .map_err(|e| format!("persist bundle content: creating scratch directory: {e}"))?;
    let content = scratch.path().to_owned();
    let objects = ClusterObjects {
        client: ctx.client.clone(),
        namespace: ctx.namespace.clone(),
    };
    let resolved = match ctx.sources.unpack(&name, source, &objects, &content).await {
        Ok(Unpack::Unpacked { resolved }) => resolved,
        Ok(Unpack::Pending { message }) => {
            let status = plan::pending_status(bundle, &message, jiff::Timestamp::now());
            write_status(ctx, bundle, status)
                .await
                .map_err(|e| e.to_string())?;
            return Ok(None);
        }
        Err(e) => return Err(format!("source bundle content: {e}")),
    };
    let class = bundle.spec.provisioner_class_name.clone();
    let store = ctx.store.clone();
    let uid = bundle.metadata.uid.clone().unwrap_or_default();
    tokio::task::spawn_blocking(move || {
        check_and_store(&store, &name, &uid, &class, &resolved, &content)
    })
    .await
    .map_err(|e| format!("unpack task: {e}"))?
    .map(Some)
}

fn check_and_store(
    store: &Store,
    name: &str,
    uid: &str,
    class: &str,
    resolved: &BundleSource,
    content: &Path,
) -> Result<StoredBundle, String> {
    let format = bundle_format::Format::for_provisioner(class)
        .ok_or_else(|| format!("provisioner class {class:?} has no bundle format"))?;
    bundle_format::check(format, content).map_err(|e| e.to_string())?;
    if format == bundle_format::Format::RegistryV1 {
        converts_in_some_install_mode(content)?;
    }
    store
        .write(name, uid, resolved, content)
        .map_err(|e| format!("persist bundle content: {e}"))
}

/// A registry+v1 bundle is converted when a BundleDeployment installs it, with that
/// deployment's install mode. One that converts in no install mode at all can never be
/// installed, so it fails here already, with the conversion's error.
fn converts_in_some_install_mode(content: &Path) -> Result<(), String> {
    use registry_convert::{ConvertError, ConvertOptions, convert};
    // The default (AllNamespaces, else OwnNamespace), then SingleNamespace, then
    // MultiNamespace; namespace names only need to differ from the install namespace.
    let modes: [&[&str]; 3] = [&[], &["olmrs-single"], &["olmrs-a", "olmrs-b"]];
    let mut refusal = String::new();
    for watch in modes {
        let options = ConvertOptions {
            watch_namespaces: watch.iter().map(|s| (*s).to_owned()).collect(),
            ..ConvertOptions::default()
        };
        match convert(content, &options) {
            Ok(_) => return Ok(()),
            // Report the default mode's refusal: it is the one a BundleDeployment without
            // `watchNamespaces` gets.
            Err(e @ ConvertError::InstallModes { .. }) => {
                if refusal.is_empty() {
                    refusal = e.to_string();
                }
            }
            Err(e) => return Err(format!("convert registry+v1 bundle: {e}")),
        }
    }
    Err(format!("convert registry+v1 bundle: {refusal}"))
}

async fn write_unpacked(
    ctx: &Context,
    bundle: &Bundle,
    stored: &StoredBundle,
) -> Result<(), Error> {
    let url = plan::content_url(&ctx.external_address, &bundle.name_any());
    let status = plan::unpacked_status(bundle, stored, url, jiff::Timestamp::now());
    let newly = bundle
        .status
        .as_ref()
        .is_none_or(|s| s.phase.as_deref() != Some(api::PHASE_UNPACKED));
    write_status(ctx, bundle, status).await?;
    if newly {
        let message = format!(
            "unpacked {} into {} bytes",
            describe(&stored.resolved_source),
            stored.size
        );
        publish(
            ctx,
            bundle,
            EventType::Normal,
            api::REASON_UNPACK_SUCCESSFUL,
            message,
        )
        .await;
    }
    Ok(())
}

/// The pinned source in a few words, for Events.
fn describe(source: &BundleSource) -> String {
    if let Some(image) = &source.image {
        return image.ref_.clone();
    }
    if let Some(git) = &source.git {
        let at = git.ref_.commit.as_deref().unwrap_or("?");
        return format!("{}@{at}", git.repository);
    }
    if let Some(http) = &source.http {
        return http.url.clone();
    }
    format!("the {} source", source.type_)
}

async fn write_status(ctx: &Context, bundle: &Bundle, status: BundleStatus) -> Result<(), Error> {
    let current = bundle.status.as_ref();
    controller_runtime::apply_status(&ctx.client, FIELD_MANAGER, bundle, current, &status).await?;
    Ok(())
}

async fn publish(ctx: &Context, bundle: &Bundle, type_: EventType, reason: &str, note: String) {
    controller_runtime::publish_event(&ctx.recorder, bundle, type_, reason, "Unpack", Some(note))
        .await;
}

/// Removes stored content and uploads of Bundles that no longer exist (deleted while this
/// process was down). Returns how many names were cleaned.
pub async fn collect_garbage(ctx: &Context) -> Result<usize, Error> {
    let api: Api<Bundle> = Api::all(ctx.client.clone());
    let mut params = kube::api::ListParams::default();
    if let Some(selector) = &ctx.selector {
        params = params.labels(selector);
    }
    let live: Vec<Bundle> = api.list(&params).await?.items;
    let uploading: std::collections::HashSet<String> = live
        .iter()
        .filter(|b| b.spec.source.type_ == api::SourceType::Upload)
        .map(ResourceExt::name_any)
        .collect();
    let live: std::collections::HashSet<String> = live.iter().map(ResourceExt::name_any).collect();
    let mut removed = 0;
    for name in ctx.store.names()? {
        if !live.contains(&name) {
            ctx.store.delete(&name)?;
            removed += 1;
        }
    }
    removed += ctx.uploads.sweep(|name| uploading.contains(name))?;
    Ok(removed)
}
