//! Every corpus bundle converts in its default install mode, or fails with a specific error.
//! Default mode: AllNamespaces when supported, else OwnNamespace, else SingleNamespace watching
//! `olmrs-watched` (not the install namespace), else MultiNamespace watching two namespaces.

use std::collections::BTreeMap;
use std::path::PathBuf;

use registry_convert::{ConvertError, ConvertOptions, Converted, convert};

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
    let converted: usize = counts
        .iter()
        .filter(|(k, _)| k.starts_with("converted"))
        .map(|(_, v)| v.len())
        .sum();
    assert!(converted > 0);
}
