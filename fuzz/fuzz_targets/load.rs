//! Fuzzes the catalog loader: any bytes must give a catalog or an error, never a panic, and a
//! loaded catalog must survive write → load unchanged.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz.yaml");
    let Ok(cfg) = fbc::load_str(path, text) else {
        return;
    };
    let _ = fbc::convert_to_model(&cfg);
    for format in [fbc::write::Format::Json, fbc::write::Format::Yaml] {
        let written = fbc::write::to_string(&cfg, format);
        let back = fbc::load_str(path, &written).expect("our own output must load");
        assert_eq!(fbc::write::to_string(&back, format), written);
    }
});
