//! Every corpus catalog loads, converts to the model and validates; write-then-load round trips
//! are lossless in both formats.

use crate::corpus;

use fbc::write::{Format, to_string};

#[test]
fn every_corpus_catalog_validates() {
    let mut validated = 0;
    for ocp in ["v4.15", "v4.22"] {
        let root = corpus::root().join("catalogs").join(ocp);
        let cfg = fbc::load_fs(&root).unwrap_or_else(|e| panic!("{e}"));
        let model = fbc::convert_to_model(&cfg).unwrap_or_else(|e| panic!("{ocp}: {e}"));
        assert!(!model.packages.is_empty());
        validated += model.packages.len();
        // The per-package streaming loader sees the same packages and they validate one by one.
        let mut streamed = Vec::new();
        fbc::for_each_package(&root, |pkg, cfg| {
            fbc::convert_to_model(&cfg).map(|_| streamed.push(pkg.to_string()))
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let expected: Vec<String> = model.packages.keys().cloned().collect();
        streamed.sort();
        assert_eq!(streamed, expected);
    }
    println!("catalogs validated: {validated}");
    assert!(validated >= 21);
}

#[test]
fn write_then_load_round_trips_are_lossless() {
    for path in corpus::catalog_files() {
        let cfg = fbc::load_file(&path).unwrap();
        for format in [Format::Json, Format::Yaml] {
            let text = to_string(&cfg, format);
            let back = fbc::load_str(&path, &text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                strip_origins(back),
                strip_origins(cfg.clone()),
                "{} {format:?}",
                path.display()
            );
            assert_eq!(
                to_string(&fbc::load_str(&path, &text).unwrap(), format),
                text
            );
        }
    }
}

fn strip_origins(mut cfg: fbc::DeclarativeConfig) -> fbc::DeclarativeConfig {
    cfg.packages.iter_mut().for_each(|p| p.origin = None);
    cfg.channels.iter_mut().for_each(|p| p.origin = None);
    cfg.bundles.iter_mut().for_each(|p| p.origin = None);
    cfg.deprecations.iter_mut().for_each(|p| p.origin = None);
    cfg.others.iter_mut().for_each(|p| p.origin = None);
    cfg
}
