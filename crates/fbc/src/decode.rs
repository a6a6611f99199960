//! Turning one catalog file into blobs: YAML-or-JSON sniffing, document splitting with line
//! tracking, the case-insensitive envelope, canonical JSON, and typed decoding of known schemas.

use std::path::Path;
use std::sync::Arc;

use go_encoding::{
    Canonical, DecodeError, Fields, Kind, canonical_json_stream, decode_array, decode_base64, join,
    push_canonical,
};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::declcfg::{
    Bundle, Channel, ChannelEntry, Deprecation, DeprecationEntry, Icon, Meta, Origin, Package,
    PackageScopedReference, RelatedImage, SCHEMA_BUNDLE, SCHEMA_CHANNEL, SCHEMA_DEPRECATIONS,
    SCHEMA_PACKAGE,
};
use crate::error::LoadError;
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

/// Deepest YAML nesting accepted; the deepest real manifest (a CRD schema) is under 40.
const MAX_DEPTH: usize = 512;

/// YAML parser options shared by catalogs and bundle manifests: goyaml-v2-compatible numbers
/// (`0644` is octal), last duplicate key wins (as `sigs.k8s.io/yaml`), and budgets large enough
/// for real CRDs but bounded against hostile input.
pub(crate) fn yaml_options(duplicate_keys_are_errors: bool) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_DEPTH;
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
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
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

/// Splits `text` (a YAML stream or a JSON stream) into documents and parses each, skipping
/// blank ones, with the YAML budgets and parser stack of catalogs (hostile nesting is a
/// [`LoadError::Syntax`], never a stack overflow). `path` only names the file in errors.
/// A JSON syntax error is final here; catalog files ([`parse_metas`]) read on as YAML.
pub fn parse_documents(
    path: &Path,
    text: &str,
    cb: impl FnMut(Document) -> Result<(), LoadError>,
) -> Result<(), LoadError> {
    decode_documents(path, text, JsonErrors::Final, Ok, cb)
}

/// What a JSON syntax error in a stream that starts as JSON means.
#[derive(Clone, Copy, PartialEq, Eq)]
enum JsonErrors {
    /// The file is refused.
    Final,
    /// As upstream's catalog reader: the rest may be YAML (see [`decode_documents`]).
    YamlFollows,
}

/// [`parse_documents`], each document turned into a `T` by `decode` before `cb` sees it: what
/// upstream's stream decoder decodes into, whose failure counts as the document's (see the
/// YAML fallback below).
fn decode_documents<T>(
    path: &Path,
    text: &str,
    json_errors: JsonErrors,
    mut decode: impl FnMut(Document) -> Result<T, LoadError>,
    mut cb: impl FnMut(T) -> Result<(), LoadError>,
) -> Result<(), LoadError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if !is_json_stream(text) {
        return parse_yaml_documents(path, text, 0, None, &mut decode, &mut cb);
    }
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let mut lines = LineCounter::default();
    let mut decoded = 0usize;
    loop {
        let start = stream.byte_offset();
        match stream.next() {
            None => return Ok(()),
            Some(Ok(value)) => {
                let skipped = text[start..]
                    .bytes()
                    .take_while(|b| b.is_ascii_whitespace())
                    .count();
                decoded += 1;
                cb(decode(Document {
                    line: lines.line_at(text, start + skipped),
                    value,
                })?)?;
            }
            Some(Err(e)) => {
                let json_error = LoadError::Syntax {
                    path: path.to_path_buf(),
                    line: e.line(),
                    column: e.column(),
                    message: strip_serde_position(&e.to_string()),
                };
                // As upstream's YAML-or-JSON reader: a stream of two JSON objects or more
                // is JSON, but up to one object may be followed by YAML, and YAML is a
                // superset of JSON that allows a trailing comma in `{…}` and `[…]`. The
                // YAML restarts after the blanks that end the last object's line.
                if decoded > 1 || json_errors == JsonErrors::Final {
                    return Err(json_error);
                }
                let blanks = text[start..]
                    .bytes()
                    .take_while(|b| b.is_ascii_whitespace() && *b != b'\n')
                    .count();
                let rest = start + blanks;
                let line_offset = lines.line_at(text, rest) - 1;
                return parse_yaml_documents(
                    path,
                    &text[rest..],
                    line_offset,
                    Some(json_error),
                    &mut decode,
                    &mut cb,
                );
            }
        }
    }
}

