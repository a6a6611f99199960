//! The `Catalog` controller: watch, decide with [`crate::plan`], unpack with
//! [`crate::unpack`], write status. Status is always rebuilt from the store.
//!
//! Every replica runs it. The leader does the full reconcile (finalizer, polling, status);
//! the others only mirror the digest the leader recorded in status into their own store, so
//! any replica can serve the same bytes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event as KubeEvent, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use oci::{Credentials, ImageStore, RegistryOptions};
use olm_api::catalog::{
    self as api, Catalog, CatalogSourceType, CatalogStatus, ResolvedCatalogSource,
    ResolvedImageSource,
};
use olm_api::conditions::{new_condition, set_condition};
use tokio::sync::watch;

use crate::plan::{self, Decision};
use crate::store::{Store, StoredCatalog};
use crate::unpack::{self, UnpackFailure, reason};

pub const FIELD_MANAGER: &str = "catalogd";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("finalizer: {0}")]
    Finalizer(Box<kube::runtime::finalizer::Error<Error>>),
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Plan(#[from] plan::PlanError),
    #[error("unpack failed ({}): {}", .0.reason, .0.message)]
    Unpack(UnpackFailure),
}

pub struct Context {
    pub client: Client,
    pub store: Store,
    /// Holds the blob cache; each reconcile derives a store with its own credentials.
    pub images: ImageStore,
    pub unpack_root: PathBuf,
    /// catalogd's namespace, where pull secrets live.
    pub namespace: String,
    /// Base of `status.contentURL`, e.g. `http://catalogd-catalogserver.catalogd-system.svc`.
    pub external_address: String,
    pub leader: watch::Receiver<bool>,
    pub recorder: Recorder,
    /// Only Catalogs with these labels are handled (`--catalog-selector`); lets several
    /// catalogd instances, or parallel tests, share a cluster.
    pub selector: Option<String>,
    failures: Mutex<HashMap<String, u32>>,
}

impl Context {
    pub fn new(
        client: Client,
        store: Store,
        images: ImageStore,
        unpack_root: PathBuf,
        namespace: String,
        external_address: String,
        leader: watch::Receiver<bool>,
    ) -> Self {
        let reporter = Reporter {
            controller: "catalogd".into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            store,
            images,
            unpack_root,
            namespace,
            external_address: external_address.trim_end_matches('/').to_owned(),
            leader,
            selector: None,
            failures: Mutex::default(),
        }
    }

    pub fn with_selector(mut self, selector: Option<String>) -> Self {
        self.selector = selector;
        self
    }

    /// Names this replica in the Events it records (`reportingInstance`); defaults to
    /// `$POD_NAME`. Use the leader-election identity so Events say which replica acted.
    pub fn with_instance(mut self, instance: impl Into<String>) -> Self {
        let reporter = Reporter {
            controller: "catalogd".into(),
            instance: Some(instance.into()),
        };
        self.recorder = Recorder::new(self.client.clone(), reporter);
        self
    }

    pub fn content_url(&self, name: &str) -> String {
        format!("{}/catalogs/{name}/all.json", self.external_address)
    }

    fn is_leader(&self) -> bool {
        *self.leader.borrow()
    }

    /// Retry delay after consecutive failures: 5 s doubling to 5 min.
    fn backoff(&self, name: &str) -> Duration {
        let mut f = self.failures.lock().expect("failures lock");
        let n = f.entry(name.to_owned()).or_default();
        *n = n.saturating_add(1);
        Duration::from_secs(5u64.saturating_mul(1 << (*n - 1).min(6)).min(300))
    }

    fn reset_backoff(&self, name: &str) {
        self.failures.lock().expect("failures lock").remove(name);
    }

    /// An image store with the Catalog's own registry options: its pull secret (read now,
    /// so a changed Secret takes effect) and TLS setting. Never shared across catalogs.
    /// A missing pull secret is not fatal by itself (the image may be public); it is
    /// returned as a note for the error message should the registry refuse us.
    async fn images_for(
        &self,
        catalog: &Catalog,
    ) -> Result<(ImageStore, Option<String>), UnpackFailure> {
        let image = catalog.spec.source.image.as_ref();
        let mut options = RegistryOptions {
            skip_tls_verify: image.is_some_and(|i| i.insecure_skip_tls_verify),
            ..self.images.options().clone()
        };
        let mut note = None;
        if let Some(secret) = image.and_then(|i| i.pull_secret.as_deref()) {
            match self.credentials(secret).await? {
                Some(c) => options.credentials = c,
                None => {
                    note = Some(format!(
                        "pull secret {secret:?} was not found in namespace {:?} (catalogd's namespace); create it there",
                        self.namespace
                    ));
                }
            }
        }
        let store = self
            .images
            .with_options(options)
            .map_err(|e| UnpackFailure::new(reason::UNPACK_FAILED, e.to_string()))?;
        Ok((store, note))
    }

