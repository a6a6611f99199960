//! Safe layer extraction: our own entry policy over the sync `tar` crate (never
//! `Archive::unpack`), OCI whiteouts when flattening several layers, and limits against
//! decompression bombs. This is plain sync code; async callers run it in `spawn_blocking`.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use entry::{Entry, Kind as EntryKind, LayerStream};

/// How a layer blob is compressed, from its media type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerCompression {
    None,
    Gzip,
}

/// Upper bounds for one extraction (all layers together).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtractLimits {
    /// Uncompressed tar bytes read across all layers.
    pub max_total_bytes: u64,
    /// Size of any single file.
    pub max_file_bytes: u64,
    /// Tar entries across all layers.
    pub max_entries: u64,
    /// Bytes in one entry path or link target.
    pub max_path_len: usize,
}

impl Default for ExtractLimits {
    fn default() -> Self {
        ExtractLimits {
            max_total_bytes: 8 << 30,
            max_file_bytes: 2 << 30,
            max_entries: 1_000_000,
            max_path_len: 4096,
        }
    }
}

/// What to do with symbolic links.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SymlinkPolicy {
    /// Create relative links whose target stays inside the extraction root; refuse others.
    #[default]
    AllowWithinRoot,
    /// Leave every symlink out.
    Skip,
    /// Refuse any symlink.
    Reject,
}

#[derive(Clone, Debug, Default)]
pub struct ExtractOptions {
    pub limits: ExtractLimits,
    /// Extract only this directory of the image (e.g. `/configs`); its contents land
    /// directly in the destination.
    pub subtree: Option<String>,
    pub symlinks: SymlinkPolicy,
    /// Refuse any regular file whose first [`TEXT_SNIFF_BYTES`] are not text (a NUL byte, or
    /// invalid UTF-8) before writing any of it. For directories whose every file is parsed
    /// as JSON or YAML, such as a catalog's configs directory: binary content then fails at
    /// its first bytes instead of after being written whole. Off by default.
    pub require_text: bool,
}

/// How much of a file [`ExtractOptions::require_text`] looks at.
pub const TEXT_SNIFF_BYTES: usize = 8 << 10;