/// The YAML half of [`decode_documents`]: `text` starts `line_offset` lines into the file.
/// With `json_error`, a failure of the first document (to parse or to decode) reports that
/// error instead: the stream was JSON until then, and the JSON error names the mistake.
fn parse_yaml_documents<T>(
    path: &Path,
    text: &str,
    line_offset: usize,
    mut json_error: Option<LoadError>,
    decode: &mut impl FnMut(Document) -> Result<T, LoadError>,
    cb: &mut impl FnMut(T) -> Result<(), LoadError>,
) -> Result<(), LoadError> {
    let options = yaml_options(false);
    with_parser_stack(|| {
        for (line, chunk) in split_yaml(text) {
            if is_blank_document(chunk) {
                continue;
            }
            let line = line + line_offset;
            let parse =
                |text: &str| serde_saphyr::from_str_with_options::<Value>(text, options.clone());
            let decoded = parse(chunk)
                .or_else(|e| match first_node_end(chunk) {
                    Some(end) => parse(&chunk[..end]).map_err(|_| e),
                    None => Err(e),
                })
                .map_err(|e| yaml_error(path, line, chunk, &e))
                .and_then(|value| decode(Document { line, value }))
                .map_err(|e| json_error.take().unwrap_or(e))?;
            json_error = None;
            cb(decoded)?;
        }
        Ok(())
    })
}

/// The first document of a YAML/JSON stream as JSON (what Go's single-document decoders read:
/// `decodeFileFS`, `yaml.Unmarshal`); `None` when the stream is blank. Later documents are not
/// parsed, so their syntax does not matter.
pub fn parse_first_document(path: &Path, text: &str) -> Result<Option<Value>, LoadError> {
    let mut first = None;
    let r = parse_documents(path, text, |doc| {
        first = Some(doc.value);
        // Stop after the first document.
        Err(LoadError::Document {
            path: std::path::PathBuf::new(),
            line: 0,
            message: String::new(),
        })
    });
    match (r, first) {
        (_, Some(v)) => Ok(Some(v)),
        (Ok(()), None) => Ok(None),
        (Err(e), None) => Err(e),
    }
}

/// Stack the YAML parser may need: it recurses once per nesting level, up to [`MAX_DEPTH`],
/// and an unoptimised build takes about 30 KiB a level. (serde_json stops at 128 levels and
/// needs far less, so JSON is parsed where it is.)
const PARSER_STACK: usize = 32 << 20;

/// Runs `f` where [`PARSER_STACK`] bytes of stack are free, on a fresh stack if this thread has
/// less (a test thread or a tokio blocking thread has 2 MiB): hostile nesting then ends in the
/// parser's depth error, not a stack overflow. The fresh stack is mapped lazily; getting one
/// costs about 25 µs, once per file.
pub(crate) fn with_parser_stack<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(PARSER_STACK, PARSER_STACK, f)
}

/// serde_json appends " at line L column C"; we report the position separately.
fn strip_serde_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// The error of parsing `chunk`, a document starting at line `first_line` of `path`, at the
/// line and column of the mistake.
pub(crate) fn yaml_error(
    path: &Path,
    first_line: usize,
    chunk: &str,
    e: &serde_saphyr::Error,
) -> LoadError {
    let at_file_line = |line: usize| first_line + line.saturating_sub(1);
    let (mut line, mut column) = match e.location() {
        Some(loc) => (at_file_line(loc.line() as usize), loc.column() as usize),
        None => (first_line, 0),
    };
    let mut message = e.to_string();
    // The parser's own "at line/column" suffix refers to the document, not the file.
    if let Some(i) = message.find(" at line ") {
        message.truncate(i);
    }
    // The budget's own wording is a Rust debug print.
    if let serde_saphyr::Error::Budget {
        breach: serde_saphyr::budget::BudgetBreach::Depth { .. },
        ..
    } = e.without_snippet()
    {
        message = format!("nested more than {MAX_DEPTH} levels deep");
    }
    if let Some(open) = unclosed_flow_collection(chunk) {
        message = format!(
            "'{}' is not closed by '{}' (the parser stopped at {line}:{column}: {message})",
            open.opener, open.closer
        );
        (line, column) = (at_file_line(open.line), open.column);
    }
    LoadError::Syntax {
        path: path.to_path_buf(),
        line,
        column,
        message,
    }
}

