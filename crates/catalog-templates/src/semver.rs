//! `olm.semver`: channels generated from bundle versions (operator-registry v1.73.0
//! `alpha/template/semver`). Bundles are listed per archetype (`candidate`, `fast`, `stable`);
//! each becomes `<archetype>-v<X>.<Y>` (minor) and/or `<archetype>-v<X>` (major) channels whose
//! entries are linked by `replaces` at Y-stream boundaries and `skips` within a major version.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use ::semver::BuildMetadata;
use base64::Engine as _;
use fbc::{
    Channel, ChannelEntry, DeclarativeConfig, Icon, Package, SCHEMA_CHANNEL, SCHEMA_PACKAGE,
};
use go_encoding::{DecodeError as GoDecodeError, Kind as GoKind, Node};
use semver_ranges::{Version, parse_strict, precedence};
use serde_json::{Map, Value};

use crate::decode::{DocumentError, first_document};
use crate::{BundleRenderer, RenderedBundle, TemplateError};

pub(crate) const SCHEMA: &str = "olm.semver";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Archetype {
    Candidate = 0,
    Fast = 1,
    Stable = 2,
}

impl Archetype {
    const ALL: [Archetype; 3] = [Archetype::Candidate, Archetype::Fast, Archetype::Stable];
    fn name(self) -> &'static str {
        match self {
            Archetype::Candidate => "candidate",
            Archetype::Fast => "fast",
            Archetype::Stable => "stable",
        }
    }
}

/// Stream kind; the discriminant is upstream's priority (minor preferred).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Kind {
    Unset = 0,
    Major = 1,
    Minor = 2,
}

/// The decoded template.
#[derive(Clone, Debug, Default)]
struct Template {
    generate_major: bool,
    generate_minor: bool,
    preference: Option<Kind>,
    /// Images per archetype, in template order.
    bundles: BTreeMap<Archetype, Vec<String>>,
}

/// A template that does not decode; Go decoder messages carry sigs.k8s.io/yaml's prefix.
#[derive(Debug, thiserror::Error)]
enum DecodeError {
    #[error(transparent)]
    Document(#[from] DocumentError),
    #[error("error unmarshaling JSON: while decoding JSON: {0}")]
    Strict(String),
    #[error("readFile: input file has unknown schema, should be {SCHEMA:?}")]
    UnknownSchema,
    /// A channel type preferred without generating channels of that type.
    #[error(
        "schema attribute mismatch: DefaultChannelTypePreference set to '{0}' doesn't make sense if not generating {0}-version channels"
    )]
    PreferenceMismatch(&'static str),
    #[error("unknown DefaultChannelTypePreference: {0:?}\nValid values are 'major' or 'minor'")]
    UnknownPreference(String),
}

/// Go's message for a field of `go_struct` (of Go type `go_type`).
fn strict(go_struct: &'static str, go_type: &'static str) -> impl Fn(GoDecodeError) -> DecodeError {
    move |e| DecodeError::Strict(e.go_message(go_struct, go_type))
}

fn decode(text: &str) -> Result<Template, DecodeError> {
    let value = first_document(text)?;
    let root = Node::root(&value);
    if !value.is_object() {
        let e = GoDecodeError::mismatch("", "an object", GoKind::of(&value));
        return Err(strict("", "semver.SemverTemplateData")(e));
    }
    let owner = "SemverTemplateData";
    root.deny_unknown(&[
        "schema",
        "generateMajorChannels",
        "generateMinorChannels",
        "defaultChannelTypePreference",
        "candidate",
        "fast",
        "stable",
    ])
    .map_err(strict(owner, ""))?;
    let schema = root
        .field("schema")
        .string()
        .map_err(strict(owner, "string"))?;
    let mut t = Template {
        generate_major: root
            .field("generateMajorChannels")
            .bool()
            .map_err(strict(owner, "bool"))?,
        generate_minor: root
            .field("generateMinorChannels")
            .bool()
            .map_err(strict(owner, "bool"))?,
        ..Default::default()
    };
    let pref = root
        .field("defaultChannelTypePreference")
        .string()
        .map_err(strict(owner, "string"))?;
    for arch in Archetype::ALL {
        t.bundles
            .insert(arch, archetype_images(&root.field(arch.name()))?);
    }
    if schema != SCHEMA {
        return Err(DecodeError::UnknownSchema);
    }
    if !t.generate_major && !t.generate_minor {
        t.generate_minor = true;
    }
    t.preference = match pref.as_str() {
        "" => {
            if t.generate_minor {
                Some(Kind::Minor)
            } else {
                Some(Kind::Major)
            }
        }
        "minor" => {
            if !t.generate_minor {
                return Err(DecodeError::PreferenceMismatch("minor"));
            }
            Some(Kind::Minor)
        }
        "major" => {
            if !t.generate_major {
                return Err(DecodeError::PreferenceMismatch("major"));
            }
            Some(Kind::Major)
        }
        other => return Err(DecodeError::UnknownPreference(other.to_string())),
    };
    Ok(t)
}

