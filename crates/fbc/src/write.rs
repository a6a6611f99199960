//! Canonical output, byte-compatible with upstream `opm render`/`opm migrate`: blobs grouped by
//! package (sorted), then per package the `olm.package` blobs, channels by name, bundles by name,
//! other schemas (stable by schema), deprecations; package-less blobs last. JSON objects use Go
//! struct field order and are indented with 4 spaces; YAML documents are `---`-prefixed go-yaml
//! v2 output.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Component, Path};

use go_encoding::{GoObject, push_compact, push_indented, push_string_array, to_yaml_document};

use crate::declcfg::{
    Bundle, Channel, DeclarativeConfig, Deprecation, Meta, Package, RelatedImage,
};
use crate::error::WriteError;
use crate::property::Property;

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Yaml => "yaml",
        }
    }
}

/// A blob to write, borrowed from a config.
#[derive(Clone, Copy, Debug)]
pub enum BlobRef<'a> {
    Package(&'a Package),
    Channel(&'a Channel),
    Bundle(&'a Bundle),
    Deprecation(&'a Deprecation),
    Other(&'a Meta),
}

fn push_properties(obj: &mut GoObject<'_>, props: &[Property]) {
    if props.is_empty() {
        return;
    }
    let out = obj.key("properties");
    out.push('[');
    for (i, p) in props.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let mut o = GoObject::new(out);
        o.str("type", &p.r#type);
        let v = o.key("value");
        if p.value.is_empty() {
            v.push_str("null");
        } else {
            push_compact(v, p.value.get());
        }
        o.end();
    }
    out.push(']');
}

fn push_related_images(out: &mut String, items: &[RelatedImage]) {
    out.push('[');
    for (i, r) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let mut o = GoObject::new(out);
        o.str("name", &r.name);
        o.str("image", &r.image);
        o.end();
    }
    out.push(']');
}

/// Appends the compact JSON of one blob in upstream's struct field order.
pub fn push_blob_json(out: &mut String, blob: BlobRef<'_>) {
    match blob {
        BlobRef::Package(p) => {
            let mut o = GoObject::new(out);
            o.str("schema", &p.schema);
            o.str("name", &p.name);
            o.str("defaultChannel", &p.default_channel);
            if let Some(icon) = &p.icon {
                use base64::Engine as _;
                let v = o.key("icon");
                let mut io = GoObject::new(v);
                io.str(
                    "base64data",
                    &base64::engine::general_purpose::STANDARD.encode(&icon.data),
                );
                io.str("mediatype", &icon.media_type);
                io.end();
            }
            o.str_omitempty("description", &p.description);
            push_properties(&mut o, &p.properties);
            o.end();
        }
        BlobRef::Channel(c) => {
            let mut o = GoObject::new(out);
            o.str("schema", &c.schema);
            o.str("name", &c.name);
            o.str("package", &c.package);
            let v = o.key("entries");
            v.push('[');
            for (i, e) in c.entries.iter().enumerate() {
                if i > 0 {
                    v.push(',');
                }
                let mut eo = GoObject::new(v);
                eo.str("name", &e.name);
                eo.str_omitempty("replaces", &e.replaces);
                if !e.skips.is_empty() {
                    push_string_array(eo.key("skips"), &e.skips);
                }
                eo.str_omitempty("skipRange", &e.skip_range);
                eo.end();
            }
            v.push(']');
            push_properties(&mut o, &c.properties);
            o.end();
        }
        BlobRef::Bundle(b) => {
            let mut o = GoObject::new(out);
            o.str("schema", &b.schema);
            o.str_omitempty("name", &b.name);
            o.str_omitempty("package", &b.package);
            o.str("image", &b.image);
            push_properties(&mut o, &b.properties);
            if !b.related_images.is_empty() {
                push_related_images(o.key("relatedImages"), &b.related_images);
            }
            o.end();
        }
        BlobRef::Deprecation(d) => {
            let mut o = GoObject::new(out);
            o.str("schema", &d.schema);
            o.str("package", &d.package);
            let v = o.key("entries");
            v.push('[');
            for (i, e) in d.entries.iter().enumerate() {
                if i > 0 {
                    v.push(',');
                }
                let mut eo = GoObject::new(v);
                {
                    let r = eo.key("reference");
                    let mut ro = GoObject::new(r);
                    ro.str("schema", &e.reference.schema);
                    ro.str_omitempty("name", &e.reference.name);
                    ro.end();
                }
                eo.str("message", &e.message);
                eo.end();
            }
            v.push(']');
            o.end();
        }
        BlobRef::Other(m) => push_compact(out, m.blob.get()),
    }
}

/// Compact JSON of one blob.
pub fn blob_json(blob: BlobRef<'_>) -> String {
    let mut s = String::new();
    push_blob_json(&mut s, blob);
    s
}

/// The blobs of `cfg` in upstream's output order.
pub fn ordered_blobs(cfg: &DeclarativeConfig) -> Vec<BlobRef<'_>> {
    #[derive(Default)]
    struct Group<'a> {
        packages: Vec<&'a Package>,
        channels: Vec<&'a Channel>,
        bundles: Vec<&'a Bundle>,
        others: Vec<&'a Meta>,
        deprecations: Vec<&'a Deprecation>,
    }
    let mut groups: BTreeMap<&str, Group<'_>> = BTreeMap::new();
    for p in &cfg.packages {
        groups.entry(&p.name).or_default().packages.push(p);
    }
    for c in &cfg.channels {
        groups.entry(&c.package).or_default().channels.push(c);
    }
    for b in &cfg.bundles {
        groups.entry(&b.package).or_default().bundles.push(b);
    }
    for o in &cfg.others {
        groups.entry(&o.package).or_default().others.push(o);
    }
    for d in &cfg.deprecations {
        groups.entry(&d.package).or_default().deprecations.push(d);
    }
    let mut out = Vec::with_capacity(cfg.len());
    let mut packageless: Vec<&Meta> = Vec::new();
    for (name, mut g) in groups {
        if name.is_empty() {
            packageless = g.others;
            continue;
        }
        out.extend(g.packages.into_iter().map(BlobRef::Package));
        g.channels.sort_by(|a, b| a.name.cmp(&b.name));
        out.extend(g.channels.into_iter().map(BlobRef::Channel));
        g.bundles.sort_by(|a, b| a.name.cmp(&b.name));
        out.extend(g.bundles.into_iter().map(BlobRef::Bundle));
        g.others.sort_by(|a, b| a.schema.cmp(&b.schema));
        out.extend(g.others.into_iter().map(BlobRef::Other));
        out.extend(g.deprecations.into_iter().map(BlobRef::Deprecation));
    }
    out.extend(packageless.into_iter().map(BlobRef::Other));
    out
}

/// Appends one blob in `format` (JSON: indented + newline; YAML: `---` document).
pub fn push_blob(out: &mut String, blob: BlobRef<'_>, format: Format) {
    let compact = blob_json(blob);
    match format {
        Format::Json => {
            push_indented(out, &compact, "    ");
            out.push('\n');
        }
        Format::Yaml => {
            out.push_str("---\n");
            // The compact text was produced from valid JSON, so it parses.
            let value: serde_json::Value =
                serde_json::from_str(&compact).unwrap_or(serde_json::Value::Null);
            out.push_str(&to_yaml_document(&value));
        }
    }
}

/// Renders `cfg` in `format` as one string.
pub fn to_string(cfg: &DeclarativeConfig, format: Format) -> String {
    let mut out = String::new();
    for blob in ordered_blobs(cfg) {
        push_blob(&mut out, blob, format);
    }
    out
}

/// Writes `cfg` to `w` in `format`, one blob at a time.
pub fn write(cfg: &DeclarativeConfig, format: Format, w: &mut impl Write) -> io::Result<()> {
    let mut buf = String::new();
    for blob in ordered_blobs(cfg) {
        buf.clear();
        push_blob(&mut buf, blob, format);
        w.write_all(buf.as_bytes())?;
    }
    Ok(())
}

/// Writes `contents` to `path` through a temporary file in the same directory and a rename.
pub fn write_file_atomically(path: &Path, contents: &[u8]) -> Result<(), WriteError> {
    let io_err = |source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    fs::create_dir_all(dir).map_err(io_err)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io_err)
}

