//! Every corpus bundle converts in its default install mode, or fails with a specific error.
//! Default mode: AllNamespaces when supported, else OwnNamespace, else SingleNamespace watching
//! `olmrs-watched` (not the install namespace), else MultiNamespace watching two namespaces.

use std::collections::BTreeMap;
use std::path::PathBuf;

use registry_convert::{ConvertError, ConvertOptions, Converted, INJECT_CA_ANNOTATION, convert};
use serde_json::Value;

use crate::bundles::corpus_bundles;

/// The outcome of the default-mode conversion, and the mode it was done in.
pub(crate) fn convert_default(
    dir: &std::path::Path,
) -> (&'static str, Result<Converted, ConvertError>) {
    let attempts: [(&str, &[&str]); 3] = [
        ("AllNamespaces/OwnNamespace", &[]),
        ("SingleNamespace", &["olmrs-watched"]),
        ("MultiNamespace", &["olmrs-watched-a", "olmrs-watched-b"]),
    ];
    let mut last = None;
    for (mode, watch) in attempts {
        let options = ConvertOptions {
            watch_namespaces: watch.iter().map(|s| s.to_string()).collect(),
            ..ConvertOptions::default()
        };
        match convert(dir, &options) {
            Err(ConvertError::InstallModes { .. }) => last = Some((mode, convert(dir, &options))),
            other => return (mode, other),
        }
    }
    last.expect("three attempts were made")
}

/// Each refusal's name, and a check that its message names what is at fault.
fn outcome(error: &ConvertError) -> &'static str {
    let message = error.to_string();
    let names = |item: &str| {
        assert!(
            message.contains(item),
            "error {message:?} does not name {item:?}"
        );
    };
    match error {
        ConvertError::Bundle(_) => "invalid bundle",
        ConvertError::InvalidCsv { field, .. } => {
            names(field);
            "invalid CSV field"
        }
        ConvertError::InstallModes { .. } => "install modes",
        ConvertError::AllNamespacesAmongOthers(_) => "\"\" among watch namespaces",
        ConvertError::UnsupportedResource { kind, .. } => {
            names(kind);
            "unsupported resource"
        }
        ConvertError::DuplicateObject { name, .. } => {
            names(name);
            "duplicate object"
        }
        ConvertError::UnknownDeployment { deployment, .. } => {
            names(deployment);
            "unknown deployment"
        }
        ConvertError::UnknownWebhookType { kind, .. } => {
            names(kind);
            "unknown webhook type"
        }
        ConvertError::ForbiddenWebhookRule { name, .. } => {
            names(name);
            "forbidden webhook rule"
        }
        ConvertError::ConversionWithoutCrds { webhook } => {
            names(webhook);
            "conversion webhook without CRDs"
        }
        ConvertError::ConversionCrdMissing { crd, .. } => {
            names(crd);
            "conversion CRD missing"
        }
        ConvertError::ConversionPreservesUnknownFields { crd, .. } => {
            names(crd);
            "conversion CRD preserves unknown fields"
        }
        ConvertError::ConversionNeedsAllNamespaces { webhook, .. } => {
            names(webhook);
            "conversion webhook needs AllNamespaces"
        }
    }
}

#[test]
fn every_corpus_bundle_converts_or_fails_specifically() {
    let bundles = corpus_bundles();
    assert!(
        bundles.len() > 300,
        "corpus holds {} bundles",
        bundles.len()
    );
    let mut counts: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    let mut serving = 0;
    for dir in &bundles {
        let (mode, result) = convert_default(dir);
        let key = match &result {
            Ok(converted) => {
                assert!(
                    converted.objects.iter().any(|o| o["kind"] == "Deployment"),
                    "{}: no Deployment",
                    dir.display()
                );
                let annotations = converted
                    .objects
                    .iter()
                    .find(|o| o["kind"] == "Deployment")
                    .map(|d| &d["spec"]["template"]["metadata"]["annotations"]);
                let targets = annotations.and_then(|a| a["olm.targetNamespaces"].as_str());
                let mode = match targets {
                    Some("") => "AllNamespaces",
                    Some(t) if t == converted.install_namespace => "OwnNamespace",
                    _ => mode,
                };
                check_serving(dir, converted);
                if !service_refs(&converted.objects).is_empty() {
                    serving += 1;
                }
                format!("converted ({mode})")
            }
            Err(error) => format!("refused: {}", outcome(error)),
        };
        counts.entry(key).or_default().push(dir.clone());
    }
    eprintln!("corpus conversion outcomes ({} bundles):", bundles.len());
    for (outcome, dirs) in &counts {
        eprintln!("  {outcome}: {}", dirs.len());
        if outcome.starts_with("refused") {
            for dir in dirs {
                let (_, result) = convert_default(dir);
                eprintln!(
                    "    {}: {}",
                    dir.display(),
                    result.err().map(|e| e.to_string()).unwrap_or_default()
                );
            }
        }
    }
    eprintln!("  converted bundles serving webhooks or API services: {serving}");
    let converted: usize = counts
        .iter()
        .filter(|(k, _)| k.starts_with("converted"))
        .map(|(_, v)| v.len())
        .sum();
    assert!(converted > 0);
}

