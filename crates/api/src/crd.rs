//! The CustomResourceDefinitions to install, as committed under `config/crd/`.
//!
//! Install these, not the bare `T::crd()` of each kind: they add what kube-derive cannot express
//! (the `metadata.name` length limits), drop the `nullable: true` kube-derive puts on every
//! optional field (so explicit nulls are pruned by the API server, as with upstream's
//! controller-gen CRDs), and unwrap doc-comment line breaks in descriptions (as controller-gen
//! does, so `kubectl explain` reflows them). Validation, CEL rules included, is identical.

use std::collections::BTreeMap;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use kube::CustomResourceExt;

use crate::{Bundle, BundleDeployment, Catalog, Operator};

/// Every CRD of this crate, in a stable order.
pub fn all() -> Vec<CustomResourceDefinition> {
    vec![bundle(), bundle_deployment(), catalog(), operator()]
}

/// The `Bundle` CRD (`metadata.name` at most 52 characters).
pub fn bundle() -> CustomResourceDefinition {
    finish(Bundle::crd(), Some(crate::bundle::NAME_MAX_LENGTH))
}

/// The `BundleDeployment` CRD (`metadata.name` at most 45 characters).
pub fn bundle_deployment() -> CustomResourceDefinition {
    finish(
        BundleDeployment::crd(),
        Some(crate::bundle_deployment::NAME_MAX_LENGTH),
    )
}

/// The `Catalog` CRD.
pub fn catalog() -> CustomResourceDefinition {
    finish(Catalog::crd(), None)
}

/// The `Operator` CRD.
pub fn operator() -> CustomResourceDefinition {
    finish(Operator::crd(), None)
}

/// Kubebuilder's file name for a CRD: `<group>_<plural>.yaml`.
pub fn file_name(crd: &CustomResourceDefinition) -> String {
    format!("{}_{}.yaml", crd.spec.group, crd.spec.names.plural)
}

fn finish(
    mut crd: CustomResourceDefinition,
    name_max_length: Option<u32>,
) -> CustomResourceDefinition {
    for version in &mut crd.spec.versions {
        let Some(schema) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        else {
            continue;
        };
        tidy(schema);
        if let Some(max) = name_max_length {
            let name = JSONSchemaProps {
                type_: Some("string".into()),
                max_length: Some(i64::from(max)),
                ..Default::default()
            };
            let metadata = JSONSchemaProps {
                type_: Some("object".into()),
                properties: Some(BTreeMap::from([("name".to_owned(), name)])),
                ..Default::default()
            };
            schema
                .properties
                .get_or_insert_with(BTreeMap::new)
                .insert("metadata".to_owned(), metadata);
        }
    }
    crd
}

/// Drops `nullable` and unwraps descriptions, recursively.
fn tidy(props: &mut JSONSchemaProps) {
    props.nullable = None;
    if let Some(description) = props.description.as_mut() {
        *description = unwrap_lines(description);
    }
    let nested = props
        .properties
        .iter_mut()
        .flat_map(|p| p.values_mut())
        .chain(props.all_of.iter_mut().flatten())
        .chain(props.any_of.iter_mut().flatten())
        .chain(props.one_of.iter_mut().flatten())
        .chain(props.not.as_deref_mut());
    for p in nested {
        tidy(p);
    }
    match props.items.as_mut() {
        Some(JSONSchemaPropsOrArray::Schema(item)) => tidy(item),
        Some(JSONSchemaPropsOrArray::Schemas(items)) => items.iter_mut().for_each(tidy),
        None => {}
    }
    if let Some(JSONSchemaPropsOrBool::Schema(p)) = props.additional_properties.as_mut() {
        tidy(p);
    }
}

/// Joins the lines of each paragraph with spaces; blank lines still separate paragraphs.
fn unwrap_lines(text: &str) -> String {
    text.split("\n\n")
        .map(|paragraph| {
            paragraph
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwraps_lines_but_keeps_paragraphs() {
        assert_eq!(unwrap_lines("a\nb\n\nc\n d"), "a b\n\nc d");
        assert_eq!(unwrap_lines("single"), "single");
    }

    #[test]
    fn file_names_follow_kubebuilder() {
        let names: Vec<_> = all().iter().map(file_name).collect();
        assert_eq!(
            names,
            [
                "core.rukpak.io_bundles.yaml",
                "core.rukpak.io_bundledeployments.yaml",
                "catalogd.operatorframework.io_catalogs.yaml",
                "operators.operatorframework.io_operators.yaml",
            ]
        );
    }

    #[test]
    fn all_kinds_are_cluster_scoped_with_a_status_subresource() {
        for crd in all() {
            assert_eq!(crd.spec.scope, "Cluster", "{}", file_name(&crd));
            let version = &crd.spec.versions[0];
            assert_eq!(version.name, "v1alpha1");
            assert!(version.served && version.storage);
            assert!(
                version
                    .subresources
                    .as_ref()
                    .and_then(|s| s.status.as_ref())
                    .is_some()
            );
        }
    }

    #[test]
    fn no_nullable_left_and_name_limits_set() {
        for crd in all() {
            let json = serde_json::to_string(&crd).expect("CRD serialises");
            assert!(!json.contains("\"nullable\""), "{}", file_name(&crd));
        }
        let limit = |crd: CustomResourceDefinition| {
            crd.spec.versions[0]
                .schema
                .as_ref()
                .and_then(|s| s.open_api_v3_schema.as_ref())
                .and_then(|s| {
                    s.properties
                        .as_ref()?
                        .get("metadata")?
                        .properties
                        .as_ref()?
                        .get("name")?
                        .max_length
                })
        };
        assert_eq!(limit(bundle()), Some(52));
        assert_eq!(limit(bundle_deployment()), Some(45));
        assert_eq!(limit(catalog()), None);
        assert_eq!(limit(operator()), None);
    }
}
