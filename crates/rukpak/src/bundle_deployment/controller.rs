//! The BundleDeployment controller for `core-rukpak-io-plain` (which installs plain and
//! registry+v1 Bundles): watch, decide with `plan`, render the unpacked content, apply it with
//! the `applier`, read health, write status. Deletion is Kubernetes garbage collection
//! through ownerReferences, as upstream (no finalizer).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use olm_api::bundle::{Bundle, PROVISIONER_PLAIN};
use olm_api::bundle_deployment::{
    BundleDeployment, BundleDeploymentStatus, LABEL_OWNER_KIND, REASON_BUNDLE_LOAD_FAILED,
    REASON_CREATE_DYNAMIC_WATCH_FAILED, REASON_RECONCILE_FAILED, TYPE_HAS_VALID_BUNDLE,
};
use olm_api::conditions::{STATUS_FALSE, STATUS_UNKNOWN, new_condition};

use applier::{Applier, Owner};
use controller_runtime::ServingCertificate;
use k8s_openapi::api::core::v1::Secret;
use registry_convert::CertificateMode;

use super::certificates::{self, CertificateError};
use super::drift::DriftWatches;
use super::plan::{self, OWNER_KIND, Outcome, Readiness, Selection};
use super::render;
use crate::controller::FIELD_MANAGER;
use crate::store::Store;

/// How many BundleDeployments are reconciled at once.
const CONCURRENCY: u16 = 4;
/// How soon an installed but unhealthy BundleDeployment is checked again: status changes of
/// installed objects are not watched (drift is), so health is polled.
const HEALTH_RECHECK: Duration = Duration::from_secs(5);
/// How often installed serving certificates are checked for renewal.
const CERTIFICATE_RECHECK: Duration = Duration::from_secs(3600);
/// How soon to retry creating a Bundle whose predecessor of the same name is still going.
const BUNDLE_NAME_BUSY: Duration = Duration::from_secs(2);

/// Why a reconcile failed (it is retried with back-off).
#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
}

/// Everything a BundleDeployment reconcile needs.
pub struct DeploymentContext {
    client: Client,
    store: Store,
    applier: Applier,
    /// Signs the serving certificates of what bundles serve; `None` when RukPak's own
    /// certificate comes from files (`--tls-cert-dir`), so it has no CA key.
    ca: Option<ServingCertificate>,
    certificates: CertificateMode,
    /// Only BundleDeployments with these labels are handled (`--bundle-selector`).
    selector: Option<String>,
    backoff: controller_runtime::Backoff,
    drift: DriftWatches,
}

impl DeploymentContext {
    /// A context installing into the cluster of `client`, with inventories in `namespace`,
    /// reading content from `store`; returns the channel of drift events for
    /// [`run_bundle_deployment_controller`].
    pub fn new(
        client: Client,
        store: Store,
        namespace: &str,
        selector: Option<String>,
    ) -> (Self, DriftEvents) {
        let (drift, events) = DriftWatches::new(client.clone());
        let ctx = Self {
            applier: Applier::new(client.clone(), namespace, FIELD_MANAGER),
            ca: None,
            certificates: CertificateMode::BuiltIn,
            client,
            store,
            selector,
            backoff: controller_runtime::Backoff::default(),
            drift,
        };
        (ctx, DriftEvents(events))
    }
}

impl DeploymentContext {
    /// The CA that signs serving certificates of installed webhooks and API services.
    pub fn certificate_authority(mut self, ca: Option<ServingCertificate>) -> Self {
        self.ca = ca;
        self
    }

    /// Where those certificates come from (`--bundle-certificates`).
    pub fn certificate_mode(mut self, mode: CertificateMode) -> Self {
        self.certificates = mode;
        self
    }
}

/// BundleDeployments whose installed objects drifted, from the dynamic watches.
pub struct DriftEvents(mpsc::UnboundedReceiver<ObjectRef<BundleDeployment>>);

/// Runs the controller until `shutdown` resolves.
pub async fn run_bundle_deployment_controller(
    ctx: Arc<DeploymentContext>,
    drift: DriftEvents,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let deployments: Api<BundleDeployment> = Api::all(ctx.client.clone());
    let bundles: Api<Bundle> = Api::all(ctx.client.clone());
    let mut config = watcher::Config::default();
    if let Some(selector) = &ctx.selector {
        config = config.labels(selector);
    }
    let owned = watcher::Config::default().labels(&format!("{LABEL_OWNER_KIND}={OWNER_KIND}"));
    Controller::new(deployments, config)
        .with_config(ControllerConfig::default().concurrency(CONCURRENCY))
        .owns(bundles, owned)
        .reconcile_on(drift.0)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!("reconcile: {e}");
            }
        })
        .await;
}

