//! The converted objects as one YAML stream, the way `rukpakctl convert` prints them.

use serde_json::Value;

/// Every object after a `---` line, written as go-yaml writes it (keys sorted), so the stream
/// reads like upstream's stored `manifest.yaml`.
pub fn to_yaml_stream(objects: &[Value]) -> String {
    let mut out = String::new();
    for object in objects {
        out.push_str("---\n");
        out.push_str(&go_encoding::to_yaml_document(object));
    }
    out
}
