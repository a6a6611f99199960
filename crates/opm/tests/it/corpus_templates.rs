//! Conformance: every corpus template, rendered with its bundle images mapped to the local
//! bundle directories, gives the `olm.package` and `olm.channel` blobs of the catalog upstream
//! opm produced from it (`catalogs/v4.15` with `olm.bundle.object`, `catalogs/v4.22` with
//! `--migrate-level bundle-object-to-csv-metadata`), and the same bundles where the bundle
//! directory is in the corpus.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use catalog_templates::TemplateKind;
use fbc::write::{BlobRef, blob_json};
use opm::{BundleDirs, Migrations, RefMask, Render};
use serde_json::Value;
use testenv::fixtures::corpus;

fn yaml_doc(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    let mut first = None;
    fbc::parse_metas(path, &text, |m| {
        first.get_or_insert(m);
        Ok(())
    })
    .unwrap();
    serde_json::from_str(first.unwrap().blob.get()).unwrap()
}

/// (template file name, catalog name) pairs from `ci.yaml`.
fn mappings(pkg_dir: &Path) -> Vec<(String, String)> {
    let ci = yaml_doc(&pkg_dir.join("ci.yaml"));
    let mut out = Vec::new();
    for m in ci["fbc"]["catalog_mapping"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let template = m["template_name"].as_str().unwrap().to_string();
        for c in m["catalog_names"].as_array().unwrap() {
            out.push((template.clone(), c.as_str().unwrap().to_string()));
        }
    }
    out
}

/// Every `image` string (any key case) in a template document.
fn collect_images(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match v {
                    Value::String(s) if k.eq_ignore_ascii_case("image") => out.push(s.clone()),
                    _ => collect_images(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| collect_images(v, out)),
        _ => {}
    }
}

fn yaml_of(blob: BlobRef<'_>) -> String {
    let mut s = String::new();
    fbc::write::push_blob(&mut s, blob, fbc::Format::Yaml);
    s
}

fn package_and_channels(cfg: &fbc::DeclarativeConfig) -> Vec<String> {
    let mut out: Vec<String> = cfg
        .packages
        .iter()
        .map(|p| blob_json(BlobRef::Package(p)))
        .collect();
    let mut chans: Vec<&fbc::Channel> = cfg.channels.iter().collect();
    chans.sort_by(|a, b| a.name.cmp(&b.name));
    out.extend(chans.into_iter().map(|c| blob_json(BlobRef::Channel(c))));
    out
}

