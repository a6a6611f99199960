//! The applier: plan (discover, default, check ownership, decide), apply, commit (prune,
//! record), and read health.

use std::collections::{HashMap, HashSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use futures::{StreamExt, TryStreamExt, stream};
use health::{ObjectProblem, ObjectRef, Unhealthy, check_object};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, Preconditions, PropagationPolicy,
};
use serde_json::Value;

use crate::desired::{self, Prepared};
use crate::discovery::{Discovered, discover};
use crate::error::{Action, ApplyError, Conflict, Failure, MissingKind};
use crate::inventory::Inventory;
use crate::owner::Owner;
use crate::store::Store;
use olm_api::bundle_deployment::{LABEL_OWNER_KIND, LABEL_OWNER_NAME};

/// Requests in flight at once for reads (ownership checks, health, prune lookups).
const READ_CONCURRENCY: usize = 16;
/// From this many objects of one resource in one namespace, the ownership check lists
/// them instead of reading each.
const LIST_THRESHOLD: usize = 32;
/// Objects per page of such a list.
const LIST_PAGE: u32 = 500;
/// Apply requests in flight at once within a phase.
const APPLY_CONCURRENCY: usize = 8;
/// Compressed inventory bytes per Secret: well under etcd's 1.5 MiB request limit once
/// base64-encoded in the request body.
const DEFAULT_SHARD_BYTES: usize = 900 * 1024;

/// Applies desired object sets for owners, with server-side apply and an inventory.
#[derive(Clone)]
pub struct Applier {
    client: kube::Client,
    system_namespace: String,
    field_manager: String,
    shard_bytes: usize,
}

/// A desired set checked against the cluster and ready to apply.
#[derive(Debug, Clone)]
pub struct Plan {
    owner: Owner,
    action: Action,
    previous: Option<Inventory>,
    objects: Vec<Prepared>,
    digest: String,
}

impl Plan {
    pub fn action(&self) -> Action {
        self.action
    }

    /// The objects that will be applied, in apply order, with effective namespaces.
    pub fn objects(&self) -> impl Iterator<Item = &ObjectRef> {
        self.objects.iter().map(|p| &p.reference)
    }

    fn fail(&self, error: ApplyError) -> Failure {
        Failure {
            action: Some(self.action),
            error,
        }
    }
}

/// A successful apply.
#[derive(Debug, Clone)]
pub struct Applied {
    pub action: Action,
    /// The inventory now stored.
    pub inventory: Inventory,
    /// Objects of the previous inventory that were deleted.
    pub pruned: Vec<ObjectRef>,
}

impl Applier {
    /// An applier writing with `field_manager`, defaulting namespaces and storing
    /// inventories in `system_namespace`.
    pub fn new(
        client: kube::Client,
        system_namespace: impl Into<String>,
        field_manager: impl Into<String>,
    ) -> Self {
        Applier {
            client,
            system_namespace: system_namespace.into(),
            field_manager: field_manager.into(),
            shard_bytes: DEFAULT_SHARD_BYTES,
        }
    }

    /// Splits the compressed inventory into Secrets of at most `bytes` each.
    pub fn with_shard_bytes(mut self, bytes: usize) -> Self {
        self.shard_bytes = bytes.max(1);
        self
    }

