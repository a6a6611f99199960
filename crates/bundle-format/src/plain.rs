//! plain+v0: every regular file of `manifests/` is a stream of YAML or JSON documents, each a
//! Kubernetes object or a `…List` of them (flattened, as kubectl's local builder does); blank
//! and `null` documents are skipped. No schema or GVK check: unknown kinds surface at install.

use std::fmt;
use std::path::{Path, PathBuf};

use go_encoding::Kind;
use serde_json::{Map, Value};

use crate::manifests_dir::{self, ManifestFile, ManifestsDirError};

/// Where a document (or a `List` item) is: file, starting line, 1-based number among the file's
/// non-blank documents, and the item path inside a `List`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentLocation {
    pub path: PathBuf,
    pub line: usize,
    pub document: usize,
    /// `items[2]`, `items[0].items[1]`; empty for the document itself.
    pub item: String,
}

impl fmt::Display for DocumentLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: document {}",
            self.path.display(),
            self.line,
            self.document
        )?;
        if !self.item.is_empty() {
            write!(f, ", {}", self.item)?;
        }
        Ok(())
    }
}

/// A plain+v0 bundle's manifests could not be read as Kubernetes objects.
#[derive(Debug, thiserror::Error)]
pub enum PlainError {
    #[error(transparent)]
    ManifestsDir(#[from] ManifestsDirError),
    #[error("{}: not UTF-8 text (invalid byte at offset {offset})", path.display())]
    NotUtf8 { path: PathBuf, offset: usize },
    /// Malformed YAML or JSON, nested too deep, or too large for the parser's budget; the
    /// message names the file, line and column.
    #[error(transparent)]
    Syntax(fbc::LoadError),
    /// Go's wording for decoding a non-object into an object, which upstream tests match on.
    #[error("{at}: json: cannot unmarshal {found} into Go value of type map[string]interface {{}}")]
    NotAnObject {
        at: DocumentLocation,
        /// Go's JSON type word: `string`, `number`, `array`, `bool`.
        found: &'static str,
    },
    #[error("{at}: Object 'Kind' is missing")]
    MissingKind { at: DocumentLocation },
    #[error("{at}: json: cannot unmarshal {found} into Go struct field .kind of type string")]
    KindNotAString {
        at: DocumentLocation,
        found: &'static str,
    },
}

/// Counts the objects of `root/manifests`, `List`s counted by their items.
pub(crate) fn count_objects(root: &Path) -> Result<usize, PlainError> {
    objects(root).map(|o| o.len())
}

/// The objects of `root/manifests`, file by file in name order, `List`s flattened to their
/// items, as they are installed.
pub fn objects(root: &Path) -> Result<Vec<Value>, PlainError> {
    let mut out = Vec::new();
    for file in manifests_dir::list(root)? {
        objects_in_file(&file, &mut out)?;
    }
    Ok(out)
}

fn objects_in_file(file: &ManifestFile, out: &mut Vec<Value>) -> Result<(), PlainError> {
    let bytes = file.read()?;
    let text = String::from_utf8(bytes).map_err(|e| PlainError::NotUtf8 {
        path: file.rel.clone(),
        offset: e.utf8_error().valid_up_to(),
    })?;
    let mut document = 0;
    // The parser's callback can only fail with a `LoadError`: a document's own error is kept
    // here and the parse stopped with a placeholder.
    let mut failure = None;
    let parsed = fbc::parse_documents(&file.rel, &text, |doc| {
        document += 1;
        let at = DocumentLocation {
            path: file.rel.clone(),
            line: doc.line,
            document,
            item: String::new(),
        };
        objects_in(doc.value, &at, out).map_err(|e| {
            failure = Some(e);
            fbc::LoadError::Document {
                path: PathBuf::new(),
                line: 0,
                message: String::new(),
            }
        })
    });
    if let Some(e) = failure {
        return Err(e);
    }
    parsed.map_err(PlainError::Syntax)
}

/// The objects one document holds: none for `null`, the flattened items of a `…List` with an
/// `items` array, else itself.
fn objects_in(value: Value, at: &DocumentLocation, out: &mut Vec<Value>) -> Result<(), PlainError> {
    let mut object = match value {
        Value::Null => return Ok(()),
        Value::Object(object) => object,
        other => {
            return Err(PlainError::NotAnObject {
                at: at.clone(),
                found: Kind::of(&other).go_name(),
            });
        }
    };
    let kind = kind_of(&object, at)?.to_owned();
    let Some(list_item_kind) = kind.strip_suffix("List") else {
        out.push(Value::Object(object));
        return Ok(());
    };
    let items = match object.remove("items") {
        Some(Value::Array(items)) => items,
        Some(other) => {
            object.insert("items".into(), other);
            out.push(Value::Object(object));
            return Ok(());
        }
        None => {
            out.push(Value::Object(object));
            return Ok(());
        }
    };
    let api_version = object.get("apiVersion").cloned();
    for (i, item) in items.into_iter().enumerate() {
        let item_at = DocumentLocation {
            item: if at.item.is_empty() {
                format!("items[{i}]")
            } else {
                format!("{}.items[{i}]", at.item)
            },
            ..at.clone()
        };
        list_item_objects(item, list_item_kind, api_version.as_ref(), &item_at, out)?;
    }
    Ok(())
}

/// A `List` item: an object; one with neither `kind` nor `apiVersion` takes them from the list
/// (as Kubernetes' unstructured list decoding does).
fn list_item_objects(
    item: Value,
    list_item_kind: &str,
    api_version: Option<&Value>,
    at: &DocumentLocation,
    out: &mut Vec<Value>,
) -> Result<(), PlainError> {
    if let Value::Object(mut object) = item {
        if !object.contains_key("kind") && !object.contains_key("apiVersion") {
            if let Some(v) = api_version {
                object.insert("apiVersion".into(), v.clone());
            }
            if !list_item_kind.is_empty() {
                object.insert("kind".into(), Value::String(list_item_kind.to_owned()));
            }
            out.push(Value::Object(object));
            return Ok(());
        }
        return objects_in(Value::Object(object), at, out);
    }
    objects_in(item, at, out)
}

fn kind_of<'a>(
    object: &'a Map<String, Value>,
    at: &DocumentLocation,
) -> Result<&'a str, PlainError> {
    match object.get("kind") {
        Some(Value::String(kind)) if !kind.is_empty() => Ok(kind),
        None | Some(Value::Null) | Some(Value::String(_)) => {
            Err(PlainError::MissingKind { at: at.clone() })
        }
        Some(other) => Err(PlainError::KindNotAString {
            at: at.clone(),
            found: Kind::of(other).go_name(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::fixtures::bundle;
    use crate::{Format, FormatError, Summary, check};

    fn objects(files: &[(&str, &[u8])]) -> Result<usize, FormatError> {
        let dir = bundle(files);
        check(Format::PlainV0, dir.path()).map(|c| match c.summary {
            Summary::Plain { objects } => objects,
            other => panic!("{other:?}"),
        })
    }

    fn message(files: &[(&str, &[u8])]) -> String {
        objects(files).unwrap_err().to_string()
    }

    const NS: &[u8] = b"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n";

    #[test]
    fn counts_documents_of_every_file() {
        let n = objects(&[
            ("manifests/ns.yaml", NS),
            (
                "manifests/.hidden",
                b"---\n# comment only\n---\nkind: ConfigMap\napiVersion: v1\n---\n---\nnull\n...\n",
            ),
            (
                "manifests/objects.json",
                b"{\"kind\":\"A\",\"apiVersion\":\"x/v1\"}\n{\"kind\":\"B\",\"apiVersion\":\"x/v1\"}",
            ),
            ("other/ignored.yaml", b"- not: an object\n"),
            ("README", b"\xff\xfe"),
        ])
        .unwrap();
        assert_eq!(n, 4);
    }

    #[test]
    fn lists_are_flattened() {
        let n = objects(&[(
            "manifests/list.yaml",
            b"apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n- metadata: {name: inherits-kind}\n- apiVersion: v1\n  kind: SecretList\n  items:\n  - {apiVersion: v1, kind: Secret}\n  - {apiVersion: v1, kind: Secret}\n---\napiVersion: v1\nkind: ServiceList\nitems: []\n---\nkind: Widget\nitems: [1, 2, 3]\n",
        )])
        .unwrap();
        assert_eq!(n, 5);
        assert_eq!(
            message(&[(
                "manifests/list.yaml",
                b"kind: List\nitems:\n- kind: A\n- kind: BList\n  items: [\"x\"]\n"
            )]),
            "get objects from bundle manifests: manifests/list.yaml:1: document 1, items[1].items[0]: json: cannot unmarshal string into Go value of type map[string]interface {}"
        );
    }

    #[test]
    fn objects_are_returned_flattened_in_file_order() {
        let dir = bundle(&[
            (
                "manifests/b.yaml",
                &b"apiVersion: v1\nkind: ConfigMapList\nitems:\n- metadata: {name: one}\n- {apiVersion: v1, kind: Secret, metadata: {name: two}}\n"[..],
            ),
            ("manifests/a.json", br#"{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "zero"}}"#),
        ]);
        let names: Vec<String> = super::objects(dir.path())
            .unwrap()
            .iter()
            .map(|o| {
                format!(
                    "{}/{}",
                    o["kind"].as_str().unwrap(),
                    o["metadata"]["name"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(names, ["Namespace/zero", "ConfigMap/one", "Secret/two"]);
    }

    #[test]
    fn missing_manifests_uses_upstream_wording() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("emptyfile"), "").unwrap();
        let e = check(Format::PlainV0, dir.path()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "get objects from bundle manifests: readdir manifests: file does not exist"
        );
    }

    #[test]
    fn subdirectory_message() {
        let e = message(&[
            ("manifests/namespace-a.yaml", NS),
            ("manifests/subdir/namespace-b.yaml", NS),
            ("manifests/emptydir/.gitignore", b""),
        ]);
        assert_eq!(
            e,
            "get objects from bundle manifests: subdirectories are not allowed within the \"manifests\" directory of the bundle image filesystem: found \"manifests/emptydir\""
        );
    }

    #[test]
    fn zero_objects() {
        let expected = "invalid bundle: found zero objects: plain+v0 bundles are required to contain at least one object";
        assert_eq!(message(&[]), expected);
        assert_eq!(
            message(&[("manifests/empty.yaml", b"---\n# nothing\n---\n")]),
            expected
        );
        assert!(matches!(
            objects(&[("manifests/l.yaml", b"kind: List\nitems: []\n")]),
            Err(FormatError::ZeroObjects)
        ));
    }

    #[test]
    fn non_objects_name_file_and_document() {
        for (text, word) in [
            (&b"just a string\n"[..], "string"),
            (b"42\n", "number"),
            (b"- a\n- b\n", "array"),
            (b"true\n", "bool"),
            (b"\"json string\"", "string"),
        ] {
            let e = message(&[("manifests/a.yaml", NS), ("manifests/b.yaml", text)]);
            assert_eq!(
                e,
                format!(
                    "get objects from bundle manifests: manifests/b.yaml:1: document 1: json: cannot unmarshal {word} into Go value of type map[string]interface {{}}"
                )
            );
        }
        let e = message(&[(
            "manifests/multi.yaml",
            b"kind: A\n---\n# blank\n---\nkind: B\n---\nbare\n",
        )]);
        assert!(
            e.contains(
                "manifests/multi.yaml:6: document 3: json: cannot unmarshal string into Go value"
            ),
            "{e}"
        );
    }

    #[test]
    fn kind_is_required() {
        let e = message(&[("manifests/a.yaml", b"apiVersion: v1\nmetadata: {}\n")]);
        assert_eq!(
            e,
            "get objects from bundle manifests: manifests/a.yaml:1: document 1: Object 'Kind' is missing"
        );
        let e = message(&[("manifests/a.yaml", b"kind: 3\n")]);
        assert!(
            e.ends_with("json: cannot unmarshal number into Go struct field .kind of type string"),
            "{e}"
        );
    }

    #[test]
    fn syntax_errors_name_file_line_and_column() {
        let e = message(&[(
            "manifests/bad.yaml",
            b"kind: A\n---\nkind: B\nmetadata: [x\n",
        )]);
        assert!(
            e.starts_with("get objects from bundle manifests: manifests/bad.yaml:"),
            "{e}"
        );
        let Err(FormatError::Plain(PlainError::Syntax(fbc::LoadError::Syntax {
            line,
            column,
            ..
        }))) = objects(&[(
            "manifests/bad.yaml",
            b"kind: A\n---\nkind: B\nmetadata: [x\n",
        )])
        else {
            panic!()
        };
        assert!(line >= 3, "{line}");
        assert!(column > 0);
        let e = message(&[("manifests/bad.json", b"{\"kind\": }")]);
        assert!(e.contains("manifests/bad.json:1:10: "), "{e}");
    }

    #[test]
    fn hostile_input_is_an_error_not_a_crash() {
        let deep = format!("kind: A\nx: {}{}\n", "[".repeat(5000), "]".repeat(5000));
        let e = message(&[("manifests/deep.yaml", deep.as_bytes())]);
        assert!(e.contains("manifests/deep.yaml:"), "{e}");
        let deep_json = format!(
            "{{\"kind\":\"A\",\"x\":{}{}}}",
            "[".repeat(5000),
            "]".repeat(5000)
        );
        let e = message(&[("manifests/deep.json", deep_json.as_bytes())]);
        assert!(e.contains("manifests/deep.json:"), "{e}");
        let e = message(&[("manifests/bin.yaml", b"kind: A\n\xff\xfe\x00")]);
        assert_eq!(
            e,
            "get objects from bundle manifests: manifests/bin.yaml: not UTF-8 text (invalid byte at offset 8)"
        );
        let e = message(&[("manifests/nul.yaml", b"kind: A\nname: \x00\n")]);
        assert!(e.contains("manifests/nul.yaml:"), "{e}");
        let aliases = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\nkind: Bomb\n";
        let e = message(&[("manifests/bomb.yaml", aliases.as_bytes())]);
        assert!(e.contains("manifests/bomb.yaml:"), "{e}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Any bytes, and any text made of YAML's structural characters, give a count or an
        /// error, never a panic.
        #[test]
        fn arbitrary_content_never_panics(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256),
            text in "[-:\\[\\]{}&*!|>'\"#%@`, \n\t\x00a-z0-9~.]{0,200}",
        ) {
            let _ = objects(&[("manifests/bytes", &bytes)]);
            let _ = objects(&[("manifests/text.yaml", text.as_bytes())]);
        }
    }
}
