//! The ClusterServiceVersion as the rest of the bundle code reads it: a typed view over the CSV
//! object that decodes each field with Go struct semantics and names the JSON path of a malformed
//! one. Also the APIs a bundle provides and requires, which come from the CSV and the CRD
//! manifests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use go_encoding::{DecodeError, Node};
use serde_json::Value;

use super::parse::Manifest;

/// A field of the CSV (or of a CRD manifest it is checked against) that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A CustomResourceDefinition manifest, named by its file.
    #[error("{}: {source}", path.display())]
    Crd {
        path: PathBuf,
        #[source]
        source: DecodeError,
    },
    #[error(
        "owned CRD {plural}.{group} version {version:?} kind {kind:?} is not among the bundle's CustomResourceDefinition manifests"
    )]
    OwnedCrdMissing {
        plural: String,
        group: String,
        version: String,
        kind: String,
    },
}

/// A typed view of a CSV object.
pub(super) struct Csv<'a> {
    root: Node<'a>,
}

impl<'a> Csv<'a> {
    pub(super) fn new(object: &'a Value) -> Self {
        Csv {
            root: Node::root(object),
        }
    }

    fn metadata(&self) -> Node<'a> {
        self.root.field("metadata")
    }

    /// `spec`, which must be an object when present.
    pub(super) fn spec(&self) -> Result<Node<'a>, CsvError> {
        let spec = self.root.field("spec");
        spec.object()?;
        Ok(spec)
    }

    /// `metadata.name`.
    pub(super) fn name(&self) -> Result<String, CsvError> {
        Ok(self.metadata().field("name").string()?)
    }

    /// `metadata.annotations`.
    pub(super) fn annotations(&self) -> Result<BTreeMap<String, String>, CsvError> {
        Ok(self.metadata().field("annotations").string_map()?)
    }

    /// `metadata.labels`.
    pub(super) fn labels(&self) -> Result<BTreeMap<String, String>, CsvError> {
        Ok(self.metadata().field("labels").string_map()?)
    }

    /// `spec.version`, read as the unstructured accessor upstream uses: exact key.
    pub(super) fn version(&self) -> Result<String, CsvError> {
        Ok(self.spec()?.field_exact("version").string()?)
    }

    /// `spec.replaces`.
    pub(super) fn replaces(&self) -> Result<String, CsvError> {
        Ok(self.spec()?.field("replaces").string()?)
    }

    /// `spec.skips`.
    pub(super) fn skips(&self) -> Result<Vec<String>, CsvError> {
        Ok(self.spec()?.field("skips").strings()?)
    }

    /// `spec.relatedImages` as (name, image) pairs; `null` items are empty pairs.
    pub(super) fn related_images(&self) -> Result<Vec<(String, String)>, CsvError> {
        let mut out = Vec::new();
        for item in self.spec()?.field("relatedImages").list()? {
            item.object()?;
            out.push((item.field("name").string()?, item.field("image").string()?));
        }
        Ok(out)
    }

    /// Container and init container images of the `deployment` install strategy.
    pub(super) fn operator_images(&self) -> Result<BTreeSet<String>, CsvError> {
        let install = self.spec()?.field("install");
        let mut out = BTreeSet::new();
        if !is_object(&install) || install.field("strategy").string()? != "deployment" {
            return Ok(out);
        }
        for deployment in install.descend(&["spec", "deployments"]).list()? {
            let pod = deployment.descend(&["spec", "template", "spec"]);
            if !is_object(&pod) {
                continue;
            }
            for field in ["containers", "initContainers"] {
                for container in pod.field(field).list()? {
                    if is_object(&container) {
                        out.insert(container.field("image").string()?);
                    }
                }
            }
        }
        Ok(out)
    }

    /// `spec.apiservicedefinitions.<which>` (`owned` or `required`).
    fn api_services(&self, which: &str) -> Result<Vec<ApiKey>, CsvError> {
        let mut out = Vec::new();
        for d in self.definitions("apiservicedefinitions", which)? {
            out.push(ApiKey {
                group: d.field("group").string()?,
                version: d.field("version").string()?,
                kind: d.field("kind").string()?,
                plural: d.field("name").string()?,
            });
        }
        Ok(out)
    }

    /// `spec.customresourcedefinitions.<which>`, whose names are `plural.group`.
    fn crd_descriptions(&self, which: &str) -> Result<Vec<ApiKey>, CsvError> {
        let mut out = Vec::new();
        for d in self.definitions("customresourcedefinitions", which)? {
            let name = d.field("name");
            let full = name.string()?;
            let Some((plural, group)) = full.split_once('.') else {
                return Err(DecodeError::new(
                    name.path(),
                    format!("couldn't parse plural.group from crd name: {full}"),
                )
                .into());
            };
            out.push(ApiKey {
                group: group.to_string(),
                version: d.field("version").string()?,
                kind: d.field("kind").string()?,
                plural: plural.to_string(),
            });
        }
        Ok(out)
    }

    /// The object items of `spec.<definitions>.<which>` (other items are ignored).
    fn definitions(&self, definitions: &str, which: &str) -> Result<Vec<Node<'a>>, CsvError> {
        let defs = self.spec()?.field(definitions);
        if !is_object(&defs) {
            return Ok(Vec::new());
        }
        Ok(defs
            .field(which)
            .list()?
            .into_iter()
            .filter(is_object)
            .collect())
    }

    /// Every version of every CRD manifest, plus the CSV's owned API services.
    pub(super) fn provided_apis(
        &self,
        manifests: &[Manifest],
    ) -> Result<BTreeSet<ApiKey>, CsvError> {
        let mut out = BTreeSet::new();
        for m in manifests
            .iter()
            .filter(|m| m.kind == "CustomResourceDefinition")
        {
            crd_versions(&m.object, &mut out).map_err(|source| CsvError::Crd {
                path: m.path.clone(),
                source,
            })?;
        }
        out.extend(self.api_services("owned")?);
        Ok(out)
    }

    /// Fails when an owned CRD description has no CRD manifest among `provided`.
    pub(super) fn check_owned_crds_present(
        &self,
        provided: &BTreeSet<ApiKey>,
    ) -> Result<(), CsvError> {
        match self
            .crd_descriptions("owned")?
            .into_iter()
            .find(|key| !provided.contains(key))
        {
            Some(key) => Err(CsvError::OwnedCrdMissing {
                plural: key.plural,
                group: key.group,
                version: key.version,
                kind: key.kind,
            }),
            None => Ok(()),
        }
    }

    /// Required CRDs and API services.
    pub(super) fn required_apis(&self) -> Result<BTreeSet<ApiKey>, CsvError> {
        let mut out: BTreeSet<ApiKey> = self.crd_descriptions("required")?.into_iter().collect();
        out.extend(self.api_services("required")?);
        Ok(out)
    }
}

