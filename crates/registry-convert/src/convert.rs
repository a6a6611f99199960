//! The conversion: the bundle read and checked, the CSV decoded, target namespaces resolved,
//! then every object built and put in upstream's order, with the serving objects around it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{Value, json};

use crate::csv::Csv;
use crate::deployment::deployment;
use crate::install_mode::targets;
use crate::rbac::{rbac, service_account_name};
use crate::serving::{CertificateRequest, Context, serving};
use crate::supported::{Scope, scope_of};
use crate::{ConvertError, ConvertOptions};

const SUGGESTED_NAMESPACE: &str = "operatorframework.io/suggested-namespace";

/// A converted bundle.
#[derive(Clone, Debug, PartialEq)]
pub struct Converted {
    /// The install namespace used (the option, or the default derived from the bundle).
    pub install_namespace: String,
    /// The plain objects, in upstream's order (see `docs/registry-conversion.md`).
    pub objects: Vec<Value>,
    /// Serving certificates the controller must issue ([`crate::CertificateMode::BuiltIn`]).
    pub certificates: Vec<CertificateRequest>,
}

/// Converts the registry+v1 bundle in `bundle_dir` to plain objects.
pub fn convert(bundle_dir: &Path, options: &ConvertOptions) -> Result<Converted, ConvertError> {
    let bundle = bundle_format::read_registry(bundle_dir)?;
    let csv_manifest = &bundle.manifests[bundle.csv_index];
    let csv = Csv::from_object(&csv_manifest.path, &csv_manifest.object)?;
    let install_namespace = match options.install_namespace.as_str() {
        "" => csv
            .annotations
            .get(SUGGESTED_NAMESPACE)
            .filter(|ns| !ns.is_empty())
            .cloned()
            .unwrap_or_else(|| format!("{}-system", bundle.package)),
        ns => ns.to_owned(),
    };
    let targets = targets(&csv, &install_namespace, &options.watch_namespaces)?;

    let mut crds = Vec::new();
    let mut others = Vec::new();
    for (i, manifest) in bundle.manifests.iter().enumerate() {
        match manifest.kind.as_str() {
            _ if i == bundle.csv_index => {}
            "CustomResourceDefinition" => crds.push(manifest.object.clone()),
            _ => others.push(other(&manifest.object, &install_namespace)?),
        }
    }
    let mut deployments: Vec<Value> = csv
        .deployments
        .iter()
        .map(|spec| {
            deployment(
                spec,
                &csv,
                &install_namespace,
                &targets,
                &options.deployment,
            )
        })
        .collect();
    let cx = Context {
        csv: &csv,
        package: &bundle.package,
        namespace: &install_namespace,
        targets: &targets,
        mode: options.certificates,
    };
    let serving = serving(&cx, &mut crds, &mut deployments)?;
    let rbac = rbac(&csv, &install_namespace, &targets);

    let mut objects = vec![json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": install_namespace},
    })];
    objects.extend(service_accounts(&csv, &install_namespace, &others));
    objects.extend(rbac.roles);
    objects.extend(rbac.role_bindings);
    objects.extend(serving.role_bindings);
    objects.extend(rbac.cluster_roles);
    objects.extend(rbac.cluster_role_bindings);
    objects.extend(serving.cluster_role_bindings);
    objects.extend(crds);
    objects.extend(others);
    objects.extend(serving.issuers);
    objects.extend(serving.services);
    objects.extend(deployments);
    objects.extend(serving.api_services);
    objects.extend(serving.validating);
    objects.extend(serving.mutating);
    Ok(Converted {
        install_namespace,
        objects: deduplicate(objects)?,
        certificates: serving.certificates,
    })
}

/// A manifest that is neither the CSV nor a CRD: installed only when OLM installs its kind
/// from bundles, namespaced ones in the install namespace.
fn other(object: &Value, install_namespace: &str) -> Result<Value, ConvertError> {
    let field = |key: &str| object.pointer(key).and_then(Value::as_str).unwrap_or("");
    let kind = field("/kind");
    let mut object = object.clone();
    match scope_of(kind) {
        Some(Scope::Namespaced) => {
            if let Some(Value::Object(metadata)) = object.get_mut("metadata") {
                metadata.insert("namespace".into(), install_namespace.into());
            } else {
                object["metadata"] = json!({"namespace": install_namespace});
            }
            Ok(object)
        }
        Some(Scope::Cluster) => Ok(object),
        None => Err(ConvertError::UnsupportedResource {
            name: field("/metadata/name").to_owned(),
            kind: kind.to_owned(),
        }),
    }
}

/// A ServiceAccount for every name the deployments and permissions use, sorted, except
/// `default` (every namespace has it) and those the bundle ships itself (the bundle's, with its
/// annotations and pull secrets, is the one installed).
fn service_accounts(csv: &Csv, namespace: &str, others: &[Value]) -> Vec<Value> {
    let shipped: BTreeSet<&str> = others
        .iter()
        .filter(|o| o.get("kind").and_then(Value::as_str) == Some("ServiceAccount"))
        .filter_map(|o| o.pointer("/metadata/name").and_then(Value::as_str))
        .collect();
    let from_deployments = csv.deployments.iter().map(|d| {
        d.spec
            .get("template")
            .and_then(|t| t.pointer("/spec/serviceAccountName"))
            .and_then(Value::as_str)
            .unwrap_or("")
    });
    let from_permissions = csv
        .permissions
        .iter()
        .chain(&csv.cluster_permissions)
        .map(|p| p.service_account_name.as_str());
    let names: BTreeSet<&str> = from_deployments
        .chain(from_permissions)
        .map(service_account_name)
        .filter(|name| *name != "default" && !shipped.contains(name))
        .collect();
    names
        .into_iter()
        .map(|name| {
            json!({
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": name, "namespace": namespace},
            })
        })
        .collect()
}

/// One identity, one object: an identical repeat (two equal permission entries, a manifest
/// shipped twice) is dropped; two different objects with one identity would fight over one
/// object on the cluster.
fn deduplicate(objects: Vec<Value>) -> Result<Vec<Value>, ConvertError> {
    let mut seen: BTreeMap<(String, String, String, String), usize> = BTreeMap::new();
    let mut out: Vec<Value> = Vec::with_capacity(objects.len());
    for object in objects {
        let field = |key: &str| {
            object
                .pointer(key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let api_version = field("/apiVersion");
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        let key = (
            group.to_owned(),
            field("/kind"),
            field("/metadata/namespace"),
            field("/metadata/name"),
        );
        match seen.get(&key) {
            Some(&first) if out[first] == object => {}
            Some(_) => {
                return Err(ConvertError::DuplicateObject {
                    kind: key.1,
                    namespace: key.2,
                    name: key.3,
                });
            }
            None => {
                seen.insert(key, out.len());
                out.push(object);
            }
        }
    }
    Ok(out)
}