fn error_policy(
    bd: Arc<BundleDeployment>,
    error: &DeploymentError,
    ctx: Arc<DeploymentContext>,
) -> Action {
    tracing::warn!("bundledeployment {}: {error}", bd.name_any());
    Action::requeue(ctx.backoff.failed(&bd.name_any()))
}

async fn reconcile(
    bd: Arc<BundleDeployment>,
    ctx: Arc<DeploymentContext>,
) -> Result<Action, DeploymentError> {
    if bd.spec.provisioner_class_name != PROVISIONER_PLAIN
        || bd.metadata.deletion_timestamp.is_some()
    {
        return Ok(Action::await_change());
    }
    let name = bd.name_any();
    let bundles: Api<Bundle> = Api::all(ctx.client.clone());
    let owned = bundles
        .list(&ListParams::default().labels(&plan::owned_bundles_selector(&name)))
        .await;
    let owned = match owned {
        Ok(list) => list.items,
        Err(e) => return reconcile_failed(&ctx, &bd, format!("listing bundles: {e}"), e).await,
    };
    let bundle = match plan::select_bundle(&bd, &owned) {
        Selection::Existing(bundle) => *bundle,
        Selection::Create { bundle, stale } => {
            for old in stale {
                match bundles.delete(&old, &DeleteParams::default()).await {
                    Ok(_) => tracing::info!(
                        "bundledeployment {name}: deleted bundle {old}, neither active nor desired"
                    ),
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => {
                        return reconcile_failed(
                            &ctx,
                            &bd,
                            format!("deleting bundle {old}: {e}"),
                            e,
                        )
                        .await;
                    }
                }
            }
            match bundles.create(&PostParams::default(), &bundle).await {
                Ok(created) => created,
                // The previous Bundle of this name is still being deleted (its finalizer).
                Err(kube::Error::Api(s)) if s.code == 409 => {
                    return Ok(Action::requeue(BUNDLE_NAME_BUSY));
                }
                Err(e) => {
                    let what = format!("creating bundle {}: {e}", bundle.name_any());
                    return reconcile_failed(&ctx, &bd, what, e).await;
                }
            }
        }
    };
    let now = jiff::Timestamp::now();
    let has_valid_bundle = match plan::readiness(&bd, &bundle, now) {
        Readiness::NotYet(condition) => {
            write_status(&ctx, &bd, plan::status_after(&bd, condition, None, now)).await?;
            return Ok(Action::await_change());
        }
        Readiness::Unpacked(condition) => condition,
    };
    let rendered = match render::render(&ctx.store, &bd, &bundle, ctx.certificates).await {
        Ok(rendered) => with_certificates(&ctx, rendered)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let (objects, has_certificates) = match rendered {
        Ok(rendered) => rendered,
        Err(e) => {
            let condition = new_condition(
                TYPE_HAS_VALID_BUNDLE,
                STATUS_FALSE,
                REASON_BUNDLE_LOAD_FAILED,
                e,
                bd.metadata.generation,
                now,
            );
            write_status(&ctx, &bd, plan::status_after(&bd, condition, None, now)).await?;
            return Ok(Action::requeue(ctx.backoff.failed(&name)));
        }
    };
    let outcome = install(&ctx, &bd, &bundle.name_any(), objects).await;
    write_status(
        &ctx,
        &bd,
        plan::status_after(&bd, has_valid_bundle, Some(&outcome), now),
    )
    .await?;
    match outcome {
        Outcome::Installed {
            unhealthy: None, ..
        } => {
            ctx.backoff.reset(&name);
            for old in plan::superseded(&owned, &bundle.name_any()) {
                match bundles.delete(&old, &DeleteParams::default()).await {
                    Ok(_) | Err(kube::Error::Api(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            // Issued certificates are checked for renewal even when nothing changes.
            Ok(match has_certificates {
                true => Action::requeue(CERTIFICATE_RECHECK),
                false => Action::await_change(),
            })
        }
        Outcome::Installed {
            unhealthy: Some(_), ..
        } => Ok(Action::requeue(HEALTH_RECHECK)),
        Outcome::Failed { .. } => Ok(Action::requeue(ctx.backoff.failed(&name))),
    }
}

/// The rendered objects plus a Secret per requested serving certificate, with the CA in
/// every `caBundle` the conversion marked; and whether there are certificates to renew.
async fn with_certificates(
    ctx: &DeploymentContext,
    rendered: render::Rendered,
) -> Result<(Vec<serde_json::Value>, bool), CertificateError> {
    let mut objects = rendered.objects;
    if rendered.certificates.is_empty() {
        return Ok((objects, false));
    }
    let ca = ctx.ca.as_ref().ok_or(CertificateError::NoAuthority)?;
    let now = jiff::Timestamp::now();
    for request in &rendered.certificates {
        let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &request.namespace);
        let current = secrets
            .get_opt(&request.secret_name)
            .await
            .map_err(|source| CertificateError::Read {
                secret: format!("{}/{}", request.namespace, request.secret_name),
                source,
            })?;
        objects.push(certificates::secret_object(
            request,
            current.as_ref(),
            ca,
            now,
        )?);
    }
    certificates::inject_ca(&mut objects, &ca.ca_pem());
    Ok((objects, true))
}

impl certificates::Authority for ServingCertificate {
    fn issue(
        &self,
        common_name: &str,
        dns_names: &[String],
        now: jiff::Timestamp,
    ) -> Result<certificates::Issued, controller_runtime::CertError> {
        let issued = self.issue_for(common_name, dns_names, certificates::VALIDITY, now)?;
        Ok(certificates::Issued {
            cert_pem: issued.cert_pem,
            key_pem: issued.key_pem,
            not_after: issued.not_after,
        })
    }

    fn trusted(&self) -> String {
        self.ca_pem()
    }

    fn signing(&self) -> String {
        self.ca_cert_pem()
    }
}

/// Applies `objects`, starts drift watches for what was installed, and reads its health.
async fn install(
    ctx: &DeploymentContext,
    bd: &BundleDeployment,
    bundle: &str,
    objects: Vec<serde_json::Value>,
) -> Outcome {
    let Some(owner) = Owner::of(bd) else {
        return Outcome::Failed {
            reason: REASON_RECONCILE_FAILED,
            message: "the BundleDeployment has no uid yet".into(),
        };
    };
    let installed = apply_and_check(&ctx.applier, owner, objects).await;
    match installed {
        Err(outcome) => outcome,
        Ok((resources, unhealthy)) => {
            ctx.drift.ensure(resources);
            Outcome::Installed {
                bundle: bundle.to_owned(),
                unhealthy,
            }
        }
    }
}

/// The kinds to watch and the health problems of a successful apply, or the failure.
async fn apply_and_check(
    applier: &Applier,
    owner: Owner,
    objects: Vec<serde_json::Value>,
) -> Result<(Vec<kube::api::ApiResource>, Option<String>), Outcome> {
    let applied = applier
        .apply(&owner, objects)
        .await
        .map_err(|failure| Outcome::Failed {
            reason: failure.reason(),
            message: failure.to_string(),
        })?;
    let resources = applier
        .watch_resources(&applied.inventory)
        .await
        .map_err(|e| Outcome::Failed {
            reason: REASON_CREATE_DYNAMIC_WATCH_FAILED,
            message: e.to_string(),
        })?;
    let unhealthy = applier
        .health(&applied.inventory)
        .await
        .err()
        .map(|u| u.to_string());
    Ok((resources, unhealthy))
}

/// `HasValidBundle=Unknown/ReconcileFailed` for an error about the generated Bundles.
async fn reconcile_failed(
    ctx: &DeploymentContext,
    bd: &BundleDeployment,
    message: String,
    error: kube::Error,
) -> Result<Action, DeploymentError> {
    let now = jiff::Timestamp::now();
    let condition = new_condition(
        TYPE_HAS_VALID_BUNDLE,
        STATUS_UNKNOWN,
        REASON_RECONCILE_FAILED,
        message,
        bd.metadata.generation,
        now,
    );
    write_status(ctx, bd, plan::status_after(bd, condition, None, now)).await?;
    Err(error.into())
}

async fn write_status(
    ctx: &DeploymentContext,
    bd: &BundleDeployment,
    status: BundleDeploymentStatus,
) -> Result<(), DeploymentError> {
    controller_runtime::apply_status(&ctx.client, FIELD_MANAGER, bd, bd.status.as_ref(), &status)
        .await?;
    Ok(())
}
