//! Plan extraction: the selected variables read back as bundles, each with why it is there,
//! what was not chosen instead, and its deprecations.

use rustc_hash::FxHashMap;

use super::problem::{Builder, InstalledInfo, Role};
use super::rejections::ChosenIndex;
use crate::plan::{Plan, Selection, Why};

impl Builder<'_> {
    pub(super) fn plan(&self, selected: &[usize]) -> Plan {
        let selected_bundles: Vec<usize> = selected
            .iter()
            .filter_map(|&v| match self.roles[v] {
                Role::Bundle(b) => Some(b),
                _ => None,
            })
            .collect();
        // The rejection index is only needed for `not_chosen`.
        let chosen = if self.options.not_chosen {
            self.chosen_index(&selected_bundles)
        } else {
            ChosenIndex::selected_only(&selected_bundles)
        };
        // Who requires each selected bundle, computed once (not per pair of selected bundles).
        let mut required_by: FxHashMap<usize, Vec<Why>> = FxHashMap::default();
        for &s in &selected_bundles {
            for q in 0..self.bundle(s).requirements.len() {
                for &c in self.targets(s, q) {
                    let c = c as usize;
                    if chosen.selected.contains(&c) {
                        required_by.entry(c).or_default().push(Why::RequiredBy {
                            bundle: self.bundle(s).display(),
                            requirement: self.requirement_text(s, q),
                        });
                    }
                }
            }
        }
        let mut selections = Vec::new();
        for &b in &selected_bundles {
            let bundle = self.bundle(b);
            let mut why = Vec::new();
            for (ri, r) in self.requests.iter().enumerate() {
                if self.request_candidates[ri].contains(&b) {
                    why.push(Why::Requested {
                        package: r.package.clone(),
                        qualifiers: r.qualifiers(),
                    });
                }
            }
            for info in self.installed_info.iter().flatten() {
                if info.allowed.contains(&b) {
                    why.push(Why::Installed {
                        installed: self.bundle(info.bundles[0]).display(),
                        stays: info.bundles.contains(&b),
                        fixed_for: if info.fixed {
                            Some(self.installed_owner(info))
                        } else {
                            None
                        },
                    });
                }
            }
            why.extend(required_by.remove(&b).unwrap_or_default());
            // A bundle that is only here because it is installed for another Operator cannot
            // change in this problem: listing its package's other bundles explains nothing.
            let fixed_context = why.iter().all(|w| {
                matches!(
                    w,
                    Why::Installed {
                        fixed_for: Some(_),
                        ..
                    }
                )
            });
            let not_chosen = if fixed_context || !self.options.not_chosen {
                Vec::new()
            } else {
                self.rejections(&bundle.input.package, Some(b), &chosen)
            };
            let deprecations = self.deprecations(b);
            selections.push(Selection {
                package: bundle.input.package.clone(),
                catalog: bundle.input.catalog.clone(),
                bundle: bundle.input.name.clone(),
                image: bundle.input.image.clone(),
                version: bundle.version_text.clone(),
                why,
                not_chosen,
                deprecations,
            });
        }
        selections.sort_by(|a, b| a.package.cmp(&b.package));
        Plan { selections }
    }

    /// Deprecation notes for a selected bundle: the bundle itself, its package, and each
    /// requested channel of its package that is deprecated.
    fn deprecations(&self, b: usize) -> Vec<String> {
        let bundle = self.bundle(b);
        let mut out = Vec::new();
        if let Some(m) = &bundle.deprecated {
            out.push(format!("bundle {} is deprecated: {m}", bundle.input.name));
        }
        let Some(info) = self
            .catalog
            .package_info(&bundle.input.catalog, &bundle.input.package)
        else {
            return out;
        };
        if let Some(m) = &info.deprecation {
            out.push(format!(
                "package {} is deprecated: {m}",
                bundle.input.package
            ));
        }
        for r in self.requests {
            if r.package != bundle.input.package {
                continue;
            }
            if let Some(c) = &r.channel
                && let Some(m) = info.channel_deprecations.get(c)
            {
                out.push(format!("channel {c} is deprecated: {m}"));
            }
        }
        out
    }

    fn installed_owner(&self, info: &InstalledInfo) -> String {
        let b = self.bundle(info.bundles[0]);
        self.installed
            .iter()
            .find(|i| i.package == b.input.package)
            .map(|i| i.owner.clone())
            .unwrap_or_default()
    }
}
