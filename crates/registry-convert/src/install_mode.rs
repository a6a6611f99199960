//! Target namespaces: the watch namespaces asked for, defaulted and checked against the CSV's
//! supported install modes with rukpak v0.17's rules.

use crate::ConvertError;
use crate::csv::Csv;

pub(crate) const ALL_NAMESPACES: &str = "AllNamespaces";
pub(crate) const OWN_NAMESPACE: &str = "OwnNamespace";
pub(crate) const SINGLE_NAMESPACE: &str = "SingleNamespace";
pub(crate) const MULTI_NAMESPACE: &str = "MultiNamespace";

/// The namespaces an operator watches: all of them, or a list (in the order asked for,
/// without repeats).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Targets {
    All,
    Namespaces(Vec<String>),
}

impl Targets {
    pub(crate) fn is_all_namespaces(&self) -> bool {
        matches!(self, Targets::All)
    }

    pub(crate) fn namespaces(&self) -> &[String] {
        match self {
            Targets::All => &[],
            Targets::Namespaces(list) => list,
        }
    }

    /// The `olm.targetNamespaces` annotation value: comma-joined, `""` for all namespaces.
    pub(crate) fn annotation(&self) -> String {
        self.namespaces().join(",")
    }
}

/// Resolves `watch` for `csv`: empty means AllNamespaces if supported, else OwnNamespace; `[""]`
/// means AllNamespaces; one namespace needs SingleNamespace, or OwnNamespace when it is the
/// install namespace; several need MultiNamespace.
pub(crate) fn targets(
    csv: &Csv,
    install_namespace: &str,
    watch: &[String],
) -> Result<Targets, ConvertError> {
    let mut asked: Vec<String> = Vec::new();
    for namespace in watch {
        if !asked.contains(namespace) {
            asked.push(namespace.clone());
        }
    }
    if asked.len() > 1 && asked.iter().any(String::is_empty) {
        return Err(ConvertError::AllNamespacesAmongOthers(asked));
    }
    let refused = |targets: Vec<String>| ConvertError::InstallModes {
        supported: csv.supported_modes.clone(),
        targets,
    };
    match asked.as_slice() {
        [] if csv.supports(ALL_NAMESPACES) => Ok(Targets::All),
        [] if csv.supports(OWN_NAMESPACE) => {
            Ok(Targets::Namespaces(vec![install_namespace.to_owned()]))
        }
        [] => Err(refused(asked)),
        [all] if all.is_empty() => match csv.supports(ALL_NAMESPACES) {
            true => Ok(Targets::All),
            false => Err(refused(asked)),
        },
        [one] => {
            let own = one == install_namespace && csv.supports(OWN_NAMESPACE);
            match own || csv.supports(SINGLE_NAMESPACE) {
                true => Ok(Targets::Namespaces(asked)),
                false => Err(refused(asked)),
            }
        }
        _ => match csv.supports(MULTI_NAMESPACE) {
            true => Ok(Targets::Namespaces(asked)),
            false => Err(refused(asked)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(modes: &[&str]) -> Csv {
        let mut supported: Vec<String> = modes.iter().map(|m| m.to_string()).collect();
        supported.sort();
        Csv {
            supported_modes: supported,
            ..Csv::default()
        }
    }

    fn ns(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn defaults() {
        let all = csv(&[ALL_NAMESPACES, OWN_NAMESPACE]);
        assert_eq!(targets(&all, "op", &[]).unwrap(), Targets::All);
        let own = csv(&[OWN_NAMESPACE, SINGLE_NAMESPACE]);
        assert_eq!(
            targets(&own, "op", &[]).unwrap(),
            Targets::Namespaces(ns(&["op"]))
        );
        let single = csv(&[SINGLE_NAMESPACE]);
        let err = targets(&single, "op", &[]).unwrap_err().to_string();
        assert_eq!(
            err,
            "supported install modes [SingleNamespace] do not support target namespaces []; \
             set spec.config.watchNamespaces to the namespace(s) the operator should watch"
        );
    }

    #[test]
    fn rules_of_v0_17() {
        let own = csv(&[OWN_NAMESPACE]);
        assert!(targets(&own, "op", &ns(&["op"])).is_ok());
        let err = targets(&own, "op", &ns(&["other"]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "supported install modes [OwnNamespace] do not support target namespaces [other]"
        );
        assert!(targets(&own, "op", &ns(&[""])).is_err());
        let single = csv(&[SINGLE_NAMESPACE]);
        assert!(targets(&single, "op", &ns(&["a"])).is_ok());
        assert!(targets(&single, "op", &ns(&["a", "b"])).is_err());
        let multi = csv(&[MULTI_NAMESPACE]);
        assert_eq!(
            targets(&multi, "op", &ns(&["a", "b", "a"])).unwrap(),
            Targets::Namespaces(ns(&["a", "b"]))
        );
        let err = targets(&multi, "op", &ns(&["a", ""])).unwrap_err();
        assert!(matches!(err, ConvertError::AllNamespacesAmongOthers(_)));
        let all = csv(&[ALL_NAMESPACES]);
        assert_eq!(targets(&all, "op", &ns(&[""])).unwrap(), Targets::All);
        assert!(targets(&all, "op", &ns(&["a"])).is_err());
    }
}
