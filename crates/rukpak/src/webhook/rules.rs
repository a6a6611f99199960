//! The checks of the `vbundles.core.rukpak.io` and `vconfigmaps.core.rukpak.io` webhooks
//! (rukpak.md §2.1–§2.2), as pure functions of the objects involved. Lookups of other
//! objects are done by the caller and passed in.

use std::collections::BTreeMap;
use std::path::{Component, Path};

use olm_api::bundle::{Bundle, BundleSpec, SourceType};

/// The denial text of an update that changes `spec`.
pub(crate) const SPEC_IMMUTABLE: &str = "bundle.spec is immutable";

/// What is known about a ConfigMap a Bundle names: `Some(immutable)` if it exists.
pub(crate) type ConfigMapLookup = BTreeMap<String, Option<bool>>;

/// Checks a Bundle being created (`old` is `None`) or updated. `config_maps` holds every
/// ConfigMap the new spec names. Returns the denial message, if any.
pub(crate) fn check_bundle(
    old: Option<&Bundle>,
    new: &Bundle,
    config_maps: &ConfigMapLookup,
) -> Option<String> {
    if old.is_some_and(|old| old.spec != new.spec) {
        return Some(SPEC_IMMUTABLE.to_owned());
    }
    aggregate(check_source(&new.spec, "bundle.spec", config_maps))
}

/// The names of the ConfigMaps `spec` refers to, for the caller to look up.
pub(crate) fn config_maps_named(spec: &BundleSpec) -> Vec<String> {
    spec.source
        .config_maps
        .iter()
        .flatten()
        .map(|c| c.config_map.name.clone())
        .collect()
}