/// Where the flow collection (`[…]` or `{…}`) that `chunk` fails to close opens, as a 1-based
/// line and column; `None` when parsing fails for another reason, or does not fail.
///
/// The parser notices a missing `]` or `}` only where the next token cannot continue the
/// collection, often lines later (`defaultChannel: [alpha` fails at the next key); the
/// mistake is at the bracket. It is taken to be there when the parser, failing inside a flow
/// collection opened on an earlier line, gets further with that collection closed at the
/// end of its first line. This runs on the error path only.
fn unclosed_flow_collection(chunk: &str) -> Option<OpenFlow> {
    let failure = first_failure(chunk)?;
    let open = failure.open_flow?;
    if open.line >= failure.at.0 {
        return None;
    }
    let eol = chunk[open.offset..]
        .find('\n')
        .map_or(chunk.len(), |i| open.offset + i);
    let eol = chunk[..eol].strip_suffix('\r').map_or(eol, str::len);
    let repaired = format!("{}{}{}", &chunk[..eol], open.closer, &chunk[eol..]);
    let gets_further = first_failure(&repaired).is_none_or(|f| f.at > failure.at);
    gets_further.then_some(open)
}

/// Where the document's first node ends, when something follows it that the document
/// cannot hold (`{"a": 1,}` and a second `{…}` on the next line): upstream's YAML reader
/// reads that first node and ignores the rest. `None` when the first node itself does not
/// parse, or nothing follows it.
fn first_node_end(chunk: &str) -> Option<usize> {
    use serde_saphyr::granit_parser::{Event, Parser};
    let mut depth = 0usize;
    for event in Parser::new_from_str(chunk) {
        let (event, span) = event.ok()?;
        match event {
            Event::SequenceStart(..) | Event::MappingStart(..) => depth += 1,
            Event::SequenceEnd | Event::MappingEnd => depth = depth.checked_sub(1)?,
            Event::Scalar(..) | Event::Alias(..) => {}
            _ => continue,
        }
        if depth == 0 {
            let end = span.end.byte_offset()?;
            return (!chunk[end..].trim().is_empty()).then_some(end);
        }
    }
    None
}

/// The first syntax error of a YAML document.
struct Failure {
    /// 1-based line and column.
    at: (usize, usize),
    /// The innermost flow collection open at the error.
    open_flow: Option<OpenFlow>,
}

struct OpenFlow {
    /// 1-based.
    line: usize,
    column: usize,
    /// Byte offset of the bracket.
    offset: usize,
    opener: char,
    closer: char,
}