/// The highest-priority channel seen so far: archetype, then version, then preferred kind.
#[derive(Clone, Debug)]
struct HighWater {
    archetype: Archetype,
    kind: Kind,
    version: Version,
    name: String,
}

impl HighWater {
    fn gt(&self, other: &HighWater, pref: Kind) -> bool {
        if self.archetype != other.archetype {
            return self.archetype > other.archetype;
        }
        match precedence(&self.version, &other.version) {
            Ordering::Equal => {}
            o => return o == Ordering::Greater,
        }
        if self.kind != other.kind {
            if self.kind == pref {
                return true;
            }
            if other.kind == pref {
                return false;
            }
            return self.kind > other.kind;
        }
        false
    }
}

#[derive(Clone, Debug)]
struct EntryRef {
    arch: Archetype,
    kind: Kind,
    channel: String,
    name: String,
    version: Version,
    index: usize,
}

fn minor_channel(arch: Archetype, v: &Version) -> String {
    format!("{}-v{}.{}", arch.name(), v.major, v.minor)
}

fn major_channel(arch: Archetype, v: &Version) -> String {
    format!("{}-v{}", arch.name(), v.major)
}

/// The images of one archetype's `channelBundles` (`null` entries are empty images).
fn archetype_images(channel_bundles: &Node<'_>) -> Result<Vec<String>, DecodeError> {
    let mut images = Vec::new();
    channel_bundles
        .object()
        .map_err(strict("SemverTemplateData", "semver.channelBundles"))?;
    channel_bundles
        .deny_unknown(&["bundles"])
        .map_err(strict("", ""))?;
    let bundles = channel_bundles
        .field("bundles")
        .list()
        .map_err(strict("channelBundles", "[]semver.bundleEntry"))?;
    for entry in bundles {
        if entry.is_null() {
            images.push(String::new());
            continue;
        }
        entry
            .object()
            .map_err(strict("channelBundles", "semver.bundleEntry"))?;
        entry.deny_unknown(&["image"]).map_err(strict("", ""))?;
        images.push(
            entry
                .field("image")
                .string()
                .map_err(strict("bundleEntry", "string"))?,
        );
    }
    Ok(images)
}