/// One layer to apply: a tar stream on disk and how it is compressed. `name` (usually its
/// digest) appears in errors.
#[derive(Clone, Debug)]
pub struct LayerFile {
    pub path: PathBuf,
    pub compression: LayerCompression,
    pub name: String,
    /// The `sha256:` digest the uncompressed stream must have (the config's
    /// `rootfs.diff_ids` entry); checked once the layer has been read to its end.
    pub diff_id: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtractStats {
    pub entries: u64,
    pub files: u64,
    pub bytes: u64,
    pub skipped_special: u64,
    pub skipped_symlinks: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("layer {layer}: entry {entry:?} has a `..` component (path traversal)")]
    PathTraversal { layer: String, entry: String },
    #[error("layer {layer}: entry {entry:?} is an absolute path")]
    AbsolutePath { layer: String, entry: String },
    #[error("layer {layer}: entry {entry:?} has an invalid path: {reason}")]
    InvalidPath {
        layer: String,
        entry: String,
        reason: String,
    },
    #[error(
        "layer {layer}: entry {entry:?} is a hard link (to {target:?}); hard links are refused"
    )]
    HardLink {
        layer: String,
        entry: String,
        target: String,
    },
    #[error("layer {layer}: symlink {entry:?} -> {target:?} escapes the extraction root")]
    LinkEscapes {
        layer: String,
        entry: String,
        target: String,
    },
    /// `resolved` is where the target points inside the image, `/` for its root.
    #[error(
        "layer {layer}: symlink {entry:?} -> {target:?} does not lead to a file read from the image: it points at {resolved:?}"
    )]
    LinkNotToFile {
        layer: String,
        entry: String,
        target: String,
        resolved: String,
    },
    #[error(
        "layer {layer}: symlink {entry:?} -> {target:?} refused: symlinks are not allowed here"
    )]
    SymlinkRefused {
        layer: String,
        entry: String,
        target: String,
    },
    #[error(
        "layer {layer}: entry {entry:?} would be written through the symlink {component:?}; refusing to follow it"
    )]
    ThroughSymlink {
        layer: String,
        entry: String,
        component: String,
    },
    #[error("layer {layer}: entry {entry:?} has unsupported type {kind}")]
    UnsupportedEntry {
        layer: String,
        entry: String,
        kind: String,
    },
    #[error("layer {layer}: file {entry:?} is {size} bytes, over the {limit}-byte per-file limit")]
    FileTooLarge {
        layer: String,
        entry: String,
        size: u64,
        limit: u64,
    },
    #[error("layer {layer}: more than {limit} entries in the image (limit)")]
    TooManyEntries { layer: String, limit: u64 },
    #[error(
        "layer {layer}: the image expands past {limit} bytes (limit on total uncompressed size)"
    )]
    TotalSizeExceeded { layer: String, limit: u64 },
    #[error(
        "layer {layer}: wrong diff_id: the uncompressed layer is {actual}, but the image config's rootfs.diff_ids lists {expected}"
    )]
    DiffIdMismatch {
        layer: String,
        expected: String,
        actual: String,
    },
    /// `entry` is the file's path in the image.
    #[error("{entry:?} is not text ({detail}); a catalog file must be JSON or YAML")]
    NotText {
        layer: String,
        entry: String,
        detail: String,
    },
    #[error("layer {layer}: unreadable tar stream: {detail}")]
    Corrupt { layer: String, detail: String },
    #[error("the image has no {subtree:?} directory")]
    SubtreeMissing { subtree: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> ExtractError {
    let context = context.into();
    move |source| ExtractError::Io { context, source }
}

/// Applies `layers` in order onto `dest` (an existing, empty directory), flattening them
/// with OCI whiteouts.
pub fn extract_layers(
    layers: &[LayerFile],
    dest: &Path,
    options: &ExtractOptions,
) -> Result<ExtractStats, ExtractError> {
    let subtree = match &options.subtree {
        Some(s) => {
            let comps = normalise_path(s.as_bytes(), "subtree", options.limits.max_path_len, true)?;
            Some(comps)
        }
        None => None,
    };
    let mut ex = Extractor {
        dest,
        options,
        subtree,
        stats: ExtractStats::default(),
        stream: LayerStream::new(&options.limits),
        subtree_seen: false,
        current_layer: HashSet::new(),
    };
    for layer in layers {
        ex.apply_layer(layer)?;
    }
    if let (Some(s), false) = (&options.subtree, ex.subtree_seen) {
        return Err(ExtractError::SubtreeMissing { subtree: s.clone() });
    }
    ex.stats.entries = ex.stream.entries;
    Ok(ex.stats)
}

/// Reads `layer` to its end without extracting anything, checking its `diff_id` when it
/// has one, and returns the digest of its uncompressed stream (for a layer copied into a
/// new image but never read otherwise).
pub(crate) fn verify_layer(
    layer: &LayerFile,
    limits: &ExtractLimits,
) -> Result<String, ExtractError> {
    LayerStream::new(limits).open(layer)?.finish()
}

struct Extractor<'a> {
    dest: &'a Path,
    options: &'a ExtractOptions,
    subtree: Option<Vec<String>>,
    stats: ExtractStats,
    stream: LayerStream<'a>,
    subtree_seen: bool,
    /// Paths (relative to dest) written by the layer being applied: whiteouts only remove
    /// what lower layers put there.
    current_layer: HashSet<PathBuf>,
}

enum Kind {
    Dir,
    File { executable: bool, size: u64 },
    Symlink(String),
}

