//! The `Catalog` controller: watch, decide with [`crate::plan`], unpack with
//! [`crate::unpack`], write status. Status is always rebuilt from the store.
//!
//! Every replica runs it. The leader does the full reconcile (finalizer, polling, status);
//! the others only mirror the digest the leader recorded in status into their own store, so
//! any replica can serve the same bytes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{EventType, Recorder};
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use oci::{Credentials, ImageError, ImageStore, RegistryOptions};
use olm_api::catalog::{self as api, Catalog, CatalogStatus};
use tokio::sync::watch;

use crate::leftovers;
use crate::metrics::Metrics;
use crate::plan::{self, Decision, Remembered, failure_status, last_poll_attempt, success_status};
use crate::store::{Store, StoreError};
use crate::unpack::{self, UnpackFailure, reason};

/// Field manager of catalogd's status patches, and its name in Events.
pub const FIELD_MANAGER: &str = "catalogd";

/// Why a reconcile failed (it is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("finalizer: {0}")]
    Finalizer(Box<kube::runtime::finalizer::Error<Error>>),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Plan(#[from] plan::PlanError),
    #[error("unpack failed ({}): {}", .0.reason, .0.message)]
    Unpack(UnpackFailure),
}

/// The storage a catalogd replica works in, laid out under one directory (`--storage-dir`):
/// `catalogs/` what is served, `blobs/` the image blob cache, `unpack/` scratch space.
#[derive(Clone)]
pub struct Storage {
    pub store: Store,
    /// Holds the blob cache; each reconcile derives a store with its own credentials.
    pub images: ImageStore,
    pub unpack_root: PathBuf,
}

/// The storage directory could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Images(#[from] ImageError),
}

impl Storage {
    /// Opens (creating) the layout under `dir`; registries are reached with `registry`.
    /// Leftovers of unpacks a previous process did not finish are removed first, so `dir`
    /// must not be in use by another catalogd.
    pub fn open(dir: &Path, registry: RegistryOptions) -> Result<Self, StorageError> {
        let storage = Self {
            store: Store::open(dir.join("catalogs"))?,
            images: ImageStore::new(dir.join("blobs"), registry)?,
            unpack_root: dir.join("unpack"),
        };
        let removed = leftovers::sweep(
            &storage.unpack_root,
            &storage.images.cache().temp_dir(),
            &storage.store,
        );
        if removed.entries > 0 {
            tracing::info!(
                entries = removed.entries,
                bytes = removed.bytes,
                "removed {} leftovers of interrupted unpacks ({} bytes)",
                removed.entries,
                removed.bytes
            );
        }
        Ok(storage)
    }
}

/// Everything a reconcile needs; built with [`Context::builder`].
pub struct Context {
    client: Client,
    storage: Storage,
    /// catalogd's namespace, where pull secrets live.
    namespace: String,
    /// Base of `status.contentURL`, e.g. `http://catalogd-catalogserver.catalogd-system.svc`.
    external_address: String,
    leader: watch::Receiver<bool>,
    recorder: Recorder,
    /// Only Catalogs with these labels are handled (`--catalog-selector`); lets several
    /// catalogd instances, or parallel tests, share a cluster.
    selector: Option<String>,
    metrics: Metrics,
    /// Tar entries one catalog image may hold (`--max-catalog-entries`).
    max_entries: u64,
    backoff: controller_runtime::Backoff,
}

/// Builds a [`Context`]; `main` and every test harness go through it.
#[must_use]
pub struct ContextBuilder {
    client: Client,
    storage: Storage,
    namespace: String,
    external_address: String,
    leader: watch::Receiver<bool>,
    selector: Option<String>,
    instance: Option<String>,
    metrics: Metrics,
    max_entries: u64,
}

impl ContextBuilder {
    /// catalogd's namespace (`--namespace`), where pull secrets are read.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Base URL of the content server (`--http-external-address`).
    pub fn external_address(mut self, address: &str) -> Self {
        self.external_address = address.trim_end_matches('/').to_owned();
        self
    }

    /// Whether this replica leads, as it changes; by default it always does.
    pub fn leader(mut self, leader: watch::Receiver<bool>) -> Self {
        self.leader = leader;
        self
    }

