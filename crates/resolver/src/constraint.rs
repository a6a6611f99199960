//! `olm.constraint` properties (operator-framework/api `pkg/constraints`) and their CEL rules.
//!
//! The whole constraint tree is a predicate over one candidate bundle: `all` = every child holds
//! for that same bundle, `any` = some child holds, `not` = no child holds. The candidates of
//! the requirement are every bundle (any package) satisfying it.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use semver_ranges::{BlangRange, BlangRangeError, parse_tolerant};
use serde_json::{Map, Value};

use crate::input::Gvk;

/// Upstream's raw size limit (`2<<16` bytes).
pub const MAX_CONSTRAINT_BYTES: usize = 2 << 16;
/// Longest CEL rule we compile. Rules come from third-party catalogs.
pub const MAX_CEL_RULE_BYTES: usize = 8 * 1024;
/// Deepest `all`/`any`/`not` nesting we accept.
const MAX_DEPTH: usize = 32;

/// A parsed constraint tree.
#[derive(Debug, Clone, PartialEq)]
pub enum ConstraintExpr {
    /// `package: {packageName, versionRange}`.
    Package {
        /// Package name.
        package: String,
        /// The range as written.
        range_text: String,
        /// The parsed blang range.
        range: BlangRange,
    },
    /// `gvk: {group, version, kind}`: the bundle provides the API.
    Gvk(Gvk),
    /// `cel: {rule}`.
    Cel {
        /// The rule.
        rule: String,
    },
    /// `all: {constraints}`.
    All(Vec<ConstraintExpr>),
    /// `any: {constraints}`.
    Any(Vec<ConstraintExpr>),
    /// `not: {constraints}`.
    Not(Vec<ConstraintExpr>),
}

/// Why an `olm.constraint` property is invalid (the bundle is then not installable).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConstraintError {
    /// The raw property is larger than upstream accepts.
    #[error("constraint is {size} bytes, more than the limit of {MAX_CONSTRAINT_BYTES}")]
    TooLarge {
        /// Its size in bytes.
        size: usize,
    },
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("constraint nesting deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// A node that is not a JSON object.
    #[error("{what} must be an object, found {found}")]
    NotAnObject {
        /// Which node.
        what: String,
        /// What was there instead.
        found: Value,
    },
    /// A field the node does not have.
    #[error("unknown field {field:?} in {what} (allowed: {})", allowed.join(", "))]
    UnknownField {
        /// The field.
        field: String,
        /// Which node.
        what: String,
        /// The fields it may have.
        allowed: Vec<&'static str>,
    },
    /// A field that must be a string.
    #[error("{what}.{field} must be a string, found {found}")]
    NotAString {
        /// Which node.
        what: String,
        /// The field.
        field: &'static str,
        /// What was there instead.
        found: Value,
    },
    /// A required field is absent.
    #[error("{what} is missing {field:?}")]
    Missing {
        /// Which node.
        what: String,
        /// The field.
        field: &'static str,
    },
    /// `failureMessage` is not a string.
    #[error("failureMessage must be a string, found {0}")]
    FailureMessageNotAString(Value),
    /// A node with none of `package`, `gvk`, `cel`, `all`, `any`, `not`.
    #[error("constraint is empty")]
    Empty,
    /// A node with several of them.
    #[error("constraint must have exactly one of package, gvk, cel, all, any, not; found {}", found.join(", "))]
    SeveralKinds {
        /// The kinds it has.
        found: Vec<String>,
    },
    /// `all`/`any`/`not` whose `constraints` is not a list.
    #[error("{what}.constraints must be a list, found {found}")]
    NotAList {
        /// Which node.
        what: String,
        /// What was there instead.
        found: Value,
    },
    /// A `package` constraint whose range blang rejects.
    #[error("package {package:?}: invalid versionRange: {error}")]
    InvalidRange {
        /// The package.
        package: String,
        /// blang's error.
        error: BlangRangeError,
    },
    /// A CEL rule longer than [`MAX_CEL_RULE_BYTES`].
    #[error("cel rule is {len} bytes, more than the limit of {MAX_CEL_RULE_BYTES}")]
    RuleTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// A CEL rule that does not compile.
    #[error(transparent)]
    Cel(#[from] CelCompileError),
}

/// A CEL rule that does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cel rule {rule:?} does not compile: {message}")]
pub struct CelCompileError {
    /// The rule.
    pub rule: String,
    /// The CEL parser's message.
    pub message: String,
}

/// Why a CEL rule could not be evaluated over the catalog (it then matches no bundle).
#[derive(Debug, thiserror::Error)]
pub(crate) enum CelError {
    #[error(transparent)]
    Compile(#[from] CelCompileError),
    #[error("could not start CEL evaluation: {0}")]
    Spawn(std::io::Error),
    #[error("evaluation of CEL rule {rule:?} took longer than {ms} ms")]
    Timeout { rule: String, ms: u128 },
    #[error("evaluation of CEL rule {rule:?} failed unexpectedly")]
    Disconnected { rule: String },
}

fn compile(rule: &str) -> Result<cel::Program, CelCompileError> {
    cel::Program::compile(rule).map_err(|e| CelCompileError {
        rule: rule.to_string(),
        message: e.to_string(),
    })
}

fn object<'a>(value: &'a Value, what: &str) -> Result<&'a Map<String, Value>, ConstraintError> {
    value
        .as_object()
        .ok_or_else(|| ConstraintError::NotAnObject {
            what: what.to_string(),
            found: value.clone(),
        })
}

