//! Turning one catalog file into blobs: YAML-or-JSON sniffing, document splitting with line
//! tracking, the case-insensitive envelope, canonical JSON, and typed decoding of known schemas.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use serde_json::value::RawValue;

use crate::declcfg::{
    Bundle, Channel, ChannelEntry, Deprecation, DeprecationEntry, Icon, Meta, Origin, Package,
    PackageScopedReference, RelatedImage, SCHEMA_BUNDLE, SCHEMA_CHANNEL, SCHEMA_DEPRECATIONS,
    SCHEMA_PACKAGE,
};
use crate::error::LoadError;
use crate::go_json::{Canonical, push_canonical};
use crate::godecode::{self, DecodeError, Fields};
use crate::property::Property;
use crate::raw::RawJson;

/// A decoded blob.
#[derive(Clone, Debug, PartialEq)]
pub enum Blob {
    Package(Package),
    Channel(Channel),
    Bundle(Bundle),
    Deprecation(Deprecation),
    Other(Meta),
}

/// YAML parser options shared by catalogs and bundle manifests: goyaml-v2-compatible numbers
/// (`0644` is octal), last duplicate key wins (as `sigs.k8s.io/yaml`), and budgets large enough
/// for real CRDs but bounded against hostile input.
pub(crate) fn yaml_options(duplicate_keys_are_errors: bool) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = 512;
    budget.max_nodes = 20_000_000;
    budget.max_events = 50_000_000;
    budget.max_total_scalar_bytes = 1 << 30;
    budget.max_reader_input_bytes = Some(1 << 30);
    let mut options = serde_saphyr::Options::default();
    options.legacy_octal_numbers = true;
    options.duplicate_keys = if duplicate_keys_are_errors {
        serde_saphyr::DuplicateKeyPolicy::Error
    } else {
        serde_saphyr::DuplicateKeyPolicy::LastWins
    };
    options.with_snippet = false;
    options.budget = Some(budget);
    options
}

/// One parsed document of a stream, with its 1-based starting line.
pub(crate) struct Document {
    pub line: usize,
    pub value: Value,
}

/// 1-based line numbers of increasing offsets, counting each newline once.
#[derive(Default)]
struct LineCounter {
    offset: usize,
    newlines: usize,
}

impl LineCounter {
    fn line_at(&mut self, text: &str, offset: usize) -> usize {
        let offset = offset.min(text.len());
        if offset < self.offset {
            *self = LineCounter::default();
        }
        self.newlines += memchr::memchr_iter(b'\n', &text.as_bytes()[self.offset..offset]).count();
        self.offset = offset;
        self.newlines + 1
    }
}

/// A stream is JSON when its first non-space character is `{`; anything else is YAML.
fn is_json_stream(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

fn is_separator(line: &str) -> bool {
    line.starts_with("---")
        && matches!(
            line.as_bytes().get(3),
            None | Some(b' ' | b'\t' | b'\r' | b'\n')
        )
}

pub(crate) fn is_blank_document(chunk: &str) -> bool {
    chunk.lines().enumerate().all(|(i, l)| {
        let t = l.trim();
        t.is_empty()
            || t.starts_with('#')
            || (i == 0 && is_separator(l) && {
                let rest = l[3..].trim();
                rest.is_empty() || rest.starts_with('#')
            })
    })
}

/// Splits `text` (a YAML stream or a JSON stream) into documents and parses each.
pub(crate) fn parse_documents(
    path: &Path,
    text: &str,
    mut cb: impl FnMut(Document) -> Result<(), LoadError>,
) -> Result<(), LoadError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if is_json_stream(text) {
        let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
        let mut lines = LineCounter::default();
        loop {
            let start = stream.byte_offset();
            match stream.next() {
                None => return Ok(()),
                Some(Ok(value)) => {
                    let skipped = text[start..]
                        .bytes()
                        .take_while(|b| b.is_ascii_whitespace())
                        .count();
                    cb(Document {
                        line: lines.line_at(text, start + skipped),
                        value,
                    })?;
                }
                Some(Err(e)) => {
                    return Err(LoadError::Syntax {
                        path: path.to_path_buf(),
                        line: e.line(),
                        column: e.column(),
                        message: strip_serde_position(&e.to_string()),
                    });
                }
            }
        }
    }
    let options = yaml_options(false);
    for (line, chunk) in split_yaml(text) {
        if is_blank_document(chunk) {
            continue;
        }
        let value: Value = serde_saphyr::from_str_with_options(chunk, options.clone())
            .map_err(|e| yaml_error(path, line, &e))?;
        cb(Document { line, value })?;
    }
    Ok(())
}