/// Renders a semver template.
pub(crate) fn render(
    text: &str,
    renderer: &dyn BundleRenderer,
) -> Result<DeclarativeConfig, TemplateError> {
    let t = decode(text)
        .map_err(|e| TemplateError::Decode(format!("render: unable to read file: {e}")))?;

    // Every distinct image once, in template order.
    let mut images: Vec<&str> = Vec::new();
    for arch in Archetype::ALL {
        for img in &t.bundles[&arch] {
            if !images.contains(&img.as_str()) {
                images.push(img);
            }
        }
    }
    let mut rendered: Vec<RenderedBundle> = Vec::new();
    let mut image_of: HashMap<&str, String> = HashMap::new();
    for img in &images {
        let mut out = renderer.render_bundle(img)?;
        if out.len() != 1 {
            return Err(TemplateError::Render(format!(
                "bundle reference {img:?} resulted in {} bundles, expected 1",
                out.len()
            )));
        }
        let b = out.remove(0);
        image_of.insert(img, b.bundle.image.clone());
        rendered.push(b);
    }
    if rendered.is_empty() {
        return Err(TemplateError::Render(
            "render: no bundles specified or no bundles could be rendered".to_string(),
        ));
    }

    let post = |e: String| {
        TemplateError::Render(format!("render: unable to post-process bundle info: {e}"))
    };
    let mut pkg_name = String::new();
    let mut versions: BTreeMap<Archetype, BTreeMap<String, Version>> = BTreeMap::new();
    for arch in Archetype::ALL {
        let mut entries: BTreeMap<String, Version> = BTreeMap::new();
        for img in &t.bundles[&arch] {
            let want = image_of.get(img.as_str()).cloned().unwrap_or_default();
            let b = rendered
                .iter()
                .map(|r| &r.bundle)
                .find(|b| b.image == want)
                .ok_or_else(|| {
                    post(format!(
                        "supplied bundle image name {img:?} not found in rendered bundle images"
                    ))
                })?;
            let props = fbc::property::parse_properties(&b.properties)
                .map_err(|e| post(format!("parse properties for bundle {:?}: {e}", b.name)))?;
            if props.packages.len() != 1 {
                return Err(post(format!(
                    "bundle {:?} has multiple \"olm.package\" properties, expected exactly 1",
                    b.name
                )));
            }
            let p = &props.packages[0];
            let v = parse_strict(&p.version).map_err(|e| {
                post(format!(
                    "bundle {:?} has invalid version {:?}: {e}",
                    b.name, p.version
                ))
            })?;
            if pkg_name.is_empty() {
                pkg_name = p.package_name.clone();
            } else if p.package_name != pkg_name {
                return Err(post(format!(
                    "bundle {:?} does not belong to this package: {pkg_name:?}",
                    p.package_name
                )));
            }
            if entries.contains_key(&b.name) {
                return Err(post(format!("duplicate bundle name {:?}", b.name)));
            }
            entries.insert(b.name.clone(), v);
        }
        check_build_metadata(&entries).map_err(|e| post(e.to_string()))?;
        versions.insert(arch, entries);
    }

    let (channels, default_channel) = generate_channels(&t, &pkg_name, &versions);

    let mut cfg = DeclarativeConfig::default();
    let mut package = Package {
        schema: SCHEMA_PACKAGE.to_string(),
        name: pkg_name,
        default_channel,
        ..Default::default()
    };
    populate_package_metadata(&mut package, &channels, &rendered);
    if !package.name.is_empty() || versions.values().any(|v| !v.is_empty()) {
        cfg.packages.push(package);
    }
    cfg.channels = channels;
    cfg.bundles = rendered.into_iter().map(|r| r.bundle).collect();
    Ok(cfg)
}

/// Versions that differ only in build metadata, each pair already worded.
#[derive(Debug, thiserror::Error)]
#[error(
    "encountered bundle versions which differ only by build metadata, which cannot be ordered: {}",
    if .0.len() == 1 { .0[0].clone() } else { format!("[{}]", .0.join(", ")) }
)]
struct UnorderableVersions(Vec<String>);