fn only_fields(
    map: &Map<String, Value>,
    allowed: &[&'static str],
    what: &str,
) -> Result<(), ConstraintError> {
    match map.keys().find(|key| !allowed.contains(&key.as_str())) {
        Some(key) => Err(ConstraintError::UnknownField {
            field: key.clone(),
            what: what.to_string(),
            allowed: allowed.to_vec(),
        }),
        None => Ok(()),
    }
}

fn string_field(
    map: &Map<String, Value>,
    field: &'static str,
    what: &str,
) -> Result<String, ConstraintError> {
    match map.get(field) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(found) => Err(ConstraintError::NotAString {
            what: what.to_string(),
            field,
            found: found.clone(),
        }),
        None => Err(ConstraintError::Missing {
            what: what.to_string(),
            field,
        }),
    }
}

impl ConstraintExpr {
    /// Parses an `olm.constraint` property value; returns the tree and its `failureMessage`.
    pub fn from_property(
        value: &Value,
    ) -> Result<(ConstraintExpr, Option<String>), ConstraintError> {
        let size = serde_json::to_string(value)
            .map(|s| s.len())
            .unwrap_or(usize::MAX);
        if size > MAX_CONSTRAINT_BYTES {
            return Err(ConstraintError::TooLarge { size });
        }
        let map = object(value, "olm.constraint")?;
        let failure_message = match map.get("failureMessage") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => return Err(ConstraintError::FailureMessageNotAString(other.clone())),
        };
        Ok((Self::node(value, 0)?, failure_message))
    }

    fn node(value: &Value, depth: usize) -> Result<ConstraintExpr, ConstraintError> {
        if depth > MAX_DEPTH {
            return Err(ConstraintError::TooDeep);
        }
        let map = object(value, "constraint")?;
        only_fields(
            map,
            &[
                "failureMessage",
                "package",
                "gvk",
                "cel",
                "all",
                "any",
                "not",
            ],
            "constraint",
        )?;
        let kinds: Vec<&String> = map.keys().filter(|k| *k != "failureMessage").collect();
        match kinds.as_slice() {
            [] => Err(ConstraintError::Empty),
            [kind] => {
                let body = &map[kind.as_str()];
                match kind.as_str() {
                    "package" => {
                        let m = object(body, "package")?;
                        only_fields(m, &["packageName", "versionRange"], "package")?;
                        let package = string_field(m, "packageName", "package")?;
                        let range_text = string_field(m, "versionRange", "package")?;
                        let range = BlangRange::parse(&range_text).map_err(|error| {
                            ConstraintError::InvalidRange {
                                package: package.clone(),
                                error,
                            }
                        })?;
                        Ok(ConstraintExpr::Package {
                            package,
                            range_text,
                            range,
                        })
                    }
                    "gvk" => {
                        let m = object(body, "gvk")?;
                        only_fields(m, &["group", "version", "kind"], "gvk")?;
                        Ok(ConstraintExpr::Gvk(Gvk::new(
                            string_field(m, "group", "gvk")?,
                            string_field(m, "version", "gvk")?,
                            string_field(m, "kind", "gvk")?,
                        )))
                    }
                    "cel" => {
                        let m = object(body, "cel")?;
                        only_fields(m, &["rule"], "cel")?;
                        let rule = string_field(m, "rule", "cel")?;
                        if rule.len() > MAX_CEL_RULE_BYTES {
                            return Err(ConstraintError::RuleTooLong { len: rule.len() });
                        }
                        compile(&rule)?;
                        Ok(ConstraintExpr::Cel { rule })
                    }
                    compound => {
                        let m = object(body, compound)?;
                        only_fields(m, &["constraints"], compound)?;
                        let list = match m.get("constraints") {
                            Some(Value::Array(items)) => items,
                            Some(other) => {
                                return Err(ConstraintError::NotAList {
                                    what: compound.to_string(),
                                    found: other.clone(),
                                });
                            }
                            None => {
                                return Err(ConstraintError::Missing {
                                    what: compound.to_string(),
                                    field: "constraints",
                                });
                            }
                        };
                        let children = list
                            .iter()
                            .map(|c| Self::node(c, depth + 1))
                            .collect::<Result<Vec<_>, _>>()?;
                        Ok(match compound {
                            "all" => ConstraintExpr::All(children),
                            "any" => ConstraintExpr::Any(children),
                            _ => ConstraintExpr::Not(children),
                        })
                    }
                }
            }
            _ => Err(ConstraintError::SeveralKinds {
                found: kinds.iter().map(|k| k.to_string()).collect(),
            }),
        }
    }

    /// Every CEL rule in the tree.
    pub(crate) fn rules(&self, out: &mut Vec<String>) {
        match self {
            ConstraintExpr::Cel { rule } if !out.contains(rule) => out.push(rule.clone()),
            ConstraintExpr::All(c) | ConstraintExpr::Any(c) | ConstraintExpr::Not(c) => {
                c.iter().for_each(|c| c.rules(out))
            }
            _ => {}
        }
    }
}

