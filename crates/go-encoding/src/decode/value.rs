//! [`Node`]: the Go-struct reader over an already parsed JSON value.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{DecodeError, Kind, join};

/// A value (or its absence) at a JSON path, read as Go decodes into a struct field.
#[derive(Clone, Debug)]
pub struct Node<'a> {
    value: Option<&'a Value>,
    path: String,
}

impl<'a> Node<'a> {
    /// The document root (path `""`).
    pub fn root(value: &'a Value) -> Self {
        Node::at(Some(value), "")
    }

    /// `value` (absent when `None`) known by `path` in messages.
    pub fn at(value: Option<&'a Value>, path: impl Into<String>) -> Self {
        Node {
            value,
            path: path.into(),
        }
    }

    /// The value; `None` when absent.
    pub fn value(&self) -> Option<&'a Value> {
        self.value
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// Absent or `null`: Go leaves the zero value.
    pub fn is_null(&self) -> bool {
        matches!(self.value, None | Some(Value::Null))
    }

    /// The member `name` of an object, matched as Go matches struct fields: ignoring ASCII case,
    /// the last matching key wins. Absent when this is not an object.
    pub fn field(&self, name: &str) -> Node<'a> {
        let value = self.value.and_then(Value::as_object).and_then(|m| {
            m.iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
                .next_back()
        });
        Node::at(value, join(&self.path, name))
    }

    /// The member `name` matched exactly, as a Kubernetes unstructured accessor reads it.
    pub fn field_exact(&self, name: &str) -> Node<'a> {
        let value = self
            .value
            .and_then(Value::as_object)
            .and_then(|m| m.get(name));
        Node::at(value, join(&self.path, name))
    }

    /// The members `path…` nested objects down, each matched as [`Node::field`]; absent when a
    /// step is missing or not an object.
    pub fn descend(&self, names: &[&str]) -> Node<'a> {
        names
            .iter()
            .fold(self.clone(), |node, name| node.field(name))
    }

    fn mismatch(&self, expected: &'static str, found: &Value) -> DecodeError {
        DecodeError::mismatch(&self.path, expected, Kind::of(found))
    }

    /// Go `string` (`null` and absent are "").
    pub fn string(&self) -> Result<String, DecodeError> {
        match self.value {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(self.mismatch("a string", other)),
        }
    }

    /// Go `bool` (`null` and absent are `false`).
    pub fn bool(&self) -> Result<bool, DecodeError> {
        match self.value {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(self.mismatch("a boolean", other)),
        }
    }

    /// Go struct: the object's members (`None` for `null` and absent).
    pub fn object(&self) -> Result<Option<&'a Map<String, Value>>, DecodeError> {
        match self.value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(other) => Err(self.mismatch("an object", other)),
        }
    }

    /// Go slice: the items, each at `path[i]` (`null` and absent are empty).
    pub fn list(&self) -> Result<Vec<Node<'a>>, DecodeError> {
        match self.value {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => Ok(items
                .iter()
                .enumerate()
                .map(|(i, v)| Node::at(Some(v), format!("{}[{i}]", self.path)))
                .collect()),
            Some(other) => Err(self.mismatch("an array", other)),
        }
    }

    /// Go `[]string`.
    pub fn strings(&self) -> Result<Vec<String>, DecodeError> {
        self.list()?.iter().map(Node::string).collect()
    }

    /// Go `map[string]string`, each value at `path["key"]`.
    pub fn string_map(&self) -> Result<BTreeMap<String, String>, DecodeError> {
        let Some(m) = self.object()? else {
            return Ok(BTreeMap::new());
        };
        m.iter()
            .map(|(k, v)| {
                let value = Node::at(Some(v), format!("{}[{k:?}]", self.path)).string()?;
                Ok((k.clone(), value))
            })
            .collect()
    }

    /// Rejects members matching none of `known` (Go `DisallowUnknownFields`).
    pub fn deny_unknown(&self, known: &[&str]) -> Result<(), DecodeError> {
        let Some(m) = self.value.and_then(Value::as_object) else {
            return Ok(());
        };
        match m
            .keys()
            .find(|k| !known.iter().any(|n| n.eq_ignore_ascii_case(k)))
        {
            Some(k) => Err(DecodeError::new(
                &self.path,
                format!("json: unknown field {k:?}"),
            )),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fields_match_like_go_and_errors_name_the_path() {
        let v = json!({"Spec": {"name": "a", "NAME": "b", "skips": ["x", null, 3]}});
        let spec = Node::root(&v).field("spec");
        assert_eq!(spec.path(), "spec");
        assert_eq!(spec.field("name").string().unwrap(), "b");
        assert!(spec.field_exact("NAME").value().is_some());
        assert!(spec.field_exact("Name").value().is_none());
        assert_eq!(
            spec.field("skips").strings().unwrap_err().to_string(),
            "spec.skips[2]: expected a string, found a number"
        );
        assert_eq!(
            spec.field("missing").strings().unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(
            spec.field("name").list().unwrap_err().to_string(),
            "spec.name: expected an array, found a string"
        );
        assert_eq!(
            Node::root(&v).descend(&["spec", "name"]).string().unwrap(),
            "b"
        );
    }

    #[test]
    fn go_messages() {
        let v = json!({"schema": 1, "extra": true, "m": {"k": [1]}});
        let root = Node::root(&v);
        assert_eq!(
            root.field("schema")
                .string()
                .unwrap_err()
                .go_message("T", "string"),
            "json: cannot unmarshal number into Go struct field T.schema of type string"
        );
        assert_eq!(
            Node::root(&json!([1]))
                .object()
                .unwrap_err()
                .go_message("T", "pkg.T"),
            "json: cannot unmarshal array into Go value of type pkg.T"
        );
        let items = json!({"a": [{"b": 1}]});
        let b = Node::root(&items).field("a").list().unwrap()[0].field("b");
        assert_eq!(b.path(), "a[0].b");
        assert_eq!(
            b.string().unwrap_err().go_message("item", "string"),
            "json: cannot unmarshal number into Go struct field item.a.b of type string"
        );
        assert_eq!(
            root.deny_unknown(&["Schema", "m"]).unwrap_err().to_string(),
            "json: unknown field \"extra\""
        );
        assert_eq!(
            root.field("m").string_map().unwrap_err().to_string(),
            "m[\"k\"]: expected a string, found an array"
        );
        assert!(root.field("extra").bool().unwrap());
    }
}
