//! Health rules: upstream RukPak's table of cases, and the per-kind kstatus rules.

mod kinds;
mod upstream_table;

use health::{ObjectProblem, ObjectRef, Unhealthy, check_object};
use serde_json::{Value, json};

/// An object of `api_version`/`kind` named `name`, with `body` merged in at top level
/// (`metadata` entries are merged into the name).
pub(crate) fn obj(api_version: &str, kind: &str, name: &str, body: Value) -> Value {
    let mut o = json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name}});
    for (k, v) in body.as_object().expect("body is an object") {
        if k == "metadata" {
            let meta = o["metadata"].as_object_mut().expect("metadata");
            meta.extend(v.as_object().expect("metadata object").clone());
        } else {
            o[k] = v.clone();
        }
    }
    o
}

/// RukPak's check over a set: the problem of every object that is not healthy.
pub(crate) fn problems(objects: &[Value]) -> Vec<ObjectProblem> {
    objects
        .iter()
        .filter_map(|o| {
            let message = check_object(o)?;
            Some(ObjectProblem {
                object: reference(o),
                message,
            })
        })
        .collect()
}

fn reference(o: &Value) -> ObjectRef {
    let api_version = o["apiVersion"].as_str().expect("apiVersion");
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    ObjectRef {
        group: group.to_owned(),
        version: version.to_owned(),
        kind: o["kind"].as_str().expect("kind").to_owned(),
        namespace: o["metadata"]["namespace"].as_str().map(str::to_owned),
        name: o["metadata"]["name"].as_str().expect("name").to_owned(),
    }
}

#[test]
fn errors_are_keyed_by_gvk_and_name_and_joined_by_lines() {
    let pod = obj(
        "v1",
        "Pod",
        "web-0",
        json!({"metadata": {"namespace": "shop"}, "status": {"phase": "Pending"}}),
    );
    let crd = obj(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        "widgets.example.com",
        json!({}),
    );
    let report = Unhealthy(problems(&[pod, crd]));
    assert_eq!(
        report.to_string(),
        "(/v1, Kind=Pod)(shop/web-0): object InProgress: Pod is in the Pending phase\n\
         (apiextensions.k8s.io/v1, Kind=CustomResourceDefinition)(widgets.example.com): \
         object InProgress: Install in progress"
    );
}