    /// Only Catalogs matching this label selector (`--catalog-selector`).
    pub fn selector(mut self, selector: Option<String>) -> Self {
        self.selector = selector;
        self
    }

    /// Names this replica in the Events it records (`reportingInstance`); defaults to
    /// `$POD_NAME`. Use the leader-election identity so Events say which replica acted.
    pub fn instance(mut self, instance: impl Into<String>) -> Self {
        self.instance = Some(instance.into());
        self
    }

    /// Where source checks are counted; by default into metrics nobody serves.
    pub fn metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Tar entries one catalog image may hold, all layers together (`--max-catalog-entries`).
    pub fn max_catalog_entries(mut self, max: u64) -> Self {
        self.max_entries = max;
        self
    }

    pub fn build(self) -> Context {
        Context {
            recorder: controller_runtime::recorder(
                self.client.clone(),
                FIELD_MANAGER,
                self.instance,
            ),
            client: self.client,
            storage: self.storage,
            namespace: self.namespace,
            external_address: self.external_address,
            leader: self.leader,
            selector: self.selector,
            metrics: self.metrics,
            max_entries: self.max_entries,
            backoff: controller_runtime::Backoff::default(),
        }
    }
}

impl Context {
    /// A context for `client` working in `storage`, with the flags' defaults: namespace
    /// `catalogd-system`, external address `http://catalogd-catalogserver.catalogd-system.svc`,
    /// always leading, every Catalog, at most [`unpack::DEFAULT_MAX_ENTRIES`] entries per image.
    pub fn builder(client: Client, storage: Storage) -> ContextBuilder {
        ContextBuilder {
            client,
            storage,
            namespace: crate::args::DEFAULT_NAMESPACE.to_owned(),
            external_address: crate::args::DEFAULT_EXTERNAL_ADDRESS.to_owned(),
            leader: controller_runtime::always_leader(),
            selector: None,
            instance: None,
            metrics: Metrics::default(),
            max_entries: unpack::DEFAULT_MAX_ENTRIES,
        }
    }

    /// What is served, by name.
    pub fn store(&self) -> &Store {
        &self.storage.store
    }

    fn is_leader(&self) -> bool {
        *self.leader.borrow()
    }

    /// Retry delay after consecutive failures: 5 s doubling to 5 min.
    fn backoff(&self, name: &str) -> Duration {
        self.backoff.failed(name)
    }

    fn reset_backoff(&self, name: &str) {
        self.backoff.reset(name);
    }

    /// catalogd's settings that judge an image's content: a failure remembered under
    /// other settings is tried again.
    fn content_settings(&self) -> String {
        format!("max-catalog-entries={}", self.max_entries)
    }

