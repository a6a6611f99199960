//! Which bundles may replace an installed one: semver upgrades or the upgrade graph.

use semver_ranges::Constraints;

use crate::catalog::Catalog;
use crate::request::SuccessorMode;

/// Upgrade targets of installed bundle `current` (preferred first), and a description of the
/// rule used.
pub(super) fn successors(
    catalog: &Catalog,
    mode: SuccessorMode,
    current: usize,
    channel: Option<&str>,
) -> (Vec<usize>, String) {
    let bundle = |i: usize| &catalog.bundles[i];
    let cur = bundle(current);
    let package = catalog
        .prepared()
        .preferred(&cur.input.package)
        .iter()
        .map(|&i| i as usize);
    match mode {
        SuccessorMode::Semver => {
            let Some(v) = &cur.version else {
                return (
                    Vec::new(),
                    "has no valid version, so it has no semver upgrades".to_string(),
                );
            };
            let text = format!("^{v}, != {v}");
            let Ok(range) = Constraints::parse(&text) else {
                return (
                    Vec::new(),
                    format!("has no semver upgrades ({text:?} does not parse)"),
                );
            };
            let list = package
                .filter(|&i| bundle(i).version.as_ref().is_some_and(|w| range.matches(w)))
                .collect();
            (
                list,
                format!("may only upgrade within {text:?} (semver upgrades)"),
            )
        }
        SuccessorMode::Graph => {
            let list = package
                .filter(|&i| {
                    let b = bundle(i);
                    // Never a downgrade (operator-controller v0.10, #711): an edge to a
                    // version that is not higher than the installed one is ignored.
                    let higher = match (&cur.version, &b.version) {
                        (Some(c), Some(v)) => v.cmp_precedence(c).is_gt(),
                        (Some(_), None) => false,
                        (None, _) => true,
                    };
                    higher
                        && b.input.channels.iter().any(|e| {
                            if channel.is_some_and(|c| c != e.channel) {
                                return false;
                            }
                            e.replaces.as_deref() == Some(cur.input.name.as_str())
                                || e.skips.contains(&cur.input.name)
                                || e.skip_range.as_ref().is_some_and(|text| {
                                    b.skip_ranges.iter().any(|(t, r)| {
                                        t == text
                                            && r.as_ref()
                                                .zip(cur.version.as_ref())
                                                .is_some_and(|(r, v)| r.matches(v))
                                    })
                                })
                        })
                })
                .collect();
            let scope = channel
                .map(|c| format!(" in channel {c:?}"))
                .unwrap_or_default();
            (
                list,
                format!(
                    "may only follow its upgrade edges{scope} (replaces, skips, skipRange) to a higher version"
                ),
            )
        }
    }
}
