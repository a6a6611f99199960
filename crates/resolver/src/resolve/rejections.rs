//! Rejections: every reason a bundle of a package was not (or could not be) chosen.

use rustc_hash::{FxHashMap, FxHashSet};

use super::problem::{Builder, InstalledInfo};
use crate::bundle::Requirement;
use crate::plan::Rejection;
use crate::request::Request;

/// The selected bundles, indexed by what they require and provide.
pub(super) struct ChosenIndex {
    pub(super) selected: FxHashSet<usize>,
    /// Package id → selected (bundle, requirement) pairs with a candidate in that package, in
    /// bundle order.
    requirers: FxHashMap<u32, Vec<(usize, usize)>>,
    /// GVK id → selected providers, in bundle order.
    providers: FxHashMap<u32, Vec<usize>>,
}

impl ChosenIndex {
    /// The selected bundles without the requirer and provider indexes: enough when no
    /// rejection is asked for.
    pub(super) fn selected_only(selected: &[usize]) -> ChosenIndex {
        ChosenIndex {
            selected: selected.iter().copied().collect(),
            requirers: FxHashMap::default(),
            providers: FxHashMap::default(),
        }
    }
}

impl Builder<'_> {
    /// Indexes the selected bundles for [`Self::rejections`].
    pub(super) fn chosen_index(&self, selected: &[usize]) -> ChosenIndex {
        let mut sorted = selected.to_vec();
        sorted.sort_unstable();
        let mut index = ChosenIndex {
            selected: sorted.iter().copied().collect(),
            requirers: FxHashMap::default(),
            providers: FxHashMap::default(),
        };
        let package_of = &self.prepared.package_of;
        for &s in &sorted {
            for q in 0..self.prepared.requirement_count(s) {
                let mut packages: Vec<u32> = self
                    .targets(s, q)
                    .iter()
                    .map(|&c| package_of[c as usize])
                    .collect();
                packages.sort_unstable();
                packages.dedup();
                for p in packages {
                    index.requirers.entry(p).or_default().push((s, q));
                }
            }
            for &g in self.prepared.provides(s) {
                index.providers.entry(g).or_default().push(s);
            }
        }
        index
    }

    /// Every reason a bundle of `package` other than `chosen_here` was not (or could not be)
    /// chosen, given the requests, installed constraints and the selected bundles.
    pub(super) fn rejections(
        &self,
        package: &str,
        chosen_here: Option<usize>,
        chosen: &ChosenIndex,
    ) -> Vec<Rejection> {
        let prepared = self.prepared;
        let candidates = prepared.preferred(package);
        let mut out = Vec::with_capacity(candidates.len());
        let mut preferred_text: Option<String> = None;
        // What applies to the whole package, looked up once.
        let requests: Vec<(usize, &Request)> = self
            .requests
            .iter()
            .enumerate()
            .filter(|(_, r)| r.package == package)
            .collect();
        let installed: Vec<&InstalledInfo> = self
            .installed_info
            .iter()
            .flatten()
            .filter(|info| self.bundle(info.bundles[0]).input.package == package)
            .collect();
        let requirers = prepared
            .package_id(package)
            .and_then(|p| chosen.requirers.get(&p))
            .map_or(&[][..], Vec::as_slice);
        for b in candidates.iter().map(|&b| b as usize) {
            if Some(b) == chosen_here {
                continue;
            }
            let bundle = self.bundle(b);
            let mut reasons = Vec::with_capacity(1);
            for &(ri, r) in &requests {
                if !self.catalog_allowed(r, bundle) {
                    reasons.push(format!(
                        "catalog {} is not selected by request {}",
                        bundle.input.catalog, r.package
                    ));
                }
                if let Some(c) = &r.channel
                    && !bundle.in_channel(c)
                {
                    reasons.push(format!("not in channel {c:?} requested for {}", r.package));
                }
                if let (Some(text), Some(range)) = (&r.version, &self.request_ranges[ri]) {
                    match &bundle.version {
                        Some(v) if !range.matches(v) => reasons.push(format!(
                            "version {v} is outside the requested range {text:?}"
                        )),
                        None => reasons
                            .push(format!("has no valid version, so it cannot match {text:?}")),
                        _ => {}
                    }
                }
            }
            for info in &installed {
                let cur = self.bundle(info.bundles[0]);
                if !info.allowed.contains(&b) {
                    reasons.push(format!(
                        "not an upgrade edge from the installed {}: it {}",
                        cur.display(),
                        info.rule
                    ));
                }
            }
            // Requirements of selected bundles this package helps satisfy.
            for &(s, q) in requirers {
                if !self.targets(s, q).contains(&(b as u32)) {
                    let requirer = self.bundle(s);
                    let kind = match &requirer.requirements[q] {
                        Requirement::Constraint { .. } => "rejected by the olm.constraint of",
                        _ => "does not satisfy the requirement of",
                    };
                    reasons.push(format!(
                        "{kind} {}: {}",
                        requirer.display(),
                        self.requirement_text(s, q)
                    ));
                }
            }
            if self.options.gvk_uniqueness {
                for &g in prepared.provides(b) {
                    for &s in chosen.providers.get(&g).map_or(&[][..], Vec::as_slice) {
                        let provider = self.bundle(s);
                        if provider.input.package != package {
                            reasons.push(format!(
                                "provides {}, which the selected {} already provides",
                                prepared.gvks[g as usize],
                                provider.display()
                            ));
                        }
                    }
                }
            }
            reasons.extend(bundle.invalid.iter().cloned());
            if let Some(e) = self.exclusion(b) {
                reasons.push(format!("excluded: {e}"));
            }
            if reasons.is_empty() {
                reasons.push(match chosen_here {
                    // Same package: rank order is preference order.
                    Some(c) if prepared.rank[b] > prepared.rank[c] => {
                        // The same sentence for most bundles of a package: format it once.
                        preferred_text
                            .get_or_insert_with(|| {
                                format!("eligible, but {} is preferred", self.bundle(c).display())
                            })
                            .clone()
                    }
                    Some(c) => format!(
                        "eligible and preferred over {}, but not installable together with the rest of the plan",
                        self.bundle(c).display()
                    ),
                    None => "eligible".to_string(),
                });
            }
            out.push(Rejection {
                catalog: bundle.input.catalog.clone(),
                bundle: bundle.input.name.clone(),
                version: bundle.version_text.clone(),
                reasons,
            });
        }
        out
    }
}
