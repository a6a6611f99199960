//! Hand-written bundles, one feature each: install modes, the deployment configuration merge,
//! webhooks (validating, mutating, conversion), API services, both certificate modes, and each
//! refusal.

use registry_convert::{
    CertificateMode, ConfigError, ConvertError, ConvertOptions, INJECT_CA_ANNOTATION, convert,
    to_yaml_stream,
};
use serde_json::{Value, json};

use crate::bundles::bundle;

fn csv(modes: &[&str], extra_spec: Value) -> Value {
    let install_modes: Vec<Value> = [
        "AllNamespaces",
        "OwnNamespace",
        "SingleNamespace",
        "MultiNamespace",
    ]
    .iter()
    .map(|m| json!({"type": m, "supported": modes.contains(m)}))
    .collect();
    let mut csv = json!({
        "apiVersion": "operators.coreos.com/v1alpha1",
        "kind": "ClusterServiceVersion",
        "metadata": {"name": "demo.v1.0.0", "annotations": {"capabilities": "Basic Install"}},
        "spec": {
            "version": "1.0.0",
            "installModes": install_modes,
            "install": {"strategy": "deployment", "spec": {
                "deployments": [{
                    "name": "demo-controller",
                    "label": {"app": "demo"},
                    "spec": {
                        "selector": {"matchLabels": {"app": "demo"}},
                        "template": {
                            "metadata": {"labels": {"app": "demo"}, "annotations": {"capabilities": "Full"}},
                            "spec": {
                                "serviceAccountName": "demo-sa",
                                "containers": [{
                                    "name": "manager",
                                    "image": "example.com/demo:1",
                                    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                                }],
                                "volumes": [{"name": "data", "emptyDir": {}}],
                                "tolerations": [{"key": "x", "operator": "Exists"}],
                            },
                        },
                    },
                }],
                "permissions": [{"serviceAccountName": "demo-sa", "rules": [
                    {"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"]}
                ]}],
                "clusterPermissions": [{"serviceAccountName": "demo-sa", "rules": [
                    {"verbs": ["list"], "apiGroups": ["demo.example.com"], "resources": ["widgets"]}
                ]}],
            }},
        },
    });
    if let (Some(spec), Value::Object(extra)) = (csv["spec"].as_object_mut(), extra_spec) {
        spec.extend(extra);
    }
    csv
}

fn crd(name: &str) -> Value {
    let (plural, group) = name.split_once('.').expect("plural.group");
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": name},
        "spec": {
            "group": group,
            "names": {"kind": "Widget", "plural": plural},
            "scope": "Namespaced",
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object"}}}],
        },
    })
}

fn with_watch(watch: &[&str]) -> ConvertOptions {
    ConvertOptions {
        install_namespace: "demo-ns".into(),
        watch_namespaces: watch.iter().map(|s| s.to_string()).collect(),
        ..ConvertOptions::default()
    }
}

fn of_kind<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

fn pod_annotations(objects: &[Value]) -> &Value {
    &of_kind(objects, "Deployment")[0]["spec"]["template"]["metadata"]["annotations"]
}

