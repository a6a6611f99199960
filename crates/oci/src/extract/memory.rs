//! Reading a few directories of an image into memory instead of onto disk: for small
//! images such as bundles, where creating and deleting a temp tree per image cost more than
//! the parsing. The entry policy is [`super::extract_layers`]': the same path checks,
//! limits and errors, hard links refused, devices skipped, OCI whiteouts applied.
//! Symbolic links are kept only when they lead (within the image) to a file that was read.

use std::cell::Cell;
use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::{self, Read};
use std::rc::Rc;

use flate2::read::MultiGzDecoder;

use super::{
    CountingReader, ExtractError, ExtractLimits, LayerFile, OPAQUE_WHITEOUT, WHITEOUT_PREFIX,
    io_err, normalise_path,
};
use crate::manifest::LayerCompression;

/// Links followed through other links before giving up (a loop, or a pathological chain).
const MAX_LINK_HOPS: usize = 16;

/// The regular files under `dirs` (image paths such as `manifests`) of the flattened
/// `layers`, keyed by their path in the image (`manifests/csv.yaml`).
pub fn read_layers(
    layers: &[LayerFile],
    dirs: &[&str],
    limits: &ExtractLimits,
) -> Result<BTreeMap<String, Vec<u8>>, ExtractError> {
    let wanted = dirs
        .iter()
        .map(|d| normalise_path(d.as_bytes(), "dirs", limits.max_path_len, true))
        .collect::<Result<Vec<_>, _>>()?;
    let mut reader = MemoryReader {
        limits,
        wanted,
        nodes: BTreeMap::new(),
        current_layer: HashSet::new(),
        layer_name: String::new(),
        entries: 0,
        total_read: Rc::new(Cell::new(0)),
    };
    for layer in layers {
        reader.apply_layer(layer)?;
    }
    reader.into_files()
}

enum Node {
    Dir,
    File(Vec<u8>),
    /// Target components, already resolved against the link's directory.
    Link(Vec<String>),
}

struct MemoryReader<'a> {
    limits: &'a ExtractLimits,
    wanted: Vec<Vec<String>>,
    /// Everything the layers define so far, by path components (parents before children).
    nodes: BTreeMap<Vec<String>, Node>,
    current_layer: HashSet<Vec<String>>,
    layer_name: String,
    entries: u64,
    total_read: Rc<Cell<u64>>,
}

