//! What every resolution needs from a catalog and that does not depend on the request: the
//! preference order of all bundles, channel heads, the candidates of each bundle requirement and
//! provided-API ids. Computed once per catalog (and priorities), then shared by every solve.

use std::cmp::Ordering;
use std::collections::HashMap;

use rustc_hash::{FxHashMap, FxHashSet};
use semver_ranges::build_id_compare;

use crate::bundle::{Bundle, Requirement};
use crate::input::Gvk;

/// Marks a requirement whose candidates depend on the solve (`olm.constraint`, CEL).
const PER_SOLVE: u32 = u32::MAX;

/// Request-independent indexes of a catalog's bundles.
#[derive(Debug, Default)]
pub(crate) struct PreparedCatalog {
    /// Position of each bundle in the global preference order (package name, then preference
    /// inside the package with no channel given).
    pub(crate) rank: Vec<u32>,
    /// Package id of each bundle, package names by id, and ids by name.
    pub(crate) package_of: Vec<u32>,
    pub(crate) package_names: Vec<String>,
    package_ids: FxHashMap<String, u32>,
    /// Bundles of each package (by id), most preferred first (no channel given).
    preferred: Vec<Vec<u32>>,
    /// Whether the bundle has invalid requirement properties, and whether it has an
    /// `olm.maxOpenShiftVersion`: a solve only looks at the (large, cold) bundle data for
    /// prohibitions when one applies.
    pub(crate) has_invalid: Vec<bool>,
    pub(crate) has_max_openshift: Vec<bool>,
    /// `heads[head_start[b] + j]`: whether bundle `b` heads the channel of its entry `j`.
    head_start: Vec<u32>,
    heads: Vec<bool>,
    /// `lists[requirement_list[requirement_start[b] + q]]`: candidates of requirement `q` of
    /// bundle `b`, in global preference order.
    requirement_start: Vec<u32>,
    requirement_list: Vec<u32>,
    lists: Vec<Vec<u32>>,
    /// `provides[provides_start[b]..provides_start[b + 1]]`: GVK ids bundle `b` provides.
    provides_start: Vec<u32>,
    provides: Vec<u32>,
    /// GVK id → GVK, and its position in GVK order.
    pub(crate) gvks: Vec<Gvk>,
    pub(crate) gvk_order: Vec<u32>,
    /// Bundle identifiers are unique and contain no space, so they can never equal the
    /// identifiers of request, installed or uniqueness variables (which all contain one).
    pub(crate) plain_ids: bool,
}

impl PreparedCatalog {
    /// Indexes `bundles`, given each bundle's catalog priority and the providers of each GVK.
    pub(crate) fn new(
        bundles: &[Bundle],
        priority: &[i32],
        by_gvk: &HashMap<Gvk, Vec<usize>>,
    ) -> Self {
        let n = bundles.len();
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.sort_by(|&a, &b| {
            let (x, y) = (&bundles[a as usize], &bundles[b as usize]);
            x.input
                .package
                .cmp(&y.input.package)
                .then_with(|| cmp_preference(bundles, a as usize, b as usize, priority))
        });
        let mut rank = vec![0u32; n];
        for (position, &b) in order.iter().enumerate() {
            rank[b as usize] = position as u32;
        }
        let mut package_ids: FxHashMap<String, u32> = FxHashMap::default();
        let mut package_names: Vec<String> = Vec::new();
        let mut preferred: Vec<Vec<u32>> = Vec::new();
        let mut package_of = vec![0u32; n];
        for &b in &order {
            let package = &bundles[b as usize].input.package;
            let id = match package_ids.get(package.as_str()) {
                Some(&id) => id,
                None => {
                    package_ids.insert(package.clone(), package_names.len() as u32);
                    package_names.push(package.clone());
                    preferred.push(Vec::new());
                    (package_names.len() - 1) as u32
                }
            };
            preferred[id as usize].push(b);
            package_of[b as usize] = id;
        }
        let has_invalid = bundles.iter().map(|b| !b.invalid.is_empty()).collect();
        let has_max_openshift = bundles.iter().map(|b| b.max_openshift.is_some()).collect();

        // Channel heads: an entry is a head unless another bundle of the same catalog and
        // package replaces or skips it in that channel.
        let mut replacers: FxHashMap<(&str, &str, &str, &str), (usize, bool)> =
            FxHashMap::default();
        for (i, b) in bundles.iter().enumerate() {
            for e in &b.input.channels {
                let targets = e.replaces.iter().chain(e.skips.iter());
                for target in targets {
                    let key = (
                        b.input.catalog.as_str(),
                        b.input.package.as_str(),
                        e.channel.as_str(),
                        target.as_str(),
                    );
                    let slot = replacers.entry(key).or_insert((i, false));
                    if slot.0 != i {
                        slot.1 = true;
                    }
                }
            }
        }
        let mut head_start = Vec::with_capacity(n + 1);
        let mut heads = Vec::new();
        for (i, b) in bundles.iter().enumerate() {
            head_start.push(heads.len() as u32);
            for e in &b.input.channels {
                let key = (
                    b.input.catalog.as_str(),
                    b.input.package.as_str(),
                    e.channel.as_str(),
                    b.input.name.as_str(),
                );
                heads.push(match replacers.get(&key) {
                    None => true,
                    Some(&(first, others)) => first == i && !others,
                });
            }
        }
        head_start.push(heads.len() as u32);

        // Requirement candidates, shared between requirements that say the same thing.
        let mut gvk_ids: FxHashMap<&Gvk, u32> = FxHashMap::default();
        let mut gvks: Vec<Gvk> = Vec::new();
        let mut provides_start = Vec::with_capacity(n + 1);
        let mut provides = Vec::new();
        for b in bundles {
            provides_start.push(provides.len() as u32);
            for g in &b.provides {
                let id = *gvk_ids.entry(g).or_insert_with(|| {
                    gvks.push(g.clone());
                    (gvks.len() - 1) as u32
                });
                provides.push(id);
            }
        }
        provides_start.push(provides.len() as u32);
        let mut by_order: Vec<u32> = (0..gvks.len() as u32).collect();
        by_order.sort_by(|&a, &b| gvks[a as usize].cmp(&gvks[b as usize]));
        let mut gvk_order = vec![0u32; gvks.len()];
        for (position, &g) in by_order.iter().enumerate() {
            gvk_order[g as usize] = position as u32;
        }

        let mut package_lists: FxHashMap<(&str, &str), u32> = FxHashMap::default();
        let mut gvk_lists: FxHashMap<&Gvk, u32> = FxHashMap::default();
        let mut lists: Vec<Vec<u32>> = Vec::new();
        let mut requirement_start = Vec::with_capacity(n + 1);
        let mut requirement_list = Vec::new();
        let empty: Vec<u32> = Vec::new();
        for b in bundles {
            requirement_start.push(requirement_list.len() as u32);
            for q in &b.requirements {
                let id = match q {
                    Requirement::Package {
                        package,
                        range_text,
                        range,
                    } => *package_lists
                        .entry((package.as_str(), range_text.as_str()))
                        .or_insert_with(|| {
                            let list = package_ids
                                .get(package.as_str())
                                .map_or(&empty, |&id| &preferred[id as usize])
                                .iter()
                                .copied()
                                .filter(|&c| {
                                    bundles[c as usize]
                                        .version
                                        .as_ref()
                                        .is_some_and(|v| range.matches(v))
                                })
                                .collect();
                            lists.push(list);
                            (lists.len() - 1) as u32
                        }),
                    Requirement::Gvk(g) => *gvk_lists.entry(g).or_insert_with(|| {
                        let mut list: Vec<u32> = by_gvk
                            .get(g)
                            .map(|l| l.iter().map(|&c| c as u32).collect())
                            .unwrap_or_default();
                        list.sort_by_key(|&c| rank[c as usize]);
                        list.dedup();
                        lists.push(list);
                        (lists.len() - 1) as u32
                    }),
                    Requirement::Constraint { .. } => PER_SOLVE,
                };
                requirement_list.push(id);
            }
        }
        requirement_start.push(requirement_list.len() as u32);

        let mut ids: FxHashSet<&str> = FxHashSet::default();
        let plain_ids = bundles
            .iter()
            .all(|b| !b.id_str().contains(' ') && ids.insert(b.id_str()));

        PreparedCatalog {
            rank,
            package_of,
            package_names,
            package_ids,
            preferred,
            has_invalid,
            has_max_openshift,
            head_start,
            heads,
            requirement_start,
            requirement_list,
            lists,
            provides_start,
            provides,
            gvks,
            gvk_order,
            plain_ids,
        }
    }

