//! Deterministic layer creation: sorted entries, mtime 0, uid/gid 0, modes 0644/0755,
//! gzip; written straight into the blob cache while both digests (compressed blob and
//! uncompressed `diff_id`) are computed.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use flate2::{Compression, write::GzEncoder};

use crate::parallel_gzip::ParallelGzWriter;

use crate::cache::BlobCache;
use crate::digest::{HashingWriter, Sha256Digest};
use crate::error::ImageError;

/// Layers with at least this many bytes of file content are gzipped in parallel
/// ([`ParallelGzWriter`]) at [`FAST_LEVEL`]; smaller ones (bundles, most catalogs) with one
/// plain encoder at the default level.
const PARALLEL_COMPRESSION_THRESHOLD: u64 = 4 << 20;
/// Measured on a 38 MB 1,000-bundle index.db (miniz_oxide): level 3 output is 7% larger than
/// level 6 for about two thirds of the CPU; levels 1–2 switch to a much weaker matcher
/// (1.6–5× larger output).
const FAST_LEVEL: u32 = 3;
/// Most threads a large layer is compressed with.
const MAX_COMPRESSION_THREADS: usize = 8;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Source {
    Dir,
    File {
        path: PathBuf,
        executable: bool,
    },
    Bytes {
        data: Vec<u8>,
        executable: bool,
    },
    /// An OCI whiteout marker hiding a lower layer's path.
    Whiteout,
    /// An opaque whiteout marker: hides everything lower layers put in this directory.
    Opaque,
}

/// The content of one new layer, keyed by image path (relative, `/`-separated).
#[derive(Clone, Debug, Default)]
pub struct LayerContent {
    entries: BTreeMap<String, Source>,
}

/// A layer written to the cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltLayer {
    /// Digest of the gzip blob (the manifest's layer digest).
    pub digest: Sha256Digest,
    /// Digest of the uncompressed tar (the config's `rootfs.diff_ids` entry).
    pub diff_id: Sha256Digest,
    pub size: u64,
}

fn image_path(path: &str) -> Result<String, ImageError> {
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(ImageError::Build(format!(
                    "image path {path:?} may not contain `..`"
                )));
            }
            p if p.starts_with(".wh.") => {
                return Err(ImageError::Build(format!(
                    "image path {path:?}: names starting with .wh. are reserved for whiteouts"
                )));
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err(ImageError::Build(format!(
            "image path {path:?} names the root"
        )));
    }
    Ok(parts.join("/"))
}

impl LayerContent {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn add_parents(&mut self, path: &str) {
        let mut prefix = String::new();
        for part in path
            .split('/')
            .collect::<Vec<_>>()
            .iter()
            .rev()
            .skip(1)
            .rev()
        {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            self.entries.entry(prefix.clone()).or_insert(Source::Dir);
        }
    }

    /// Adds the host directory `dir`'s tree under `image_dir` (e.g. `/configs`), including
    /// `image_dir` itself. Only regular files and directories are accepted.
    pub fn add_dir_tree(&mut self, dir: &Path, image_dir: &str) -> Result<&mut Self, ImageError> {
        let root = image_path(image_dir)?;
        let meta = fs::metadata(dir)
            .map_err(|e| ImageError::io(format!("reading {}", dir.display()), e))?;
        if !meta.is_dir() {
            return Err(ImageError::Build(format!(
                "{} is not a directory",
                dir.display()
            )));
        }
        self.add_parents(&root);
        self.entries.insert(root.clone(), Source::Dir);
        self.walk(dir, &root)?;
        Ok(self)
    }