impl fmt::Display for ConstraintExpr {
    /// Human form, e.g. `package blue in range ">=1.0.0" and an API provider of Green (…)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, c: &[ConstraintExpr], sep: &str| -> fmt::Result {
            for (i, c) in c.iter().enumerate() {
                if i > 0 {
                    f.write_str(sep)?;
                }
                if matches!(
                    c,
                    ConstraintExpr::All(_) | ConstraintExpr::Any(_) | ConstraintExpr::Not(_)
                ) {
                    write!(f, "({c})")?;
                } else {
                    write!(f, "{c}")?;
                }
            }
            Ok(())
        };
        match self {
            ConstraintExpr::Package {
                package,
                range_text,
                ..
            } => write!(f, "package {package} in range {range_text:?}"),
            ConstraintExpr::Gvk(g) => write!(f, "a provider of {g}"),
            ConstraintExpr::Cel { rule } => write!(f, "CEL rule {rule:?}"),
            ConstraintExpr::All(c) => join(f, c, " and "),
            ConstraintExpr::Any(c) => join(f, c, " or "),
            ConstraintExpr::Not(c) => {
                f.write_str("not ")?;
                join(f, c, " or ")
            }
        }
    }
}

/// The result of running one CEL rule over bundles.
#[derive(Debug, Clone, Default)]
pub(crate) struct CelOutcome {
    /// Indices (into the evaluated list) for which the rule returned `true`.
    pub(crate) matching: HashSet<usize>,
    /// The first evaluation error, kept for explanations.
    pub(crate) first_error: Option<String>,
}

/// `semver_compare(a, b)`: blang `ParseTolerant` on both, then −1/0/1.
fn semver_compare(a: Arc<String>, b: Arc<String>) -> cel::ResolveResult {
    let parse = |s: &str| {
        parse_tolerant(s).map_err(|e| {
            cel::ExecutionError::function_error(
                "semver_compare",
                format!("invalid version {s:?}: {e}"),
            )
        })
    };
    let ord = parse(&a)?.cmp_precedence(&parse(&b)?);
    Ok(cel::Value::Int(ord as i64))
}

