//! The inventory: which objects an owner has applied, as a compact text document.
//!
//! Format (before gzip), one record per line, fields separated by tabs (Kubernetes
//! names, kinds and versions cannot contain tabs or newlines):
//!
//! ```text
//! rukpak-inventory/v1
//! digest<TAB><hex SHA-256 of the committed desired set, or `-` before the first commit>
//! applied<TAB><group><TAB><version><TAB><kind><TAB><namespace or empty><TAB><name>
//! pending<TAB>…same fields…
//! ```
//!
//! `applied` lines are the committed set in apply order; `pending` lines are objects an
//! apply has started to create but not committed yet (see `docs/rukpak-applier.md`).

use std::collections::BTreeSet;
use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use health::ObjectRef;
use kube::api::GroupVersionKind;

const HEADER: &str = "rukpak-inventory/v1";

/// Why a stored inventory document cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not gzip-compressed text: {0}")]
    NotGzip(String),
    #[error("the first line is not {HEADER}")]
    Header,
    #[error("the second line is not the digest")]
    Digest,
    #[error("record {record} has {fields} fields, not 6")]
    Fields { record: usize, fields: usize },
    #[error("record {record} has an unknown tag {tag:?}")]
    Tag { record: usize, tag: String },
}

/// The objects an owner has applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    /// Digest of the committed desired set; `None` until a first apply commits.
    pub digest: Option<String>,
    /// The committed objects, in apply order, each with its effective namespace.
    pub objects: Vec<ObjectRef>,
    /// Objects of an apply that has not committed (it failed or was killed): they may
    /// exist, and are pruned unless the next commit keeps them.
    pub pending: Vec<ObjectRef>,
}

impl Inventory {
    /// The distinct kinds of the committed objects: what a controller watches to repair drift.
    pub fn kinds(&self) -> Vec<GroupVersionKind> {
        let set: BTreeSet<(&str, &str, &str)> = self
            .objects
            .iter()
            .map(|o| (o.group.as_str(), o.version.as_str(), o.kind.as_str()))
            .collect();
        set.into_iter()
            .map(|(g, v, k)| GroupVersionKind::gvk(g, v, k))
            .collect()
    }

    /// The document, gzip-compressed.
    pub fn encode(&self) -> Vec<u8> {
        let mut text = String::with_capacity(64 * (self.objects.len() + self.pending.len() + 2));
        text.push_str(HEADER);
        text.push('\n');
        text.push_str("digest\t");
        text.push_str(self.digest.as_deref().unwrap_or("-"));
        text.push('\n');
        let sections = [("applied", &self.objects), ("pending", &self.pending)];
        for (tag, list) in sections {
            for o in list {
                let ns = o.namespace.as_deref().unwrap_or("");
                let fields = [tag, &o.group, &o.version, &o.kind, ns, &o.name];
                text.push_str(&fields.join("\t"));
                text.push('\n');
            }
        }
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        // Writing into a Vec cannot fail.
        gz.write_all(text.as_bytes()).expect("gzip into memory");
        gz.finish().expect("gzip into memory")
    }

    /// Reads what [`Inventory::encode`] wrote; the error says what is wrong.
    pub fn decode(bytes: &[u8]) -> Result<Inventory, DecodeError> {
        let mut text = String::new();
        GzDecoder::new(bytes)
            .read_to_string(&mut text)
            .map_err(|e| DecodeError::NotGzip(e.to_string()))?;
        let mut lines = text.lines();
        if lines.next() != Some(HEADER) {
            return Err(DecodeError::Header);
        }
        let digest = match lines.next().and_then(|l| l.strip_prefix("digest\t")) {
            Some("-") => None,
            Some(d) => Some(d.to_owned()),
            None => return Err(DecodeError::Digest),
        };
        let mut inventory = Inventory {
            digest,
            ..Inventory::default()
        };
        for (n, line) in lines.enumerate() {
            let fields: Vec<&str> = line.split('\t').collect();
            let [tag, group, version, kind, ns, name] = fields[..] else {
                return Err(DecodeError::Fields {
                    record: n + 1,
                    fields: fields.len(),
                });
            };
            let object = ObjectRef {
                group: group.to_owned(),
                version: version.to_owned(),
                kind: kind.to_owned(),
                namespace: (!ns.is_empty()).then(|| ns.to_owned()),
                name: name.to_owned(),
            };
            match tag {
                "applied" => inventory.objects.push(object),
                "pending" => inventory.pending.push(object),
                other => {
                    return Err(DecodeError::Tag {
                        record: n + 1,
                        tag: other.to_owned(),
                    });
                }
            }
        }
        Ok(inventory)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(kind: &str, ns: Option<&str>, name: &str) -> ObjectRef {
        ObjectRef {
            group: if kind == "Deployment" {
                "apps".into()
            } else {
                String::new()
            },
            version: "v1".into(),
            kind: kind.into(),
            namespace: ns.map(Into::into),
            name: name.into(),
        }
    }

    #[test]
    fn round_trips_and_stays_compact() {
        let inv = Inventory {
            digest: Some("ab12".into()),
            objects: (0..5000)
                .map(|i| object("ConfigMap", Some("ns"), &format!("config-{i}")))
                .chain([
                    object("Namespace", None, "ns"),
                    object("Deployment", Some("ns"), "web"),
                ])
                .collect(),
            pending: vec![object("Secret", Some("other"), "s")],
        };
        let bytes = inv.encode();
        assert_eq!(Inventory::decode(&bytes).unwrap(), inv);
        // 5,002 records fit in a few tens of KiB: far below one object's size limit.
        assert!(bytes.len() < 64 * 1024, "{} bytes", bytes.len());
        assert_eq!(
            inv.kinds(),
            [
                GroupVersionKind::gvk("", "v1", "ConfigMap"),
                GroupVersionKind::gvk("", "v1", "Namespace"),
                GroupVersionKind::gvk("apps", "v1", "Deployment"),
            ]
        );
    }

    #[test]
    fn uncommitted_inventory_has_no_digest() {
        let inv = Inventory {
            digest: None,
            objects: vec![],
            pending: vec![object("ConfigMap", Some("ns"), "a")],
        };
        assert_eq!(Inventory::decode(&inv.encode()).unwrap(), inv);
    }

    #[test]
    fn damaged_documents_are_refused_with_a_reason() {
        assert!(matches!(
            Inventory::decode(b"plain"),
            Err(DecodeError::NotGzip(_))
        ));
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(b"rukpak-inventory/v1\ndigest\t-\napplied\tapps\n")
            .unwrap();
        let err = Inventory::decode(&gz.finish().unwrap()).unwrap_err();
        assert_eq!(
            err,
            DecodeError::Fields {
                record: 1,
                fields: 2
            }
        );
        assert_eq!(err.to_string(), "record 1 has 2 fields, not 6");
    }
}