    fn walk(&mut self, dir: &Path, image_dir: &str) -> Result<(), ImageError> {
        let read = fs::read_dir(dir)
            .map_err(|e| ImageError::io(format!("listing {}", dir.display()), e))?;
        for entry in read {
            let entry =
                entry.map_err(|e| ImageError::io(format!("listing {}", dir.display()), e))?;
            let name = entry.file_name();
            let name = name.to_str().ok_or_else(|| {
                ImageError::Build(format!(
                    "{}: file name is not UTF-8",
                    entry.path().display()
                ))
            })?;
            let host = entry.path();
            let target = image_path(&format!("{image_dir}/{name}"))?;
            let meta = fs::symlink_metadata(&host)
                .map_err(|e| ImageError::io(format!("reading {}", host.display()), e))?;
            if meta.is_dir() {
                self.entries.insert(target.clone(), Source::Dir);
                self.walk(&host, &target)?;
            } else if meta.is_file() {
                self.entries.insert(
                    target,
                    Source::File {
                        path: host,
                        executable: meta.permissions().mode() & 0o111 != 0,
                    },
                );
            } else {
                return Err(ImageError::Build(format!(
                    "{}: only regular files and directories can go into a layer (symlinks, devices and sockets are refused)",
                    host.display()
                )));
            }
        }
        Ok(())
    }

    /// Adds (or replaces) the file at `image_path` with a host file's content.
    pub fn add_file(&mut self, image_path_str: &str, host: &Path) -> Result<&mut Self, ImageError> {
        let path = image_path(image_path_str)?;
        let meta = fs::metadata(host)
            .map_err(|e| ImageError::io(format!("reading {}", host.display()), e))?;
        if !meta.is_file() {
            return Err(ImageError::Build(format!(
                "{} is not a regular file",
                host.display()
            )));
        }
        self.add_parents(&path);
        self.entries.insert(
            path,
            Source::File {
                path: host.to_path_buf(),
                executable: meta.permissions().mode() & 0o111 != 0,
            },
        );
        Ok(self)
    }

    /// Adds (or replaces) the file at `image_path` with `data` (mode 0644).
    pub fn add_bytes(
        &mut self,
        image_path_str: &str,
        data: impl Into<Vec<u8>>,
    ) -> Result<&mut Self, ImageError> {
        let path = image_path(image_path_str)?;
        self.add_parents(&path);
        self.entries.insert(
            path,
            Source::Bytes {
                data: data.into(),
                executable: false,
            },
        );
        Ok(self)
    }

    /// Hides `image_path` (file or directory) from lower layers.
    pub fn remove(&mut self, image_path_str: &str) -> Result<&mut Self, ImageError> {
        let path = image_path(image_path_str)?;
        let (parent, name) = match path.rsplit_once('/') {
            Some((p, n)) => (Some(p), n),
            None => (None, path.as_str()),
        };
        let marker = match parent {
            Some(p) => format!("{p}/.wh.{name}"),
            None => format!(".wh.{name}"),
        };
        // No parent entries: a whiteout only matters where lower layers have the parent,
        // and re-declaring it (say `/tmp`, mode 1777) would change its mode.
        self.entries.insert(marker, Source::Whiteout);
        Ok(self)
    }

    /// Hides everything lower layers put in directory `image_dir`, keeping this layer's
    /// own entries there: how a rebuilt `/configs` replaces the old one.
    pub fn replace_dir(&mut self, image_dir: &str) -> Result<&mut Self, ImageError> {
        let dir = image_path(image_dir)?;
        self.add_parents(&format!("{dir}/x"));
        self.entries
            .insert(format!("{dir}/.wh..wh..opq"), Source::Opaque);
        Ok(self)
    }