    async fn credentials(&self, secret: &str) -> Result<Option<Credentials>, UnpackFailure> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &self.namespace);
        let found = api.get_opt(secret).await.map_err(|e| {
            UnpackFailure::new(
                reason::PULL_SECRET_NOT_FOUND,
                format!("reading pull secret {}/{secret}: {e}", self.namespace),
            )
        })?;
        let Some(found) = found else {
            return Ok(None);
        };
        let data = found
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0))
            .collect();
        Credentials::from_pull_secret(&data).map(Some).map_err(|e| {
            UnpackFailure::new(
                reason::UNAUTHORIZED,
                format!("pull secret {}/{secret} is unusable: {e}", self.namespace),
            )
        })
    }

    /// Pulls with the Catalog's registry options; a refusal mentions a missing pull secret.
    async fn unpack(
        &self,
        catalog: &Catalog,
        reference: &str,
    ) -> Result<unpack::Outcome, UnpackFailure> {
        let (images, note) = self.images_for(catalog).await?;
        let name = catalog.name_any();
        unpack::unpack(&images, &self.store, &self.unpack_root, &name, reference)
            .await
            .map_err(|mut f| {
                if let (Some(note), reason::UNAUTHORIZED) = (&note, f.reason) {
                    f.message = format!("{}; {note}", f.message);
                }
                f
            })
    }
}

/// Runs the controller until `shutdown` resolves.
pub async fn run(
    ctx: Arc<Context>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let catalogs: Api<Catalog> = Api::all(ctx.client.clone());
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let mut config = watcher::Config::default();
    if let Some(selector) = &ctx.selector {
        config = config.labels(selector);
    }
    let controller = Controller::new(catalogs, config);
    let reader = controller.store();
    // Leadership changes re-reconcile everything: a new leader takes over polling.
    let mut leader = ctx.leader.clone();
    let leader_changes = async_stream_of_changes(&mut leader);
    controller
        .watches(
            secrets,
            watcher::Config::default(),
            move |secret: Secret| {
                let name = secret.name_any();
                reader
                    .state()
                    .into_iter()
                    .filter(|c| {
                        c.spec
                            .source
                            .image
                            .as_ref()
                            .and_then(|i| i.pull_secret.as_deref())
                            == Some(name.as_str())
                    })
                    .map(|c| ObjectRef::from_obj(&*c))
                    .collect::<Vec<_>>()
            },
        )
        .reconcile_all_on(leader_changes)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!("reconcile: {e}");
            }
        })
        .await;
}

fn async_stream_of_changes(
    rx: &mut watch::Receiver<bool>,
) -> impl futures::Stream<Item = ()> + Send + 'static {
    let rx = rx.clone();
    futures::stream::unfold(rx, |mut rx| async move {
        rx.changed().await.ok()?;
        Some(((), rx))
    })
}

fn error_policy(catalog: Arc<Catalog>, error: &Error, ctx: Arc<Context>) -> Action {
    tracing::warn!("catalog {}: {error}", catalog.name_any());
    Action::requeue(ctx.backoff(&catalog.name_any()))
}

async fn reconcile(catalog: Arc<Catalog>, ctx: Arc<Context>) -> Result<Action, Error> {
    if !ctx.is_leader() {
        return mirror(&catalog, &ctx).await;
    }
    let api: Api<Catalog> = Api::all(ctx.client.clone());
    finalizer(
        &api,
        api::FINALIZER_DELETE_SERVER_CACHE,
        catalog,
        |event| async {
            match event {
                FinalizerEvent::Apply(c) => apply(&c, &ctx).await,
                FinalizerEvent::Cleanup(c) => cleanup(&c, &ctx).await,
            }
        },
    )
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)))
}

async fn cleanup(catalog: &Catalog, ctx: &Context) -> Result<Action, Error> {
    let name = catalog.name_any();
    ctx.store.delete(&name)?;
    let _ = std::fs::remove_dir_all(ctx.unpack_root.join(&name));
    ctx.reset_backoff(&name);
    publish(
        ctx,
        catalog,
        EventType::Normal,
        "ContentDeleted",
        "Delete",
        None,
    )
    .await;
    Ok(Action::await_change())
}

