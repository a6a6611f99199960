//! Status conditions (`metav1.Condition`): the update rules of apimachinery's
//! `meta.SetStatusCondition` and the CRD schema controller-gen emits for `[]metav1.Condition`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use schemars::{Schema, SchemaGenerator, json_schema};

/// `status` value of a condition that holds.
pub const STATUS_TRUE: &str = "True";
/// `status` value of a condition that does not hold.
pub const STATUS_FALSE: &str = "False";
/// `status` value of a condition whose state is not known.
pub const STATUS_UNKNOWN: &str = "Unknown";

/// Builds a condition. `now` becomes its `lastTransitionTime` if [`set_condition`] records a
/// transition.
pub fn new_condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: impl Into<String>,
    observed_generation: Option<i64>,
    now: Timestamp,
) -> Condition {
    Condition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: reason.to_owned(),
        message: message.into(),
        observed_generation,
        last_transition_time: Time(now),
    }
}

/// Sets `new` in `conditions`, as apimachinery's `meta.SetStatusCondition` does:
///
/// * a condition of a type not present yet is appended as given;
/// * otherwise the existing entry keeps its position; its `lastTransitionTime` is replaced by
///   `new.last_transition_time` only when `status` changes, and `reason`, `message` and
///   `observedGeneration` are overwritten.
///
/// Returns whether anything changed, so callers can skip a status write.
pub fn set_condition(conditions: &mut Vec<Condition>, new: Condition) -> bool {
    let Some(existing) = conditions.iter_mut().find(|c| c.type_ == new.type_) else {
        conditions.push(new);
        return true;
    };
    let mut changed = false;
    if existing.status != new.status {
        existing.status = new.status;
        existing.last_transition_time = new.last_transition_time;
        changed = true;
    }
    if existing.reason != new.reason {
        existing.reason = new.reason;
        changed = true;
    }
    if existing.message != new.message {
        existing.message = new.message;
        changed = true;
    }
    if existing.observed_generation != new.observed_generation {
        existing.observed_generation = new.observed_generation;
        changed = true;
    }
    changed
}

/// Removes the condition of type `type_`; returns whether one was present
/// (`meta.RemoveStatusCondition`).
pub fn remove_condition(conditions: &mut Vec<Condition>, type_: &str) -> bool {
    let before = conditions.len();
    conditions.retain(|c| c.type_ != type_);
    conditions.len() != before
}

/// The condition of type `type_`, if present (`meta.FindStatusCondition`).
pub fn find_condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether the condition of type `type_` is present with status `True`
/// (`meta.IsStatusConditionTrue`).
pub fn is_condition_true(conditions: &[Condition], type_: &str) -> bool {
    find_condition(conditions, type_).is_some_and(|c| c.status == STATUS_TRUE)
}