    /// Remembers `failure` for `catalog` if the image's content determines it, or forgets
    /// what was remembered once an unpack succeeds (`failure` is `None`). Not fatal: an
    /// unwritten record costs one more attempt.
    fn record_outcome(&self, catalog: &Catalog, failure: Option<&UnpackFailure>) {
        let name = catalog.name_any();
        let settings = self.content_settings();
        let result = match failure
            .and_then(|f| plan::failure_record(catalog, f, &settings, SystemTime::now()))
        {
            Some(record) => self.storage.store.remember_failure(&name, &record),
            None if failure.is_none() => self.storage.store.forget_failure(&name),
            None => Ok(()),
        };
        if let Err(e) = result {
            tracing::warn!("catalog {name}: recording the unpack outcome: {e}");
        }
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
            ..self.storage.images.options().clone()
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
        let store = self.storage.images.with_options(options).map_err(|e| {
            unpack::storage_failure(&e)
                .unwrap_or_else(|| UnpackFailure::new(reason::UNPACK_FAILED, e.to_string()))
        })?;
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
        remembered: Option<&Remembered>,
    ) -> Result<unpack::Outcome, UnpackFailure> {
        let (images, note) = self.images_for(catalog).await?;
        let unpacker = unpack::Unpacker {
            images: &images,
            store: &self.storage.store,
            unpack_root: &self.storage.unpack_root,
            max_entries: self.max_entries,
            metrics: &self.metrics,
        };
        unpacker
            .unpack(&catalog.name_any(), reference, remembered)
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
pub async fn run_controller(
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
    ctx.storage.store.delete(&name)?;
    let _ = std::fs::remove_dir_all(ctx.storage.unpack_root.join(&name));
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
    let stored = ctx.storage.store.current(&name)?;
    let record = ctx.storage.store.failed_unpack(&name)?;
    let remembered = plan::remembered(catalog, record, &ctx.content_settings());
    let decision = plan::decide(
        catalog,
        stored.as_ref(),
        remembered.as_ref(),
        SystemTime::now(),
    )?;
    let Decision::Check(why) = decision else {
        // Up to date: still make status match the store and the remembered failure (e.g.
        // a new external address, or a restart).
        let now = jiff::Timestamp::now();
        let status = match (&remembered, &stored) {
            (Some(r), _) => Some(failure_status(
                catalog,
                stored.as_ref(),
                &r.failure,
                &ctx.external_address,
                now,
            )),
            (None, Some(stored)) => {
                let last_poll = last_poll_attempt(catalog).unwrap_or(Time(now));
                Some(success_status(
                    catalog,
                    stored,
                    last_poll,
                    &ctx.external_address,
                    now,
                ))
            }
            (None, None) => None,
        };
        if let Some(status) = status {
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
    let started = std::time::Instant::now();
    let result = ctx.unpack(catalog, &spec_ref, remembered.as_ref()).await;
    log_outcome(&name, &result, started.elapsed());
    ctx.record_outcome(catalog, result.as_ref().err());
    let poll = catalog
        .spec
        .source
        .image
        .as_ref()
        .and_then(|i| i.effective_poll_interval().ok().flatten());
    let next_poll = || {
        poll.map_or_else(Action::await_change, |d| {
            Action::requeue(plan::jitter(d, &name))
        })
    };
    match result {
        Ok(outcome) => {
            ctx.metrics.record_check(api::REASON_UNPACK_SUCCESSFUL);
            ctx.reset_backoff(&name);
            let now = jiff::Timestamp::now();
            let status = success_status(
                catalog,
                &outcome.stored,
                Time(now),
                &ctx.external_address,
                now,
            );
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
            Ok(next_poll())
        }
        Err(failure) => {
            ctx.metrics.record_check(failure.reason);
            let status = failure_status(
                catalog,
                stored.as_ref(),
                &failure,
                &ctx.external_address,
                jiff::Timestamp::now(),
            );
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
            } else if failure.digest.is_some() {
                // Remembered: only a new digest (the next poll) or a change is worth a look.
                ctx.reset_backoff(&name);
                Ok(next_poll())
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
        ctx.storage.store.delete(&name)?;
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
        .storage
        .store
        .current(&name)?
        .is_some_and(|s| Some(s.digest.as_str()) == digest)
    {
        return Ok(Action::await_change());
    }
    ctx.unpack(catalog, &resolved.resolved_ref, None)
        .await
        .map_err(Error::Unpack)?;
    Ok(Action::await_change())
}

async fn write_status(
    ctx: &Context,
    catalog: &Catalog,
    status: CatalogStatus,
) -> Result<(), Error> {
    let current = catalog.status.as_ref();
    controller_runtime::apply_status(&ctx.client, FIELD_MANAGER, catalog, current, &status).await?;
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
    controller_runtime::publish_event(&ctx.recorder, catalog, type_, reason, action, note).await;
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
    for name in ctx.storage.store.names()? {
        if !live.contains(&name) {
            ctx.storage.store.delete(&name)?;
            let _ = std::fs::remove_dir_all(ctx.storage.unpack_root.join(&name));
            removed += 1;
        }
    }
    Ok(removed)
}

/// One line per source check: what was unpacked, or why nothing was.
fn log_outcome(name: &str, result: &Result<unpack::Outcome, UnpackFailure>, took: Duration) {
    let took_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
    match result {
        Ok(outcome) => {
            let digest = outcome.stored.digest.as_str();
            if outcome.downloaded {
                tracing::info!(
                    digest,
                    took_ms,
                    "catalog {name}: unpacked {digest} in {took:.1?}"
                );
            } else {
                tracing::info!(
                    digest,
                    took_ms,
                    "catalog {name}: {digest} is already unpacked"
                );
            }
        }
        Err(failure) => tracing::warn!(
            reason = failure.reason,
            took_ms,
            "catalog {name}: unpack failed after {took:.1?}: {} ({})",
            failure.message,
            failure.reason
        ),
    }
}
