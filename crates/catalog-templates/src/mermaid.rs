//! The mermaid upgrade-graph writer (operator-registry v1.73.0 `declcfg.MermaidWriter`): a
//! `graph LR` with a subgraph per package and channel, entries sorted by decreasing version,
//! edges `-- skip -->`, `-- "skipRange(…)" -->` and `-- replace -->` drawn from the old bundle to
//! the new one, and class decorations for deprecated and (with OLMv0 semantics) skipped bundles.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use fbc::{
    Channel, ChannelEntry, DeclarativeConfig, SCHEMA_BUNDLE, SCHEMA_CHANNEL, SCHEMA_PACKAGE,
};
use go_encoding::go_quote;
use semver_ranges::{BlangRange, Version, parse_strict, precedence};

/// Options of the writer.
#[derive(Clone, Debug, Default)]
pub struct MermaidOptions {
    /// Only edges at or above this bundle (`--minimum-edge`).
    pub minimum_edge: String,
    /// Only this package (`--package-name`).
    pub package: String,
    /// Mark bundles that OLMv0 would skip (`--draw-v0-semantics`).
    pub draw_v0_semantics: bool,
}

/// A graph that cannot be drawn.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MermaidError(String);

fn bundle_versions(cfg: &DeclarativeConfig) -> Result<HashMap<String, Version>, MermaidError> {
    let mut out = HashMap::new();
    for b in &cfg.bundles {
        if out.contains_key(&b.name) {
            continue;
        }
        let props = fbc::property::parse_properties(&b.properties)
            .map_err(|e| MermaidError(format!("parse properties for bundle {:?}: {e}", b.name)))?;
        if props.packages.len() != 1 {
            return Err(MermaidError(format!(
                "bundle {:?} has multiple \"olm.package\" properties, expected exactly 1",
                b.name
            )));
        }
        let raw = &props.packages[0].version;
        let v = parse_strict(raw).map_err(|e| {
            MermaidError(format!(
                "bundle {:?} has invalid version {raw:?}: {e}",
                b.name
            ))
        })?;
        out.insert(b.name.clone(), v);
    }
    Ok(out)
}

fn zero() -> Version {
    Version::new(0, 0, 0)
}

fn ge(a: &Version, b: &Version) -> bool {
    precedence(a, b) != std::cmp::Ordering::Less
}

/// Keeps the entries (and edges) at or above the minimum edge; `None` when nothing is left.
fn filter_channel(
    opts: &MermaidOptions,
    c: &Channel,
    versions: &HashMap<String, Version>,
    min: &Version,
    min_edge_package: &str,
) -> Option<Channel> {
    if opts.minimum_edge.is_empty() && opts.package.is_empty() {
        return Some(c.clone());
    }
    if !opts.package.is_empty() && c.package != opts.package {
        return None;
    }
    if !min_edge_package.is_empty() && c.package != min_edge_package {
        return None;
    }
    let ver = |n: &str| versions.get(n).cloned().unwrap_or_else(zero);
    let mut out = Channel {
        name: c.name.clone(),
        package: c.package.clone(),
        ..Default::default()
    };
    for ce in &c.entries {
        let mut f = ChannelEntry {
            name: ce.name.clone(),
            ..Default::default()
        };
        let had_edges =
            !ce.replaces.is_empty() || !ce.skips.is_empty() || !ce.skip_range.is_empty();
        if opts.minimum_edge.is_empty() {
            f.replaces = ce.replaces.clone();
            f.skips = ce.skips.clone();
            f.skip_range = ce.skip_range.clone();
            out.entries.push(f);
            continue;
        }
        if ce.name == opts.minimum_edge {
            out.entries.push(f);
            continue;
        }
        if !ce.replaces.is_empty() && ge(&ver(&ce.replaces), min) {
            f.replaces = ce.replaces.clone();
        }
        f.skips = ce
            .skips
            .iter()
            .filter(|s| ge(&ver(s), min))
            .cloned()
            .collect();
        if !ce.skip_range.is_empty()
            && let Ok(r) = BlangRange::parse(&ce.skip_range)
            && r.matches(min)
        {
            f.skip_range = ce.skip_range.clone();
        }
        let has_edges = !f.replaces.is_empty() || !f.skips.is_empty() || !f.skip_range.is_empty();
        if has_edges || (!had_edges && ge(&ver(&f.name), min)) {
            out.entries.push(f);
        }
    }
    (!out.entries.is_empty()).then_some(out)
}

/// One package's subgraph text and its links, numbered from 0 within the package.
#[derive(Default)]
struct PackageGraph {
    body: String,
    links: usize,
    skipped_links: Vec<usize>,
}