/// serde_json appends " at line L column C"; we report the position separately.
fn strip_serde_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

pub(crate) fn yaml_error(path: &Path, first_line: usize, e: &serde_saphyr::Error) -> LoadError {
    let (line, column) = match e.location() {
        Some(loc) => (
            first_line + (loc.line() as usize).saturating_sub(1),
            loc.column() as usize,
        ),
        None => (first_line, 0),
    };
    let mut message = e.to_string();
    // The parser's own "at line/column" suffix refers to the document, not the file.
    if let Some(i) = message.find(" at line ") {
        message.truncate(i);
    }
    LoadError::Syntax {
        path: path.to_path_buf(),
        line,
        column,
        message,
    }
}

/// Yields (1-based start line, document text). A document starts at a line beginning with
/// `---`; that line is kept so that `--- {inline}` documents parse.
pub(crate) fn split_yaml(text: &str) -> Vec<(usize, &str)> {
    let mut docs = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1usize;
    let mut offset = 0usize;
    for (line_no, line) in (1usize..).zip(text.split_inclusive('\n')) {
        if is_separator(line) && offset > start {
            docs.push((start_line, &text[start..offset]));
            start = offset;
            start_line = line_no;
        } else if is_separator(line) {
            start_line = line_no;
        }
        offset += line.len();
    }
    if start < text.len() {
        docs.push((start_line, &text[start..]));
    }
    docs
}

/// Go `cases.Fold` is approximated by Unicode lowercase; only exotic keys differ.
fn fold(s: &str) -> String {
    s.to_lowercase()
}

/// Builds the `Meta` of a parsed document: envelope keys found case-insensitively, canonical
/// blob.
pub(crate) fn meta_from_value(value: &Value, origin: &Origin) -> Result<Meta, String> {
    let Value::Object(map) = value else {
        let kind = match value {
            Value::Array(_) => "an array",
            Value::String(_) => "a string",
            Value::Number(_) => "a number",
            Value::Bool(_) => "a boolean",
            _ => "null",
        };
        return Err(format!("document is {kind}, expected a JSON/YAML object"));
    };
    let mut groups: std::collections::BTreeMap<String, Vec<&str>> = Default::default();
    for k in map.keys() {
        groups.entry(fold(k)).or_default().push(k);
    }
    let dups: Vec<String> = groups
        .iter()
        .filter(|(_, ks)| ks.len() > 1)
        .map(|(f, ks)| {
            let mut ks = ks.clone();
            ks.sort_unstable();
            format!("duplicate keys for key {f:?}: [{}]", ks.join(" "))
        })
        .collect();
    match dups.len() {
        0 => {}
        1 => return Err(dups[0].clone()),
        _ => return Err(format!("[{}]", dups.join(", "))),
    }
    let envelope = |name: &str| -> Result<String, String> {
        let Some(keys) = groups.get(name) else {
            return Ok(String::new());
        };
        let key = keys[0];
        match &map[key] {
            Value::String(s) => Ok(s.clone()),
            other => Err(format!(
                "expected value for key {key:?} to be a string, got {}",
                describe(other)
            )),
        }
    };
    let schema = envelope("schema")?;
    let package = envelope("package")?;
    let name = envelope("name")?;
    let mut blob = String::new();
    push_canonical(&mut blob, value, Canonical::BLOB);
    Ok(Meta {
        schema,
        package,
        name,
        blob: RawJson::new(blob),
        origin: Some(origin.clone()),
    })
}

