//! Loading a catalog directory: a lexical walk honouring `.indexignore`, every remaining regular
//! file parsed as a YAML or JSON stream whatever its extension, files parsed in parallel and
//! merged in walk order (deterministic, unlike upstream).

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::de::{self, IgnoredAny, MapAccess, Visitor};

use crate::declcfg::DeclarativeConfig;
use crate::decode::{self, Blob};
use crate::error::LoadError;
use crate::ignore::IgnoreMatcher;

/// The name of ignore files.
pub const INDEX_IGNORE_FILENAME: &str = ".indexignore";

/// Options for [`load_fs_with`].
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Files parsed at once; 0 = available parallelism.
    pub concurrency: usize,
}

fn read_text(path: &Path) -> Result<String, LoadError> {
    let bytes = fs::read(path).map_err(|e| LoadError::io(path, e))?;
    String::from_utf8(bytes).map_err(|e| LoadError::Syntax {
        path: path.to_path_buf(),
        line: {
            let valid = e.utf8_error().valid_up_to();
            e.as_bytes()[..valid]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1
        },
        column: 0,
        message: "file is not valid UTF-8".to_string(),
    })
}

/// Lists the catalog files under `root` in walk order (sorted by name at each level), skipping
/// `.indexignore` files and everything they ignore.
pub fn list_files(root: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let meta = fs::metadata(root).map_err(|e| LoadError::io(root, e))?;
    if !meta.is_dir() {
        return Err(LoadError::NotADirectory {
            path: root.to_path_buf(),
        });
    }
    let mut matcher = IgnoreMatcher::default();
    let mut out = Vec::new();
    walk(root, &mut Vec::new(), &mut matcher, &mut out)?;
    Ok(out)
}

fn walk(
    dir: &Path,
    rel: &mut Vec<String>,
    matcher: &mut IgnoreMatcher,
    out: &mut Vec<PathBuf>,
) -> Result<(), LoadError> {
    let mut entries: Vec<(String, PathBuf, fs::FileType)> = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| LoadError::io(dir, e))? {
        let entry = entry.map_err(|e| LoadError::io(dir, e))?;
        let ft = entry
            .file_type()
            .map_err(|e| LoadError::io(entry.path(), e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        entries.push((name, entry.path(), ft));
    }
    entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    if let Some((_, p, _)) = entries
        .iter()
        .find(|(n, _, ft)| n == INDEX_IGNORE_FILENAME && !ft.is_dir())
    {
        let text = read_text(p)?;
        matcher.add_file(rel, &text);
    }
    for (name, path, ft) in entries {
        if ft.is_dir() {
            rel.push(name);
            walk(&path, rel, matcher, out)?;
            rel.pop();
            continue;
        }
        if name == INDEX_IGNORE_FILENAME {
            continue;
        }
        rel.push(name);
        let ignored = matcher.is_ignored(rel, false);
        rel.pop();
        if ignored {
            continue;
        }
        if ft.is_symlink() {
            let target = fs::metadata(&path).map_err(|e| LoadError::io(&path, e))?;
            if target.is_dir() {
                return Err(LoadError::io(
                    &path,
                    std::io::Error::other("symbolic link to a directory is not a catalog file"),
                ));
            }
        }
        out.push(path);
    }
    Ok(())
}

/// Parses one file into a `DeclarativeConfig`.
pub fn load_file(path: &Path) -> Result<DeclarativeConfig, LoadError> {
    let text = read_text(path)?;
    load_str(path, &text)
}

/// Parses YAML/JSON stream `text`; `path` is used for origins and errors.
pub fn load_str(path: &Path, text: &str) -> Result<DeclarativeConfig, LoadError> {
    let mut cfg = DeclarativeConfig::default();
    decode::parse_metas(path, text, |meta| {
        let line = meta.origin.as_ref().map(|o| o.line).unwrap_or(0);
        let blob = decode::decode_meta(meta).map_err(|e| LoadError::Document {
            path: path.to_path_buf(),
            line,
            message: e.to_string(),
        })?;
        push_blob(&mut cfg, blob);
        Ok(())
    })?;
    Ok(cfg)
}

fn push_blob(cfg: &mut DeclarativeConfig, blob: Blob) {
    match blob {
        Blob::Package(p) => cfg.packages.push(p),
        Blob::Channel(c) => cfg.channels.push(c),
        Blob::Bundle(b) => cfg.bundles.push(b),
        Blob::Deprecation(d) => cfg.deprecations.push(d),
        Blob::Other(m) => cfg.others.push(m),
    }
}

/// Loads every catalog file under `root`.
pub fn load_fs(root: &Path) -> Result<DeclarativeConfig, LoadError> {
    load_fs_with(root, &LoadOptions::default())
}

/// Loads every catalog file under `root` with options.
pub fn load_fs_with(root: &Path, options: &LoadOptions) -> Result<DeclarativeConfig, LoadError> {
    let files = list_files(root)?;
    let results = parse_files_parallel(&files, options.concurrency, load_file);
    let mut cfg = DeclarativeConfig::default();
    for r in results {
        cfg.merge(r?);
    }
    Ok(cfg)
}

/// Runs `f` over `files` on up to `concurrency` threads, returning results in input order.
fn parse_files_parallel<T: Send>(
    files: &[PathBuf],
    concurrency: usize,
    f: impl Fn(&Path) -> Result<T, LoadError> + Sync,
) -> Vec<Result<T, LoadError>> {
    let threads = if concurrency == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        concurrency
    }
    .min(files.len().max(1));
    if threads <= 1 {
        return files.iter().map(|p| f(p)).collect();
    }
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Result<T, LoadError>>>> =
        files.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= files.len() {
                        break;
                    }
                    let r = f(&files[i]);
                    if let Ok(mut slot) = slots[i].lock() {
                        *slot = Some(r);
                    }
                }
            });
        }
    });
    slots
        .into_iter()
        .zip(files)
        .map(|(m, p)| {
            m.into_inner().ok().flatten().unwrap_or_else(|| {
                Err(LoadError::io(
                    p,
                    std::io::Error::other("file was not parsed"),
                ))
            })
        })
        .collect()
}

