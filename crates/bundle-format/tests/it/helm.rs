//! A Helm chart as a git or image source would leave it: in a directory of its own, with
//! templates, values and a dependency.

use std::fs;

use anyhow::Result;
use bundle_format::{Format, Summary, check};

const CHART_YAML: &str = "\
apiVersion: v2
name: hello-world
description: A chart that says hello
type: application
version: 0.1.0
appVersion: \"1.16.0\"
maintainers:
  - name: someone
    email: someone@example.com
dependencies:
  - name: common
    version: 1.x.x
    repository: https://charts.example.com
";

const VALUES_YAML: &str = "\
replicaCount: 1
image:
  repository: nginx
  pullPolicy: IfNotPresent
  tag: \"\"
service:
  type: ClusterIP
  port: 80
";

const DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicaCount }}
";

#[test]
fn chart_in_its_own_directory() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let chart = dir.path().join("hello-world");
    fs::create_dir_all(chart.join("templates"))?;
    fs::create_dir_all(chart.join("charts/common"))?;
    fs::write(chart.join("Chart.yaml"), CHART_YAML)?;
    fs::write(chart.join("values.yaml"), VALUES_YAML)?;
    fs::write(chart.join("templates/deployment.yaml"), DEPLOYMENT)?;
    fs::write(chart.join(".helmignore"), ".git/\n")?;
    fs::write(
        chart.join("charts/common/Chart.yaml"),
        "apiVersion: v2\nname: common\nversion: 1.2.0\ntype: library\n",
    )?;

    let checked = check(Format::HelmV3, dir.path())?;
    assert_eq!(
        checked.summary,
        Summary::Helm {
            name: "hello-world".into(),
            version: "0.1.0".into(),
            chart_root: chart.clone(),
        }
    );

    // The same chart at the root.
    let checked = check(Format::HelmV3, &chart)?;
    assert!(matches!(checked.summary, Summary::Helm { chart_root, .. } if chart_root == chart));

    // Plain content is no chart.
    fs::remove_file(chart.join("Chart.yaml"))?;
    assert_eq!(
        check(Format::HelmV3, dir.path()).unwrap_err().to_string(),
        "Chart.yaml file is missing"
    );
    Ok(())
}