fn describe(v: &Value) -> String {
    let kind = match v {
        Value::Null => return "null".to_string(),
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let mut text = String::new();
    push_canonical(&mut text, v, Canonical::BLOB);
    if text.len() > 80 {
        let mut cut = 77;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("...");
    }
    format!("{kind} {text}")
}

fn blob_excerpt(blob: &str) -> String {
    if blob.len() <= 200 {
        return blob.to_string();
    }
    let mut cut = 197;
    while !blob.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &blob[..cut])
}

/// Decodes a `Meta` into its typed form (unknown schemas stay `Other`).
pub fn decode_meta(meta: Meta) -> Result<Blob, String> {
    let what = match meta.schema.as_str() {
        "" => {
            return Err(format!(
                "object '{}' is missing root schema field",
                blob_excerpt(meta.blob.get())
            ));
        }
        SCHEMA_PACKAGE => "package",
        SCHEMA_CHANNEL => "channel",
        SCHEMA_BUNDLE => "bundle",
        SCHEMA_DEPRECATIONS => "deprecations",
        _ => return Ok(Blob::Other(meta)),
    };
    let src: Arc<str> = meta.blob.shared();
    let origin = meta.origin.clone();
    let fields = Fields::parse(&src, "")
        .and_then(|f| f.ok_or_else(|| godecode::err("", "expected an object, found null")))
        .map_err(|e| format!("parse {what}: {e}"))?;
    let r = match meta.schema.as_str() {
        SCHEMA_PACKAGE => decode_package(&fields, &src).map(Blob::Package),
        SCHEMA_CHANNEL => decode_channel(&fields, &src).map(Blob::Channel),
        SCHEMA_BUNDLE => decode_bundle(&fields, &src).map(Blob::Bundle),
        _ => decode_deprecation(&fields).map(Blob::Deprecation),
    };
    let mut blob = r.map_err(|e| format!("parse {what}: {e}"))?;
    match &mut blob {
        Blob::Package(p) => p.origin = origin,
        Blob::Channel(c) => c.origin = origin,
        Blob::Bundle(b) => b.origin = origin,
        Blob::Deprecation(d) => d.origin = origin,
        Blob::Other(_) => {}
    }
    Ok(blob)
}

fn raw_json_in(src: &Arc<str>, raw: &RawValue) -> RawJson {
    let start = raw.get().as_ptr() as usize - src.as_ptr() as usize;
    RawJson::slice(src, start..start + raw.get().len())
}

fn decode_properties(
    fields: &Fields<'_>,
    src: &Arc<str>,
    path: &str,
) -> Result<Vec<Property>, DecodeError> {
    let Some(raw) = fields.get("properties").filter(|r| r.get() != "null") else {
        return Ok(Vec::new());
    };
    let p = godecode::join(path, "properties");
    let items = godecode::array(raw, &p)?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let ip = format!("{p}[{i}]");
        let Some(f) = Fields::parse(item.get(), &ip)? else {
            out.push(Property::new("", RawJson::empty()));
            continue;
        };
        let value = match f.get("value") {
            Some(v) => raw_json_in(src, v),
            None => RawJson::empty(),
        };
        out.push(Property::new(f.string("type", &ip)?, value));
    }
    Ok(out)
}

fn objects<'a>(
    fields: &Fields<'a>,
    name: &str,
    path: &str,
) -> Result<Vec<(String, Option<Fields<'a>>)>, DecodeError> {
    let Some(raw) = fields.get(name).filter(|r| r.get() != "null") else {
        return Ok(Vec::new());
    };
    let p = godecode::join(path, name);
    let items = godecode::array(raw, &p)?;
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let ip = format!("{p}[{i}]");
            let f = Fields::parse(item.get(), &ip)?;
            Ok((ip, f))
        })
        .collect()
}