fn check_source(spec: &BundleSpec, prefix: &str, config_maps: &ConfigMapLookup) -> Vec<String> {
    let source = &spec.source;
    match source.type_ {
        SourceType::Image if source.image.is_none() => {
            vec![format!(
                "{prefix}.source.image must be set for source type \"image\""
            )]
        }
        SourceType::Git => match &source.git {
            None => vec![format!(
                "{prefix}.source.git must be set for source type \"git\""
            )],
            Some(git) => git
                .directory
                .as_deref()
                .filter(|d| escapes_root(d))
                .map(|_| {
                    format!(
                        "{prefix}.source.git.directory begins with \"../\": directory must define path within the repository"
                    )
                })
                .into_iter()
                .collect(),
        },
        SourceType::ConfigMaps => {
            let items = source.config_maps.as_deref().unwrap_or_default();
            if items.is_empty() {
                return vec![format!(
                    "{prefix}.source.configmaps must be set for source type \"configmaps\""
                )];
            }
            items
                .iter()
                .enumerate()
                .flat_map(|(i, item)| {
                    let path = item.path.as_deref().unwrap_or_default();
                    let outside = escapes_root(path).then(|| {
                        format!(
                            "{prefix}.source.configmaps[{i}].path is invalid: {path:?} is outside bundle root"
                        )
                    });
                    let name = &item.config_map.name;
                    let mutable = matches!(config_maps.get(name), Some(Some(false))).then(|| {
                        format!(
                            "{prefix}.source.configmaps[{i}].configmap.name is invalid: configmap {name:?} is not immutable"
                        )
                    });
                    outside.into_iter().chain(mutable)
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// Whether `path`, cleaned as Go's `filepath.Clean` does, leaves the root it is relative
/// to: `..` first, or absolute. Upstream only caught `../x`; `..` itself and absolute paths
/// escape too (rukpak.md §7.8).
pub(crate) fn escapes_root(path: &str) -> bool {
    let mut depth: i64 = 0;
    for component in Path::new(path).components() {
        match component {
            Component::RootDir | Component::Prefix(_) => return true,
            Component::CurDir => {}
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            Component::Normal(_) => depth += 1,
        }
    }
    false
}

/// Joins messages the way Go's `utilerrors.NewAggregate` prints them: one as is, several as
/// `[a, b]` with duplicates dropped.
fn aggregate(mut messages: Vec<String>) -> Option<String> {
    let mut seen = std::collections::HashSet::new();
    messages.retain(|m| seen.insert(m.clone()));
    match messages.len() {
        0 => None,
        1 => messages.pop(),
        _ => Some(format!("[{}]", messages.join(", "))),
    }
}

/// Checks a ConfigMap being created in the system namespace: a mutable one must not be
/// named by a Bundle. `referenced_by` lists the Bundles naming it.
pub(crate) fn check_config_map_create(
    name: &str,
    immutable: bool,
    referenced_by: &[String],
) -> Option<String> {
    (!immutable && !referenced_by.is_empty()).then(|| {
        format!(
            "configmap {name:?} is referenced in .spec.source.configMaps[].configMap.name by bundles [{}]; referenced configmaps must have .immutable == true",
            referenced_by.join(" ")
        )
    })
}

/// Checks a ConfigMap being deleted: it must not be in use by a Bundle.
pub(crate) fn check_config_map_delete(name: &str, referenced_by: &[String]) -> Option<String> {
    referenced_by
        .first()
        .map(|bundle| format!("configmap {name:?} is in-use by bundle {bundle:?}"))
}

/// The Bundles among `bundles` whose spec names the ConfigMap `name` (by name only, as
/// upstream), sorted.
pub(crate) fn bundles_naming<'a>(
    name: &str,
    bundles: impl IntoIterator<Item = &'a Bundle>,
) -> Vec<String> {
    let mut names: Vec<String> = bundles
        .into_iter()
        .filter(|b| config_maps_named(&b.spec).iter().any(|n| n == name))
        .filter_map(|b| b.metadata.name.clone())
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::BundleFixture;

    fn lookup(entries: &[(&str, Option<bool>)]) -> ConfigMapLookup {
        entries.iter().map(|(n, s)| ((*n).to_owned(), *s)).collect()
    }

    #[test]
    fn any_spec_change_is_refused_with_upstreams_text() {
        let old = BundleFixture::git("combo-tag-ref", "v0.0.2").build();
        let retagged = BundleFixture::git("combo-tag-ref", "v0.0.3").build();
        let reclassed = BundleFixture::git("combo-tag-ref", "v0.0.2")
            .class("core-rukpak-io-registry")
            .build();
        for new in [&retagged, &reclassed] {
            assert_eq!(
                check_bundle(Some(&old), new, &lookup(&[])).as_deref(),
                Some("bundle.spec is immutable")
            );
        }
        let mut relabelled = old.clone();
        relabelled.metadata.labels = Some([("a".into(), "b".into())].into());
        assert_eq!(check_bundle(Some(&old), &relabelled, &lookup(&[])), None);
    }

    #[test]
    fn a_type_without_its_member_is_refused() {
        let cases = [
            (
                SourceType::Image,
                "bundle.spec.source.image must be set for source type \"image\"",
            ),
            (
                SourceType::Git,
                "bundle.spec.source.git must be set for source type \"git\"",
            ),
            (
                SourceType::ConfigMaps,
                "bundle.spec.source.configmaps must be set for source type \"configmaps\"",
            ),
        ];
        for (type_, message) in cases {
            let bundle = BundleFixture::without_member("b", type_).build();
            assert_eq!(
                check_bundle(None, &bundle, &lookup(&[])).as_deref(),
                Some(message)
            );
        }
        for type_ in [SourceType::Http, SourceType::Upload] {
            let bundle = BundleFixture::without_member("b", type_).build();
            assert_eq!(check_bundle(None, &bundle, &lookup(&[])), None, "{type_}");
        }
    }

    #[test]
    fn git_directories_must_stay_in_the_repository() {
        for (dir, refused) in [
            ("../x", true),
            ("..", true),
            ("./../x", true),
            ("a/../../x", true),
            ("/abs", true),
            (".", false),
            ("", false),
            ("./dev/deploy", false),
            ("a/../b", false),
            ("ch", false),
        ] {
            let bundle = BundleFixture::git("b", "v1")
                .source(|s| s.git.as_mut().unwrap().directory = Some(dir.into()))
                .build();
            let got = check_bundle(None, &bundle, &lookup(&[]));
            assert_eq!(got.is_some(), refused, "{dir:?}: {got:?}");
            if refused {
                assert_eq!(
                    got.unwrap(),
                    "bundle.spec.source.git.directory begins with \"../\": directory must define path within the repository"
                );
            }
        }
    }

    #[test]
    fn config_map_items_are_checked_and_errors_aggregated() {
        let bundle = BundleFixture::config_maps(
            "b",
            &[("ok", Some("manifests")), ("mutable", Some("../x"))],
        )
        .build();
        let found = lookup(&[("ok", Some(true)), ("mutable", Some(false))]);
        assert_eq!(
            check_bundle(None, &bundle, &found).unwrap(),
            "[bundle.spec.source.configmaps[1].path is invalid: \"../x\" is outside bundle root, \
             bundle.spec.source.configmaps[1].configmap.name is invalid: configmap \"mutable\" is not immutable]"
        );
        // A ConfigMap that does not exist yet is accepted; unpacking reports it.
        let missing = BundleFixture::config_maps("b", &[("later", None)]).build();
        assert_eq!(
            check_bundle(None, &missing, &lookup(&[("later", None)])),
            None
        );
    }

    #[test]
    fn config_maps_in_use_are_protected() {
        let a = BundleFixture::config_maps("a", &[("cm", None)]).build();
        let b = BundleFixture::config_maps("b", &[("cm", None), ("other", None)]).build();
        let unrelated = BundleFixture::git("c", "v1").build();
        let users = bundles_naming("cm", [&b, &unrelated, &a]);
        assert_eq!(users, ["a", "b"]);
        assert_eq!(
            check_config_map_create("cm", false, &users).unwrap(),
            "configmap \"cm\" is referenced in .spec.source.configMaps[].configMap.name by bundles [a b]; referenced configmaps must have .immutable == true"
        );
        assert_eq!(check_config_map_create("cm", true, &users), None);
        assert_eq!(check_config_map_create("free", false, &[]), None);
        assert_eq!(
            check_config_map_delete("cm", &users).unwrap(),
            "configmap \"cm\" is in-use by bundle \"a\""
        );
        assert_eq!(check_config_map_delete("free", &[]), None);
    }
}