    /// Whether this content is large enough (say a whole sqlite index) to be worth
    /// compressing across threads. Decided from the content alone, so a layer's bytes
    /// never depend on the machine that built it.
    fn is_large(&self) -> Result<bool, ImageError> {
        let mut total: u64 = 0;
        for source in self.entries.values() {
            total += match source {
                Source::File { path, .. } => fs::metadata(path)
                    .map_err(|e| ImageError::io(format!("reading {}", path.display()), e))?
                    .len(),
                Source::Bytes { data, .. } => data.len() as u64,
                Source::Dir | Source::Whiteout | Source::Opaque => 0,
            };
            if total >= PARALLEL_COMPRESSION_THRESHOLD {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Writes the layer as a gzip tar blob into `cache`. Blocking: call from
    /// `spawn_blocking` in async code.
    pub fn write_to(&self, cache: &BlobCache) -> Result<BuiltLayer, ImageError> {
        if self.entries.is_empty() {
            return Err(ImageError::Build("a layer needs at least one entry".into()));
        }
        let tmp = cache.temp_file()?;
        let compressed = HashingWriter::new(tmp);
        let gz = if self.is_large()? {
            let threads = std::thread::available_parallelism()
                .map_or(1, usize::from)
                .min(MAX_COMPRESSION_THREADS);
            Gzip::Parallel(ParallelGzWriter::new(
                compressed,
                Compression::new(FAST_LEVEL),
                threads,
            ))
        } else {
            Gzip::Plain(GzEncoder::new(compressed, Compression::default()))
        };
        let uncompressed = HashingWriter::new(gz);
        let mut tar = tar::Builder::new(uncompressed);
        tar.mode(tar::HeaderMode::Deterministic);
        let werr = |e: std::io::Error| ImageError::io("writing layer", e);
        // Component-wise order puts parents before children; within a directory,
        // whiteout markers come first so they never hide a sibling of their own layer,
        // even in an extractor that applies entries naively in order.
        let mut ordered: Vec<(&String, &Source)> = self.entries.iter().collect();
        ordered.sort_by_cached_key(|(path, source)| {
            let mut key: Vec<String> = path.split('/').map(str::to_owned).collect();
            if matches!(source, Source::Opaque | Source::Whiteout)
                && let Some(last) = key.last_mut()
            {
                last.insert(0, '\0');
            }
            key
        });
        for (path, source) in ordered {
            let mut header = tar::Header::new_gnu();
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(0);
            match source {
                Source::Dir => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_mode(0o755);
                    header.set_size(0);
                    tar.append_data(&mut header, format!("{path}/"), std::io::empty())
                        .map_err(werr)?;
                }
                Source::Whiteout | Source::Opaque => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_mode(0o644);
                    header.set_size(0);
                    tar.append_data(&mut header, path, std::io::empty())
                        .map_err(werr)?;
                }
                Source::Bytes { data, executable } => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_mode(if *executable { 0o755 } else { 0o644 });
                    header.set_size(data.len() as u64);
                    tar.append_data(&mut header, path, data.as_slice())
                        .map_err(werr)?;
                }
                Source::File {
                    path: host,
                    executable,
                } => {
                    let file = fs::File::open(host)
                        .map_err(|e| ImageError::io(format!("opening {}", host.display()), e))?;
                    let len = file
                        .metadata()
                        .map_err(|e| ImageError::io(format!("reading {}", host.display()), e))?
                        .len();
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_mode(if *executable { 0o755 } else { 0o644 });
                    header.set_size(len);
                    tar.append_data(&mut header, path, std::io::Read::take(file, len))
                        .map_err(werr)?;
                }
            }
        }
        let uncompressed = tar.into_inner().map_err(werr)?;
        let (gz, diff_id, _) = uncompressed.finish();
        let compressed = match gz {
            Gzip::Plain(gz) => gz.finish(),
            Gzip::Parallel(gz) => gz.finish(),
        }
        .map_err(werr)?;
        let (tmp, digest, size) = compressed.finish();
        cache.commit(tmp, &digest, &digest, "new layer")?;
        cache.record_diff_id(&digest, &diff_id)?;
        Ok(BuiltLayer {
            digest,
            diff_id,
            size,
        })
    }
}

/// The gzip encoder a layer is written with.
enum Gzip<W: std::io::Write> {
    Plain(GzEncoder<W>),
    Parallel(ParallelGzWriter<W>),
}