/// Calls `cb` with every blob of every catalog file under `root`, in walk order, as canonical
/// `Meta`s (catalogd's view), holding one file in memory at a time.
pub fn walk_metas<E: From<LoadError>>(
    root: &Path,
    mut cb: impl FnMut(crate::declcfg::Meta) -> Result<(), E>,
) -> Result<(), E> {
    for path in list_files(root)? {
        let text = read_text(&path)?;
        let mut inner: Result<(), E> = Ok(());
        decode::parse_metas(&path, &text, |meta| {
            if let Err(e) = cb(meta) {
                inner = Err(e);
                return Err(LoadError::Document {
                    path: PathBuf::new(),
                    line: 0,
                    message: String::new(),
                });
            }
            Ok(())
        })
        .or_else(|e| if inner.is_err() { Ok(()) } else { Err(e) })?;
        inner?;
    }
    Ok(())
}

/// Error of [`for_each_package`]: loading failed, or the callback did.
#[derive(Debug)]
pub enum StreamError<E> {
    Load(LoadError),
    Callback(E),
}

impl<E: fmt::Display> fmt::Display for StreamError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Load(e) => e.fmt(f),
            StreamError::Callback(e) => e.fmt(f),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for StreamError<E> {}

/// The envelope keys of a document, read without materialising the rest.
#[derive(Default)]
struct Envelope {
    schema: Option<String>,
    package: Option<String>,
    name: Option<String>,
}

impl Envelope {
    /// Package blobs are keyed by their name, everything else by `package`.
    fn package_key(self) -> String {
        if self.schema.as_deref() == Some(crate::declcfg::SCHEMA_PACKAGE) {
            self.name.unwrap_or_default()
        } else {
            self.package.unwrap_or_default()
        }
    }
}

impl<'de> de::Deserialize<'de> for Envelope {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Envelope;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Envelope, A::Error> {
                let mut env = Envelope::default();
                while let Some(k) = map.next_key::<String>()? {
                    let slot = match k.to_lowercase().as_str() {
                        "schema" => &mut env.schema,
                        "package" => &mut env.package,
                        "name" => &mut env.name,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    if let serde_json::Value::String(s) = map.next_value::<serde_json::Value>()? {
                        *slot = Some(s);
                    }
                }
                Ok(env)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Envelope, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Envelope::default())
            }
            fn visit_unit<E2: de::Error>(self) -> Result<Envelope, E2> {
                Ok(Envelope::default())
            }
            fn visit_str<E2: de::Error>(self, _: &str) -> Result<Envelope, E2> {
                Ok(Envelope::default())
            }
            fn visit_bool<E2: de::Error>(self, _: bool) -> Result<Envelope, E2> {
                Ok(Envelope::default())
            }
            fn visit_i64<E2: de::Error>(self, _: i64) -> Result<Envelope, E2> {
                Ok(Envelope::default())
            }
            fn visit_u64<E2: de::Error>(self, _: u64) -> Result<Envelope, E2> {
                Ok(Envelope::default())
            }
            fn visit_f64<E2: de::Error>(self, _: f64) -> Result<Envelope, E2> {
                Ok(Envelope::default())
            }
        }
        d.deserialize_any(V)
    }
}