    fn store(&self) -> Store<'_> {
        Store {
            api: Api::<Secret>::namespaced(self.client.clone(), &self.system_namespace),
            namespace: &self.system_namespace,
            field_manager: &self.field_manager,
            shard_bytes: self.shard_bytes,
        }
    }

    fn api(&self, resource: &ApiResource, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, resource),
            None => Api::all_with(self.client.clone(), resource),
        }
    }

    /// The owner's stored inventory, `None` before its first apply.
    pub async fn inventory(&self, owner: &Owner) -> Result<Option<Inventory>, ApplyError> {
        self.store().read(owner).await
    }

    /// Plans, applies and commits `desired` for `owner`: the whole of one reconcile.
    pub async fn apply(&self, owner: &Owner, desired: Vec<Value>) -> Result<Applied, Failure> {
        let plan = self.plan(owner, desired).await?;
        self.apply_plan(&plan).await?;
        self.commit(plan).await
    }

    /// Reads the inventory, decides the action, then defaults and labels every object,
    /// maps every kind (all unknown kinds are named in one error) and checks that no
    /// existing object belongs to someone else. Nothing is written.
    pub async fn plan(&self, owner: &Owner, desired: Vec<Value>) -> Result<Plan, Failure> {
        let previous = self.inventory(owner).await.map_err(|error| Failure {
            action: None,
            error,
        })?;
        let mut plan = Plan {
            owner: owner.clone(),
            action: match &previous {
                Some(Inventory {
                    digest: Some(_), ..
                }) => Action::Upgrade,
                _ => Action::Install,
            },
            previous,
            objects: Vec::new(),
            digest: String::new(),
        };
        let gvks = desired
            .iter()
            .enumerate()
            .map(|(i, o)| desired::identify(i, o))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| plan.fail(e))?;
        let discovered = discover(&self.client, &gvks)
            .await
            .map_err(|e| plan.fail(e))?;
        if !discovered.missing.is_empty() {
            let missing = discovered
                .missing
                .iter()
                .cloned()
                .map(MissingKind)
                .collect();
            return Err(plan.fail(ApplyError::ResourcesNotFound(missing)));
        }
        let prepared = desired
            .into_iter()
            .zip(&gvks)
            .map(|(object, gvk)| {
                let mapping = discovered.get(gvk).expect("every kind was discovered");
                desired::prepare(owner, &self.system_namespace, object, mapping)
            })
            .collect();
        let ordered = desired::order(prepared).map_err(|e| plan.fail(e))?;
        plan.digest = desired::digest(&ordered);
        if plan.previous.as_ref().and_then(|p| p.digest.as_ref()) == Some(&plan.digest) {
            plan.action = Action::Unchanged;
        }
        plan.objects = self
            .check_ownership(owner, ordered)
            .await
            .map_err(|e| plan.fail(e))?;
        Ok(plan)
    }

    /// Drops pre-existing Namespaces we do not own (§7.5: neither taken over nor a
    /// conflict, and never inventoried); refuses any other existing object not labelled
    /// with this owner.
    async fn check_ownership(
        &self,
        owner: &Owner,
        objects: Vec<Prepared>,
    ) -> Result<Vec<Prepared>, ApplyError> {
        let existing = self.existing_metadata(&objects).await?;
        let mut conflicts = Vec::new();
        let mut kept = Vec::with_capacity(objects.len());
        for (p, current) in objects.into_iter().zip(existing) {
            let labels = current.as_ref().and_then(|c| c.labels.as_ref());
            if current.is_none() || owner.is_named_by(labels) {
                kept.push(p);
            } else if p.reference.group.is_empty() && p.reference.kind == "Namespace" {
                tracing::info!(namespace = %p.reference.name, "leaving a pre-existing Namespace alone");
            } else {
                let label = |key: &str| labels.and_then(|l| l.get(key)).cloned();
                let owner = label(LABEL_OWNER_NAME).map(|name| {
                    (
                        label(LABEL_OWNER_KIND).unwrap_or_else(|| "an owner".to_owned()),
                        name,
                    )
                });
                conflicts.push(Conflict {
                    object: p.reference,
                    owner,
                });
            }
        }
        if conflicts.is_empty() {
            Ok(kept)
        } else {
            Err(ApplyError::Ownership(conflicts))
        }
    }

    /// The metadata of each object as it exists now (`None` when absent). Where many
    /// objects share a resource and namespace, one paginated list replaces their reads.
    async fn existing_metadata(
        &self,
        objects: &[Prepared],
    ) -> Result<Vec<Option<ObjectMeta>>, ApplyError> {
        let mut places: HashMap<(&str, &str, Option<&str>), Vec<usize>> = HashMap::new();
        for (i, p) in objects.iter().enumerate() {
            let key = (
                p.resource.api_version.as_str(),
                p.resource.plural.as_str(),
                p.reference.namespace.as_deref(),
            );
            places.entry(key).or_default().push(i);
        }
        let mut existing = vec![None; objects.len()];
        let mut singles = Vec::new();
        for indexes in places.into_values() {
            if indexes.len() < LIST_THRESHOLD {
                singles.extend(indexes);
                continue;
            }
            let mut listed = self.list_metadata(&objects[indexes[0]]).await?;
            for i in indexes {
                existing[i] = listed.remove(&objects[i].reference.name);
            }
        }
        // Futures are made up front throughout this file: a stream `map` closure over
        // borrowed items makes the caller's future unprovably `Send` (rustc's higher-ranked
        // closure limitation), and a controller's reconcile must be `Send`.
        let reads: Vec<_> = singles
            .into_iter()
            .map(|i| async move {
                let p = &objects[i];
                let api = self.api(&p.resource, p.reference.namespace.as_deref());
                let meta = api
                    .get_metadata_opt(&p.reference.name)
                    .await
                    .map_err(|source| ApplyError::Read {
                        object: p.reference.clone(),
                        source,
                    })?;
                Ok::<_, ApplyError>((i, meta.map(|m| m.metadata)))
            })
            .collect();
        let read: Vec<(usize, Option<ObjectMeta>)> = stream::iter(reads)
            .buffer_unordered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        for (i, meta) in read {
            existing[i] = meta;
        }
        Ok(existing)
    }

    /// Every object of `like`'s resource in its namespace (or cluster-wide), by name.
    async fn list_metadata(
        &self,
        like: &Prepared,
    ) -> Result<HashMap<String, ObjectMeta>, ApplyError> {
        let api = self.api(&like.resource, like.reference.namespace.as_deref());
        let list_error = |source| ApplyError::List {
            resource: like.resource.plural.clone(),
            namespace: like.reference.namespace.clone(),
            source,
        };
        let mut by_name = HashMap::new();
        let mut params = ListParams::default().limit(LIST_PAGE);
        loop {
            let page = api.list_metadata(&params).await.map_err(list_error)?;
            for item in page.items {
                if let Some(name) = item.metadata.name.clone() {
                    by_name.insert(name, item.metadata);
                }
            }
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(token) => params = params.continue_token(&token),
                None => return Ok(by_name),
            }
        }
    }

    /// Records the plan's objects as pending in the inventory (so a crash after this
    /// point still lets the next commit prune them), then server-side applies the objects,
    /// forcing ownership of conflicting fields: all Namespaces, then all CRDs, then the
    /// rest, each phase finished before the next starts; within a phase requests start in
    /// rendered order with a few in flight at once.
    pub async fn apply_plan(&self, plan: &Plan) -> Result<(), Failure> {
        if plan.action != Action::Unchanged {
            let mut pending = plan.previous.clone().unwrap_or_default();
            let known: HashSet<ObjectRef> = pending.pending.iter().cloned().collect();
            pending
                .pending
                .extend(plan.objects().filter(|o| !known.contains(*o)).cloned());
            self.store()
                .write(&plan.owner, &pending)
                .await
                .map_err(|e| plan.fail(e))?;
        }
        for phase in plan
            .objects
            .chunk_by(|a, b| desired::phase(&a.reference) == desired::phase(&b.reference))
        {
            let applies: Vec<_> = phase.iter().map(|p| self.apply_one(p)).collect();
            stream::iter(applies)
                .buffered(APPLY_CONCURRENCY)
                .try_collect::<Vec<()>>()
                .await
                .map_err(|e| plan.fail(e))?;
        }
        Ok(())
    }

    async fn apply_one(&self, p: &Prepared) -> Result<(), ApplyError> {
        let params = PatchParams::apply(&self.field_manager).force();
        let api = self.api(&p.resource, p.reference.namespace.as_deref());
        api.patch(&p.reference.name, &params, &Patch::Apply(&p.body))
            .await
            .map(drop)
            .map_err(|source| ApplyError::Apply {
                object: p.reference.clone(),
                source,
            })
    }

    /// Prunes what the previous inventory (committed or pending) has and the plan does
    /// not, then stores the plan's objects as the committed inventory.
    pub async fn commit(&self, plan: Plan) -> Result<Applied, Failure> {
        let next: HashSet<&ObjectRef> = plan.objects().collect();
        let mut stale: Vec<ObjectRef> = Vec::new();
        if let Some(prev) = &plan.previous {
            let mut seen = HashSet::new();
            for o in prev.objects.iter().chain(&prev.pending) {
                if !next.contains(o) && seen.insert(o) {
                    stale.push(o.clone());
                }
            }
        }
        // Dependents before what they live in: the reverse of apply order.
        stale.reverse();
        let pruned = self
            .prune(&plan.owner, stale)
            .await
            .map_err(|e| plan.fail(e))?;
        let inventory = Inventory {
            digest: Some(plan.digest.clone()),
            objects: plan.objects().cloned().collect(),
            pending: Vec::new(),
        };
        self.store()
            .write(&plan.owner, &inventory)
            .await
            .map_err(|e| plan.fail(e))?;
        Ok(Applied {
            action: plan.action,
            inventory,
            pruned,
        })
    }

    /// Deletes each stale object that still exists, still carries this owner's labels and
    /// is not annotated `helm.sh/resource-policy: keep`; returns those deleted. Phases run
    /// in reverse apply order (the rest, then CRDs, then Namespaces), a few requests at once.
    async fn prune(
        &self,
        owner: &Owner,
        mut stale: Vec<ObjectRef>,
    ) -> Result<Vec<ObjectRef>, ApplyError> {
        let kinds: Vec<GroupVersionKind> = stale.iter().map(gvk_of).collect();
        let discovered = discover(&self.client, &kinds).await?;
        stale.sort_by_key(|o| std::cmp::Reverse(desired::phase(o)));
        let mut pruned = Vec::new();
        for phase in stale.chunk_by(|a, b| desired::phase(a) == desired::phase(b)) {
            let prunes: Vec<_> = phase
                .iter()
                .map(|o| self.prune_one(owner, &discovered, o))
                .collect();
            let deleted: Vec<Option<ObjectRef>> = stream::iter(prunes)
                .buffered(APPLY_CONCURRENCY)
                .try_collect()
                .await?;
            pruned.extend(deleted.into_iter().flatten());
        }
        Ok(pruned)
    }

    /// Deletes `object` if it is still ours and not kept; `Some` when it was deleted.
    async fn prune_one(
        &self,
        owner: &Owner,
        discovered: &Discovered,
        object: &ObjectRef,
    ) -> Result<Option<ObjectRef>, ApplyError> {
        // A kind no longer served has no objects left to delete.
        let Some(mapping) = discovered.get(&gvk_of(object)) else {
            return Ok(None);
        };
        let api = self.api(&mapping.resource, object.namespace.as_deref());
        let read_error = |source| ApplyError::Read {
            object: object.clone(),
            source,
        };
        let Some(current) = api
            .get_metadata_opt(&object.name)
            .await
            .map_err(read_error)?
        else {
            return Ok(None);
        };
        let meta = current.metadata;
        let kept = meta
            .annotations
            .as_ref()
            .and_then(|a| a.get(desired::KEEP_ANNOTATION))
            .is_some_and(|v| v == "keep");
        if kept || !owner.is_named_by(meta.labels.as_ref()) {
            return Ok(None);
        }
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            preconditions: Some(Preconditions {
                uid: meta.uid,
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match api.delete(&object.name, &params).await {
            Ok(_) => Ok(Some(object.clone())),
            // Gone already, or replaced by a new object since the read.
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(None),
            Err(source) => Err(ApplyError::Prune {
                object: object.clone(),
                source,
            }),
        }
    }

    /// The resources to watch for drift: one per kind of the inventory's committed objects
    /// that the server still serves.
    pub async fn watch_resources(
        &self,
        inventory: &Inventory,
    ) -> Result<Vec<ApiResource>, ApplyError> {
        let kinds = inventory.kinds();
        let discovered = discover(&self.client, &kinds).await?;
        Ok(kinds
            .iter()
            .filter_map(|gvk| discovered.get(gvk).map(|m| m.resource.clone()))
            .collect())
    }

    /// RukPak's health of every committed object of `inventory`, each read from its
    /// effective namespace; a read failure counts as unhealthy.
    pub async fn health(&self, inventory: &Inventory) -> Result<(), Unhealthy> {
        let kinds: Vec<GroupVersionKind> = inventory.objects.iter().map(gvk_of).collect();
        let discovered = match discover(&self.client, &kinds).await {
            Ok(d) => d,
            Err(e) => {
                let problems = inventory
                    .objects
                    .iter()
                    .map(|o| ObjectProblem {
                        object: o.clone(),
                        message: e.to_string(),
                    })
                    .collect();
                return Err(Unhealthy(problems));
            }
        };
        let reads: Vec<_> = inventory
            .objects
            .iter()
            .map(|o| self.object_problem(&discovered, o))
            .collect();
        let problems: Vec<ObjectProblem> = stream::iter(reads)
            .buffered(READ_CONCURRENCY)
            .collect::<Vec<Option<ObjectProblem>>>()
            .await
            .into_iter()
            .flatten()
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Unhealthy(problems))
        }
    }

    async fn object_problem(
        &self,
        discovered: &Discovered,
        object: &ObjectRef,
    ) -> Option<ObjectProblem> {
        let problem = |message: String| {
            Some(ObjectProblem {
                object: object.clone(),
                message,
            })
        };
        let gvk = gvk_of(object);
        let Some(mapping) = discovered.get(&gvk) else {
            return problem(MissingKind(gvk).to_string());
        };
        let api = self.api(&mapping.resource, object.namespace.as_deref());
        match api.get(&object.name).await {
            Err(e) => problem(e.to_string()),
            Ok(current) => match serde_json::to_value(&current) {
                Ok(value) => check_object(&value).and_then(problem),
                Err(e) => problem(e.to_string()),
            },
        }
    }
}

fn gvk_of(object: &ObjectRef) -> GroupVersionKind {
    GroupVersionKind::gvk(&object.group, &object.version, &object.kind)
}
