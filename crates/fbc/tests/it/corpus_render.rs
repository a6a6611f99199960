//! Conformance: rendering each corpus bundle directory gives the `olm.bundle` blob upstream `opm`
//! put in the corpus catalogs (name, package, properties in order, relatedImages; the image is
//! passed in since the bundle images live on a registry).

use crate::corpus;

use std::collections::BTreeMap;
use std::path::Path;

use fbc::{Bundle, ObjectProfile};
use go_encoding::{Canonical, to_canonical};

fn canonical_props(b: &Bundle) -> Vec<(String, String)> {
    b.properties
        .iter()
        .map(|p| {
            let v: serde_json::Value = serde_json::from_str(p.value.get()).unwrap();
            (p.r#type.clone(), to_canonical(&v, Canonical::BLOB))
        })
        .collect()
}

fn catalog_bundles_by_version(path: &Path) -> BTreeMap<String, Bundle> {
    let cfg = fbc::load_file(path).unwrap_or_else(|e| panic!("{e}"));
    let mut out = BTreeMap::new();
    for b in cfg.bundles {
        let props = fbc::property::parse_properties(&b.properties).unwrap();
        out.insert(props.packages[0].version.clone(), b);
    }
    out
}

fn compare(ocp: &str, profile: ObjectProfile) -> (usize, Vec<String>) {
    let corpus = corpus::root();
    let mut compared = 0;
    let mut mismatches = Vec::new();
    let mut pkgs: Vec<_> = std::fs::read_dir(corpus.join("catalogs").join(ocp))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pkgs.sort();
    for pkg in pkgs {
        let expected = catalog_bundles_by_version(
            &corpus
                .join("catalogs")
                .join(ocp)
                .join(&pkg)
                .join("catalog.yaml"),
        );
        let mut versions: Vec<_> = std::fs::read_dir(corpus.join("bundles").join(&pkg))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.join("manifests").is_dir())
            .collect();
        versions.sort();
        for dir in versions {
            let rendered_dir = fbc::parse_bundle_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
            let Some(want) = expected.get(&rendered_dir.version) else {
                continue;
            };
            let got = rendered_dir
                .render(&want.image, profile)
                .unwrap_or_else(|e| panic!("{e}"));
            compared += 1;
            let label = format!("{ocp} {}", dir.strip_prefix(&corpus).unwrap().display());
            if got.name != want.name || got.package != want.package {
                mismatches.push(format!(
                    "{label}: name/package {}/{} != {}/{}",
                    got.name, got.package, want.name, want.package
                ));
            }
            let (g, w) = (canonical_props(&got), canonical_props(want));
            if g != w {
                let detail = g
                    .iter()
                    .zip(w.iter())
                    .position(|(a, b)| a != b)
                    .map(|i| {
                        format!(
                            "property {i}: ours {:.300?}\n    upstream {:.300?}",
                            g[i], w[i]
                        )
                    })
                    .unwrap_or_else(|| {
                        format!(
                            "{} properties vs {}: ours {:?} upstream {:?}",
                            g.len(),
                            w.len(),
                            g.iter().map(|p| &p.0).collect::<Vec<_>>(),
                            w.iter().map(|p| &p.0).collect::<Vec<_>>()
                        )
                    });
                mismatches.push(format!("{label}: {detail}"));
            }
            if got.related_images != want.related_images {
                mismatches.push(format!(
                    "{label}: relatedImages\n    ours {:?}\n    upstream {:?}",
                    got.related_images, want.related_images
                ));
            }
        }
    }
    (compared, mismatches)
}

#[test]
fn bundle_objects_profile_matches_v4_15_catalogs() {
    let (compared, mismatches) = compare("v4.15", ObjectProfile::BundleObjects);
    println!("v4.15 bundles compared: {compared}");
    assert!(compared >= 50, "compared only {compared}");
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn csv_metadata_profile_matches_v4_22_catalogs() {
    let (compared, mismatches) = compare("v4.22", ObjectProfile::CsvMetadata);
    println!("v4.22 bundles compared: {compared}");
    assert!(compared >= 50, "compared only {compared}");
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