/// The packages a file contributes to (`""` for package-less blobs). Cheap: values other than
/// the envelope are skipped without being materialised.
fn scan_packages(path: &Path) -> Result<BTreeSet<String>, LoadError> {
    let text = read_text(path)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut out = BTreeSet::new();
    if text.trim_start().starts_with('{') {
        for env in serde_json::Deserializer::from_str(text).into_iter::<Envelope>() {
            // Syntax errors are reported precisely by the full parse in the second pass.
            let Ok(env) = env else { break };
            out.insert(env.package_key());
        }
    } else {
        let options = decode::yaml_options(false);
        decode::with_parser_stack(|| {
            for (_, chunk) in decode::split_yaml(text) {
                if decode::is_blank_document(chunk) {
                    continue;
                }
                let env: Envelope =
                    serde_saphyr::from_str_with_options(chunk, options.clone()).unwrap_or_default();
                out.insert(env.package_key());
            }
        });
    }
    if out.is_empty() {
        out.insert(String::new());
    }
    Ok(out)
}

/// Loads `root` one package at a time: `cb` receives each package name with every blob of that
/// package (and, last, `""` with the package-less blobs). Each file is parsed once; memory holds
/// one package, plus blobs of packages that share a file with an earlier one.
pub fn for_each_package<E>(
    root: &Path,
    mut cb: impl FnMut(&str, DeclarativeConfig) -> Result<(), E>,
) -> Result<(), StreamError<E>> {
    let files = list_files(root).map_err(StreamError::Load)?;
    let scans = parse_files_parallel(&files, 0, scan_packages);
    let mut file_packages = Vec::with_capacity(files.len());
    for s in scans {
        file_packages.push(s.map_err(StreamError::Load)?);
    }
    let mut order: Vec<String> = Vec::new();
    let mut files_of: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, pkgs) in file_packages.iter().enumerate() {
        for p in pkgs {
            let entry = files_of.entry(p.clone()).or_default();
            if entry.is_empty() && !p.is_empty() {
                order.push(p.clone());
            }
            entry.push(i);
        }
    }
    order.push(String::new());
    let mut parsed = vec![false; files.len()];
    let mut stash: HashMap<String, DeclarativeConfig> = HashMap::new();
    for pkg in order {
        let mut cfg = stash.remove(&pkg).unwrap_or_default();
        for &fi in files_of.get(&pkg).map(Vec::as_slice).unwrap_or(&[]) {
            if parsed[fi] {
                continue;
            }
            parsed[fi] = true;
            let file_cfg = load_file(&files[fi]).map_err(StreamError::Load)?;
            route(file_cfg, &pkg, &mut cfg, &mut stash);
        }
        if pkg.is_empty() && cfg.is_empty() {
            continue;
        }
        cb(&pkg, cfg).map_err(StreamError::Callback)?;
    }
    Ok(())
}

fn bucket<'a>(
    pkg: &str,
    current: &str,
    cfg: &'a mut DeclarativeConfig,
    stash: &'a mut HashMap<String, DeclarativeConfig>,
) -> &'a mut DeclarativeConfig {
    if pkg == current {
        cfg
    } else {
        stash.entry(pkg.to_string()).or_default()
    }
}

fn route(
    file_cfg: DeclarativeConfig,
    current: &str,
    cfg: &mut DeclarativeConfig,
    stash: &mut HashMap<String, DeclarativeConfig>,
) {
    let mut to = Router {
        current,
        cfg,
        stash,
    };
    to.route(file_cfg.packages, |p| &p.name, |c| &mut c.packages);
    to.route(file_cfg.channels, |c| &c.package, |c| &mut c.channels);
    to.route(file_cfg.bundles, |b| &b.package, |c| &mut c.bundles);
    to.route(
        file_cfg.deprecations,
        |d| &d.package,
        |c| &mut c.deprecations,
    );
    to.route(file_cfg.others, |m| &m.package, |c| &mut c.others);
}

/// Sends blobs to the current package's config or to the stash of the package they belong to.
struct Router<'a> {
    current: &'a str,
    cfg: &'a mut DeclarativeConfig,
    stash: &'a mut HashMap<String, DeclarativeConfig>,
}

impl Router<'_> {
    fn route<T>(
        &mut self,
        items: Vec<T>,
        package: fn(&T) -> &String,
        list: fn(&mut DeclarativeConfig) -> &mut Vec<T>,
    ) {
        for item in items {
            let key = package(&item).clone();
            list(bucket(&key, self.current, self.cfg, self.stash)).push(item);
        }
    }
}