fn decode_package(f: &Fields<'_>, src: &Arc<str>) -> Result<Package, DecodeError> {
    let icon = match f.get("icon").filter(|r| r.get() != "null") {
        None => None,
        Some(raw) => {
            let icon_fields = Fields::parse(raw.get(), "icon")?;
            match icon_fields {
                None => None,
                Some(i) => Some(Icon {
                    data: godecode::base64_bytes(i.get("base64data"), "icon.base64data")?,
                    media_type: i.string("mediatype", "icon")?,
                }),
            }
        }
    };
    Ok(Package {
        schema: f.string("schema", "")?,
        name: f.string("name", "")?,
        default_channel: f.string("defaultChannel", "")?,
        icon,
        description: f.string("description", "")?,
        properties: decode_properties(f, src, "")?,
        origin: None,
    })
}

fn decode_channel(f: &Fields<'_>, src: &Arc<str>) -> Result<Channel, DecodeError> {
    let mut entries = Vec::new();
    for (ip, ef) in objects(f, "entries", "")? {
        let Some(ef) = ef else {
            entries.push(ChannelEntry::default());
            continue;
        };
        entries.push(ChannelEntry {
            name: ef.string("name", &ip)?,
            replaces: ef.string("replaces", &ip)?,
            skips: ef.strings("skips", &ip)?,
            skip_range: ef.string("skipRange", &ip)?,
        });
    }
    Ok(Channel {
        schema: f.string("schema", "")?,
        name: f.string("name", "")?,
        package: f.string("package", "")?,
        entries,
        properties: decode_properties(f, src, "")?,
        origin: None,
    })
}

fn decode_bundle(f: &Fields<'_>, src: &Arc<str>) -> Result<Bundle, DecodeError> {
    let mut related_images = Vec::new();
    for (ip, rf) in objects(f, "relatedImages", "")? {
        let Some(rf) = rf else {
            related_images.push(RelatedImage::default());
            continue;
        };
        related_images.push(RelatedImage {
            name: rf.string("name", &ip)?,
            image: rf.string("image", &ip)?,
        });
    }
    Ok(Bundle {
        schema: f.string("schema", "")?,
        name: f.string("name", "")?,
        package: f.string("package", "")?,
        image: f.string("image", "")?,
        properties: decode_properties(f, src, "")?,
        related_images,
        origin: None,
    })
}

fn decode_deprecation(f: &Fields<'_>) -> Result<Deprecation, DecodeError> {
    let mut entries = Vec::new();
    for (ip, ef) in objects(f, "entries", "")? {
        let Some(ef) = ef else {
            entries.push(DeprecationEntry::default());
            continue;
        };
        let reference = match ef.get("reference").filter(|r| r.get() != "null") {
            None => PackageScopedReference::default(),
            Some(raw) => {
                let rp = godecode::join(&ip, "reference");
                match Fields::parse(raw.get(), &rp)? {
                    None => PackageScopedReference::default(),
                    Some(rf) => PackageScopedReference {
                        schema: rf.string("schema", &rp)?,
                        name: rf.string("name", &rp)?,
                    },
                }
            }
        };
        entries.push(DeprecationEntry {
            reference,
            message: ef.string("message", &ip)?,
        });
    }
    Ok(Deprecation {
        schema: f.string("schema", "")?,
        package: f.string("package", "")?,
        entries,
        origin: None,
    })
}

