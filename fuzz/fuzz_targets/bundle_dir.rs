//! Fuzzes the registry+v1 bundle parser and renderer. The input is split on NUL bytes into files:
//! the first parts are manifests, the part after an empty part (two NULs) starts the metadata
//! files. Any input must give a bundle or an error, never a panic.
#![no_main]

use std::path::Path;

use fbc::{BundleFile, ObjectProfile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (manifests, metadata) = text.split_once("\0\0").unwrap_or((text, ""));
    let files = |dir: &str, s: &str| -> Vec<BundleFile> {
        s.split('\0')
            .filter(|p| !p.is_empty())
            .take(16)
            .enumerate()
            .map(|(i, p)| BundleFile::new(format!("{dir}/{i:02}.yaml"), p))
            .collect()
    };
    let Ok(bundle) = fbc::parse_bundle_files(
        Path::new("bundle"),
        files("bundle/manifests", manifests),
        files("bundle/metadata", metadata),
    ) else {
        return;
    };
    for profile in [ObjectProfile::BundleObjects, ObjectProfile::CsvMetadata] {
        if let Ok(b) = bundle.render("quay.io/fuzz/bundle:v1", profile) {
            let cfg = fbc::DeclarativeConfig {
                bundles: vec![b],
                ..Default::default()
            };
            let _ = fbc::write::to_string(&cfg, fbc::write::Format::Yaml);
        }
    }
});