impl Extractor<'_> {
    fn apply_layer(&mut self, layer: &LayerFile) -> Result<(), ExtractError> {
        self.current_layer.clear();
        let mut layer = self.stream.open(layer)?;
        for entry in layer.entries()? {
            self.apply_entry(entry?)?;
        }
        layer.finish().map(drop)
    }

    fn apply_entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<(), ExtractError> {
        let item = match self.stream.classify(&entry)? {
            Entry::Root => return Ok(()),
            Entry::Whiteout { path, opaque } => return self.whiteout(&path, opaque),
            Entry::Item(item) => item,
        };
        let Some(rel) = self.map_into_dest(&item.comps) else {
            return Ok(()); // outside the requested subtree
        };
        let shown = item.shown;
        let kind = match item.kind {
            EntryKind::Dir => Kind::Dir,
            EntryKind::File { executable, size } => {
                if size > self.options.limits.max_file_bytes {
                    return Err(self.stream.file_too_large(&shown, size));
                }
                Kind::File { executable, size }
            }
            EntryKind::Symlink(target) => {
                let target_text = String::from_utf8_lossy(&target).into_owned();
                match self.options.symlinks {
                    SymlinkPolicy::Skip => {
                        self.stats.skipped_symlinks += 1;
                        tracing::debug!(entry = %shown, "skipping symlink");
                        return Ok(());
                    }
                    SymlinkPolicy::Reject => {
                        return Err(ExtractError::SymlinkRefused {
                            layer: self.stream.layer.clone(),
                            entry: shown,
                            target: target_text,
                        });
                    }
                    SymlinkPolicy::AllowWithinRoot => {}
                }
                // Judged against the extraction root, which is the subtree when there is one.
                let rel_comps: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                self.stream.resolve_link(&rel_comps, &target, &shown)?;
                Kind::Symlink(target_text)
            }
            EntryKind::Special => {
                self.stats.skipped_special += 1;
                tracing::debug!(entry = %shown, "skipping device or fifo");
                return Ok(());
            }
            EntryKind::HardLink(target) => return Err(self.stream.hard_link(&shown, &target)),
            EntryKind::Unsupported(kind) => return Err(self.stream.unsupported(&shown, &kind)),
        };
        let limits = &self.options.limits;

        self.subtree_seen = true;
        if rel.as_os_str().is_empty() {
            // The subtree directory itself.
            return Ok(());
        }
        self.prepare_parents(&rel, &shown)?;
        let target = self.dest.join(&rel);
        match kind {
            Kind::Dir => match fs::symlink_metadata(&target) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    remove_any(&target)?;
                    create_dir(&target)?;
                }
                Err(_) => create_dir(&target)?,
            },
            Kind::File { executable, size } => {
                let head = if self.options.require_text {
                    self.text_head(&mut entry, size, &rel)?
                } else {
                    Vec::new()
                };
                if fs::symlink_metadata(&target).is_ok() {
                    remove_any(&target)?;
                }
                // create_new never follows a symlink at the final component.
                let mut out = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(if executable { 0o755 } else { 0o644 })
                    .open(&target)
                    .map_err(io_err(format!("creating {}", target.display())))?;
                out.write_all(&head)
                    .map_err(io_err(format!("writing {}", target.display())))?;
                let rest = (limits.max_file_bytes + 1).saturating_sub(head.len() as u64);
                let copied = head.len() as u64
                    + io::copy(&mut (&mut entry).take(rest), &mut out)
                        .map_err(|e| self.stream.stream_error(e))?;
                if copied > limits.max_file_bytes {
                    return Err(self.stream.file_too_large(&shown, copied));
                }
                // Explicitly, so the umask cannot change the normalised mode.
                out.set_permissions(fs::Permissions::from_mode(if executable {
                    0o755
                } else {
                    0o644
                }))
                .map_err(io_err(format!("setting mode on {}", target.display())))?;
                self.stats.files += 1;
                self.stats.bytes += copied;
            }
            Kind::Symlink(link) => {
                if fs::symlink_metadata(&target).is_ok() {
                    remove_any(&target)?;
                }
                std::os::unix::fs::symlink(&link, &target)
                    .map_err(io_err(format!("creating symlink {}", target.display())))?;
            }
        }
        self.current_layer.insert(rel);
        Ok(())
    }

    /// The first bytes of a file entry of `size` bytes, read before anything is written and
    /// refused unless they are text.
    fn text_head<R: Read>(
        &self,
        entry: &mut tar::Entry<'_, R>,
        size: u64,
        rel: &Path,
    ) -> Result<Vec<u8>, ExtractError> {
        let mut head = Vec::with_capacity(TEXT_SNIFF_BYTES.min(size as usize));
        entry
            .take(TEXT_SNIFF_BYTES as u64)
            .read_to_end(&mut head)
            .map_err(|e| self.stream.stream_error(e))?;
        let whole = (head.len() as u64) >= size;
        match not_text(&head, whole) {
            None => Ok(head),
            Some(detail) => Err(ExtractError::NotText {
                layer: self.stream.layer.clone(),
                entry: self.image_path(rel),
                detail,
            }),
        }
    }

    /// Image path components → path relative to dest, or None when outside the subtree.
    fn map_into_dest(&self, comps: &[String]) -> Option<PathBuf> {
        match &self.subtree {
            None => Some(comps.iter().collect()),
            Some(sub) => {
                if comps.len() >= sub.len() && comps[..sub.len()] == sub[..] {
                    Some(comps[sub.len()..].iter().collect())
                } else {
                    None
                }
            }
        }
    }

    /// Removes lower-layer content: `target` itself, or (opaque) everything inside it.
    fn whiteout(&mut self, target: &[String], opaque: bool) -> Result<(), ExtractError> {
        let rel: PathBuf = match &self.subtree {
            None => target.iter().collect(),
            Some(sub) => {
                if target.len() >= sub.len() && target[..sub.len()] == sub[..] {
                    target[sub.len()..].iter().collect()
                } else if sub.len() > target.len() && sub[..target.len()] == target[..] {
                    // The subtree or one of its ancestors was removed or made opaque.
                    return self.clear_lower(Path::new(""));
                } else {
                    return Ok(());
                }
            }
        };
        if opaque {
            if !rel.as_os_str().is_empty() && !self.is_real_dir(&rel) {
                return Ok(());
            }
            return self.clear_lower(&rel);
        }
        if rel.as_os_str().is_empty() {
            return self.clear_lower(&rel);
        }
        if self.current_layer.contains(&rel) || !self.parents_are_real_dirs(&rel) {
            return Ok(());
        }
        let path = self.dest.join(&rel);
        if fs::symlink_metadata(&path).is_ok() {
            remove_any(&path)?;
        }
        Ok(())
    }

    /// Deletes everything under `rel` that the current layer did not write.
    fn clear_lower(&self, rel: &Path) -> Result<(), ExtractError> {
        if !rel.as_os_str().is_empty() && !self.parents_are_real_dirs(rel) {
            return Ok(());
        }
        let dir = self.dest.join(rel);
        let Ok(read) = fs::read_dir(&dir) else {
            return Ok(());
        };
        for child in read {
            let child = child.map_err(io_err(format!("listing {}", dir.display())))?;
            let child_rel = rel.join(child.file_name());
            let path = self.dest.join(&child_rel);
            if self.current_layer.contains(&child_rel) {
                if fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                    self.clear_lower(&child_rel)?;
                }
            } else {
                remove_any(&path)?;
            }
        }
        Ok(())
    }

    fn is_real_dir(&self, rel: &Path) -> bool {
        self.parents_are_real_dirs(rel)
            && fs::symlink_metadata(self.dest.join(rel)).is_ok_and(|m| m.is_dir())
    }

    fn parents_are_real_dirs(&self, rel: &Path) -> bool {
        let mut cur = self.dest.to_path_buf();
        let comps: Vec<_> = rel.components().collect();
        for c in &comps[..comps.len().saturating_sub(1)] {
            cur.push(c);
            match fs::symlink_metadata(&cur) {
                Ok(m) if m.is_dir() => {}
                _ => return false,
            }
        }
        true
    }

    /// `rel` (below the extraction root) as a path in the image: the subtree is part of it.
    fn image_path(&self, rel: &Path) -> String {
        let rel = rel.components().map(|c| c.as_os_str().to_string_lossy());
        let mut parts: Vec<String> = self.subtree.clone().unwrap_or_default();
        parts.extend(rel.map(|c| c.into_owned()));
        parts.join("/")
    }

    /// Creates missing parent directories, refusing to pass through a symlink on disk.
    fn prepare_parents(&self, rel: &Path, shown: &str) -> Result<(), ExtractError> {
        let comps: Vec<_> = rel.components().collect();
        let mut cur = self.dest.to_path_buf();
        for c in &comps[..comps.len().saturating_sub(1)] {
            cur.push(c);
            match fs::symlink_metadata(&cur) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(ExtractError::ThroughSymlink {
                        layer: self.stream.layer.clone(),
                        entry: shown.to_owned(),
                        component: self.image_path(cur.strip_prefix(self.dest).unwrap_or(&cur)),
                    });
                }
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    // A lower layer's file where this layer needs a directory.
                    remove_any(&cur)?;
                    create_dir(&cur)?;
                }
                Err(_) => create_dir(&cur)?,
            }
        }
        Ok(())
    }
}

