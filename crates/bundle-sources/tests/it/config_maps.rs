//! The `configMaps` source through `Sources::unpack`, with ConfigMaps in memory.

use std::collections::BTreeMap;

use bundle_sources::Unpack;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, LocalObjectReference};
use oci::RegistryOptions;
use olm_api::BundleSource;
use olm_api::bundle::{ConfigMapSource, SourceType};

use crate::fixtures::{Objects, Workspace, files_under, plain_bundle, sources};

fn config_maps_source(entries: &[(&str, Option<&str>)]) -> BundleSource {
    BundleSource {
        config_maps: Some(
            entries
                .iter()
                .map(|(name, path)| ConfigMapSource {
                    config_map: LocalObjectReference {
                        name: (*name).to_owned(),
                    },
                    path: path.map(str::to_owned),
                })
                .collect(),
        ),
        ..BundleSource::of_type(SourceType::ConfigMaps)
    }
}

/// The corpus plain bundle's manifests as one immutable ConfigMap.
fn manifests_config_map() -> ConfigMap {
    let dir = plain_bundle().join("manifests");
    let data: BTreeMap<String, String> = files_under(&dir)
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(dir.join(&f)).unwrap();
            (f, text)
        })
        .collect();
    ConfigMap {
        data: Some(data),
        immutable: Some(true),
        ..Default::default()
    }
}

#[tokio::test]
async fn config_maps_become_the_bundle_files() {
    let uploads = tempfile::tempdir().unwrap();
    let (sources, _cache) = sources(RegistryOptions::default(), uploads.path());
    let objects = Objects::default()
        .with_config_map("combo-manifests", manifests_config_map())
        .with_config_map(
            "combo-extras",
            ConfigMap {
                binary_data: Some(BTreeMap::from([(
                    "logo.bin".to_owned(),
                    ByteString(vec![0, 159, 146, 150]),
                )])),
                ..Default::default()
            },
        );
    let source = config_maps_source(&[
        ("combo-manifests", Some("manifests")),
        ("combo-extras", None),
    ]);
    let ws = Workspace::new();

    let result = sources.unpack("combo", &source, &objects, &ws.dest()).await;

    assert_eq!(result.unwrap(), Unpack::Unpacked { resolved: source });
    let mut expected = files_under(&plain_bundle());
    expected.push("logo.bin".into());
    expected.sort();
    assert_eq!(ws.files(), expected);
    assert_eq!(
        std::fs::read(ws.dest().join("manifests/02_namespace.yaml")).unwrap(),
        std::fs::read(plain_bundle().join("manifests/02_namespace.yaml")).unwrap()
    );
    assert_eq!(
        std::fs::read(ws.dest().join("logo.bin")).unwrap(),
        [0, 159, 146, 150]
    );
    ws.assert_nothing_beside_dest(&[]);
}

#[tokio::test]
async fn missing_config_maps_and_bad_paths_are_reported() {
    let uploads = tempfile::tempdir().unwrap();
    let (sources, _cache) = sources(RegistryOptions::default(), uploads.path());
    let objects = Objects::default().with_config_map("combo-manifests", manifests_config_map());
    let cases = [
        (
            config_maps_source(&[("combo-manifests", None), ("absent", None)]),
            r#"get configmap rukpak-system/absent: ConfigMap "absent" not found"#,
        ),
        (
            config_maps_source(&[("combo-manifests", Some("../up"))]),
            r#"bundle.spec.source.configmaps[0].path is invalid: "../up" is outside bundle root"#,
        ),
        (
            config_maps_source(&[("combo-manifests", None), ("combo-manifests", Some("."))]),
            r#"duplicate path "00_combo.io_templates_crd.yaml" found in configmaps [combo-manifests combo-manifests]"#,
        ),
        (
            config_maps_source(&[]),
            r#"bundle.spec.source.configmaps must be set for source type "configmaps""#,
        ),
    ];
    for (source, expected) in cases {
        let ws = Workspace::new();
        let result = sources.unpack("combo", &source, &objects, &ws.dest()).await;
        assert_eq!(result.unwrap_err().to_string(), expected);
        assert!(ws.files().is_empty(), "{expected}");
    }

    let failing = Objects {
        failing: Some("connection refused".into()),
        ..Objects::default()
    };
    let ws = Workspace::new();
    let result = sources
        .unpack(
            "combo",
            &config_maps_source(&[("combo-manifests", None)]),
            &failing,
            &ws.dest(),
        )
        .await;
    assert_eq!(
        result.unwrap_err().to_string(),
        "get configmap rukpak-system/combo-manifests: connection refused"
    );
}