/// Schema of a `conditions` list: a map-list keyed by `type` whose items carry the validation
/// controller-gen emits for `metav1.Condition`, so the API server rejects malformed conditions
/// as it does for upstream's CRDs. Use with `#[schemars(schema_with = "...")]`.
pub fn conditions_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "Conditions describe the observed state of the object; at most one entry per type.",
        "type": "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
        "items": {
            "description": "Condition contains details for one aspect of the current state of this API Resource.",
            "type": "object",
            "required": ["lastTransitionTime", "message", "reason", "status", "type"],
            "properties": {
                "lastTransitionTime": {
                    "description": "lastTransitionTime is the last time the condition transitioned from one status to another.",
                    "type": "string",
                    "format": "date-time"
                },
                "message": {
                    "description": "message is a human readable message indicating details about the transition. This may be an empty string.",
                    "type": "string",
                    "maxLength": 32768
                },
                "observedGeneration": {
                    "description": "observedGeneration represents the .metadata.generation that the condition was set based upon.",
                    "type": "integer",
                    "format": "int64",
                    "minimum": 0
                },
                "reason": {
                    "description": "reason contains a programmatic identifier indicating the reason for the condition's last transition.",
                    "type": "string",
                    "maxLength": 1024,
                    "minLength": 1,
                    "pattern": "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
                },
                "status": {
                    "description": "status of the condition, one of True, False, Unknown.",
                    "type": "string",
                    "enum": ["True", "False", "Unknown"]
                },
                "type": {
                    "description": "type of condition in CamelCase or in foo.example.com/CamelCase.",
                    "type": "string",
                    "maxLength": 316,
                    "pattern": "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).expect("valid timestamp")
    }

    fn cond(
        type_: &str,
        status: &str,
        reason: &str,
        msg: &str,
        generation: i64,
        t: i64,
    ) -> Condition {
        new_condition(type_, status, reason, msg, Some(generation), at(t))
    }

    #[test]
    fn appends_a_new_type_with_its_own_transition_time() {
        let mut conditions = vec![];
        assert!(set_condition(
            &mut conditions,
            cond("Resolved", STATUS_TRUE, "Success", "ok", 1, 10)
        ));
        assert_eq!(
            conditions,
            vec![cond("Resolved", STATUS_TRUE, "Success", "ok", 1, 10)]
        );
    }

    #[test]
    fn same_status_keeps_transition_time_but_updates_the_rest() {
        let mut conditions = vec![cond(
            "Installed",
            STATUS_FALSE,
            "InstallationFailed",
            "a",
            1,
            10,
        )];
        let changed = set_condition(
            &mut conditions,
            cond(
                "Installed",
                STATUS_FALSE,
                "InstallationStatusUnknown",
                "b",
                2,
                20,
            ),
        );
        assert!(changed);
        assert_eq!(
            conditions,
            vec![cond(
                "Installed",
                STATUS_FALSE,
                "InstallationStatusUnknown",
                "b",
                2,
                10
            )]
        );
    }

    #[test]
    fn status_change_moves_transition_time() {
        let mut conditions = vec![cond(
            "Installed",
            STATUS_FALSE,
            "InstallationFailed",
            "a",
            1,
            10,
        )];
        assert!(set_condition(
            &mut conditions,
            cond("Installed", STATUS_TRUE, "Success", "a", 1, 30)
        ));
        assert_eq!(conditions[0].last_transition_time, Time(at(30)));
        assert_eq!(conditions[0].status, STATUS_TRUE);
    }

    #[test]
    fn identical_condition_is_not_a_change() {
        let mut conditions = vec![cond("Resolved", STATUS_TRUE, "Success", "ok", 3, 10)];
        assert!(!set_condition(
            &mut conditions,
            cond("Resolved", STATUS_TRUE, "Success", "ok", 3, 99)
        ));
        assert_eq!(conditions[0].last_transition_time, Time(at(10)));
    }

    #[test]
    fn observed_generation_alone_is_a_change() {
        let mut conditions = vec![cond("Resolved", STATUS_TRUE, "Success", "ok", 3, 10)];
        assert!(set_condition(
            &mut conditions,
            cond("Resolved", STATUS_TRUE, "Success", "ok", 4, 99)
        ));
        assert_eq!(conditions[0].observed_generation, Some(4));
        assert_eq!(conditions[0].last_transition_time, Time(at(10)));
    }

    #[test]
    fn replaces_by_type_and_keeps_order() {
        let mut conditions = vec![
            cond("Resolved", STATUS_TRUE, "Success", "r", 1, 10),
            cond(
                "Installed",
                STATUS_UNKNOWN,
                "InstallationStatusUnknown",
                "i",
                1,
                10,
            ),
        ];
        set_condition(
            &mut conditions,
            cond("Resolved", STATUS_FALSE, "ResolutionFailed", "x", 2, 20),
        );
        let types: Vec<_> = conditions.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(types, ["Resolved", "Installed"]);
        assert_eq!(conditions.len(), 2);
    }

    #[test]
    fn find_remove_and_is_true() {
        let mut conditions = vec![
            cond("Resolved", STATUS_TRUE, "Success", "r", 1, 10),
            cond("Installed", STATUS_FALSE, "InstallationFailed", "i", 1, 10),
        ];
        assert!(is_condition_true(&conditions, "Resolved"));
        assert!(!is_condition_true(&conditions, "Installed"));
        assert!(!is_condition_true(&conditions, "Missing"));
        assert_eq!(
            find_condition(&conditions, "Installed").map(|c| c.message.as_str()),
            Some("i")
        );
        assert!(remove_condition(&mut conditions, "Resolved"));
        assert!(!remove_condition(&mut conditions, "Resolved"));
        assert!(find_condition(&conditions, "Resolved").is_none());
    }
}