#[test]
fn all_namespaces_promotes_permissions_and_annotates_the_pod_template() {
    let dir = bundle(&csv(&["AllNamespaces"], json!({})), &[]);
    let out = convert(dir.path(), &ConvertOptions::default()).unwrap();
    assert_eq!(out.install_namespace, "demo-system");
    let kinds: Vec<&str> = out
        .objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "Namespace",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRole",
            "ClusterRoleBinding",
            "ClusterRoleBinding",
            "Deployment"
        ]
    );
    let promoted = of_kind(&out.objects, "ClusterRole")[1];
    assert_eq!(
        promoted["rules"][1],
        json!({"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["namespaces"]})
    );
    let annotations = pod_annotations(&out.objects);
    assert_eq!(annotations["olm.targetNamespaces"], "");
    assert_eq!(annotations["olm.operatorNamespace"], "demo-system");
    // The template's own annotation wins over the CSV's.
    assert_eq!(annotations["capabilities"], "Full");
    assert!(
        of_kind(&out.objects, "Deployment")[0]["metadata"]
            .get("annotations")
            .is_none()
    );
}

#[test]
fn own_single_and_multi_namespace_get_roles_per_target() {
    let dir = bundle(&csv(&["OwnNamespace"], json!({})), &[]);
    let out = convert(dir.path(), &with_watch(&[])).unwrap();
    let roles = of_kind(&out.objects, "Role");
    assert_eq!(roles.len(), 1);
    assert_eq!(roles[0]["metadata"]["namespace"], "demo-ns");
    assert_eq!(
        pod_annotations(&out.objects)["olm.targetNamespaces"],
        "demo-ns"
    );

    let dir = bundle(&csv(&["SingleNamespace"], json!({})), &[]);
    let out = convert(dir.path(), &with_watch(&["team-a"])).unwrap();
    let binding = of_kind(&out.objects, "RoleBinding")[0];
    assert_eq!(binding["metadata"]["namespace"], "team-a");
    assert_eq!(binding["subjects"][0]["namespace"], "demo-ns");

    let dir = bundle(&csv(&["MultiNamespace"], json!({})), &[]);
    let out = convert(dir.path(), &with_watch(&["team-a", "team-b"])).unwrap();
    let namespaces: Vec<&Value> = of_kind(&out.objects, "Role")
        .iter()
        .map(|r| &r["metadata"]["namespace"])
        .collect();
    assert_eq!(namespaces, [&json!("team-a"), &json!("team-b")]);
    assert_eq!(
        pod_annotations(&out.objects)["olm.targetNamespaces"],
        "team-a,team-b"
    );
    // Namespaced permissions stay namespaced outside AllNamespaces mode.
    assert_eq!(of_kind(&out.objects, "ClusterRole").len(), 1);
}

#[test]
fn unsupported_install_mode_names_the_supported_modes() {
    let dir = bundle(&csv(&["OwnNamespace", "SingleNamespace"], json!({})), &[]);
    let err = convert(dir.path(), &with_watch(&["a", "b"])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "supported install modes [OwnNamespace SingleNamespace] do not support target namespaces [a b]"
    );
}

#[test]
fn deployment_config_merges_as_olm_v0() {
    let config = json!({
        "watchNamespaces": [""],
        "env": [{"name": "B", "value": "override"}, {"name": "C", "value": "3"}],
        "envFrom": [{"configMapRef": {"name": "extra"}}],
        "resources": {"limits": {"cpu": "1"}},
        "nodeSelector": {"disk": "ssd"},
        "tolerations": [{"key": "x", "operator": "Exists"}, {"key": "y", "operator": "Exists"}],
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}},
        "volumes": [{"name": "data", "configMap": {"name": "cm"}}, {"name": "more", "emptyDir": {}}],
        "volumeMounts": [{"name": "more", "mountPath": "/more"}],
        "annotations": {"capabilities": "ignored", "team": "blue"},
    });
    let options =
        ConvertOptions::from_config("demo-ns", Some(&config), CertificateMode::BuiltIn).unwrap();
    assert_eq!(options.watch_namespaces, [""]);
    let dir = bundle(&csv(&["AllNamespaces"], json!({})), &[]);
    let out = convert(dir.path(), &options).unwrap();
    let deployment = of_kind(&out.objects, "Deployment")[0];
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(
        container["env"],
        json!([{"name": "A", "value": "1"}, {"name": "B", "value": "override"}, {"name": "C", "value": "3"}])
    );
    assert_eq!(
        container["envFrom"],
        json!([{"configMapRef": {"name": "extra"}}])
    );
    assert_eq!(container["resources"], json!({"limits": {"cpu": "1"}}));
    assert_eq!(
        container["volumeMounts"],
        json!([{"name": "data", "mountPath": "/data"}, {"name": "more", "mountPath": "/more"}])
    );
    assert_eq!(
        pod["volumes"],
        json!([{"name": "data", "configMap": {"name": "cm"}}, {"name": "more", "emptyDir": {}}])
    );
    assert_eq!(
        pod["tolerations"],
        json!([{"key": "x", "operator": "Exists"}, {"key": "y", "operator": "Exists"}])
    );
    assert_eq!(pod["nodeSelector"], json!({"disk": "ssd"}));
    assert!(pod["affinity"]["nodeAffinity"].is_object());
    // Existing annotations win; new ones go to the Deployment and its pod template.
    assert_eq!(
        deployment["spec"]["template"]["metadata"]["annotations"]["capabilities"],
        "Full"
    );
    assert_eq!(
        deployment["spec"]["template"]["metadata"]["annotations"]["team"],
        "blue"
    );
    assert_eq!(
        deployment["metadata"]["annotations"],
        json!({"capabilities": "ignored", "team": "blue"})
    );
}