/// The service references of webhook configurations, APIServices and conversion webhooks, with
/// the object's CA injection annotation.
fn service_refs(objects: &[Value]) -> Vec<(&Value, &Value)> {
    let mut refs = Vec::new();
    for object in objects {
        let inject = &object["metadata"]["annotations"][INJECT_CA_ANNOTATION];
        match object["kind"].as_str() {
            Some("ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration") => {
                for webhook in object["webhooks"].as_array().into_iter().flatten() {
                    refs.push((&webhook["clientConfig"]["service"], inject));
                }
            }
            Some("APIService") => refs.push((&object["spec"]["service"], inject)),
            Some("CustomResourceDefinition")
                if object["spec"]["conversion"]["webhook"].is_object() =>
            {
                refs.push((
                    &object["spec"]["conversion"]["webhook"]["clientConfig"]["service"],
                    inject,
                ));
            }
            _ => {}
        }
    }
    refs
}

/// Every served endpoint is wired end to end: the referenced Service exists with that port, it
/// selects a Deployment's pods, that Deployment mounts the Secret the object's CA comes from,
/// and a certificate is requested for that Secret, valid for the Service's DNS name.
fn check_serving(dir: &std::path::Path, converted: &Converted) {
    let objects = &converted.objects;
    for (service_ref, inject) in service_refs(objects) {
        let (name, namespace) = (&service_ref["name"], &service_ref["namespace"]);
        let service = objects
            .iter()
            .find(|o| {
                o["kind"] == "Service"
                    && &o["metadata"]["name"] == name
                    && &o["metadata"]["namespace"] == namespace
            })
            .unwrap_or_else(|| panic!("{}: no Service {name}", dir.display()));
        let ports = service["spec"]["ports"].as_array().expect("ports");
        assert!(
            ports.iter().any(|p| p["port"] == service_ref["port"]),
            "{}: {name} lacks port {}",
            dir.display(),
            service_ref["port"]
        );
        let selector = service["spec"]["selector"].as_object().expect("selector");
        let deployment = objects
            .iter()
            .filter(|o| o["kind"] == "Deployment")
            .find(|d| {
                let labels = &d["spec"]["template"]["metadata"]["labels"];
                !selector.is_empty() && selector.iter().all(|(k, v)| &labels[k] == v)
            })
            .unwrap_or_else(|| panic!("{}: Service {name} selects no Deployment", dir.display()));
        let secret = inject
            .as_str()
            .and_then(|v| v.split_once('/'))
            .map(|(_, secret)| secret)
            .unwrap_or_else(|| panic!("{}: no CA injection annotation for {name}", dir.display()));
        let volumes = deployment["spec"]["template"]["spec"]["volumes"]
            .as_array()
            .expect("volumes");
        assert!(
            volumes.iter().any(|v| v["secret"]["secretName"] == secret),
            "{}: {secret} not mounted",
            dir.display()
        );
        let request = converted
            .certificates
            .iter()
            .find(|c| c.secret_name == secret)
            .unwrap_or_else(|| panic!("{}: no certificate requested for {secret}", dir.display()));
        let dns = format!(
            "{}.{}.svc",
            name.as_str().unwrap_or(""),
            namespace.as_str().unwrap_or("")
        );
        assert!(
            request.dns_names.contains(&dns),
            "{}: certificate lacks {dns}",
            dir.display()
        );
    }
}