    /// Bundles of `package`, most preferred first (no channel given).
    pub(crate) fn preferred(&self, package: &str) -> &[u32] {
        self.package_ids
            .get(package)
            .map_or(&[], |&id| &self.preferred[id as usize])
    }

    /// Id of a package (an index of `package_names`), if any bundle has it.
    pub(crate) fn package_id(&self, package: &str) -> Option<u32> {
        self.package_ids.get(package).copied()
    }

    /// Number of requirements bundle `b` declares.
    pub(crate) fn requirement_count(&self, b: usize) -> usize {
        (self.requirement_start[b + 1] - self.requirement_start[b]) as usize
    }

    /// Whether bundle `b` is listed in `channel` and heads it there.
    pub(crate) fn is_head(&self, bundles: &[Bundle], b: usize, channel: &str) -> bool {
        let start = self.head_start[b] as usize;
        bundles[b]
            .input
            .channels
            .iter()
            .position(|e| e.channel == channel)
            .is_some_and(|j| self.heads[start + j])
    }

    /// Candidates of requirement `q` of bundle `b` in global preference order, or `None` when
    /// they depend on the solve (`olm.constraint`).
    pub(crate) fn requirement_targets(&self, b: usize, q: usize) -> Option<&[u32]> {
        let id = self.requirement_list[self.requirement_start[b] as usize + q];
        (id != PER_SOLVE).then(|| self.lists[id as usize].as_slice())
    }

    /// GVK ids bundle `b` provides, in property order.
    pub(crate) fn provides(&self, b: usize) -> &[u32] {
        &self.provides[self.provides_start[b] as usize..self.provides_start[b + 1] as usize]
    }
}

/// Preference inside one package with no channel given: not deprecated, version descending
/// (none last), build metadata, release, catalog priority (`priority[b]` of each bundle),
/// catalog name, bundle name.
fn cmp_preference(bundles: &[Bundle], a: usize, b: usize, priority: &[i32]) -> Ordering {
    let (x, y) = (&bundles[a], &bundles[b]);
    x.deprecated
        .is_some()
        .cmp(&y.deprecated.is_some())
        .then_with(|| cmp_version(x, y))
        .then_with(|| y.release.cmp(&x.release))
        .then_with(|| priority[b].cmp(&priority[a]))
        .then_with(|| x.input.catalog.cmp(&y.input.catalog))
        .then_with(|| x.input.name.cmp(&y.input.name))
}

/// Version descending (build metadata compared), no version last.
fn cmp_version(x: &Bundle, y: &Bundle) -> Ordering {
    match (&x.version, &y.version) {
        (Some(v), Some(w)) => build_id_compare(w, v),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}