async fn apply(catalog: &Catalog, ctx: &Context) -> Result<Action, Error> {
    let name = catalog.name_any();
    let stored = ctx.store.current(&name)?;
    let decision = plan::decide(catalog, stored.as_ref(), SystemTime::now())?;
    let Decision::Check(why) = decision else {
        // Up to date: still make status match the store (e.g. a new external address).
        if let Some(stored) = &stored {
            let last_poll = last_poll_attempt(catalog).unwrap_or_else(now);
            let status = success_status(catalog, stored, last_poll, ctx);
            write_status(ctx, catalog, status).await?;
        }
        return Ok(match decision {
            Decision::Wait(Some(d)) => Action::requeue(plan::jitter(d, &name)),
            _ => Action::await_change(),
        });
    };
    tracing::info!("catalog {name}: checking source ({why:?})");
    let spec_ref = catalog
        .spec
        .source
        .image
        .as_ref()
        .map(|i| i.ref_.clone())
        .unwrap_or_default();
    let result = ctx.unpack(catalog, &spec_ref).await;
    match result {
        Ok(outcome) => {
            crate::metrics::record(api::REASON_UNPACK_SUCCESSFUL);
            ctx.reset_backoff(&name);
            let status = success_status(catalog, &outcome.stored, now(), ctx);
            let newly = outcome.downloaded
                || catalog
                    .status
                    .as_ref()
                    .is_none_or(|s| s.phase.as_deref() != Some(api::PHASE_UNPACKED));
            write_status(ctx, catalog, status).await?;
            if newly {
                let note = format!(
                    "serving {}",
                    outcome
                        .stored
                        .source
                        .as_ref()
                        .map_or(outcome.stored.digest.as_str(), |s| s.resolved_ref.as_str())
                );
                publish(
                    ctx,
                    catalog,
                    EventType::Normal,
                    api::REASON_UNPACK_SUCCESSFUL,
                    "Unpack",
                    Some(note),
                )
                .await;
            }
            let poll = catalog
                .spec
                .source
                .image
                .as_ref()
                .and_then(|i| i.effective_poll_interval().ok().flatten());
            Ok(poll.map_or_else(Action::await_change, |d| {
                Action::requeue(plan::jitter(d, &name))
            }))
        }
        Err(failure) => {
            crate::metrics::record(failure.reason);
            let status = failure_status(catalog, stored.as_ref(), &failure, ctx);
            let changed = catalog.status.as_ref() != Some(&status);
            write_status(ctx, catalog, status).await?;
            if changed {
                publish(
                    ctx,
                    catalog,
                    EventType::Warning,
                    failure.reason,
                    "Unpack",
                    Some(failure.message.clone()),
                )
                .await;
            }
            if failure.permanent {
                Ok(Action::await_change())
            } else {
                Ok(Action::requeue(ctx.backoff(&name)))
            }
        }
    }
}

/// Non-leaders: serve what the leader recorded, fetched by digest into this replica's store.
async fn mirror(catalog: &Catalog, ctx: &Context) -> Result<Action, Error> {
    let name = catalog.name_any();
    if catalog.metadata.deletion_timestamp.is_some() {
        ctx.store.delete(&name)?;
        return Ok(Action::await_change());
    }
    let Some(resolved) = catalog
        .status
        .as_ref()
        .and_then(|s| s.resolved_source.as_ref())
        .and_then(|r| r.image.as_ref())
    else {
        return Ok(Action::await_change());
    };
    let digest = resolved.resolved_ref.rsplit_once('@').map(|(_, d)| d);
    if ctx
        .store
        .current(&name)?
        .is_some_and(|s| Some(s.digest.as_str()) == digest)
    {
        return Ok(Action::await_change());
    }
    ctx.unpack(catalog, &resolved.resolved_ref)
        .await
        .map_err(Error::Unpack)?;
    Ok(Action::await_change())
}

fn now() -> Time {
    Time(jiff::Timestamp::now())
}

fn last_poll_attempt(catalog: &Catalog) -> Option<Time> {
    catalog
        .status
        .as_ref()?
        .resolved_source
        .as_ref()?
        .image
        .as_ref()
        .map(|i| i.last_poll_attempt.clone())
}

fn time_of(t: SystemTime) -> Option<Time> {
    jiff::Timestamp::try_from(t).ok().map(Time)
}

