//! The byte-offset index behind `/api/v1/metas`: for each schema, package and name, the
//! sections of `all.json` holding the matching metas, in file order. Queries intersect
//! the lists instead of scanning the catalog.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A `(offset, length)` section of `all.json`, newline included.
pub(crate) type Section = (u64, u64);

#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct MetaIndex {
    by_schema: BTreeMap<String, Vec<Section>>,
    by_package: BTreeMap<String, Vec<Section>>,
    by_name: BTreeMap<String, Vec<Section>>,
}

/// A metas query: each given key must match; none given means the whole catalog.
#[derive(Debug, Default, Clone, PartialEq, Eq, Hash)]
pub(crate) struct MetaQuery {
    pub(crate) schema: Option<String>,
    pub(crate) package: Option<String>,
    pub(crate) name: Option<String>,
}

impl MetaIndex {
    /// Records one meta. Empty package or name values are not indexed, as upstream: an
    /// `olm.package` blob has no `package`, so `?package=x` does not return it.
    pub(crate) fn add(&mut self, schema: &str, package: &str, name: &str, section: Section) {
        for (map, key) in [
            (&mut self.by_schema, schema),
            (&mut self.by_package, package),
            (&mut self.by_name, name),
        ] {
            if !key.is_empty() {
                map.entry(key.to_owned()).or_default().push(section);
            }
        }
    }

    /// The sections matching every key of `query`, in file order. `None` for an empty query,
    /// which means "the whole catalog".
    pub(crate) fn query(&self, query: &MetaQuery) -> Option<Vec<Section>> {
        let lists = [
            (&self.by_schema, &query.schema),
            (&self.by_package, &query.package),
            (&self.by_name, &query.name),
        ];
        let mut result: Option<Vec<Section>> = None;
        for (map, key) in lists {
            let Some(key) = key else { continue };
            let list = map.get(key).map(Vec::as_slice).unwrap_or_default();
            result = Some(match result {
                None => list.to_vec(),
                Some(acc) => intersect(&acc, list),
            });
        }
        result
    }
}

/// Both inputs are sorted by offset (file order), so a merge walk suffices.
fn intersect(a: &[Section], b: &[Section]) -> Vec<Section> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(schema: Option<&str>, package: Option<&str>, name: Option<&str>) -> MetaQuery {
        MetaQuery {
            schema: schema.map(str::to_owned),
            package: package.map(str::to_owned),
            name: name.map(str::to_owned),
        }
    }

    fn sample() -> MetaIndex {
        let mut idx = MetaIndex::default();
        idx.add("olm.package", "", "foo", (0, 10));
        idx.add("olm.channel", "foo", "stable", (10, 10));
        idx.add("olm.bundle", "foo", "foo.v1", (20, 10));
        idx.add("olm.package", "", "bar", (30, 10));
        idx.add("olm.bundle", "bar", "bar.v1", (40, 10));
        idx
    }

    #[test]
    fn empty_query_means_everything() {
        assert_eq!(sample().query(&MetaQuery::default()), None);
    }

    #[test]
    fn keys_intersect_in_file_order() {
        let idx = sample();
        assert_eq!(
            idx.query(&q(Some("olm.bundle"), None, None)),
            Some(vec![(20, 10), (40, 10)])
        );
        assert_eq!(
            idx.query(&q(Some("olm.bundle"), Some("bar"), None)),
            Some(vec![(40, 10)])
        );
        assert_eq!(
            idx.query(&q(None, Some("foo"), None)),
            Some(vec![(10, 10), (20, 10)]),
            "olm.package blobs have no package and are not returned for ?package="
        );
        assert_eq!(
            idx.query(&q(Some("olm.package"), None, Some("foo"))),
            Some(vec![(0, 10)])
        );
        assert_eq!(idx.query(&q(Some("nope"), None, None)), Some(vec![]));
    }
}
