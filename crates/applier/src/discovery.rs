//! Mapping kinds to resources through API discovery, one request per group-version.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResourceList;
use kube::api::{ApiResource, GroupVersionKind};

use crate::error::ApplyError;

/// How the API server serves one kind.
#[derive(Debug, Clone)]
pub(crate) struct Mapping {
    pub(crate) resource: ApiResource,
    pub(crate) namespaced: bool,
}

/// The kinds discovery found, and those it did not.
#[derive(Debug, Default)]
pub(crate) struct Discovered {
    found: HashMap<GroupVersionKind, Mapping>,
    pub(crate) missing: Vec<GroupVersionKind>,
}

impl Discovered {
    pub(crate) fn get(&self, gvk: &GroupVersionKind) -> Option<&Mapping> {
        self.found.get(gvk)
    }
}

/// `apiVersion` of a group-version: `v1` for the core group, else `group/version`.
pub(crate) fn api_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    }
}

/// Looks up every kind of `gvks`. A group-version the server does not serve makes all its
/// kinds missing; any other failure is an error.
pub(crate) async fn discover<'a>(
    client: &kube::Client,
    gvks: impl IntoIterator<Item = &'a GroupVersionKind>,
) -> Result<Discovered, ApplyError> {
    let mut by_version: BTreeMap<String, BTreeSet<(&str, &str, &str)>> = BTreeMap::new();
    for gvk in gvks {
        by_version
            .entry(api_version(&gvk.group, &gvk.version))
            .or_default()
            .insert((&gvk.group, &gvk.version, &gvk.kind));
    }
    let lists: Vec<(String, Option<APIResourceList>)> = stream::iter(by_version.keys().cloned())
        .map(|av| async move {
            let list = resources_of(client, &av).await?;
            Ok::<_, ApplyError>((av, list))
        })
        .buffered(8)
        .try_collect()
        .await?;
    let mut discovered = Discovered::default();
    for (av, list) in lists {
        for &(group, version, kind) in &by_version[&av] {
            let gvk = GroupVersionKind::gvk(group, version, kind);
            let entry = list.as_ref().and_then(|l| {
                // Subresources (`pods/status`) share the kind; only the resource itself counts.
                l.resources
                    .iter()
                    .find(|r| r.kind == kind && !r.name.contains('/'))
            });
            match entry {
                Some(r) => {
                    let resource = ApiResource::from_gvk_with_plural(&gvk, &r.name);
                    discovered.found.insert(
                        gvk,
                        Mapping {
                            resource,
                            namespaced: r.namespaced,
                        },
                    );
                }
                None => discovered.missing.push(gvk),
            }
        }
    }
    Ok(discovered)
}

/// The resources served under `api_version`, `None` when it is not served at all.
async fn resources_of(
    client: &kube::Client,
    api_version: &str,
) -> Result<Option<APIResourceList>, ApplyError> {
    let result = if api_version.contains('/') {
        client.list_api_group_resources(api_version).await
    } else {
        client.list_core_api_resources(api_version).await
    };
    match result {
        Ok(list) => Ok(Some(list)),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
        Err(source) => Err(ApplyError::Discovery {
            api_version: api_version.to_owned(),
            source,
        }),
    }
}