/// Versions that differ only in build metadata cannot be ordered.
fn check_build_metadata(entries: &BTreeMap<String, Version>) -> Result<(), UnorderableVersions> {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut errs = Vec::new();
    for v in entries.values() {
        let mut stripped = v.clone();
        stripped.build = BuildMetadata::EMPTY;
        let s = stripped.to_string();
        if !seen.insert(s.clone()) {
            errs.push(format!(
                "bundle version {:?} cannot be compared to {s:?}",
                v.to_string()
            ));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(UnorderableVersions(errs))
    }
}

fn generate_channels(
    t: &Template,
    pkg: &str,
    versions: &BTreeMap<Archetype, BTreeMap<String, Version>>,
) -> (Vec<Channel>, String) {
    let pref = t.preference.unwrap_or(Kind::Minor);
    let mut hwc = HighWater {
        archetype: Archetype::Candidate,
        kind: Kind::Unset,
        version: Version::new(0, 0, 0),
        name: String::new(),
    };
    let mut channels: BTreeMap<String, Channel> = BTreeMap::new();
    let mut edges: Vec<EntryRef> = Vec::new();
    for arch in Archetype::ALL {
        let bundles = &versions[&arch];
        let mut by_version: Vec<(&String, &Version)> = bundles.iter().collect();
        by_version.sort_by(|a, b| precedence(a.1, b.1));
        for (name, v) in by_version {
            let mut keys: Vec<(Kind, String)> = Vec::new();
            if t.generate_major {
                keys.push((Kind::Major, major_channel(arch, v)));
            }
            if t.generate_minor {
                keys.push((Kind::Minor, minor_channel(arch, v)));
            }
            for (kind, cname) in keys {
                let ch = channels.entry(cname.clone()).or_insert_with(|| {
                    let candidate = HighWater {
                        archetype: arch,
                        kind,
                        version: v.clone(),
                        name: cname.clone(),
                    };
                    if candidate.gt(&hwc, pref) {
                        hwc = candidate;
                    }
                    Channel {
                        schema: SCHEMA_CHANNEL.to_string(),
                        name: cname.clone(),
                        package: pkg.to_string(),
                        ..Default::default()
                    }
                });
                ch.entries.push(ChannelEntry {
                    name: name.clone(),
                    ..Default::default()
                });
                edges.push(EntryRef {
                    arch,
                    kind,
                    channel: cname,
                    name: name.clone(),
                    version: v.clone(),
                    index: ch.entries.len() - 1,
                });
            }
        }
    }
    link_channels(&mut channels, edges);
    (channels.into_values().collect(), hwc.name)
}

fn set_edges(
    channels: &mut BTreeMap<String, Channel>,
    at: &EntryRef,
    replaces: &str,
    skips: &BTreeSet<String>,
) {
    let entry = &mut channels
        .get_mut(&at.channel)
        .expect("entries only name channels created with them")
        .entries[at.index];
    entry.replaces = replaces.to_string();
    let skips: Vec<String> = skips
        .iter()
        .filter(|s| s.as_str() != replaces)
        .cloned()
        .collect();
    if !skips.is_empty() {
        entry.skips = skips;
    }
}

/// Walks entries partitioned by archetype, kind and version: at each Y-stream (or larger) change
/// the previous entry (the max Z) replaces the previous Y-stream's max Z and skips everything
/// since the last X/archetype/kind change.
fn link_channels(channels: &mut BTreeMap<String, Channel>, mut entries: Vec<EntryRef>) {
    entries.sort_by(|a, b| {
        a.arch
            .cmp(&b.arch)
            .then(a.kind.cmp(&b.kind))
            .then_with(|| precedence(&a.version, &b.version))
    });
    let mut prev_zmax = String::new();
    let mut cur_skips: BTreeSet<String> = BTreeSet::new();
    for i in 1..entries.len() {
        let (prev, cur) = (&entries[i - 1], &entries[i]);
        let arch_change = cur.arch != prev.arch;
        let kind_change = cur.kind != prev.kind;
        let x_change = cur.version.major != prev.version.major;
        let y_change = x_change || cur.version.minor != prev.version.minor;
        if arch_change || kind_change || x_change || y_change {
            set_edges(channels, prev, &prev_zmax, &cur_skips);
        }
        if arch_change || kind_change || x_change {
            cur_skips.clear();
            prev_zmax.clear();
        } else {
            if y_change {
                prev_zmax = prev.name.clone();
            }
            cur_skips.insert(prev.name.clone());
        }
    }
    if entries.len() > 1 {
        let last = &entries[entries.len() - 1];
        let pen = &entries[entries.len() - 2];
        if last.arch == pen.arch && last.kind == pen.kind && last.version.major == pen.version.major
        {
            set_edges(channels, last, &prev_zmax, &cur_skips);
        }
    }
}

/// Description and icon of the default channel head's CSV, when the bundle renderer knew it.
fn populate_package_metadata(pkg: &mut Package, channels: &[Channel], rendered: &[RenderedBundle]) {
    let Some(ch) = channels.iter().find(|c| c.name == pkg.default_channel) else {
        return;
    };
    let Some(head) = ch.entries.last() else {
        return;
    };
    let Some(b) = rendered.iter().find(|r| r.bundle.name == head.name) else {
        return;
    };
    let Some(Value::Object(csv)) = &b.csv else {
        return;
    };
    // Upstream looks these keys up exactly (a map, not a struct).
    let Some(Value::Object(spec)) = csv.get("spec") else {
        return;
    };
    if let Some(Value::String(d)) = spec.get("description")
        && !d.is_empty()
    {
        pkg.description = d.clone();
    }
    if let Some(icon) = first_icon(spec) {
        pkg.icon = Some(icon);
    }
}

fn first_icon(spec: &Map<String, Value>) -> Option<Icon> {
    let Value::Array(icons) = spec.get("icon")? else {
        return None;
    };
    let mut parsed = Vec::new();
    for i in icons {
        if !i.is_object() {
            return None;
        }
        let icon = Node::root(i);
        let data = icon.field("base64data").string().ok()?;
        let data = if data.is_empty() {
            Vec::new()
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(data)
                .ok()?
        };
        let media_type = icon.field("mediatype").string().ok()?;
        parsed.push(Icon { data, media_type });
    }
    parsed.into_iter().next()
}
