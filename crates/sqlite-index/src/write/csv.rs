//! What the loader reads from a ClusterServiceVersion, with the semantics of upstream's
//! `registry.ClusterServiceVersion` accessors (operator-registry v1.73.0 `pkg/registry/csv.go`):
//! `spec` fields are looked up by exact key in a `map[string]*json.RawMessage`, while the
//! definition lists decode into Go structs (case-insensitive field names). The lenient decoding
//! is [`go_encoding::Node`]'s; this module only names each destination the way Go's decoder
//! does in its error messages.

use std::collections::BTreeSet;

use go_encoding::{DecodeError, Node, Problem};
use serde_json::Value;

/// A CSV that Go's `encoding/json` would fail to decode into upstream's structs, with Go's
/// message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    /// A value of the wrong JSON kind for its Go type.
    #[error("json: cannot unmarshal {found} into Go {target}")]
    Unmarshal { found: &'static str, target: String },
    /// Any other decoding failure (the reads here only fail on a kind mismatch).
    #[error(transparent)]
    Decode(DecodeError),
    /// No `spec` (a nil `json.RawMessage`).
    #[error("unexpected end of JSON input")]
    UnexpectedEnd,
    #[error("couldn't parse plural.group from crd name: {0}")]
    CrdName(String),
    /// Upstream's wrapping of an error with what it was doing.
    #[error("{context}{inner}")]
    Context {
        context: &'static str,
        inner: Box<CsvError>,
    },
}

impl CsvError {
    fn context(context: &'static str) -> impl FnOnce(CsvError) -> CsvError {
        move |inner| CsvError::Context {
            context,
            inner: Box::new(inner),
        }
    }
}

/// Go's message for a kind mismatch found by [`Node`], with the destination named as upstream's
/// decoder names it (`value of type string`, `struct field DefinitionKey.group of type string`),
/// which is not always the JSON path.
fn unmarshal(target: impl Into<String>) -> impl FnOnce(DecodeError) -> CsvError {
    move |e| match e.problem {
        Problem::Type { found, .. } => CsvError::Unmarshal {
            found: found.go_name(),
            target: target.into(),
        },
        Problem::Other(_) => CsvError::Decode(e),
    }
}

/// `{group, version, kind, plural}` of an API (upstream `APIKey`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ApiKey {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
}

/// The CSV's `spec` as upstream's `map[string]*json.RawMessage` sees it. A CSV without `spec`
/// has a nil spec, which fails to unmarshal.
fn spec(csv: &Value) -> Result<Node<'_>, CsvError> {
    let spec = Node::root(csv).field_exact("spec");
    match spec.object() {
        Ok(Some(_)) => Ok(spec),
        Ok(None) => Err(CsvError::UnexpectedEnd),
        Err(e) => Err(unmarshal("value of type map[string]*json.RawMessage")(e)),
    }
}