/// Parses every document of `text` into `Meta`s.
pub fn parse_metas(
    path: &Path,
    text: &str,
    mut cb: impl FnMut(Meta) -> Result<(), LoadError>,
) -> Result<(), LoadError> {
    let file: Arc<Path> = Arc::from(path);
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    if is_json_stream(body)
        && let Some(docs) = crate::json_canonical::canonical_json_stream(body)
    {
        for doc in docs {
            cb(Meta {
                schema: doc.schema,
                package: doc.package,
                name: doc.name,
                blob: RawJson::new(doc.blob),
                origin: Some(Origin {
                    path: Arc::clone(&file),
                    line: doc.line,
                }),
            })?;
        }
        return Ok(());
    }
    parse_documents(path, text, |doc| {
        let origin = Origin {
            path: Arc::clone(&file),
            line: doc.line,
        };
        let meta = meta_from_value(&doc.value, &origin).map_err(|message| LoadError::Document {
            path: path.to_path_buf(),
            line: doc.line,
            message,
        })?;
        drop(doc);
        cb(meta)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metas(text: &str) -> Result<Vec<Meta>, LoadError> {
        let mut out = Vec::new();
        parse_metas(Path::new("f.yaml"), text, |m| {
            out.push(m);
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn yaml_stream_with_lines() {
        let m = metas("---\nschema: olm.package\nname: a\n---\n# only a comment\n---\nSchema: custom\nName: x\nval: 0644\n").unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].origin.as_ref().unwrap().line, 1);
        assert_eq!(m[1].schema, "custom");
        assert_eq!(m[1].name, "x");
        assert_eq!(m[1].origin.as_ref().unwrap().line, 6);
        assert_eq!(
            m[1].blob.get(),
            r#"{"Name":"x","Schema":"custom","val":420}"#
        );
    }

    #[test]
    fn json_stream() {
        let m =
            metas("{\"schema\":\"a\",\"b\":1.0}\n\n{\"schema\":\"b\"}{\"schema\":\"c\"}").unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].blob.get(), r#"{"b":1,"schema":"a"}"#);
        assert_eq!(m[1].origin.as_ref().unwrap().line, 3);
    }

    #[test]
    fn envelope_errors() {
        let e = metas("schema: a\nSchema: b\n").unwrap_err().to_string();
        assert_eq!(
            e,
            "f.yaml:1: duplicate keys for key \"schema\": [Schema schema]"
        );
        let e = metas("---\nschema: [1]\n").unwrap_err().to_string();
        assert_eq!(
            e,
            "f.yaml:1: expected value for key \"schema\" to be a string, got array [1]"
        );
        let e = metas("- a\n").unwrap_err().to_string();
        assert_eq!(
            e,
            "f.yaml:1: document is an array, expected a JSON/YAML object"
        );
    }

    #[test]
    fn syntax_errors_have_positions() {
        let e = metas("---\nschema: a\n---\nschema: [b\n").unwrap_err();
        match e {
            LoadError::Syntax { line, .. } => assert!(line >= 3, "{line}"),
            other => panic!("{other}"),
        }
        let e = metas("{\"schema\": }").unwrap_err();
        assert!(
            matches!(
                e,
                LoadError::Syntax {
                    line: 1,
                    column: 12,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn typed_decoding() {
        let m = metas("schema: olm.bundle\nName: b\npackage: p\nimage: i\nproperties:\n- type: olm.package\n  value: {packageName: p, version: 1.0.0}\nrelatedImages:\n- {name: x, image: img}\n").unwrap();
        let Blob::Bundle(b) = decode_meta(m[0].clone()).unwrap() else {
            panic!()
        };
        assert_eq!(b.name, "b");
        assert_eq!(
            b.properties[0].value.get(),
            r#"{"packageName":"p","version":"1.0.0"}"#
        );
        assert_eq!(b.related_images[0].image, "img");
        let m = metas("schema: olm.channel\nname: c\npackage: p\nentries: 5\n").unwrap();
        assert_eq!(
            decode_meta(m[0].clone()).unwrap_err(),
            "parse channel: entries: expected an array, found a number"
        );
        let m = metas("name: x\n").unwrap();
        assert_eq!(
            decode_meta(m[0].clone()).unwrap_err(),
            "object '{\"name\":\"x\"}' is missing root schema field"
        );
    }
}
