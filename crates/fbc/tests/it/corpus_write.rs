//! Write tests on the real corpus: loading an upstream-written catalog.yaml and writing it back
//! must reproduce the file byte for byte.

use crate::corpus;

use fbc::write::{Format, to_string};

#[test]
fn corpus_yaml_catalogs_round_trip_byte_for_byte() {
    let files = corpus::catalog_files();
    assert!(
        files.len() >= 20,
        "expected the corpus catalogs, found {}",
        files.len()
    );
    let mut mismatches = Vec::new();
    for path in &files {
        let original = std::fs::read_to_string(path).unwrap();
        let cfg = fbc::load_file(path).unwrap_or_else(|e| panic!("{e}"));
        let written = to_string(&cfg, Format::Yaml);
        if written != original {
            let line = written
                .lines()
                .zip(original.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            mismatches.push(format!(
                "{}: first difference at line {}:\n  ours:     {:?}\n  upstream: {:?}",
                path.display(),
                line + 1,
                written.lines().nth(line).unwrap_or(""),
                original.lines().nth(line).unwrap_or("")
            ));
        }
    }
    println!("catalog files written and compared: {}", files.len());
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