/// Runs `rule` over each properties list on a worker thread; gives up after `budget` (the
/// thread then finishes on its own: CEL evaluation always terminates, it is only bounded here
/// because catalog rules are third-party input).
pub(crate) fn evaluate_rule(
    rule: &str,
    inputs: Vec<Value>,
    budget: Duration,
) -> Result<CelOutcome, CelError> {
    let (tx, rx) = mpsc::channel();
    let rule_owned = rule.to_string();
    let spawned = std::thread::Builder::new()
        .name("cel-rule".to_string())
        .spawn(move || {
            let _ = tx.send(run_rule(&rule_owned, inputs));
        });
    if let Err(e) = spawned {
        return Err(CelError::Spawn(e));
    }
    match rx.recv_timeout(budget) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(CelError::Timeout {
            rule: rule.to_string(),
            ms: budget.as_millis(),
        }),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(CelError::Disconnected {
            rule: rule.to_string(),
        }),
    }
}

fn run_rule(rule: &str, inputs: Vec<Value>) -> Result<CelOutcome, CelError> {
    let program = compile(rule)?;
    let mut context = cel::Context::default();
    context.add_function("semver_compare", semver_compare);
    context.add_function("semverCompare", semver_compare);
    let mut outcome = CelOutcome::default();
    for (i, properties) in inputs.into_iter().enumerate() {
        let value = match cel::to_value(properties) {
            Ok(v) => v,
            Err(e) => {
                outcome.first_error.get_or_insert_with(|| e.to_string());
                continue;
            }
        };
        context.add_variable_from_value("properties", value);
        match program.execute(&context) {
            Ok(cel::Value::Bool(true)) => {
                outcome.matching.insert(i);
            }
            Ok(cel::Value::Bool(false)) => {}
            Ok(other) => {
                outcome
                    .first_error
                    .get_or_insert_with(|| format!("rule returned {other:?}, not a bool"));
            }
            Err(e) => {
                outcome.first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_dbaas_example() {
        let (expr, msg) = ConstraintExpr::from_property(&json!({
            "failureMessage": "requires a service binding operator",
            "any": {"constraints": [
                {"package": {"packageName": "rh-service-binding-operator", "versionRange": ">=1.0.0"}},
                {"package": {"packageName": "service-binding-operator", "versionRange": ">=1.0.0"}}
            ]}
        }))
        .expect("valid");
        assert_eq!(msg.as_deref(), Some("requires a service binding operator"));
        assert!(matches!(expr, ConstraintExpr::Any(ref c) if c.len() == 2));
    }

    #[test]
    fn rejects_bad_constraints() {
        let err = |v: Value| {
            ConstraintExpr::from_property(&v)
                .expect_err("invalid")
                .to_string()
        };
        assert_eq!(err(json!({})), "constraint is empty");
        assert!(err(json!({"package": {"name": "blue"}})).contains("unknown field \"name\""));
        assert!(
            err(
                json!({"gvk": {"group": "g", "version": "v", "kind": "K"}, "cel": {"rule": "true"}})
            )
            .contains("exactly one")
        );
        assert!(err(json!({"cel": {"rule": "properties.exists(p,"}})).contains("does not compile"));
        assert!(
            err(json!({"cel": {"rule": "x".repeat(MAX_CEL_RULE_BYTES + 1)}})).contains("limit")
        );
        assert!(err(json!({"all": {"constraints": {}}})).contains("must be a list"));
    }

    #[test]
    fn semver_compare_in_rules() {
        let props =
            json!([{"type": "olm.package", "value": {"packageName": "q", "version": "1.2.0"}}]);
        let rule = r#"properties.exists(p, p.type == "olm.package" && semver_compare(p.value.version, "v1.2") >= 0)"#;
        let out = evaluate_rule(rule, vec![props.clone()], Duration::from_secs(5)).expect("runs");
        assert!(out.matching.contains(&0));
        let rule = r#"properties.exists(p, semver_compare(p.value.version, "1.3.0") >= 0)"#;
        let out = evaluate_rule(rule, vec![props.clone()], Duration::from_secs(5)).expect("runs");
        assert!(out.matching.is_empty());
        let rule = r#"semver_compare("not a version", "1.0.0") == 0"#;
        let out = evaluate_rule(rule, vec![props], Duration::from_secs(5)).expect("runs");
        assert!(out.matching.is_empty());
        assert!(
            out.first_error
                .expect("error kept")
                .contains("semver_compare")
        );
    }
}