#[test]
fn config_errors_name_the_key() {
    let unknown = json!({"watchNamespace": ["a"]});
    let err =
        ConvertOptions::from_config("ns", Some(&unknown), CertificateMode::BuiltIn).unwrap_err();
    assert!(
        matches!(err, ConfigError::UnknownKey { ref key } if key == "watchNamespace"),
        "{err}"
    );
    let wrong = json!({"env": {"name": "A"}});
    let err =
        ConvertOptions::from_config("ns", Some(&wrong), CertificateMode::BuiltIn).unwrap_err();
    assert!(err.to_string().starts_with("spec.config.env: "), "{err}");
}

fn webhooks() -> Value {
    json!({"webhookdefinitions": [
        {"type": "ValidatingAdmissionWebhook", "generateName": "vwidget.demo.example.com",
         "deploymentName": "demo-controller", "containerPort": 9443, "targetPort": 9443,
         "webhookPath": "/validate", "sideEffects": "None", "admissionReviewVersions": ["v1"],
         "failurePolicy": "Fail",
         "rules": [{"apiGroups": ["demo.example.com"], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["widgets"]}]},
        {"type": "MutatingAdmissionWebhook", "generateName": "mwidget.demo.example.com",
         "deploymentName": "demo-controller", "containerPort": 9443, "targetPort": 9443,
         "webhookPath": "/mutate", "sideEffects": "None", "admissionReviewVersions": ["v1"],
         "reinvocationPolicy": "IfNeeded",
         "rules": [{"apiGroups": ["demo.example.com"], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["widgets"]}]},
        {"type": "ConversionWebhook", "generateName": "cwidget.demo.example.com",
         "deploymentName": "demo-controller", "containerPort": 9443, "targetPort": 9443,
         "webhookPath": "/convert", "sideEffects": "None", "admissionReviewVersions": ["v1"],
         "conversionCRDs": ["widgets.demo.example.com"]},
    ]})
}

#[test]
fn webhooks_builtin_certificates() {
    let dir = bundle(
        &csv(&["AllNamespaces"], webhooks()),
        &[crd("widgets.demo.example.com")],
    );
    let out = convert(dir.path(), &with_watch(&[])).unwrap();
    let inject = json!({INJECT_CA_ANNOTATION: "demo-ns/demo-controller-service-cert"});
    let validating = of_kind(&out.objects, "ValidatingWebhookConfiguration")[0];
    assert_eq!(validating["metadata"]["annotations"], inject);
    assert_eq!(
        validating["webhooks"][0]["clientConfig"],
        json!({"service": {"name": "demo-controller-service", "namespace": "demo-ns", "port": 9443, "path": "/validate"}})
    );
    assert!(validating["webhooks"][0].get("namespaceSelector").is_none());
    let mutating = of_kind(&out.objects, "MutatingWebhookConfiguration")[0];
    assert_eq!(mutating["webhooks"][0]["reinvocationPolicy"], "IfNeeded");
    let crd = of_kind(&out.objects, "CustomResourceDefinition")[0];
    assert_eq!(crd["spec"]["conversion"]["strategy"], "Webhook");
    assert_eq!(
        crd["spec"]["conversion"]["webhook"]["conversionReviewVersions"],
        json!(["v1"])
    );
    assert_eq!(crd["metadata"]["annotations"], inject);
    let service = of_kind(&out.objects, "Service")[0];
    assert_eq!(
        service["spec"],
        json!({"ports": [{"name": "9443", "port": 9443, "targetPort": 9443}], "selector": {"app": "demo"}})
    );
    assert_eq!(out.certificates.len(), 1);
    let request = &out.certificates[0];
    assert_eq!(request.secret_name, "demo-controller-service-cert");
    assert_eq!(request.dns_names[1], "demo-controller-service.demo-ns.svc");
    let pod = &of_kind(&out.objects, "Deployment")[0]["spec"]["template"]["spec"];
    assert_eq!(pod["volumes"][1]["name"], "apiservice-cert");
    assert_eq!(
        pod["volumes"][1]["secret"]["items"][0],
        json!({"key": "tls.crt", "path": "apiserver.crt"})
    );
    assert_eq!(
        pod["containers"][0]["volumeMounts"][2],
        json!({"name": "webhook-cert", "mountPath": "/tmp/k8s-webhook-server/serving-certs"})
    );
    assert!(to_yaml_stream(&out.objects).starts_with("---\napiVersion: v1\nkind: Namespace\n"));
}