#[test]
fn templates_render_to_the_published_catalogs() {
    let root = corpus();
    let mut compared = 0;
    let mut bundles_compared = 0;
    let mut skipped = 0;
    let mut pkgs: Vec<PathBuf> = std::fs::read_dir(root.join("bundles"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    pkgs.sort();
    for pkg_dir in pkgs {
        let pkg = pkg_dir.file_name().unwrap().to_str().unwrap().to_string();
        // CSV name → bundle directory.
        let mut dir_of: BTreeMap<String, PathBuf> = BTreeMap::new();
        for e in std::fs::read_dir(&pkg_dir).unwrap() {
            let p = e.unwrap().path();
            if p.join("manifests").is_dir() {
                let b = fbc::parse_bundle_dir(&p).unwrap_or_else(|e| panic!("{e}"));
                dir_of.insert(b.name, p);
            }
        }
        for (template, ocp) in mappings(&pkg_dir) {
            if ocp != "v4.15" && ocp != "v4.22" {
                continue;
            }
            let catalog = root
                .join("catalogs")
                .join(&ocp)
                .join(&pkg)
                .join("catalog.yaml");
            if !catalog.exists() {
                continue;
            }
            let expected = fbc::load_file(&catalog).unwrap();
            // Image → directory through the bundle names the published catalog gives them.
            let mut map = Vec::new();
            for b in &expected.bundles {
                if let Some(d) = dir_of.get(&b.name) {
                    map.push(format!("{}={}", b.image, d.display()));
                }
            }
            let template_path = pkg_dir.join("catalog-templates").join(&template);
            let text = std::fs::read_to_string(&template_path).unwrap();
            let mut images = Vec::new();
            collect_images(&yaml_doc(&template_path), &mut images);
            let unknown: Vec<&String> = images
                .iter()
                .filter(|i| !expected.bundles.iter().any(|b| &b.image == *i))
                .collect();
            if !unknown.is_empty() {
                println!(
                    "SKIP: {pkg}: {template} names {} image(s) absent from catalogs/{ocp} (the catalog was built from another revision), e.g. {}",
                    unknown.len(),
                    unknown[0]
                );
                skipped += 1;
                continue;
            }
            let kind = TemplateKind::from_schema(&catalog_templates::detect_schema(&text).unwrap())
                .unwrap();
            let mut r = Render::new(Vec::new(), RefMask::BUNDLE_IMAGES);
            r.bundle_dirs = BundleDirs::parse(&map).unwrap();
            if ocp == "v4.22" {
                r.migrations = Some(Migrations::new("bundle-object-to-csv-metadata").unwrap());
            }
            let missing: Vec<&fbc::Bundle> = expected
                .bundles
                .iter()
                .filter(|b| !dir_of.contains_key(&b.name))
                .collect();
            let renderer = |image: &str| match missing.iter().find(|b| b.image == image) {
                // Bundles whose directory is not in the corpus: the published blob stands in.
                Some(b) => Ok(vec![catalog_templates::RenderedBundle {
                    bundle: (*b).clone(),
                    csv: None,
                }]),
                None => r.render_template_bundle(image),
            };
            let got = kind
                .render(&text, &renderer)
                .unwrap_or_else(|e| panic!("{pkg} {template} ({ocp}): {e}"));
            let label = format!("{pkg}: {template} vs catalogs/{ocp}");
            let names = |cfg: &fbc::DeclarativeConfig| -> std::collections::BTreeSet<String> {
                cfg.channels
                    .iter()
                    .flat_map(|c| c.entries.iter().map(|e| e.name.clone()))
                    .chain(cfg.bundles.iter().map(|b| b.name.clone()))
                    .collect()
            };
            let (gn, wn) = (names(&got), names(&expected));
            if gn != wn {
                println!(
                    "SKIP: {label}: the template names other bundles than the catalog (built from another revision): only in template {:?}, only in catalog {:?}",
                    gn.difference(&wn).collect::<Vec<_>>(),
                    wn.difference(&gn).collect::<Vec<_>>()
                );
                skipped += 1;
                continue;
            }
            // The semver template takes the package description and icon from the head
            // bundle's CSV; skip that comparison when the head's directory is missing.
            let head_missing = kind == TemplateKind::Semver
                && got.channels.iter().any(|c| {
                    c.name == got.packages[0].default_channel
                        && c.entries
                            .last()
                            .is_some_and(|e| !dir_of.contains_key(&e.name))
                });
            let (mut g, mut w) = (package_and_channels(&got), package_and_channels(&expected));
            if head_missing {
                g.remove(0);
                w.remove(0);
            }
            assert_eq!(g, w, "{label}");
            for b in &got.bundles {
                if !dir_of.contains_key(&b.name) {
                    continue;
                }
                let want = expected.bundles.iter().find(|e| e.name == b.name).unwrap();
                let mut want = want.clone();
                want.origin = None;
                // YAML output: a catalog read back from YAML has lost Go's struct key order.
                assert_eq!(
                    yaml_of(BlobRef::Bundle(b)),
                    yaml_of(BlobRef::Bundle(&want)),
                    "{label}: bundle {}",
                    b.name
                );
                bundles_compared += 1;
            }
            compared += 1;
        }
    }
    println!(
        "templates compared: {compared}, skipped: {skipped}, bundles compared: {bundles_compared}"
    );
    assert!(
        compared >= 15,
        "only {compared} template/catalog pairs found"
    );
    assert!(bundles_compared >= 100);
}