fn is_object(node: &Node<'_>) -> bool {
    node.value().is_some_and(Value::is_object)
}

/// The group, kind and every version a CRD manifest serves.
fn crd_versions(crd: &Value, out: &mut BTreeSet<ApiKey>) -> Result<(), DecodeError> {
    let spec = Node::root(crd).field("spec");
    if !is_object(&spec) {
        return Ok(());
    }
    let group = spec.field("group").string()?;
    let names = spec.field("names");
    let (kind, plural) = if is_object(&names) {
        (
            names.field("kind").string()?,
            names.field("plural").string()?,
        )
    } else {
        (String::new(), String::new())
    };
    let key = |version: String| ApiKey {
        group: group.clone(),
        version,
        kind: kind.clone(),
        plural: plural.clone(),
    };
    let versions = spec.field("versions").list()?;
    if versions.is_empty() {
        out.insert(key(spec.field("version").string()?));
    }
    for v in versions {
        let name = if is_object(&v) {
            v.field("name").string()?
        } else {
            String::new()
        };
        out.insert(key(name));
    }
    Ok(())
}

/// An API a bundle provides or requires.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct ApiKey {
    pub(super) group: String,
    pub(super) version: String,
    pub(super) kind: String,
    pub(super) plural: String,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_fields_as_go_does_and_names_the_path() {
        let v = json!({
            "metadata": {"name": "op.v1"},
            "spec": {
                "Version": "9.9.9",
                "version": "1.0.0",
                "Replaces": "op.v0",
                "replaces": "op.v0.9",
                "relatedImages": [null, {"name": "n", "image": 5}],
            },
        });
        let csv = Csv::new(&v);
        assert_eq!(csv.name().unwrap(), "op.v1");
        // `spec.version` is matched exactly; other fields as Go does (last matching key wins).
        assert_eq!(csv.version().unwrap(), "1.0.0");
        assert_eq!(csv.replaces().unwrap(), "op.v0.9");
        assert_eq!(
            csv.related_images().unwrap_err().to_string(),
            "spec.relatedImages[1].image: expected a string, found a number"
        );
        let not_an_object = json!({"spec": []});
        assert_eq!(
            Csv::new(&not_an_object).skips().unwrap_err().to_string(),
            "spec: expected an object, found an array"
        );
    }

    #[test]
    fn crd_errors_name_the_manifest() {
        let csv = json!({"spec": {}});
        let crd = Manifest {
            path: PathBuf::from("manifests/crd.yaml"),
            kind: "CustomResourceDefinition".into(),
            object: json!({"spec": {"group": "g", "versions": [{"name": 1}]}}),
        };
        assert_eq!(
            Csv::new(&csv)
                .provided_apis(&[crd])
                .unwrap_err()
                .to_string(),
            "manifests/crd.yaml: spec.versions[0].name: expected a string, found a number"
        );
    }
}