impl<W: std::io::Write> std::io::Write for Gzip<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Gzip::Plain(w) => w.write(buf),
            Gzip::Parallel(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Gzip::Plain(w) => w.flush(),
            Gzip::Parallel(w) => w.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::LayerCompression;
    use crate::extract::{ExtractOptions, LayerFile, extract_layers};

    #[test]
    fn layers_are_deterministic_and_round_trip() {
        let src = tempfile::tempdir().unwrap();
        fs::create_dir_all(src.path().join("b/c")).unwrap();
        fs::write(src.path().join("b/c/z.json"), b"{}").unwrap();
        fs::write(src.path().join("a.yaml"), b"a: 1").unwrap();
        let cache_dir = tempfile::tempdir().unwrap();
        let cache = BlobCache::open(cache_dir.path()).unwrap();

        let mut content = LayerContent::new();
        content.add_dir_tree(src.path(), "/configs").unwrap();
        let one = content.write_to(&cache).unwrap();
        // Same content, different mtimes: same digests.
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(src.path().join("a.yaml"), b"a: 1").unwrap();
        let mut again = LayerContent::new();
        again.add_dir_tree(src.path(), "configs").unwrap();
        assert_eq!(again.write_to(&cache).unwrap(), one);

        let out = tempfile::tempdir().unwrap();
        let dest = out.path().join("x");
        fs::create_dir(&dest).unwrap();
        let layer = LayerFile {
            path: cache.path(&one.digest),
            compression: LayerCompression::Gzip,
            name: one.digest.to_string(),
            diff_id: Some(one.diff_id.to_string()),
        };
        extract_layers(&[layer], &dest, &ExtractOptions::default()).unwrap();
        assert_eq!(fs::read(dest.join("configs/b/c/z.json")).unwrap(), b"{}");
        assert_eq!(fs::read(dest.join("configs/a.yaml")).unwrap(), b"a: 1");
    }

    /// A layer over the parallel threshold: GNU gzip and tar (independent readers) must
    /// see one valid gzip stream whose tar matches the recorded `diff_id`.
    #[test]
    fn large_layers_are_standard_gzip() {
        use std::process::Command;
        let src = tempfile::tempdir().unwrap();
        // Two parallel chunks' worth of compressible, non-repeating text.
        let mut data = Vec::new();
        let mut x: u64 = 7;
        while data.len() < crate::parallel_gzip::CHUNK + (1 << 20) {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            data.extend_from_slice(format!("{:016x} {}\n", x >> 20, data.len()).as_bytes());
        }
        let host = src.path().join("index.db");
        fs::write(&host, &data).unwrap();
        let cache_dir = tempfile::tempdir().unwrap();
        let cache = BlobCache::open(cache_dir.path()).unwrap();
        let mut content = LayerContent::new();
        content.add_file("database/index.db", &host).unwrap();
        let built = content.write_to(&cache).unwrap();
        assert_eq!(content.write_to(&cache).unwrap(), built, "deterministic");

        let blob = cache.path(&built.digest);
        let tar = Command::new("gzip").arg("-dc").arg(&blob).output().unwrap();
        assert!(
            tar.status.success(),
            "gzip -dc: {}",
            String::from_utf8_lossy(&tar.stderr)
        );
        assert_eq!(Sha256Digest::of(&tar.stdout), built.diff_id);
        let out = tempfile::tempdir().unwrap();
        let status = Command::new("tar")
            .arg("-xzf")
            .arg(&blob)
            .arg("-C")
            .arg(out.path())
            .status()
            .unwrap();
        assert!(status.success());
        assert!(fs::read(out.path().join("database/index.db")).unwrap() == data);
    }

    #[test]
    fn bad_image_paths_are_refused() {
        let mut c = LayerContent::new();
        assert!(c.add_bytes("../x", "y").is_err());
        assert!(c.add_bytes("/", "y").is_err());
        assert!(c.add_bytes("a/.wh.b", "y").is_err());
        assert!(
            c.write_to(&BlobCache::open(tempfile::tempdir().unwrap().path()).unwrap())
                .is_err()
        );
    }
}
