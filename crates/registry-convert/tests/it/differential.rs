//! Differential test against upstream: rukpak v0.16.0's `internal/convert.RegistryV1ToPlain`,
//! run by the harness `scripts/build-go-tools.sh rukpak-convert` builds (path in
//! `OLMRS_RUKPAK_CONVERT_HARNESS`). For every corpus bundle upstream accepts, our AllNamespaces
//! output must equal upstream's object by object once each deliberate difference
//! (`docs/registry-conversion.md`) is undone by its own named normalisation below; each
//! normalisation checks that the difference is exactly the documented one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use registry_convert::{ConvertOptions, convert};
use serde_json::{Map, Value, json};

use crate::bundles::corpus_bundles;

const HARNESS_ENV: &str = "OLMRS_RUKPAK_CONVERT_HARNESS";

fn harness() -> Option<PathBuf> {
    match std::env::var_os(HARNESS_ENV) {
        Some(path) => Some(PathBuf::from(path)),
        None => {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
            let reason = format!(
                "{HARNESS_ENV} is not set (scripts/test sets it; or run scripts/build-go-tools.sh rukpak-convert)"
            );
            assert!(!ci, "required test component is missing in CI: {reason}");
            eprintln!("SKIP: {reason}");
            None
        }
    }
}

/// Upstream's objects, or its refusal message.
fn upstream(harness: &Path, bundle: &Path) -> Result<Vec<Value>, String> {
    let output = Command::new(harness)
        .arg(bundle)
        .output()
        .expect("running the upstream conversion harness");
    match output.status.code() {
        Some(0) => Ok(serde_json::from_slice(&output.stdout).expect("harness prints JSON")),
        Some(1) => Err(String::from_utf8_lossy(&output.stderr).trim().to_owned()),
        _ => panic!(
            "harness failed on {}: {}",
            bundle.display(),
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

/// Upstream's result for every bundle, the harness processes run a few at a time.
fn run_upstream(
    harness: &Path,
    bundles: Vec<PathBuf>,
) -> Vec<(PathBuf, Result<Vec<Value>, String>)> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8));
    let chunk = bundles.len().div_ceil(workers).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = bundles
            .chunks(chunk)
            .map(|dirs| {
                scope.spawn(move || {
                    dirs.iter()
                        .map(|dir| (dir.clone(), upstream(harness, dir)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("harness worker"))
            .collect()
    })
}

/// What each normalisation did, counted over the corpus.
#[derive(Default)]
struct Applied(BTreeMap<&'static str, usize>);

impl Applied {
    fn note(&mut self, name: &'static str) {
        *self.0.entry(name).or_default() += 1;
    }
}

fn kind(o: &Value) -> &str {
    o["kind"].as_str().unwrap_or("")
}

fn name(o: &Value) -> &str {
    o["metadata"]["name"].as_str().unwrap_or("")
}

/// The fields Go's typed round trip writes as `null` or `{}` when unset, seen on the corpus.
const GO_ZERO_FIELDS: &[&str] = &[
    "creationTimestamp",
    "status",
    "resources",
    "strategy",
    "conditions",
    "storedVersions",
    // A Namespace's empty spec.
    "spec",
];

/// Upstream serialises typed Go structs: unset struct fields appear as `creationTimestamp:
/// null`, `status: {}`, `resources: {}` and the like. These carry nothing, so they are removed
/// from upstream's side wherever ours has no such field.
fn go_zero_values(upstream: &mut Value, ours: &Value, applied: &mut Applied) {
    fn walk(up: &mut Value, ours: Option<&Value>, removed: &mut bool) {
        match up {
            Value::Object(map) => {
                let ours_map = ours.and_then(Value::as_object);
                map.retain(|key, value| {
                    let theirs = ours_map.and_then(|m| m.get(key));
                    let zero = value.is_null() || value.as_object().is_some_and(Map::is_empty);
                    if zero && theirs.is_none() {
                        assert!(
                            GO_ZERO_FIELDS.contains(&key.as_str()),
                            "upstream writes an empty {key:?} ({value}) we do not: not a known Go zero-value field"
                        );
                        *removed = true;
                        return false;
                    }
                    true
                });
                for (key, value) in map.iter_mut() {
                    walk(value, ours_map.and_then(|m| m.get(key)), removed);
                }
            }
            Value::Array(items) => {
                let ours_items = ours.and_then(Value::as_array);
                for (i, item) in items.iter_mut().enumerate() {
                    walk(item, ours_items.and_then(|o| o.get(i)), removed);
                }
            }
            _ => {}
        }
    }
    let mut removed = false;
    walk(upstream, Some(ours), &mut removed);
    if removed {
        applied.note("go zero values");
    }
}

/// The other side of Go's `omitempty`: a field the author wrote with its zero value (`priority:
/// 0`, `required: false`) is dropped by upstream's typed round trip; we keep what was written.
fn omitted_zero_values(upstream: &Value, ours: &mut Value, applied: &mut Applied) {
    fn is_zero(v: &Value) -> bool {
        match v {
            Value::Null => true,
            Value::Bool(b) => !b,
            Value::Number(n) => n.as_f64() == Some(0.0),
            Value::String(s) => s.is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
        }
    }
    fn walk(up: Option<&Value>, ours: &mut Value, removed: &mut bool) {
        match ours {
            Value::Object(map) => {
                let up_map = up.and_then(Value::as_object);
                map.retain(|key, value| {
                    let keep = up_map.is_none_or(|m| m.contains_key(key)) || !is_zero(value);
                    *removed |= !keep;
                    keep
                });
                for (key, value) in map.iter_mut() {
                    walk(up_map.and_then(|m| m.get(key)), value, removed);
                }
            }
            Value::Array(items) => {
                let up_items = up.and_then(Value::as_array);
                for (i, item) in items.iter_mut().enumerate() {
                    walk(up_items.and_then(|u| u.get(i)), item, removed);
                }
            }
            _ => {}
        }
    }
    let mut removed = false;
    walk(Some(upstream), ours, &mut removed);
    if removed {
        applied.note("zero values omitted by Go");
    }
}

/// Upstream decodes every CRD into the typed `apiextensions.k8s.io/v1` struct, which writes a
/// zero `status` (`acceptedNames` with empty kind and plural) into CRDs that had none; we copy
/// CRDs as written.
fn crd_zero_status(upstream: &mut Value, ours: &Value, applied: &mut Applied) {
    if kind(upstream) != "CustomResourceDefinition" || ours.get("status").is_some() {
        return;
    }
    let zero = json!({"acceptedNames": {"kind": "", "plural": ""}, "conditions": null, "storedVersions": null});
    let Some(status) = upstream.as_object_mut().and_then(|m| m.remove("status")) else {
        return;
    };
    let mut trimmed = status.clone();
    if let Some(map) = trimmed.as_object_mut() {
        map.retain(|_, v| !v.is_null());
    }
    let mut zero_trimmed = zero;
    if let Some(map) = zero_trimmed.as_object_mut() {
        map.retain(|_, v| !v.is_null());
    }
    assert_eq!(
        trimmed,
        zero_trimmed,
        "{}: upstream status is not Go's zero CRD status",
        name(upstream)
    );
    applied.note("zero CRD status");
}

/// Upstream decodes `apiextensions.k8s.io/v1beta1` CRDs into the v1 type and so silently drops
/// their v1beta1-only spec fields (`validation`, `subresources`, `version`,
/// `additionalPrinterColumns`); we keep them as written (a cluster without v1beta1 then reports
/// the kind as unknown, instead of getting a mangled CRD).
fn v1beta1_crd_kept(upstream: &Value, ours: &mut Value, applied: &mut Applied) {
    if kind(ours) != "CustomResourceDefinition"
        || ours["apiVersion"] != "apiextensions.k8s.io/v1beta1"
    {
        return;
    }
    let Some(spec) = ours["spec"].as_object_mut() else {
        return;
    };
    let mut dropped = false;
    for key in [
        "validation",
        "subresources",
        "version",
        "additionalPrinterColumns",
    ] {
        if upstream["spec"].get(key).is_none() {
            dropped |= spec.remove(key).is_some();
        }
    }
    if dropped {
        applied.note("v1beta1 CRD fields kept");
    }
}

/// §7.5: the merged annotations go to the pod template, not the Deployment metadata; and we
/// add `olm.operatorNamespace` there, as OLM v0 does.
fn annotations_on_pod_template(upstream: &mut Value, ours: &mut Value, applied: &mut Applied) {
    if kind(upstream) != "Deployment" {
        return;
    }
    let moved = upstream["metadata"]
        .as_object_mut()
        .and_then(|m| m.remove("annotations"))
        .expect("upstream annotates every Deployment");
    let namespace = ours["metadata"]["namespace"].clone();
    let deployment = name(ours).to_owned();
    let ours_template = &mut ours["spec"]["template"]["metadata"]["annotations"];
    let operator_namespace = ours_template
        .as_object_mut()
        .and_then(|a| a.remove("olm.operatorNamespace"))
        .expect("we set olm.operatorNamespace");
    assert_eq!(operator_namespace, namespace);
    assert_eq!(
        ours_template, &moved,
        "{deployment}: pod template annotations are upstream's Deployment annotations"
    );
    let template = &mut upstream["spec"]["template"]["metadata"];
    template["annotations"] = moved;
    applied.note("annotations on the pod template (+ olm.operatorNamespace)");
}

fn namespaces_rule() -> Value {
    json!({"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["namespaces"]})
}

/// §7.5: promoted namespaced permissions gain the `namespaces` get/list/watch rule upstream
/// meant to add.
fn namespaces_rule_added(upstream: &Value, ours: &mut Value, applied: &mut Applied) {
    if kind(ours) != "ClusterRole" {
        return;
    }
    let (Some(ours_rules), Some(up_rules)) =
        (ours["rules"].as_array_mut(), upstream["rules"].as_array())
    else {
        return;
    };
    if ours_rules.len() == up_rules.len() + 1 && ours_rules.last() == Some(&namespaces_rule()) {
        ours_rules.pop();
        applied.note("namespaces rule on promoted permissions");
    }
}

/// §7.5: a role name upstream made 64 characters long is one character shorter here.
fn names_within_63(upstream: &mut Value, ours: &Value, applied: &mut Applied) {
    if !matches!(
        kind(upstream),
        "Role" | "RoleBinding" | "ClusterRole" | "ClusterRoleBinding"
    ) {
        return;
    }
    let up_name = name(upstream).to_owned();
    if up_name.len() != 64 {
        return;
    }
    let (prefix, hash) = up_name.rsplit_once('-').expect("hashed names have a dash");
    let expected = format!("{}-{hash}", &prefix[..prefix.len() - 1]);
    assert_eq!(name(ours), expected);
    upstream["metadata"]["name"] = expected.clone().into();
    if upstream["roleRef"].is_object() {
        upstream["roleRef"]["name"] = expected.into();
    }
    applied.note("names within 63 characters");
}

/// A ServiceAccount the conversion generates: nothing but its name and namespace.
fn is_generated_sa(o: &Value) -> bool {
    kind(o) == "ServiceAccount"
        && o.as_object().is_some_and(|m| m.len() == 3)
        && o["metadata"].as_object().is_some_and(|m| m.len() == 2)
}

/// Upstream-level list rewrites: ServiceAccounts sorted (§7.5), identical duplicates dropped,
/// and a generated ServiceAccount left out when the bundle ships one of that name.
fn list_level(upstream: &mut Vec<Value>, applied: &mut Applied) {
    let shipped: Vec<String> = upstream
        .iter()
        .filter(|o| kind(o) == "ServiceAccount" && !is_generated_sa(o))
        .map(|o| name(o).to_owned())
        .collect();
    let mut kept: Vec<Value> = Vec::new();
    for object in upstream.drain(..) {
        if is_generated_sa(&object) && shipped.iter().any(|s| s == name(&object)) {
            applied.note("generated ServiceAccount shadowed by the bundle's");
            continue;
        }
        if kept.contains(&object) {
            applied.note("identical duplicates dropped");
            continue;
        }
        kept.push(object);
    }
    // ServiceAccounts follow the Namespace; upstream writes them in Go map order.
    let sa_end = 1 + kept[1..]
        .iter()
        .take_while(|o| kind(o) == "ServiceAccount")
        .count();
    kept[1..sa_end].sort_by(|a, b| name(a).cmp(name(b)));
    *upstream = kept;
}

fn first_difference(a: &Value, b: &Value, path: &mut String) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for key in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                let len = path.len();
                path.push('/');
                path.push_str(key);
                match (x.get(key), y.get(key)) {
                    (Some(p), Some(q)) => {
                        if let Some(d) = first_difference(p, q, path) {
                            return Some(d);
                        }
                    }
                    (p, q) => return Some(format!("{path}: upstream {p:?}, ours {q:?}")),
                }
                path.truncate(len);
            }
            None
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                let len = path.len();
                path.push_str(&format!("/{i}"));
                if let Some(d) = first_difference(p, q, path) {
                    return Some(d);
                }
                path.truncate(len);
            }
            None
        }
        _ if a == b => None,
        _ => Some(format!("{path}: upstream {a}, ours {b}")),
    }
}

#[test]
fn equal_to_upstream_after_documented_differences() {
    let Some(harness) = harness() else { return };
    let mut applied = Applied::default();
    let (mut accepted, mut equal, mut refused_both) = (0, 0, 0);
    let mut failures = Vec::new();
    for (dir, upstream_result) in run_upstream(&harness, corpus_bundles()) {
        let Ok(mut up) = upstream_result else {
            refused_both += 1;
            continue;
        };
        accepted += 1;
        let ours = convert(&dir, &ConvertOptions::default())
            .unwrap_or_else(|e| panic!("{}: upstream converts it, we refuse: {e}", dir.display()));
        let mut ours = ours.objects;
        list_level(&mut up, &mut applied);
        if up.len() != ours.len() {
            failures.push(format!(
                "{}: upstream {} objects, ours {}",
                dir.display(),
                up.len(),
                ours.len()
            ));
            continue;
        }
        let mut same = true;
        for (u, o) in up.iter_mut().zip(ours.iter_mut()) {
            names_within_63(u, o, &mut applied);
            namespaces_rule_added(u, o, &mut applied);
            annotations_on_pod_template(u, o, &mut applied);
            v1beta1_crd_kept(u, o, &mut applied);
            crd_zero_status(u, o, &mut applied);
            go_zero_values(u, o, &mut applied);
            omitted_zero_values(u, o, &mut applied);
            if let Some(d) = first_difference(u, o, &mut String::new()) {
                failures.push(format!("{}: {} {}: {d}", dir.display(), kind(o), name(o)));
                same = false;
                break;
            }
        }
        equal += usize::from(same);
    }
    eprintln!(
        "differential: upstream accepts {accepted} bundles (refuses {refused_both}); equal after documented differences: {equal}"
    );
    for (name, count) in &applied.0 {
        eprintln!("  normalisation {name:?}: applied {count} times");
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(accepted > 100, "upstream accepted only {accepted} bundles");
}