fn resolved_source(stored: &StoredCatalog, last_poll: Time) -> Option<ResolvedCatalogSource> {
    let source = stored.source.as_ref()?;
    Some(ResolvedCatalogSource {
        type_: CatalogSourceType::Image,
        image: Some(ResolvedImageSource {
            ref_: source.reference.clone(),
            resolved_ref: source.resolved_ref.clone(),
            last_poll_attempt: last_poll,
            pull_secret: None,
        }),
    })
}

fn success_status(
    catalog: &Catalog,
    stored: &StoredCatalog,
    last_poll: Time,
    ctx: &Context,
) -> CatalogStatus {
    let generation = catalog.metadata.generation;
    let mut conditions = catalog
        .status
        .as_ref()
        .map(|s| s.conditions.clone())
        .unwrap_or_default();
    let resolved = stored
        .source
        .as_ref()
        .map_or(stored.digest.as_str(), |s| s.resolved_ref.as_str());
    set_condition(
        &mut conditions,
        new_condition(
            api::TYPE_UNPACKED,
            "True",
            api::REASON_UNPACK_SUCCESSFUL,
            format!("successfully unpacked the catalog image {resolved:?}"),
            generation,
            jiff::Timestamp::now(),
        ),
    );
    CatalogStatus {
        conditions,
        phase: Some(api::PHASE_UNPACKED.into()),
        resolved_source: resolved_source(stored, last_poll),
        content_url: Some(ctx.content_url(&stored.name)),
        observed_generation: generation,
        last_unpacked: time_of(stored.stored_at),
    }
}

fn failure_status(
    catalog: &Catalog,
    stored: Option<&StoredCatalog>,
    failure: &UnpackFailure,
    ctx: &Context,
) -> CatalogStatus {
    let previous = catalog.status.clone().unwrap_or_default();
    let mut conditions = previous.conditions.clone();
    set_condition(
        &mut conditions,
        new_condition(
            api::TYPE_UNPACKED,
            "False",
            failure.reason,
            failure.message.clone(),
            catalog.metadata.generation,
            jiff::Timestamp::now(),
        ),
    );
    // What is still served is described as it is; nothing is claimed that the store lacks.
    let last_poll = last_poll_attempt(catalog).unwrap_or_else(now);
    CatalogStatus {
        conditions,
        phase: Some(api::PHASE_FAILING.into()),
        resolved_source: stored.and_then(|s| resolved_source(s, last_poll)),
        content_url: stored.map(|s| ctx.content_url(&s.name)),
        observed_generation: previous.observed_generation,
        last_unpacked: stored.and_then(|s| time_of(s.stored_at)),
    }
}

async fn write_status(
    ctx: &Context,
    catalog: &Catalog,
    status: CatalogStatus,
) -> Result<(), Error> {
    if catalog.status.as_ref() == Some(&status) {
        return Ok(());
    }
    let api: Api<Catalog> = Api::all(ctx.client.clone());
    let patch = serde_json::json!({
        "apiVersion": "catalogd.operatorframework.io/v1alpha1",
        "kind": "Catalog",
        "status": status,
    });
    api.patch_status(
        &catalog.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

async fn publish(
    ctx: &Context,
    catalog: &Catalog,
    type_: EventType,
    reason: &str,
    action: &str,
    note: Option<String>,
) {
    let event = KubeEvent {
        type_,
        reason: reason.into(),
        note: note.map(|n| n.chars().take(1000).collect()),
        action: action.into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &catalog.object_ref(&())).await {
        tracing::warn!("recording event for catalog {}: {e}", catalog.name_any());
    }
}

/// Removes stored and unpacked content of catalogs that no longer exist (e.g. deleted while
/// this replica was down, or on a non-leader replica).
pub async fn collect_garbage(ctx: &Context) -> Result<usize, Error> {
    let api: Api<Catalog> = Api::all(ctx.client.clone());
    let mut params = kube::api::ListParams::default();
    if let Some(selector) = &ctx.selector {
        params = params.labels(selector);
    }
    let live: std::collections::HashSet<String> = api
        .list_metadata(&params)
        .await?
        .into_iter()
        .map(|c| c.name_any())
        .collect();
    let mut removed = 0;
    for name in ctx.store.names()? {
        if !live.contains(&name) {
            ctx.store.delete(&name)?;
            let _ = std::fs::remove_dir_all(ctx.unpack_root.join(&name));
            removed += 1;
        }
    }
    Ok(removed)
}