/// `metadata.name`.
pub(super) fn name(csv: &Value) -> String {
    csv.get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// `metadata.annotations[key]`.
pub(super) fn annotation(csv: &Value, key: &str) -> String {
    csv.get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// A string field of `spec` (`GetVersion`, `GetReplaces`).
pub(super) fn spec_string(csv: &Value, key: &str) -> Result<String, CsvError> {
    spec(csv)?
        .field_exact(key)
        .string()
        .map_err(unmarshal("value of type string"))
}

/// `spec.version` ("" when absent).
pub(super) fn version(csv: &Value) -> Result<String, CsvError> {
    spec_string(csv, "version")
}

/// `spec.replaces` ("" when absent).
pub(super) fn replaces(csv: &Value) -> Result<String, CsvError> {
    spec_string(csv, "replaces")
}

/// `spec.skips`.
pub(super) fn skips(csv: &Value) -> Result<Vec<String>, CsvError> {
    spec(csv)?
        .field_exact("skips")
        .list()
        .map_err(unmarshal("value of type []string"))?
        .iter()
        .map(|skip| skip.string().map_err(unmarshal("value of type string")))
        .collect()
}

/// `metadata.annotations["olm.skipRange"]`.
pub(super) fn skip_range(csv: &Value) -> String {
    annotation(csv, "olm.skipRange")
}

/// `metadata.annotations["olm.substitutesFor"]`.
pub(super) fn substitutes_for(csv: &Value) -> String {
    annotation(csv, "olm.substitutesFor")
}

/// One entry of `owned`/`required` in a definitions block (upstream `DefinitionKey`).
#[derive(Clone, Debug, Default)]
pub(super) struct DefinitionKey {
    pub group: String,
    pub kind: String,
    pub name: String,
    pub version: String,
}

impl DefinitionKey {
    /// The API of an API service definition (its name is the plural).
    fn api_service(self) -> ApiKey {
        ApiKey {
            group: self.group,
            version: self.version,
            kind: self.kind,
            plural: self.name,
        }
    }
}

/// Go's name of the struct a definitions block decodes into.
const DEFINITIONS_TYPE: &str = "value of type struct { Owned []*registry.DefinitionKey \"json:\\\"owned\\\"\"; Required []*registry.DefinitionKey \"json:\\\"required\\\"\" }";

/// `(owned, required)` of `spec.<key>` (`customresourcedefinitions` or `apiservicedefinitions`).
pub(super) fn definitions(
    csv: &Value,
    key: &str,
) -> Result<(Vec<DefinitionKey>, Vec<DefinitionKey>), CsvError> {
    let defs = spec(csv)?.field_exact(key);
    if defs
        .object()
        .map_err(unmarshal(DEFINITIONS_TYPE))?
        .is_none()
    {
        return Ok((Vec::new(), Vec::new()));
    }
    let list = |which: &str| -> Result<Vec<DefinitionKey>, CsvError> {
        let items = defs.field(which).list().map_err(unmarshal(format!(
            "struct field .{which} of type []*registry.DefinitionKey"
        )))?;
        let mut out = Vec::new();
        for item in items {
            let object = item.object().map_err(unmarshal(format!(
                "struct field .{which} of type registry.DefinitionKey"
            )))?;
            // A null element is a nil pointer upstream; it is skipped where used.
            if object.is_none() {
                continue;
            }
            let string = |name: &str| {
                item.field(name).string().map_err(unmarshal(format!(
                    "struct field DefinitionKey.{name} of type string"
                )))
            };
            out.push(DefinitionKey {
                group: string("group")?,
                kind: string("kind")?,
                name: string("name")?,
                version: string("version")?,
            });
        }
        Ok(out)
    };
    Ok((list("owned")?, list("required")?))
}

/// `plural.group` of a CRD description name.
pub(super) fn split_crd_name(name: &str) -> Result<(String, String), CsvError> {
    match name.split_once('.') {
        Some((plural, group)) => Ok((plural.to_string(), group.to_string())),
        None => Err(CsvError::CrdName(name.to_string())),
    }
}

/// APIs the CSV requires: required CRDs (`plural.group` names) and required API services
/// (upstream `Bundle.RequiredAPIs`).
pub(super) fn required_apis(csv: &Value) -> Result<BTreeSet<ApiKey>, CsvError> {
    let mut out = BTreeSet::new();
    let (_, required_crds) = definitions(csv, "customresourcedefinitions")?;
    for d in required_crds {
        let (plural, group) = split_crd_name(&d.name)?;
        out.insert(ApiKey {
            group,
            version: d.version,
            kind: d.kind,
            plural,
        });
    }
    let (_, required_services) = definitions(csv, "apiservicedefinitions")
        .map_err(CsvError::context("error unmarshaling into object map: "))?;
    out.extend(
        required_services
            .into_iter()
            .map(DefinitionKey::api_service),
    );
    Ok(out)
}

/// APIs the bundle provides: every served version of each `apiextensions.k8s.io/v1` or
/// `v1beta1` CRD manifest, plus the CSV's owned API services (upstream `Bundle.ProvidedAPIs`).
pub(super) fn provided_apis(objects: &[Value], csv: &Value) -> Result<BTreeSet<ApiKey>, CsvError> {
    let mut out = BTreeSet::new();
    for o in objects {
        if o.get("kind").and_then(Value::as_str) != Some("CustomResourceDefinition") {
            continue;
        }
        let api_version = o.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let version = api_version.rsplit('/').next().unwrap_or("");
        let (beta, context) = match version {
            "v1" => (false, "error getting crds: error decoding v1 CRD: "),
            "v1beta1" => (true, "error getting crds: error decoding v1beta1 CRD: "),
            // Upstream only decodes these two CRD versions; others provide nothing.
            _ => continue,
        };
        crd_apis(o, beta, &mut out).map_err(CsvError::context(context))?;
    }
    let (owned, _) = definitions(csv, "apiservicedefinitions").map_err(CsvError::context(
        "error getting apiservice definitions: error unmarshaling into object map: ",
    ))?;
    out.extend(owned.into_iter().map(DefinitionKey::api_service));
    Ok(out)
}

/// Every version a CRD manifest serves (its `versions`, and for `v1beta1` also its `version`).
fn crd_apis(crd: &Value, beta: bool, out: &mut BTreeSet<ApiKey>) -> Result<(), CsvError> {
    let spec = Node::root(crd).field_exact("spec");
    if spec
        .object()
        .map_err(unmarshal("struct field CustomResourceDefinition.spec"))?
        .is_none()
    {
        return Ok(());
    }
    let string = |node: Node<'_>, target: &'static str| node.string().map_err(unmarshal(target));
    let group = string(
        spec.field_exact("group"),
        "struct field .spec.group of type string",
    )?;
    let names = spec.field_exact("names");
    let kind = string(
        names.field_exact("kind"),
        "struct field .names.kind of type string",
    )?;
    let plural = string(
        names.field_exact("plural"),
        "struct field .names.plural of type string",
    )?;
    let served = |version: String| ApiKey {
        group: group.clone(),
        version,
        kind: kind.clone(),
        plural: plural.clone(),
    };
    // `versions` that is not a list serves nothing, rather than failing.
    for v in spec.field_exact("versions").list().unwrap_or_default() {
        out.insert(served(string(
            v.field_exact("name"),
            "struct field .versions.name of type string",
        )?));
    }
    if beta {
        let v = string(
            spec.field_exact("version"),
            "struct field .spec.version of type string",
        )?;
        if !v.is_empty() {
            out.insert(served(v));
        }
    }
    Ok(())
}

/// Container and init-container images of the `deployment` install strategy
/// (upstream `GetOperatorImages`).
pub(super) fn operator_images(csv: &Value) -> Result<BTreeSet<String>, CsvError> {
    let mut out = BTreeSet::new();
    let install = spec(csv)?.field("install");
    let strategy = install
        .field("strategy")
        .string()
        .map_err(unmarshal("struct field strategy.strategy of type string"))?;
    if strategy != "deployment" {
        return Ok(out);
    }
    // Members of the wrong kind on the way to the containers hold no images, rather than
    // failing.
    let Ok(deployments) = install.descend(&["spec", "deployments"]).list() else {
        return Ok(out);
    };
    for d in deployments {
        let pod = d.field("spec").field_exact("template").field_exact("spec");
        for key in ["containers", "initContainers"] {
            for c in pod.field_exact(key).list().unwrap_or_default() {
                out.insert(
                    c.field_exact("image")
                        .string()
                        .map_err(unmarshal("struct field Container.image of type string"))?,
                );
            }
        }
    }
    Ok(out)
}

/// Images of `spec.relatedImages` (upstream `GetRelatedImages`); a `null` item is an empty image.
pub(super) fn related_images(csv: &Value) -> Result<BTreeSet<String>, CsvError> {
    let items = spec(csv)?
        .field_exact("relatedImages")
        .list()
        .map_err(unmarshal("value of type []registry.relatedImage"))?;
    let mut out = BTreeSet::new();
    for item in items {
        item.object()
            .map_err(unmarshal("value of type registry.relatedImage"))?;
        out.insert(
            item.field("image")
                .string()
                .map_err(unmarshal("struct field relatedImage.image of type string"))?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::*;

    fn parse(text: &str) -> Value {
        serde_json::from_str(text).expect("test JSON")
    }

    fn message<T: std::fmt::Debug>(result: Result<T, CsvError>) -> String {
        result.expect_err("a decoding error").to_string()
    }

    fn api(group: &str, version: &str, kind: &str, plural: &str) -> ApiKey {
        ApiKey {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            plural: plural.into(),
        }
    }

    fn images(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn struct_fields_match_case_insensitively_and_the_last_duplicate_wins() {
        let csv = parse(
            r#"{"spec":{
                "apiservicedefinitions":{"owned":[{"Group":"g","KIND":"K","name":"first","Name":"ps","version":"v1"}],
                                         "Owned":[{"name":"last","group":"h"}]},
                "customresourcedefinitions":{"REQUIRED":[{"NAME":"cs.example.com","Version":"v2","kind":"C"}]},
                "Install":{"Strategy":"deployment","SPEC":{"Deployments":[{"Spec":{"template":{"spec":{"containers":[{"image":"op:1"}]}}}}]}},
                "relatedImages":[{"image":"a:1","IMAGE":"b:1"}]}}"#,
        );
        assert_eq!(
            provided_apis(&[], &csv).unwrap(),
            BTreeSet::from([api("h", "", "", "last")])
        );
        assert_eq!(
            required_apis(&csv).unwrap(),
            BTreeSet::from([api("example.com", "v2", "C", "cs")])
        );
        assert_eq!(operator_images(&csv).unwrap(), images(&["op:1"]));
        assert_eq!(related_images(&csv).unwrap(), images(&["b:1"]));
    }

    #[test]
    fn null_is_the_zero_value() {
        let csv = parse(
            r#"{"spec":{"version":null,"replaces":null,"skips":["a",null],
                "apiservicedefinitions":{"owned":[null,{"group":null,"name":"ps","kind":"K","version":"v1"}],"required":null},
                "customresourcedefinitions":null,
                "relatedImages":[null,{"image":null},{"image":"x:1"}]}}"#,
        );
        assert_eq!(version(&csv).unwrap(), "");
        assert_eq!(replaces(&csv).unwrap(), "");
        assert_eq!(skips(&csv).unwrap(), ["a", ""]);
        assert_eq!(
            provided_apis(&[], &csv).unwrap(),
            BTreeSet::from([api("", "v1", "K", "ps")])
        );
        assert_eq!(required_apis(&csv).unwrap(), BTreeSet::new());
        assert_eq!(related_images(&csv).unwrap(), images(&["", "x:1"]));
        let null_spec = parse(r#"{"spec":null}"#);
        assert_eq!(message(version(&null_spec)), "unexpected end of JSON input");
    }

    #[test]
    fn spec_members_are_looked_up_by_exact_key() {
        let csv = parse(
            r#"{"spec":{"Version":"1.0.0","REPLACES":"a","Skips":["b"],"RelatedImages":[{"image":"x:1"}],
                "apiServiceDefinitions":{"owned":[{"name":"ps"}]}}}"#,
        );
        assert_eq!(version(&csv).unwrap(), "");
        assert_eq!(replaces(&csv).unwrap(), "");
        assert_eq!(skips(&csv).unwrap(), Vec::<String>::new());
        assert_eq!(related_images(&csv).unwrap(), BTreeSet::new());
        assert_eq!(provided_apis(&[], &csv).unwrap(), BTreeSet::new());
        assert_eq!(
            message(version(&parse(r#"{"Spec":{"version":"1.0.0"}}"#))),
            "unexpected end of JSON input"
        );
        // Inside the install strategy's pod template, keys are exact too.
        let exact = parse(
            r#"{"spec":{"install":{"strategy":"deployment","spec":{"deployments":[
                {"spec":{"Template":{"spec":{"containers":[{"image":"a:1"}]}}}},
                {"spec":{"template":{"spec":{"Containers":[{"image":"b:1"}],"initContainers":[{"Image":"c:1"},3]}}}}]}}}}"#,
        );
        assert_eq!(operator_images(&exact).unwrap(), images(&[""]));
    }

    #[test]
    fn crd_manifests_provide_every_served_version() {
        let crd = |api_version: &str, spec: &str| {
            parse(&format!(
                r#"{{"apiVersion":"apiextensions.k8s.io/{api_version}","kind":"CustomResourceDefinition","spec":{spec}}}"#
            ))
        };
        let objects = [
            crd(
                "v1",
                r#"{"group":"g","names":{"kind":"K","plural":"ks"},"versions":[{"name":"v1"},7]}"#,
            ),
            crd(
                "v1beta1",
                r#"{"group":"b","names":"odd","version":"v2","versions":{"name":"ignored"}}"#,
            ),
            crd("v2", r#"{"group":3}"#),
            crd("v1", "null"),
        ];
        assert_eq!(
            provided_apis(&objects, &parse(r#"{"spec":{}}"#)).unwrap(),
            BTreeSet::from([
                api("g", "v1", "K", "ks"),
                api("g", "", "K", "ks"),
                api("b", "v2", "", ""),
            ])
        );
    }

    #[test]
    fn wrong_types_give_go_messages() {
        let spec = |spec: &str| parse(&format!(r#"{{"spec":{spec}}}"#));
        let cases: [(Result<(), CsvError>, &str); 16] = [
            (
                version(&spec(r#"{"version":1}"#)).map(drop),
                "json: cannot unmarshal number into Go value of type string",
            ),
            (
                replaces(&spec("[]")).map(drop),
                "json: cannot unmarshal array into Go value of type map[string]*json.RawMessage",
            ),
            (
                skips(&spec(r#"{"skips":{}}"#)).map(drop),
                "json: cannot unmarshal object into Go value of type []string",
            ),
            (
                skips(&spec(r#"{"skips":[true]}"#)).map(drop),
                "json: cannot unmarshal bool into Go value of type string",
            ),
            (
                required_apis(&spec(r#"{"customresourcedefinitions":"x"}"#)).map(drop),
                "json: cannot unmarshal string into Go value of type struct { Owned []*registry.DefinitionKey \"json:\\\"owned\\\"\"; Required []*registry.DefinitionKey \"json:\\\"required\\\"\" }",
            ),
            (
                required_apis(&spec(r#"{"customresourcedefinitions":{"owned":{}}}"#)).map(drop),
                "json: cannot unmarshal object into Go struct field .owned of type []*registry.DefinitionKey",
            ),
            (
                required_apis(&spec(r#"{"apiservicedefinitions":{"required":[1]}}"#)).map(drop),
                "error unmarshaling into object map: json: cannot unmarshal number into Go struct field .required of type registry.DefinitionKey",
            ),
            (
                required_apis(&spec(
                    r#"{"customresourcedefinitions":{"required":[{"name":"nodot"}]}}"#,
                ))
                .map(drop),
                "couldn't parse plural.group from crd name: nodot",
            ),
            (
                provided_apis(&[], &spec(r#"{"apiservicedefinitions":{"owned":[{"kind":[]}]}}"#))
                    .map(drop),
                "error getting apiservice definitions: error unmarshaling into object map: json: cannot unmarshal array into Go struct field DefinitionKey.kind of type string",
            ),
            (
                operator_images(&spec(r#"{"install":{"strategy":5}}"#)).map(drop),
                "json: cannot unmarshal number into Go struct field strategy.strategy of type string",
            ),
            (
                operator_images(&spec(
                    r#"{"install":{"strategy":"deployment","spec":{"deployments":[{"spec":{"template":{"spec":{"initContainers":[{"image":{}}]}}}}]}}}"#,
                ))
                .map(drop),
                "json: cannot unmarshal object into Go struct field Container.image of type string",
            ),
            (
                related_images(&spec(r#"{"relatedImages":"x"}"#)).map(drop),
                "json: cannot unmarshal string into Go value of type []registry.relatedImage",
            ),
            (
                related_images(&spec(r#"{"relatedImages":[1]}"#)).map(drop),
                "json: cannot unmarshal number into Go value of type registry.relatedImage",
            ),
            (
                related_images(&spec(r#"{"relatedImages":[{"Image":false}]}"#)).map(drop),
                "json: cannot unmarshal bool into Go struct field relatedImage.image of type string",
            ),
            (
                version(&parse("[]")).map(drop),
                "unexpected end of JSON input",
            ),
            (
                definitions(&spec(r#"{"apiservicedefinitions":{"required":[{"group":1}]}}"#), "apiservicedefinitions").map(drop),
                "json: cannot unmarshal number into Go struct field DefinitionKey.group of type string",
            ),
        ];
        for (result, expected) in cases {
            assert_eq!(message(result), expected);
        }
    }

    #[test]
    fn malformed_crd_manifests_give_go_messages() {
        let crd = |api_version: &str, spec: &str| {
            vec![parse(&format!(
                r#"{{"apiVersion":"apiextensions.k8s.io/{api_version}","kind":"CustomResourceDefinition","spec":{spec}}}"#
            ))]
        };
        let csv = parse(r#"{"spec":{}}"#);
        let cases = [
            (
                crd("v1", r#""x""#),
                "error getting crds: error decoding v1 CRD: json: cannot unmarshal string into Go struct field CustomResourceDefinition.spec",
            ),
            (
                crd("v1", r#"{"group":1}"#),
                "error getting crds: error decoding v1 CRD: json: cannot unmarshal number into Go struct field .spec.group of type string",
            ),
            (
                crd("v1beta1", r#"{"names":{"kind":[]}}"#),
                "error getting crds: error decoding v1beta1 CRD: json: cannot unmarshal array into Go struct field .names.kind of type string",
            ),
            (
                crd("v1", r#"{"names":{"plural":{}}}"#),
                "error getting crds: error decoding v1 CRD: json: cannot unmarshal object into Go struct field .names.plural of type string",
            ),
            (
                crd("v1", r#"{"versions":[{"name":2}]}"#),
                "error getting crds: error decoding v1 CRD: json: cannot unmarshal number into Go struct field .versions.name of type string",
            ),
            (
                crd("v1beta1", r#"{"version":true}"#),
                "error getting crds: error decoding v1beta1 CRD: json: cannot unmarshal bool into Go struct field .spec.version of type string",
            ),
        ];
        for (objects, expected) in cases {
            assert_eq!(message(provided_apis(&objects, &csv)), expected);
        }
    }
}