fn create_dir(path: &Path) -> Result<(), ExtractError> {
    fs::create_dir(path).map_err(io_err(format!("creating directory {}", path.display())))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .map_err(io_err(format!("setting mode on {}", path.display())))
}

/// Removes a file, symlink (not its target) or directory tree.
fn remove_any(path: &Path) -> Result<(), ExtractError> {
    let meta =
        fs::symlink_metadata(path).map_err(io_err(format!("inspecting {}", path.display())))?;
    if meta.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    }
    .map_err(io_err(format!("removing {}", path.display())))
}

/// Why `head` (the start of a file, or all of it when `whole`) is not text, if it is not: a
/// NUL byte, or bytes that are not UTF-8. A character cut by the end of a partial head is
/// not a fault.
fn not_text(head: &[u8], whole: bool) -> Option<String> {
    if let Some(at) = head.iter().position(|b| *b == 0) {
        return Some(format!("NUL byte at offset {at}"));
    }
    match std::str::from_utf8(head) {
        Ok(_) => None,
        Err(e) if e.error_len().is_none() && !whole => None,
        Err(e) => Some(format!("invalid UTF-8 at offset {}", e.valid_up_to())),
    }
}

/// Splits a tar path into safe components: no NUL, UTF-8, relative, no `..`.
/// `allow_absolute` is for caller-given subtrees like `/configs`.
fn normalise_path(
    raw: &[u8],
    layer: &str,
    max_len: usize,
    allow_absolute: bool,
) -> Result<Vec<String>, ExtractError> {
    let lossy = || String::from_utf8_lossy(raw).into_owned();
    let invalid = |reason: &str| ExtractError::InvalidPath {
        layer: layer.to_owned(),
        entry: lossy(),
        reason: reason.to_owned(),
    };
    if raw.contains(&0) {
        return Err(invalid("contains a NUL byte"));
    }
    if raw.len() > max_len {
        return Err(invalid(&format!("longer than {max_len} bytes")));
    }
    let text = std::str::from_utf8(raw).map_err(|_| invalid("not valid UTF-8"))?;
    if text.starts_with('/') && !allow_absolute {
        return Err(ExtractError::AbsolutePath {
            layer: layer.to_owned(),
            entry: lossy(),
        });
    }
    let mut comps = Vec::new();
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(ExtractError::PathTraversal {
                    layer: layer.to_owned(),
                    entry: lossy(),
                });
            }
            p => comps.push(p.to_owned()),
        }
    }
    Ok(comps)
}

mod entry;
mod memory;
pub use memory::read_layers;

#[cfg(test)]
mod tests;