impl MemoryReader<'_> {
    fn apply_layer(&mut self, layer: &LayerFile) -> Result<(), ExtractError> {
        self.layer_name = layer.name.clone();
        self.current_layer.clear();
        let file = fs::File::open(&layer.path)
            .map_err(io_err(format!("opening layer {}", layer.path.display())))?;
        let reader: Box<dyn Read> = match layer.compression {
            LayerCompression::Gzip => Box::new(MultiGzDecoder::new(io::BufReader::new(file))),
            LayerCompression::None => Box::new(io::BufReader::new(file)),
        };
        let counted = CountingReader {
            inner: reader,
            total: self.total_read.clone(),
            limit: self.limits.max_total_bytes,
        };
        let mut archive = tar::Archive::new(counted);
        let entries = archive.entries().map_err(|e| self.stream_error(e))?;
        for entry in entries {
            let entry = entry.map_err(|e| self.stream_error(e))?;
            self.apply_entry(entry)?;
        }
        Ok(())
    }

    fn stream_error(&self, e: io::Error) -> ExtractError {
        if self.total_read.get() > self.limits.max_total_bytes {
            ExtractError::TotalSizeExceeded {
                layer: self.layer_name.clone(),
                limit: self.limits.max_total_bytes,
            }
        } else {
            ExtractError::Corrupt {
                layer: self.layer_name.clone(),
                detail: e.to_string(),
            }
        }
    }

    fn is_wanted(&self, comps: &[String]) -> bool {
        self.wanted
            .iter()
            .any(|w| comps.len() > w.len() && comps[..w.len()] == w[..])
    }

    fn apply_entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<(), ExtractError> {
        let limits = self.limits;
        self.entries += 1;
        if self.entries > limits.max_entries {
            return Err(ExtractError::TooManyEntries {
                layer: self.layer_name.clone(),
                limit: limits.max_entries,
            });
        }
        let raw_path = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw_path).into_owned();
        let comps = normalise_path(&raw_path, &self.layer_name, limits.max_path_len, false)?;
        let Some(file_name) = comps.last().cloned() else {
            return Ok(()); // the layer root itself
        };

        if file_name == OPAQUE_WHITEOUT {
            self.remove_lower_under(&comps[..comps.len() - 1]);
            return Ok(());
        }
        if let Some(hidden) = file_name.strip_prefix(WHITEOUT_PREFIX) {
            if hidden.is_empty() || hidden == "." || hidden == ".." {
                return Err(ExtractError::InvalidPath {
                    layer: self.layer_name.clone(),
                    entry: shown,
                    reason: "malformed whiteout name".into(),
                });
            }
            let mut target = comps[..comps.len() - 1].to_vec();
            target.push(hidden.to_owned());
            if !self.current_layer.contains(&target) {
                self.nodes.remove(&target);
                self.remove_lower_under(&target);
            }
            return Ok(());
        }

        let header = entry.header();
        let node = match header.entry_type() {
            tar::EntryType::Directory => Node::Dir,
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let size = entry.size();
                if size > limits.max_file_bytes {
                    return Err(ExtractError::FileTooLarge {
                        layer: self.layer_name.clone(),
                        entry: shown,
                        size,
                        limit: limits.max_file_bytes,
                    });
                }
                if self.is_wanted(&comps) {
                    let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
                    (&mut entry)
                        .take(limits.max_file_bytes + 1)
                        .read_to_end(&mut data)
                        .map_err(|e| self.stream_error(e))?;
                    Node::File(data)
                } else {
                    // Only its place matters: it may replace a wanted directory.
                    Node::File(Vec::new())
                }
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| String::from_utf8_lossy(&t).into_owned())
                    .unwrap_or_default();
                return Err(ExtractError::HardLink {
                    layer: self.layer_name.clone(),
                    entry: shown,
                    target,
                });
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                Node::Link(self.resolve_link(&comps, &target, &shown)?)
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                return Ok(());
            }
            other => {
                return Err(ExtractError::UnsupportedEntry {
                    layer: self.layer_name.clone(),
                    entry: shown,
                    kind: format!("{other:?}"),
                });
            }
        };
        // A directory keeps what is under it; anything else replaces a lower directory.
        if !matches!(node, Node::Dir) {
            self.remove_lower_under(&comps);
        }
        self.nodes.insert(comps.clone(), node);
        self.current_layer.insert(comps);
        Ok(())
    }

    /// Removes what lower layers defined strictly under `dir`.
    fn remove_lower_under(&mut self, dir: &[String]) {
        let current = &self.current_layer;
        self.nodes.retain(|path, _| {
            !(path.len() > dir.len() && path[..dir.len()] == *dir) || current.contains(path)
        });
    }

    /// A symlink's target as image path components, judged lexically from the link's own
    /// directory; one that leaves the image root is refused as in extraction.
    fn resolve_link(
        &self,
        link: &[String],
        target: &[u8],
        shown: &str,
    ) -> Result<Vec<String>, ExtractError> {
        let escapes = || ExtractError::LinkEscapes {
            layer: self.layer_name.clone(),
            entry: shown.to_owned(),
            target: String::from_utf8_lossy(target).into_owned(),
        };
        let text = std::str::from_utf8(target).map_err(|_| ExtractError::InvalidPath {
            layer: self.layer_name.clone(),
            entry: shown.to_owned(),
            reason: "symlink target is not UTF-8".into(),
        })?;
        if text.is_empty() || text.contains('\0') || text.len() > self.limits.max_path_len {
            return Err(ExtractError::InvalidPath {
                layer: self.layer_name.clone(),
                entry: shown.to_owned(),
                reason: "symlink target is empty, too long or contains NUL".into(),
            });
        }
        if text.starts_with('/') {
            return Err(escapes());
        }
        let mut resolved: Vec<String> = link[..link.len() - 1].to_vec();
        for part in text.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    if resolved.pop().is_none() {
                        return Err(escapes());
                    }
                }
                p => resolved.push(p.to_owned()),
            }
        }
        Ok(resolved)
    }

    /// The wanted regular files, links replaced by the file they lead to.
    fn into_files(self) -> Result<BTreeMap<String, Vec<u8>>, ExtractError> {
        let mut out = BTreeMap::new();
        for (path, node) in &self.nodes {
            if !self.is_wanted(path) {
                continue;
            }
            let data = match node {
                Node::Dir => continue,
                Node::File(data) => data,
                Node::Link(first) => {
                    let mut target = first;
                    let mut hops = 0;
                    loop {
                        match self.nodes.get(target) {
                            Some(Node::File(data)) if self.is_wanted(target) => break data,
                            Some(Node::Link(next)) if hops < MAX_LINK_HOPS => {
                                hops += 1;
                                target = next;
                            }
                            _ => {
                                return Err(ExtractError::InvalidPath {
                                    layer: self.layer_name.clone(),
                                    entry: path.join("/"),
                                    reason: format!(
                                        "symlink to {} does not lead to a file read from the image",
                                        first.join("/")
                                    ),
                                });
                            }
                        }
                    }
                }
            };
            out.insert(path.join("/"), data.clone());
        }
        Ok(out)
    }
}
