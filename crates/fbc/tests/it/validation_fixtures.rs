//! Every validation rule, one hand-written catalog each under `tests/fixtures/validate/<case>/`,
//! with the exact expected report in `expected.txt` (`ok` for valid catalogs).
//!
//! Set `FBC_UPDATE_FIXTURES=1` to (re)write missing expectations after reviewing them.

use std::path::Path;

fn outcome(dir: &Path) -> String {
    match fbc::load_fs(dir) {
        Err(e) => format!("load error: {e}"),
        Ok(cfg) => match fbc::convert_to_model(&cfg) {
            Ok(_) => "ok".to_string(),
            Err(e) => e.to_string(),
        },
    }
}

#[test]
fn validation_fixtures_report_exact_errors() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/validate");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    let update = std::env::var_os("FBC_UPDATE_FIXTURES").is_some();
    let mut failures = Vec::new();
    for dir in &dirs {
        let got = outcome(dir);
        let expected_path = dir.join("expected.txt");
        match std::fs::read_to_string(&expected_path) {
            Ok(want) if want.trim_end_matches('\n') == got => {}
            Ok(want) => failures.push(format!(
                "{}:\n--- expected\n{want}\n--- got\n{got}\n",
                dir.file_name().unwrap().to_string_lossy()
            )),
            Err(_) if update => std::fs::write(&expected_path, format!("{got}\n")).unwrap(),
            Err(_) => failures.push(format!("{}: missing expected.txt", dir.display())),
        }
    }
    println!("validation fixtures: {}", dirs.len());
    assert!(dirs.len() >= 40);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
