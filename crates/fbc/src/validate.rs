//! Conversion of a loaded catalog into the model, and validation, with upstream's rules and
//! messages (operator-registry v1.73.0) reported as upstream's error tree. Unlike upstream, every
//! conversion error is reported (not only the first), and children are sorted so output is
//! deterministic.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;

use go_encoding::format_go_list;

use crate::blang;
use crate::declcfg::{DeclarativeConfig, SCHEMA_BUNDLE, SCHEMA_CHANNEL, SCHEMA_PACKAGE};
use crate::image_ref::validate_pull_spec;
use crate::model::{HeadError, Model, ModelBundle, ModelChannel, ModelDeprecation, ModelPackage};
use crate::property::{TYPE_PACKAGE, parse_properties};

/// A node of the validation report: a message with optional children.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationError {
    pub message: String,
    pub children: Vec<ValidationError>,
}

impl ValidationError {
    pub fn new(message: impl Into<String>) -> Self {
        ValidationError {
            message: message.into(),
            children: Vec::new(),
        }
    }

    fn push(&mut self, child: ValidationError) {
        self.children.push(child);
    }

    fn leaf(&mut self, message: impl Into<String>) {
        self.children.push(ValidationError::new(message));
    }

    /// `None` when nothing was reported under this node (upstream `orNil`).
    fn or_none(self) -> Option<ValidationError> {
        if self.children.is_empty() {
            None
        } else {
            Some(self)
        }
    }

    /// Every leaf message with the path of messages leading to it.
    pub fn leaves(&self) -> Vec<Vec<&str>> {
        let mut out = Vec::new();
        fn walk<'a>(n: &'a ValidationError, path: &mut Vec<&'a str>, out: &mut Vec<Vec<&'a str>>) {
            path.push(&n.message);
            if n.children.is_empty() {
                out.push(path.clone());
            }
            for c in &n.children {
                walk(c, path, out);
            }
            path.pop();
        }
        let mut path = Vec::new();
        for c in &self.children {
            walk(c, &mut path, &mut out);
        }
        out
    }

    fn fmt_child(&self, f: &mut fmt::Formatter<'_>, prefix: &str, last: bool) -> fmt::Result {
        f.write_str(prefix)?;
        f.write_str(if last { "└── " } else { "├── " })?;
        f.write_str(&self.message)?;
        if !self.children.is_empty() {
            f.write_str(":")?;
        }
        let child_prefix = format!("{prefix}{}", if last { "    " } else { "│   " });
        for (i, c) in self.children.iter().enumerate() {
            f.write_str("\n")?;
            c.fmt_child(f, &child_prefix, i + 1 == self.children.len())?;
        }
        Ok(())
    }
}