fn first_failure(chunk: &str) -> Option<Failure> {
    use serde_saphyr::granit_parser::{Event, Parser, StructureStyle};
    // One entry per open collection: `Some` when in flow style.
    let mut open: Vec<Option<OpenFlow>> = Vec::new();
    for event in Parser::new_from_str(chunk) {
        let (event, span) = match event {
            Ok(event) => event,
            Err(e) => {
                return Some(Failure {
                    at: (e.marker().line(), e.marker().col() + 1),
                    open_flow: open.into_iter().rev().flatten().next(),
                });
            }
        };
        let flow = |style: StructureStyle, opener: char, closer: char| {
            let offset = span.start.byte_offset()?;
            (style == StructureStyle::Flow && chunk[offset..].starts_with(opener)).then_some(
                OpenFlow {
                    line: span.start.line(),
                    column: span.start.col() + 1,
                    offset,
                    opener,
                    closer,
                },
            )
        };
        match event {
            Event::SequenceStart(style, ..) => open.push(flow(style, '[', ']')),
            Event::MappingStart(style, ..) => open.push(flow(style, '{', '}')),
            Event::SequenceEnd | Event::MappingEnd => {
                open.pop();
            }
            _ => {}
        }
    }
    None
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

/// The envelope keys every blob is read for, folded.
const ENVELOPE: [&str; 3] = ["schema", "package", "name"];

/// Go `cases.Fold` is approximated by Unicode lowercase; only exotic keys differ.
fn fold(s: &str) -> String {
    s.to_lowercase()
}

/// A document that is not a valid catalog blob envelope.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum EnvelopeError {
    #[error("document is {0}, expected a JSON/YAML object")]
    NotAnObject(&'static str),
    /// Keys that fold to the same name, each entry already worded.
    #[error("{}", if .0.len() == 1 { .0[0].clone() } else { format!("[{}]", .0.join(", ")) })]
    DuplicateKeys(Vec<String>),
    #[error("expected value for key {key:?} to be a string, got {got}")]
    NotAString { key: String, got: String },
}

/// Builds the `Meta` of a parsed document: envelope keys found case-insensitively, canonical
/// blob.
pub(crate) fn meta_from_value(value: &Value, origin: &Origin) -> Result<Meta, EnvelopeError> {
    let Value::Object(map) = value else {
        return Err(EnvelopeError::NotAnObject(Kind::of(value).article()));
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
    if !dups.is_empty() {
        return Err(EnvelopeError::DuplicateKeys(dups));
    }
    let envelope = |name: &str| -> Result<String, EnvelopeError> {
        let Some(keys) = groups.get(name) else {
            return Ok(String::new());
        };
        let key = keys[0];
        match &map[key] {
            Value::String(s) => Ok(s.clone()),
            other => Err(EnvelopeError::NotAString {
                key: key.to_string(),
                got: describe(other),
            }),
        }
    };
    let [schema, package, name] = ENVELOPE.map(envelope);
    let (schema, package, name) = (schema?, package?, name?);
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

/// A blob of a known schema that does not decode into its type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    #[error("object '{excerpt}' is missing root schema field")]
    MissingSchema { excerpt: String },
    /// `what` is `package`, `channel`, `bundle` or `deprecations`.
    #[error("parse {what}: {source}")]
    Decode {
        what: &'static str,
        #[source]
        source: DecodeError,
    },
}

/// Decodes a `Meta` into its typed form (unknown schemas stay `Other`).
pub fn decode_meta(meta: Meta) -> Result<Blob, BlobError> {
    let what = match meta.schema.as_str() {
        "" => {
            return Err(BlobError::MissingSchema {
                excerpt: blob_excerpt(meta.blob.get()),
            });
        }
        SCHEMA_PACKAGE => "package",
        SCHEMA_CHANNEL => "channel",
        SCHEMA_BUNDLE => "bundle",
        SCHEMA_DEPRECATIONS => "deprecations",
        _ => return Ok(Blob::Other(meta)),
    };
    let src: Arc<str> = meta.blob.shared();
    let origin = meta.origin.clone();
    let decode_error = |source| BlobError::Decode { what, source };
    let fields = Fields::parse(&src, "")
        .and_then(|f| f.ok_or_else(|| DecodeError::mismatch("", "an object", Kind::Null)))
        .map_err(decode_error)?;
    let r = match meta.schema.as_str() {
        SCHEMA_PACKAGE => decode_package(&fields, &src).map(Blob::Package),
        SCHEMA_CHANNEL => decode_channel(&fields, &src).map(Blob::Channel),
        SCHEMA_BUNDLE => decode_bundle(&fields, &src).map(Blob::Bundle),
        _ => decode_deprecation(&fields).map(Blob::Deprecation),
    };
    let mut blob = r.map_err(decode_error)?;
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
    let p = join(path, "properties");
    let items = decode_array(raw, &p)?;
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

/// The objects of the array `name`, each decoded by `each` (given its path); `null` items are
/// the zero value.
fn decode_objects<'a, T: Default>(
    fields: &Fields<'a>,
    name: &str,
    each: impl Fn(&Fields<'a>, &str) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    let Some(raw) = fields.get(name).filter(|r| r.get() != "null") else {
        return Ok(Vec::new());
    };
    let items = decode_array(raw, name)?;
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let ip = format!("{name}[{i}]");
            match Fields::parse(item.get(), &ip)? {
                Some(f) => each(&f, &ip),
                None => Ok(T::default()),
            }
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
                    data: decode_base64(i.get("base64data"), "icon.base64data")?,
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
    let entries = decode_objects(f, "entries", |ef, ip| {
        Ok(ChannelEntry {
            name: ef.string("name", ip)?,
            replaces: ef.string("replaces", ip)?,
            skips: ef.strings("skips", ip)?,
            skip_range: ef.string("skipRange", ip)?,
        })
    })?;
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
    let related_images = decode_objects(f, "relatedImages", |rf, ip| {
        Ok(RelatedImage {
            name: rf.string("name", ip)?,
            image: rf.string("image", ip)?,
        })
    })?;
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
    let entries = decode_objects(f, "entries", |ef, ip| {
        let reference = match ef.get("reference").filter(|r| r.get() != "null") {
            None => PackageScopedReference::default(),
            Some(raw) => {
                let rp = join(ip, "reference");
                match Fields::parse(raw.get(), &rp)? {
                    None => PackageScopedReference::default(),
                    Some(rf) => PackageScopedReference {
                        schema: rf.string("schema", &rp)?,
                        name: rf.string("name", &rp)?,
                    },
                }
            }
        };
        Ok(DeprecationEntry {
            reference,
            message: ef.string("message", ip)?,
        })
    })?;
    Ok(Deprecation {
        schema: f.string("schema", "")?,
        package: f.string("package", "")?,
        entries,
        origin: None,
    })
}

/// Parses every document of `text` into `Meta`s. A file that starts as JSON and fails as
/// JSON within its first two objects is read on as YAML from the failing object, as
/// upstream's catalog reader does (a trailing comma is then accepted).
pub fn parse_metas(
    path: &Path,
    text: &str,
    mut cb: impl FnMut(Meta) -> Result<(), LoadError>,
) -> Result<(), LoadError> {
    let file: Arc<Path> = Arc::from(path);
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    if is_json_stream(body)
        && let Some(docs) = canonical_json_stream(body, &ENVELOPE)
    {
        for doc in docs {
            let [schema, package, name]: [String; 3] =
                doc.envelope.try_into().expect("one value per envelope key");
            cb(Meta {
                schema,
                package,
                name,
                blob: RawJson::new(doc.blob),
                origin: Some(Origin {
                    path: Arc::clone(&file),
                    line: doc.line,
                }),
            })?;
        }
        return Ok(());
    }
    let envelope = |doc: Document| {
        let origin = Origin {
            path: Arc::clone(&file),
            line: doc.line,
        };
        meta_from_value(&doc.value, &origin).map_err(|e| LoadError::Document {
            path: path.to_path_buf(),
            line: doc.line,
            message: e.to_string(),
        })
    };
    decode_documents(path, text, JsonErrors::YamlFollows, envelope, cb)
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
    fn json_falls_back_to_yaml_as_upstream() {
        let names = |text: &str| -> Result<Vec<String>, String> {
            metas(text)
                .map(|m| m.into_iter().map(|m| m.name).collect())
                .map_err(|e| e.to_string())
        };
        let pkg =
            |name: &str, tail: &str| format!("{{\"schema\":\"p\",\"name\":\"{name}\"{tail}}}");
        assert_eq!(names(&pkg("a", ",")).unwrap(), ["a"]);
        let one_good = format!("{}\n{}\n{}", pkg("a", ""), pkg("b", ","), pkg("c", ""));
        // The YAML document is the rest of the file; its first node is read, as upstream.
        assert_eq!(names(&one_good).unwrap(), ["a", "b"]);
        let two_good = format!("{}\n{}\n{}", pkg("a", ""), pkg("b", ""), pkg("c", ","));
        assert_eq!(names(&two_good).unwrap_err(), "f.yaml:3:26: trailing comma");
        // When the YAML fails too, to parse or to decode, the JSON error is the one reported.
        assert_eq!(
            names(&pkg("a", ",,")).unwrap_err(),
            "f.yaml:1:26: key must be a string"
        );
        assert_eq!(
            names("{\"schema\": \"p\", \"name\": }").unwrap_err(),
            "f.yaml:1:25: expected value"
        );
    }

    #[test]
    fn an_unclosed_flow_collection_is_reported_where_it_opens() {
        let e = metas("schema: olm.package\ndefaultChannel: [alpha\nname: foo\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.yaml:2:17: '[' is not closed by ']' (the parser stopped at 3:5: illegal placement of ':' indicator)"
        );
        // A mistake inside a closed collection stays where the parser found it.
        let e = metas("schema: p\nname: [a,\n  b: c: d]\n").unwrap_err();
        assert!(e.to_string().starts_with("f.yaml:3:"), "{e}");
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
            decode_meta(m[0].clone()).unwrap_err().to_string(),
            "parse channel: entries: expected an array, found a number"
        );
        let m = metas("name: x\n").unwrap();
        assert_eq!(
            decode_meta(m[0].clone()).unwrap_err().to_string(),
            "object '{\"name\":\"x\"}' is missing root schema field"
        );
    }
}

/// The JSON fast path ([`canonical_json_stream`]) against the general path ([`meta_from_value`]).
#[cfg(test)]
mod fast_path_tests {
    use super::tests_support::general;
    use super::*;

    fn one(text: &str) -> Option<(String, String, String, String)> {
        let mut docs = general_fast(text)?;
        assert_eq!(docs.len(), 1);
        Some(docs.remove(0))
    }

    /// The fast path's documents as (schema, package, name, blob).
    pub(super) fn general_fast(text: &str) -> Option<Vec<(String, String, String, String)>> {
        Some(
            canonical_json_stream(text, &ENVELOPE)?
                .into_iter()
                .map(|d| {
                    let [s, p, n]: [String; 3] = d.envelope.try_into().unwrap();
                    (s, p, n, d.blob)
                })
                .collect(),
        )
    }

    #[test]
    fn matches_the_general_path() {
        for text in [
            "{\n  \"schema\": \"olm.bundle\",\n  \"Name\": \"a\\u003cb\",\n  \"package\": \"p\",\n  \"n\": [1.0, 1e21, -0, -0.0, 0.0000001, 12345678901234567890, true, null, {}, []],\n  \"s\": \"x\\u2028y\\/z <&> \u{2028} \\ud83d\\ude00 \\u0001\"\n}",
            "{\"b\":{\"z\":1,\"y\":{\"x\":[{\"k\":\"\u{e9}\",\"j\":\"\u{1F600}\"}]}},\"a\":\"\"}",
            "{} {\"SCHEMA\":\"x\",\"PaCkAgE\":\"q\"}\n{\"\\u0073chema\":\"esc\"}",
        ] {
            let fast = general_fast(text).unwrap();
            assert_eq!(fast, general(text), "{text}");
        }
        let (_, _, name, blob) = one("{\"name\":\"a\\u003cb\",\"v\":[1.0,1e21]}").unwrap();
        assert_eq!(name, "a<b");
        assert_eq!(blob, r#"{"name":"a<b","v":[1,1e+21]}"#);
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;
    use serde_json::{Map, Value};

    use super::tests_support::general_checked;

    fn tricky_string() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z0-9 ._-]{0,12}",
            "[<>&\"\\\\/\u{0}-\u{1f}\u{7f}\u{e9}\u{2027}-\u{202a}\u{1F600}a]{0,12}",
        ]
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => tricky_string(),
            1 => prop_oneof![Just("name"), Just("Package"), Just("NAME"), Just("package")]
                .prop_map(str::to_string),
        ]
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            tricky_string().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::vec((tricky_string(), inner), 0..5)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
            ]
        })
    }

    proptest! {
        /// Compact or indented, any key order: the fast path gives the general path's blob and
        /// envelope, or defers to it.
        #[test]
        fn fast_path_equals_general_path(
            docs in proptest::collection::vec(
                (proptest::collection::vec((key(), json_value()), 0..6),
                 prop_oneof![Just("schema"), Just("Schema")],
                 tricky_string(),
                 any::<bool>()),
                1..4,
            )
        ) {
            let mut text = String::new();
            for (members, schema_key, schema, pretty) in docs {
                let mut map: Map<String, Value> = members.into_iter().collect();
                map.insert(schema_key.to_string(), Value::String(schema));
                let v = Value::Object(map);
                text.push_str(&if pretty {
                    serde_json::to_string_pretty(&v).unwrap()
                } else {
                    serde_json::to_string(&v).unwrap()
                });
                text.push('\n');
            }
            let fast = super::fast_path_tests::general_fast(&text);
            // Never accept what the general path rejects; never defer valid documents.
            prop_assert_eq!(fast, general_checked(&text));
        }
    }
}

#[cfg(test)]
mod tests_support {
    /// [`general`], or `None` when it rejects a document.
    pub(super) fn general_checked(text: &str) -> Option<Vec<(String, String, String, String)>> {
        let mut out = Vec::new();
        for v in serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>() {
            let origin = crate::declcfg::Origin {
                path: std::sync::Arc::from(std::path::Path::new("f.json")),
                line: 1,
            };
            let m = super::meta_from_value(&v.ok()?, &origin).ok()?;
            out.push((m.schema, m.package, m.name, m.blob.get().to_string()));
        }
        Some(out)
    }

    /// The general path: a value tree, then canonical encoding and the envelope.
    pub(super) fn general(text: &str) -> Vec<(String, String, String, String)> {
        serde_json::Deserializer::from_str(text)
            .into_iter::<serde_json::Value>()
            .map(|v| {
                let origin = crate::declcfg::Origin {
                    path: std::sync::Arc::from(std::path::Path::new("f.json")),
                    line: 1,
                };
                let m = super::meta_from_value(&v.unwrap(), &origin).unwrap();
                (m.schema, m.package, m.name, m.blob.get().to_string())
            })
            .collect()
    }
}