/// Writes the channels of `cfg` as a mermaid graph. Warnings (unparsable skipRanges, which are
/// left out) are returned alongside the text.
pub fn write_mermaid(
    cfg: &DeclarativeConfig,
    opts: &MermaidOptions,
) -> Result<(String, Vec<String>), MermaidError> {
    let versions = bundle_versions(cfg)?;
    let mut warnings = Vec::new();
    let mut min = zero();
    if !opts.minimum_edge.is_empty() {
        min = versions.get(&opts.minimum_edge).cloned().ok_or_else(|| {
            MermaidError(format!(
                "unknown minimum edge name: {:?}",
                opts.minimum_edge
            ))
        })?;
    }
    let min_edge_package = if opts.minimum_edge.is_empty() {
        String::new()
    } else {
        cfg.channels
            .iter()
            .find(|c| c.entries.iter().any(|e| e.name == opts.minimum_edge))
            .map(|c| c.package.clone())
            .unwrap_or_default()
    };

    let mut dep_package: BTreeSet<&str> = BTreeSet::new();
    let mut dep_channel: BTreeSet<&str> = BTreeSet::new();
    let mut dep_bundle: BTreeSet<&str> = BTreeSet::new();
    for d in &cfg.deprecations {
        for e in &d.entries {
            match e.reference.schema.as_str() {
                SCHEMA_PACKAGE => {
                    dep_package.insert(&d.package);
                }
                SCHEMA_CHANNEL => {
                    dep_channel.insert(&e.reference.name);
                }
                SCHEMA_BUNDLE => {
                    dep_bundle.insert(&e.reference.name);
                }
                _ => {}
            }
        }
    }

    let mut channels: Vec<&Channel> = cfg.channels.iter().collect();
    channels.sort_by(|a, b| a.name.cmp(&b.name));

    let mut pkgs: BTreeMap<String, PackageGraph> = BTreeMap::new();
    let mut deprecated_package = String::new();
    let mut deprecated_channels: Vec<String> = Vec::new();
    let mut decorated: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let ver = |n: &str| versions.get(n).cloned().unwrap_or_else(zero);

    for c in channels {
        let Some(fc) = filter_channel(opts, c, &versions, &min, &min_edge_package) else {
            continue;
        };
        let pg = pkgs.entry(c.package.clone()).or_default();
        let b = &mut pg.body;
        let channel_id = format!("{}-{}", fc.package, fc.name);
        let _ = writeln!(b, "    %% channel {}", go_quote(&fc.name));
        let _ = writeln!(b, "    subgraph {channel_id}[{}]", go_quote(&fc.name));
        if dep_package.contains(fc.package.as_str()) {
            deprecated_package = fc.package.clone();
        }
        if dep_channel.contains(fc.name.as_str()) {
            deprecated_channels.push(channel_id.clone());
        }
        let mut sorted: Vec<&ChannelEntry> = fc.entries.iter().collect();
        sorted.sort_by(|a, b| precedence(&ver(&b.name), &ver(&a.name)));
        let mut skipped: BTreeSet<String> = BTreeSet::new();
        for ce in sorted {
            let entry_id = format!("{channel_id}-{}", ce.name);
            let _ = writeln!(b, "      {entry_id}[{}]", go_quote(&ce.name));
            let class = match (
                dep_bundle.contains(ce.name.as_str()),
                skipped.contains(&ce.name),
            ) {
                (true, true) => Some("deprecatedskipped"),
                (true, false) => Some("deprecated"),
                (false, true) => Some("skipped"),
                (false, false) => None,
            };
            if let Some(class) = class {
                decorated.entry(class).or_default().push(entry_id.clone());
            }
            for s in &ce.skips {
                let _ = writeln!(
                    b,
                    "      {channel_id}-{s}[{}]-- skip --> {entry_id}[{}]",
                    go_quote(s),
                    go_quote(&ce.name)
                );
                if opts.draw_v0_semantics {
                    if skipped.contains(s) {
                        pg.skipped_links.push(pg.links);
                    } else {
                        skipped.insert(s.clone());
                    }
                }
                pg.links += 1;
            }
            if !ce.skip_range.is_empty() {
                match BlangRange::parse(&ce.skip_range) {
                    Ok(range) => {
                        for e in &fc.entries {
                            if range.matches(&ver(&e.name)) {
                                let _ = writeln!(
                                    b,
                                    "      {channel_id}-{}[{}]-- \"skipRange({})\" --> {entry_id}[{}]",
                                    e.name,
                                    go_quote(&e.name),
                                    ce.skip_range,
                                    go_quote(&ce.name)
                                );
                                if opts.draw_v0_semantics && skipped.contains(&ce.name) {
                                    pg.skipped_links.push(pg.links);
                                }
                                pg.links += 1;
                            }
                        }
                    }
                    Err(e) => warnings.push(format!(
                        "warning: ignoring invalid SkipRange for package/edge {:?}/{:?}: {e}",
                        c.package, ce.name
                    )),
                }
            }
            if !ce.replaces.is_empty() {
                let _ = writeln!(
                    b,
                    "      {channel_id}-{}[{}]-- replace --> {entry_id}[{}]",
                    ce.replaces,
                    go_quote(&ce.replaces),
                    go_quote(&ce.name)
                );
                if opts.draw_v0_semantics && skipped.contains(&ce.name) {
                    pg.skipped_links.push(pg.links);
                }
                pg.links += 1;
            }
        }
        b.push_str("    end\n");
    }

    // Mermaid numbers links in the order they appear in the text, which is package by package.
    // Upstream numbers them in its channel-name order across all packages instead, so with more
    // than one package its `linkStyle` marks the wrong edges, and which ones depends on the
    // (concurrent) load order. With one package both orders are the same.
    let mut skipped_links: Vec<String> = Vec::new();
    let mut first_link = 0usize;
    for pg in pkgs.values() {
        skipped_links.extend(
            pg.skipped_links
                .iter()
                .map(|l| (first_link + l).to_string()),
        );
        first_link += pg.links;
    }

    let mut out = String::new();
    out.push_str("graph LR\n");
    out.push_str("  classDef deprecated fill:#E8960F\n");
    out.push_str("  classDef skipped stroke:#FF0000,stroke-width:4px\n");
    out.push_str("  classDef deprecatedskipped fill:#E8960F,stroke:#FF0000,stroke-width:4px\n");
    for (name, pg) in &pkgs {
        let _ = writeln!(out, "  %% package {}", go_quote(name));
        let _ = writeln!(out, "  subgraph {}", go_quote(name));
        out.push_str(&pg.body);
        out.push_str("  end\n");
    }
    if !deprecated_package.is_empty() {
        let _ = writeln!(out, "style {deprecated_package} fill:#989695");
    }
    for ch in &deprecated_channels {
        let _ = writeln!(out, "style {ch} fill:#DCD0FF");
    }
    for (class, ids) in &mut decorated {
        ids.sort();
        let _ = writeln!(out, "class {} {class}", ids.join(","));
    }
    if !skipped_links.is_empty() {
        let _ = writeln!(
            out,
            "linkStyle {} stroke:#FF0000,stroke-width:3px,stroke-dasharray:5;",
            skipped_links.join(",")
        );
    }
    Ok((out, warnings))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn bundle(package: &str, version: &str) -> String {
        format!(
            r#"{{"schema":"olm.bundle","name":"{package}.v{version}","package":"{package}","image":"r/{package}:{version}","properties":[{{"type":"olm.package","value":{{"packageName":"{package}","version":"{version}"}}}}]}}"#
        )
    }

    /// Links are numbered in the order mermaid reads them: package by package. Package `a`'s
    /// channel sorts after package `b`'s, which is the case upstream numbers wrongly.
    #[test]
    fn skipped_links_are_numbered_in_document_order() {
        let text = [
            r#"{"schema":"olm.package","name":"a"}"#.to_string(),
            r#"{"schema":"olm.channel","package":"a","name":"z","entries":[{"name":"a.v1.0.0"},{"name":"a.v1.1.0","replaces":"a.v1.0.0"},{"name":"a.v1.2.0","skips":["a.v1.1.0"]},{"name":"a.v1.3.0","replaces":"a.v1.2.0"}]}"#.to_string(),
            bundle("a", "1.0.0"),
            bundle("a", "1.1.0"),
            bundle("a", "1.2.0"),
            bundle("a", "1.3.0"),
            r#"{"schema":"olm.package","name":"b"}"#.to_string(),
            r#"{"schema":"olm.channel","package":"b","name":"a","entries":[{"name":"b.v1.0.0"},{"name":"b.v1.1.0","replaces":"b.v1.0.0"},{"name":"b.v1.2.0","skips":["b.v1.1.0"]}]}"#.to_string(),
            bundle("b", "1.0.0"),
            bundle("b", "1.1.0"),
            bundle("b", "1.2.0"),
        ]
        .join("\n");
        let cfg = fbc::load_str(Path::new("catalog.json"), &text).unwrap();
        let opts = MermaidOptions {
            draw_v0_semantics: true,
            ..Default::default()
        };
        let (graph, warnings) = write_mermaid(&cfg, &opts).unwrap();
        assert!(warnings.is_empty());
        let edges: Vec<&str> = graph.lines().filter(|l| l.contains("-->")).collect();
        let styled = graph.lines().find(|l| l.starts_with("linkStyle ")).unwrap();
        assert!(styled.starts_with("linkStyle 2,4 "), "{graph}");
        // The replaces of the bundles that a later bundle skips.
        assert!(edges[2].contains("a-z-a.v1.0.0[\"a.v1.0.0\"]-- replace --> "));
        assert!(edges[4].contains("b-a-b.v1.0.0[\"b.v1.0.0\"]-- replace --> "));
    }
}