/// Upstream's tree layout: `message:` then `├── `/`└── ` children, `│   ` continuation.
impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if !self.children.is_empty() {
            f.write_str(":")?;
        }
        for (i, c) in self.children.iter().enumerate() {
            f.write_str("\n")?;
            c.fmt_child(f, "", i + 1 == self.children.len())?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationError {}

const DNS1123_LABEL_MAX: usize = 63;

/// `k8s.io/apimachinery` `IsDNS1123Label`.
fn dns1123_label_errors(name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if name.len() > DNS1123_LABEL_MAX {
        errs.push(format!(
            "must be no more than {DNS1123_LABEL_MAX} characters"
        ));
    }
    let b = name.as_bytes();
    let ok = !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-';
    if !ok {
        errs.push(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', \
             and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', \
             regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
                .to_string(),
        );
    }
    errs
}

/// A bundle release that is not a valid pre-release.
#[derive(Debug, thiserror::Error)]
enum ReleaseError {
    #[error("invalid release {0:?}: exceeds maximum length of 20 characters")]
    TooLong(String),
    #[error("invalid release {release:?}: {}", errors.join("\n"))]
    Segments {
        release: String,
        errors: Vec<String>,
    },
}

/// v1.73 `NewRelease`: dot-separated pre-release identifiers, at most 20 characters.
fn check_release(release: &str) -> Result<(), ReleaseError> {
    if release.is_empty() {
        return Ok(());
    }
    if release.len() > 20 {
        return Err(ReleaseError::TooLong(release.to_string()));
    }
    let errs: Vec<String> = release
        .split('.')
        .enumerate()
        .filter_map(|(i, seg)| {
            blang::parse_prerelease(seg)
                .err()
                .map(|e| format!("segment {i}: {e}"))
        })
        .collect();
    if errs.is_empty() {
        Ok(())
    } else {
        Err(ReleaseError::Segments {
            release: release.to_string(),
            errors: errs,
        })
    }
}

/// Converts a loaded catalog into the model and validates it (`opm validate`). On failure the
/// error is the full report rooted at `invalid index`.
pub fn convert_to_model(cfg: &DeclarativeConfig) -> Result<Model, ValidationError> {
    let mut errs = ValidationError::new("invalid index");
    let mut model = Model::default();
    let mut default_channels: HashMap<String, String> = HashMap::new();

    for p in &cfg.packages {
        if p.name.is_empty() {
            errs.leaf("config contains package with no name");
            continue;
        }
        if model.packages.contains_key(&p.name) {
            errs.leaf(format!("duplicate package {:?}", p.name));
            continue;
        }
        let dns = dns1123_label_errors(&p.name);
        if !dns.is_empty() {
            errs.leaf(format!(
                "invalid package name {:?}: {}",
                p.name,
                format_go_list(&dns)
            ));
        }
        default_channels.insert(p.name.clone(), p.default_channel.clone());
        model.packages.insert(
            p.name.clone(),
            ModelPackage {
                name: p.name.clone(),
                description: p.description.clone(),
                icon: p.icon.clone(),
                default_channel: String::new(),
                channels: BTreeMap::new(),
                deprecation: None,
                properties: p.properties.clone(),
            },
        );
    }

    // Entry names per package still waiting for their olm.bundle blob.
    let mut pending_entries: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for c in &cfg.channels {
        let Some(pkg) = model.packages.get_mut(&c.package) else {
            errs.leaf(format!(
                "unknown package {:?} for channel {:?}",
                c.package, c.name
            ));
            continue;
        };
        if c.name.is_empty() {
            errs.leaf(format!(
                "package {:?} contains channel with no name",
                c.package
            ));
            continue;
        }
        if pkg.channels.contains_key(&c.name) {
            errs.leaf(format!(
                "package {:?} has duplicate channel {:?}",
                c.package, c.name
            ));
            continue;
        }
        let mut ch = ModelChannel {
            name: c.name.clone(),
            package: c.package.clone(),
            bundles: BTreeMap::new(),
            deprecation: None,
            properties: c.properties.clone(),
        };
        let pending = pending_entries.entry(c.package.clone()).or_default();
        for e in &c.entries {
            if ch.bundles.contains_key(&e.name) {
                errs.leaf(format!(
                    "invalid package {:?}, channel {:?}: duplicate entry {:?}",
                    c.package, c.name, e.name
                ));
                continue;
            }
            pending.insert(e.name.clone());
            ch.bundles.insert(
                e.name.clone(),
                ModelBundle {
                    name: e.name.clone(),
                    package: c.package.clone(),
                    channel: c.name.clone(),
                    image: String::new(),
                    replaces: e.replaces.clone(),
                    skips: e.skips.clone(),
                    skip_range: e.skip_range.clone(),
                    properties: Vec::new(),
                    related_images: Vec::new(),
                    version: blang::Version {
                        major: 0,
                        minor: 0,
                        patch: 0,
                        pre: Vec::new(),
                        build: Vec::new(),
                    },
                    release: String::new(),
                    deprecation: None,
                },
            );
        }
        if default_channels.get(&c.package) == Some(&c.name) {
            pkg.default_channel = c.name.clone();
        }
        pkg.channels.insert(c.name.clone(), ch);
    }

    let mut package_bundles: HashMap<String, HashSet<String>> = HashMap::new();
    for b in &cfg.bundles {
        if b.package.is_empty() {
            errs.leaf(format!("package name must be set for bundle {:?}", b.name));
            continue;
        }
        let Some(pkg) = model.packages.get_mut(&b.package) else {
            errs.leaf(format!(
                "unknown package {:?} for bundle {:?}",
                b.package, b.name
            ));
            continue;
        };
        if !package_bundles
            .entry(b.package.clone())
            .or_default()
            .insert(b.name.clone())
        {
            errs.leaf(format!(
                "package {:?} has duplicate bundle {:?}",
                b.package, b.name
            ));
            continue;
        }
        // The blob exists: its channel entries are satisfied even if it is rejected below, so
        // one bad bundle does not also produce "no olm.bundle blobs found" noise.
        if let Some(p) = pending_entries.get_mut(&b.package) {
            p.remove(&b.name);
        }
        let props = match parse_properties(&b.properties) {
            Ok(p) => p,
            Err(e) => {
                errs.leaf(format!("parse properties for bundle {:?}: {e}", b.name));
                continue;
            }
        };
        if props.packages.len() != 1 {
            errs.leaf(format!(
                "package {:?} bundle {:?} must have exactly 1 {TYPE_PACKAGE:?} property, found {}",
                b.package,
                b.name,
                props.packages.len()
            ));
            continue;
        }
        let pkg_prop = &props.packages[0];
        if b.package != pkg_prop.package_name {
            errs.leaf(format!(
                "package {:?} does not match {TYPE_PACKAGE:?} property {:?}",
                b.package, pkg_prop.package_name
            ));
            continue;
        }
        let mut bad_image = false;
        if !b.image.is_empty()
            && let Err(e) = validate_pull_spec(&b.image)
        {
            errs.leaf(format!(
                "package {:?} bundle {:?} image: invalid image pull spec {:?}: {e}",
                b.package, b.name, b.image
            ));
            bad_image = true;
        }
        for (i, ri) in b.related_images.iter().enumerate() {
            if !ri.image.is_empty()
                && let Err(e) = validate_pull_spec(&ri.image)
            {
                errs.leaf(format!(
                    "package {:?} bundle {:?} relatedImages[{i}].image: invalid image pull spec {:?}: {e}",
                    b.package, b.name, ri.image
                ));
                bad_image = true;
            }
        }
        if bad_image {
            continue;
        }
        let version = match blang::parse_version(&pkg_prop.version) {
            Ok(v) => v,
            Err(e) => {
                errs.leaf(format!(
                    "error parsing bundle {:?} version {:?}: {e}",
                    b.name, pkg_prop.version
                ));
                continue;
            }
        };
        if let Err(e) = check_release(&pkg_prop.release) {
            errs.leaf(format!(
                "error parsing bundle {:?} release {:?}: {e}",
                b.name, pkg_prop.release
            ));
            continue;
        }
        let mut found = false;
        for ch in pkg.channels.values_mut() {
            if let Some(mb) = ch.bundles.get_mut(&b.name) {
                found = true;
                mb.image = b.image.clone();
                mb.properties = b.properties.clone();
                mb.related_images = b.related_images.clone();
                mb.version = version.clone();
                mb.release = pkg_prop.release.clone();
            }
        }
        if !found {
            errs.leaf(format!(
                "package {:?}, bundle {:?} not found in any channel entries",
                b.package, b.name
            ));
        }
    }

    for (pkg, entries) in &pending_entries {
        if !entries.is_empty() {
            let list: Vec<String> = entries.iter().cloned().collect();
            errs.leaf(format!(
                "no olm.bundle blobs found in package {pkg:?} for olm.channel entries {}",
                format_go_list(&list)
            ));
        }
    }

    for pkg in model.packages.values_mut() {
        let dc = default_channels.get(&pkg.name).cloned().unwrap_or_default();
        if !dc.is_empty() && pkg.default_channel.is_empty() {
            // Upstream inserts an empty channel so that model validation reports it.
            pkg.channels.insert(
                dc.clone(),
                ModelChannel {
                    name: dc.clone(),
                    package: pkg.name.clone(),
                    ..ModelChannel::default()
                },
            );
            pkg.default_channel = dc;
        }
    }

    let mut deprecated_packages: HashSet<String> = HashSet::new();
    for (i, d) in cfg.deprecations.iter().enumerate() {
        if d.package.is_empty() {
            errs.leaf(format!("package name must be set for deprecation item {i}"));
            continue;
        }
        let Some(pkg) = model.packages.get_mut(&d.package) else {
            errs.leaf(format!(
                "cannot apply deprecations to an unknown package {:?}",
                d.package
            ));
            continue;
        };
        if !deprecated_packages.insert(d.package.clone()) {
            errs.leaf(format!(
                "expected a maximum of one deprecation per package: {:?}",
                d.package
            ));
            continue;
        }
        let mut seen = HashSet::new();
        for (j, entry) in d.entries.iter().enumerate() {
            let r = &entry.reference;
            if r.schema.is_empty() {
                errs.leaf(format!(
                    "schema must be set for deprecation entry [{j}] for package {:?}",
                    d.package
                ));
                continue;
            }
            if !seen.insert(r.clone()) {
                errs.leaf(format!(
                    "duplicate deprecation entry {r} for package {:?}",
                    d.package
                ));
                continue;
            }
            let dep = Some(ModelDeprecation {
                message: entry.message.clone(),
            });
            match r.schema.as_str() {
                SCHEMA_BUNDLE => {
                    let known = package_bundles
                        .get(&d.package)
                        .is_some_and(|s| s.contains(&r.name));
                    if !known {
                        errs.leaf(format!(
                            "cannot deprecate bundle {:?} for package {:?}: bundle not found",
                            r.name, d.package
                        ));
                        continue;
                    }
                    for ch in pkg.channels.values_mut() {
                        if let Some(b) = ch.bundles.get_mut(&r.name) {
                            b.deprecation = dep.clone();
                        }
                    }
                }
                SCHEMA_CHANNEL => match pkg.channels.get_mut(&r.name) {
                    Some(ch) => ch.deprecation = dep,
                    None => errs.leaf(format!(
                        "cannot deprecate channel {:?} for package {:?}: channel not found",
                        r.name, d.package
                    )),
                },
                SCHEMA_PACKAGE => {
                    if !r.name.is_empty() {
                        errs.leaf(format!(
                            "package name must be empty for deprecated package {:?} (specified {:?})",
                            d.package, r.name
                        ));
                        continue;
                    }
                    pkg.deprecation = dep;
                }
                _ => errs.leaf(format!(
                    "cannot deprecate object {r} referenced by entry {j} for package {:?}: object schema unknown",
                    d.package
                )),
            }
        }
    }

    if !errs.children.is_empty() {
        return Err(errs);
    }
    validate_model(&model)?;
    Ok(model)
}

/// Upstream `Model.Validate` (v1.73 rules), as a tree.
pub fn validate_model(model: &Model) -> Result<(), ValidationError> {
    let mut root = ValidationError::new("invalid index");
    for pkg in model.packages.values() {
        if let Some(e) = validate_package(pkg) {
            root.push(e);
        }
    }
    match root.or_none() {
        None => Ok(()),
        Some(e) => Err(e),
    }
}

fn deprecation_error(d: &Option<ModelDeprecation>) -> Option<String> {
    match d {
        Some(d) if d.message.is_empty() => {
            Some("invalid deprecation: message must be set".to_string())
        }
        _ => None,
    }
}

fn validate_package(pkg: &ModelPackage) -> Option<ValidationError> {
    let mut r = ValidationError::new(format!("invalid package {:?}", pkg.name));
    if pkg.name.is_empty() {
        r.leaf("package name must not be empty");
    }
    if pkg.default_channel.is_empty() {
        r.leaf("default channel must be set");
    }
    if pkg.channels.is_empty() {
        r.leaf("package must contain at least one channel");
    }
    for ch in pkg.channels.values() {
        if let Some(e) = validate_channel(ch) {
            r.push(e);
        }
    }
    if let Some(e) = unique_bundle_versions(pkg) {
        r.leaf(e);
    }
    if !pkg.default_channel.is_empty() && !pkg.channels.contains_key(&pkg.default_channel) {
        r.leaf(format!(
            "default channel {:?} not found in channels list",
            pkg.default_channel
        ));
    }
    if let Some(e) = deprecation_error(&pkg.deprecation) {
        r.leaf(e);
    }
    r.or_none()
}

fn unique_bundle_versions(pkg: &ModelPackage) -> Option<String> {
    type Entry = (blang::Version, String, BTreeSet<String>);
    let mut by_version: BTreeMap<String, Entry> = BTreeMap::new();
    for ch in pkg.channels.values() {
        for b in ch.bundles.values() {
            let key = if b.release.is_empty() {
                b.version.to_string()
            } else {
                format!("{}-{}", b.version, b.release)
            };
            by_version
                .entry(key)
                .or_insert_with(|| (b.version.clone(), b.release.clone(), BTreeSet::new()))
                .2
                .insert(b.name.clone());
        }
    }
    let mut versions: Vec<(&String, &Entry)> = by_version.iter().collect();
    versions.sort_by(|a, b| a.1.0.compare(&b.1.0).then_with(|| a.1.1.cmp(&b.1.1)));
    let dups: Vec<String> = versions
        .into_iter()
        .filter(|(_, (_, _, names))| names.len() > 1)
        .map(|(v, (_, _, names))| {
            format!(
                "{{{v}: [{}]}}",
                names.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        })
        .collect();
    if dups.is_empty() {
        None
    } else {
        Some(format!(
            "duplicate versions found in bundles: {}",
            format_go_list(&dups)
        ))
    }
}

fn validate_channel(ch: &ModelChannel) -> Option<ValidationError> {
    let mut r = ValidationError::new(format!("invalid channel {:?}", ch.name));
    if ch.name.is_empty() {
        r.leaf("channel name must not be empty");
    }
    if ch.bundles.is_empty() {
        r.leaf("channel must contain at least one bundle");
    } else if let Err(e) = validate_replaces_chain(ch) {
        r.leaf(e.to_string());
    }
    for b in ch.bundles.values() {
        if let Some(e) = validate_bundle(b) {
            r.push(e);
        }
    }
    if let Some(e) = deprecation_error(&ch.deprecation) {
        r.leaf(e);
    }
    r.or_none()
}

/// A channel whose upgrade graph is not one chain from its head.
#[derive(Debug, thiserror::Error)]
enum ChainError {
    #[error(transparent)]
    Head(#[from] HeadError),
    #[error("detected cycle in replaces chain of upgrade graph: {0}")]
    Cycle(String),
    #[error("channel contains one or more stranded bundles: {}", .0.join(", "))]
    Stranded(Vec<String>),
}

/// Exactly one head; the `replaces` chain from it has no cycle; every entry is on the chain or
/// skipped. The walk stops at a `replaces` target that is skipped (v1.58+), so bundles reachable
/// only through a skipped bundle are stranded.
fn validate_replaces_chain(ch: &ModelChannel) -> Result<(), ChainError> {
    let head = ch.head()?;
    let all: BTreeSet<&str> = ch.bundles.keys().map(String::as_str).collect();
    let skipped: HashSet<&str> = ch
        .bundles
        .values()
        .flat_map(|b| b.skips.iter().map(String::as_str))
        .collect();
    let mut chain_from: Vec<(String, Vec<String>)> = Vec::new();
    let mut on_chain: HashSet<String> = HashSet::from([head.name.clone()]);
    let mut cur = Some(head);
    while let Some(b) = cur {
        if !chain_from.iter().any(|(k, _)| k == &b.name) {
            chain_from.push((b.name.clone(), vec![b.name.clone()]));
        }
        if skipped.contains(b.replaces.as_str()) {
            break;
        }
        for (_, chain) in chain_from.iter_mut() {
            chain.push(b.replaces.clone());
        }
        if on_chain.contains(&b.replaces) {
            let chain = chain_from
                .iter()
                .find(|(k, _)| k == &b.replaces)
                .map(|(_, c)| c.join(" -> "))
                .unwrap_or_default();
            return Err(ChainError::Cycle(chain));
        }
        on_chain.insert(b.replaces.clone());
        cur = ch.bundles.get(&b.replaces);
    }
    let stranded: Vec<&str> = all
        .into_iter()
        .filter(|n| !on_chain.contains(*n) && !skipped.contains(n))
        .collect();
    if stranded.is_empty() {
        Ok(())
    } else {
        Err(ChainError::Stranded(
            stranded.into_iter().map(str::to_string).collect(),
        ))
    }
}

fn validate_bundle(b: &ModelBundle) -> Option<ValidationError> {
    let mut r = ValidationError::new(format!("invalid bundle {:?}", b.name));
    if b.name.is_empty() {
        r.leaf("name must be set");
    }
    for (i, s) in b.skips.iter().enumerate() {
        if s.is_empty() {
            r.leaf(format!("skip[{i}] is empty"));
        }
    }
    if !b.skip_range.is_empty()
        && let Err(e) = blang::check_range(&b.skip_range)
    {
        r.leaf(format!("invalid skipRange {:?}: {e}", b.skip_range));
    }
    if b.image.is_empty() && !b.has_objects() {
        r.leaf("bundle image must be set");
    }
    if !b.release.is_empty() {
        let normalized = format!("{}-v{}-{}", b.package, b.version, b.release);
        if b.name != normalized {
            r.leaf(format!(
                "name {:?} does not match normalized name {normalized:?}",
                b.name
            ));
        }
        if !b.version.build.is_empty() {
            r.leaf("cannot use build metadata in version with a release version");
        }
    }
    if let Some(e) = deprecation_error(&b.deprecation) {
        r.leaf(e);
    }
    r.or_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_layout_matches_upstream() {
        let mut root = ValidationError::new("hello");
        let mut foo = ValidationError::new("foo");
        foo.leaf("foo1");
        foo.leaf("foo2");
        let mut bar = ValidationError::new("bar");
        bar.leaf("bar1");
        bar.leaf("bar2");
        root.push(foo);
        root.push(bar);
        assert_eq!(
            root.to_string(),
            "hello:\n├── foo:\n│   ├── foo1\n│   └── foo2\n└── bar:\n    ├── bar1\n    └── bar2"
        );
        assert_eq!(ValidationError::new("hello").to_string(), "hello");
    }

    #[test]
    fn dns_labels() {
        assert!(dns1123_label_errors("etcd").is_empty());
        assert_eq!(dns1123_label_errors("Etcd").len(), 1);
        assert_eq!(dns1123_label_errors(&"a".repeat(64)).len(), 1);
    }
}