#[test]
fn webhooks_cert_manager() {
    let dir = bundle(
        &csv(&["AllNamespaces"], webhooks()),
        &[crd("widgets.demo.example.com")],
    );
    let options = ConvertOptions {
        certificates: CertificateMode::CertManager,
        ..with_watch(&[])
    };
    let out = convert(dir.path(), &options).unwrap();
    assert!(out.certificates.is_empty());
    let issuers = of_kind(&out.objects, "Issuer");
    assert_eq!(issuers.len(), 2);
    let certificates = of_kind(&out.objects, "Certificate");
    assert_eq!(certificates[0]["spec"]["isCA"], true);
    assert_eq!(
        certificates[1]["spec"]["secretName"],
        "demo-controller-service-cert"
    );
    assert_eq!(
        certificates[1]["spec"]["issuerRef"]["name"],
        "demo-ca-issuer"
    );
    let validating = of_kind(&out.objects, "ValidatingWebhookConfiguration")[0];
    assert_eq!(
        validating["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
        "demo-ns/demo-controller-service-cert"
    );
}

#[test]
fn webhooks_in_single_namespace_mode_select_the_targets() {
    let mut spec = webhooks();
    spec["webhookdefinitions"].as_array_mut().unwrap().pop();
    let dir = bundle(&csv(&["SingleNamespace"], spec), &[]);
    let out = convert(dir.path(), &with_watch(&["team-a"])).unwrap();
    let validating = of_kind(&out.objects, "ValidatingWebhookConfiguration")[0];
    assert_eq!(
        validating["webhooks"][0]["namespaceSelector"]["matchExpressions"][0]["values"],
        json!(["team-a"])
    );
}

#[test]
fn api_services() {
    let spec = json!({"apiservicedefinitions": {"owned": [
        {"name": "widgets", "group": "metrics.demo.example.com", "version": "v1beta1", "kind": "Widget",
         "deploymentName": "demo-controller", "containerPort": 6443}
    ]}});
    let dir = bundle(&csv(&["AllNamespaces"], spec), &[]);
    let out = convert(dir.path(), &with_watch(&[])).unwrap();
    let api = of_kind(&out.objects, "APIService")[0];
    assert_eq!(api["metadata"]["name"], "v1beta1.metrics.demo.example.com");
    assert_eq!(
        api["spec"]["service"],
        json!({"name": "demo-controller-service", "namespace": "demo-ns", "port": 6443})
    );
    let bindings = of_kind(&out.objects, "RoleBinding");
    assert_eq!(bindings[0]["metadata"]["namespace"], "kube-system");
    assert_eq!(
        bindings[0]["roleRef"]["name"],
        "extension-apiserver-authentication-reader"
    );
    assert!(
        of_kind(&out.objects, "ClusterRoleBinding")
            .iter()
            .any(|b| b["roleRef"]["name"] == "system:auth-delegator")
    );
    assert_eq!(out.certificates.len(), 1);
}

fn refusal(modes: &[&str], spec: Value, extra: &[Value], watch: &[&str]) -> ConvertError {
    let dir = bundle(&csv(modes, spec), extra);
    convert(dir.path(), &with_watch(watch)).unwrap_err()
}

#[test]
fn refusals() {
    let mut wrong_type = webhooks();
    wrong_type["webhookdefinitions"][0]["type"] = "Other".into();
    assert!(matches!(
        refusal(
            &["AllNamespaces"],
            wrong_type,
            &[crd("widgets.demo.example.com")],
            &[]
        ),
        ConvertError::UnknownWebhookType { .. }
    ));
    let mut unknown_deployment = webhooks();
    unknown_deployment["webhookdefinitions"][0]["deploymentName"] = "nope".into();
    let err = refusal(
        &["AllNamespaces"],
        unknown_deployment,
        &[crd("widgets.demo.example.com")],
        &[],
    );
    assert!(err.to_string().contains("\"nope\""), "{err}");
    let mut all_groups = webhooks();
    all_groups["webhookdefinitions"][0]["rules"][0]["apiGroups"] = json!(["*"]);
    assert!(matches!(
        refusal(
            &["AllNamespaces"],
            all_groups,
            &[crd("widgets.demo.example.com")],
            &[]
        ),
        ConvertError::ForbiddenWebhookRule { .. }
    ));
    assert!(matches!(
        refusal(&["AllNamespaces"], webhooks(), &[], &[]),
        ConvertError::ConversionCrdMissing { .. } | ConvertError::Bundle(_)
    ));
    let mut no_crds = webhooks();
    no_crds["webhookdefinitions"][2]["conversionCRDs"] = json!([]);
    assert!(matches!(
        refusal(
            &["AllNamespaces"],
            no_crds,
            &[crd("widgets.demo.example.com")],
            &[]
        ),
        ConvertError::ConversionWithoutCrds { .. }
    ));
    let mut preserving = crd("widgets.demo.example.com");
    preserving["spec"]["preserveUnknownFields"] = true.into();
    assert!(matches!(
        refusal(&["AllNamespaces"], webhooks(), &[preserving], &[]),
        ConvertError::ConversionPreservesUnknownFields { .. }
    ));
    assert!(matches!(
        refusal(
            &["AllNamespaces", "SingleNamespace"],
            webhooks(),
            &[crd("widgets.demo.example.com")],
            &["a"]
        ),
        ConvertError::ConversionNeedsAllNamespaces { .. }
    ));
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}});
    assert_eq!(
        refusal(&["AllNamespaces"], json!({}), &[pod], &[]).to_string(),
        "bundle contains unsupported resource: Name: p, Kind: Pod"
    );
    let cm = |data: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": data}});
    assert!(matches!(
        refusal(&["AllNamespaces"], json!({}), &[cm("1"), cm("2")], &[]),
        ConvertError::DuplicateObject { .. }
    ));
    assert!(matches!(
        refusal(&["MultiNamespace"], json!({}), &[], &["a", ""]),
        ConvertError::AllNamespacesAmongOthers(_)
    ));
    let bad = json!({"installModes": "AllNamespaces"});
    assert!(matches!(
        refusal(&["AllNamespaces"], bad, &[], &[]),
        ConvertError::InvalidCsv {
            field: "spec.installModes",
            ..
        }
    ));
}

/// A role name upstream rukpak v0.16.0 gives (read from its conversion of this corpus bundle):
/// the Go-JSON hash of the permission entry is reproduced exactly, so names stay stable across
/// a move from upstream.
#[test]
fn role_names_match_upstream() {
    let dir = crate::bundles::corpus().join("bundles/apicurio-registry-3/3.0.12");
    let out = convert(&dir, &ConvertOptions::default()).unwrap();
    let names: Vec<&Value> = of_kind(&out.objects, "ClusterRole")
        .iter()
        .map(|r| &r["metadata"]["name"])
        .collect();
    assert!(
        names.contains(&&json!(
            "apicurio-registry--37z3ye11ga8b53ub26q89ai1gfsug2ywuf6vk7ggxtc6"
        )),
        "{names:?}"
    );
}
