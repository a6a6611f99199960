//! The helm that `scripts/build-go-tools.sh helm` builds renders charts with the real engine,
//! stamped with its release and the Kubernetes version of its client libraries.

use std::process::Command;

const CHART: &str = "apiVersion: v2
name: greeter
version: 0.1.0
";

const VALUES: &str = "greeting: hello
";

const TEMPLATE: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-greeting
  namespace: {{ .Release.Namespace }}
data:
  greeting: {{ .Values.greeting | upper | quote }}
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
"#;

#[test]
fn helm_template_renders_a_chart() {
    let Some(helm) = testenv::fixtures::helm() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("greeter");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(chart.join("Chart.yaml"), CHART).unwrap();
    std::fs::write(chart.join("values.yaml"), VALUES).unwrap();
    std::fs::write(chart.join("templates/greeting.yaml"), TEMPLATE).unwrap();

    let out = Command::new(&helm)
        .args(["template", "demo"])
        .arg(&chart)
        .args(["--namespace", "space", "--set", "greeting=bonjour"])
        // No developer's helm config, cache or repositories.
        .env("HELM_CONFIG_HOME", dir.path().join("config"))
        .env("HELM_CACHE_HOME", dir.path().join("cache"))
        .env("HELM_DATA_HOME", dir.path().join("data"))
        .output()
        .expect("helm runs");
    assert!(
        out.status.success(),
        "helm template: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let expected = "  name: demo-greeting
  namespace: space
data:
  greeting: \"BONJOUR\"
  kube: \"v1.36.0\"
";
    assert!(
        stdout.ends_with(expected),
        "unexpected rendering:\n{stdout}"
    );

    let out = Command::new(&helm)
        .args(["version", "--template", "{{ .Version }}"])
        .output()
        .expect("helm runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "v3.21.4");
}