/// `opm migrate`'s layout (v1.73): `<dir>/<package>/catalog.<ext>` per package, package-less
/// blobs in `<dir>/catalog.<ext>`. Package names that are not a single path component are
/// refused.
pub fn write_fs(cfg: &DeclarativeConfig, dir: &Path, format: Format) -> Result<(), WriteError> {
    let mut per_package: BTreeMap<String, String> = BTreeMap::new();
    for blob in ordered_blobs(cfg) {
        let pkg = match blob {
            BlobRef::Package(p) => p.name.as_str(),
            BlobRef::Channel(c) => c.package.as_str(),
            BlobRef::Bundle(b) => b.package.as_str(),
            BlobRef::Deprecation(d) => d.package.as_str(),
            BlobRef::Other(m) => m.package.as_str(),
        };
        if !pkg.is_empty() {
            let mut comps = Path::new(pkg).components();
            let local =
                matches!(comps.next(), Some(Component::Normal(_))) && comps.next().is_none();
            if !local || pkg.contains(['/', '\\']) {
                return Err(WriteError::Invalid(format!(
                    "package name {pkg:?} is not a valid directory name"
                )));
            }
        }
        push_blob(
            per_package.entry(pkg.to_string()).or_default(),
            blob,
            format,
        );
    }
    let file = format!("catalog.{}", format.extension());
    for (pkg, text) in per_package {
        let path = if pkg.is_empty() {
            dir.join(&file)
        } else {
            dir.join(&pkg).join(&file)
        };
        write_file_atomically(&path, text.as_bytes())?;
    }
    Ok(())
}
