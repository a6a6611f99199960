//! Reading a few directories of an image into memory instead of onto disk: for small
//! images such as bundles, where creating and deleting a temp tree per image cost more than
//! the parsing. The entry policy is [`super::extract_layers`]' with the wanted directories
//! as its subtree (both classify entries with [`super::entry::LayerStream`]): the same path
//! checks, limits and errors, hard links refused, devices skipped, OCI whiteouts applied.
//! Symbolic links are kept only when they lead (within the image) to a file that was read.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;

use super::entry::{Entry, Kind, LayerStream};
use super::{ExtractError, ExtractLimits, LayerFile, normalise_path};

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
        stream: LayerStream::new(limits),
        wanted,
        nodes: BTreeMap::new(),
        current_layer: HashSet::new(),
    };
    for layer in layers {
        reader.apply_layer(layer)?;
    }
    reader.into_files()
}

enum Node {
    Dir,
    File(Vec<u8>),
    Link(Link),
    /// Something outside the wanted directories that is not a directory.
    Other,
}

/// A symbolic link, with what its error needs should it not lead to a file.
struct Link {
    /// Target components, already resolved against the link's directory.
    resolved: Vec<String>,
    /// The target as written in the image.
    target: String,
    /// The link's path as written in the layer.
    shown: String,
    layer: String,
}

impl Link {
    fn not_to_file(&self) -> ExtractError {
        ExtractError::LinkNotToFile {
            layer: self.layer.clone(),
            entry: self.shown.clone(),
            target: self.target.clone(),
            resolved: format!("/{}", self.resolved.join("/")),
        }
    }
}

struct MemoryReader<'a> {
    stream: LayerStream<'a>,
    wanted: Vec<Vec<String>>,
    /// What the layers define so far, by path components; file contents are kept only
    /// under the wanted directories.
    nodes: BTreeMap<Vec<String>, Node>,
    current_layer: HashSet<Vec<String>>,
}

impl MemoryReader<'_> {
    fn apply_layer(&mut self, layer: &LayerFile) -> Result<(), ExtractError> {
        self.current_layer.clear();
        let mut layer = self.stream.open(layer)?;
        for entry in layer.entries()? {
            self.apply_entry(entry?)?;
        }
        layer.finish().map(drop)
    }

    fn is_wanted(&self, comps: &[String]) -> bool {
        self.wanted
            .iter()
            .any(|w| comps.len() > w.len() && comps[..w.len()] == w[..])
    }

    fn apply_entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<(), ExtractError> {
        let item = match self.stream.classify(&entry)? {
            Entry::Root => return Ok(()),
            Entry::Whiteout { path, opaque } => {
                // Only lower layers' content goes; this layer's own entries stay.
                if opaque {
                    self.remove_lower_under(&path);
                } else if !self.current_layer.contains(&path) {
                    self.nodes.remove(&path);
                    self.remove_lower_under(&path);
                }
                return Ok(());
            }
            Entry::Item(item) => item,
        };
        let wanted = self.is_wanted(&item.comps);
        let node = match item.kind {
            Kind::Dir => Node::Dir,
            // Outside the wanted directories a file or link only matters by its place: it
            // may replace a wanted directory (or one of its parents).
            Kind::File { .. } | Kind::Symlink(_) if !wanted => Node::Other,
            Kind::File { size, .. } => {
                let max = self.stream.limits.max_file_bytes;
                if size > max {
                    return Err(self.stream.file_too_large(&item.shown, size));
                }
                let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
                (&mut entry)
                    .take(max + 1)
                    .read_to_end(&mut data)
                    .map_err(|e| self.stream.stream_error(e))?;
                Node::File(data)
            }
            Kind::Symlink(target) => Node::Link(Link {
                resolved: self
                    .stream
                    .resolve_link(&item.comps, &target, &item.shown)?,
                target: String::from_utf8_lossy(&target).into_owned(),
                shown: item.shown.clone(),
                layer: self.stream.layer.clone(),
            }),
            Kind::Special => return Ok(()),
            // Refused where they would be used, as extraction refuses them in its subtree.
            Kind::HardLink(_) | Kind::Unsupported(_) if !wanted => Node::Other,
            Kind::HardLink(target) => return Err(self.stream.hard_link(&item.shown, &target)),
            Kind::Unsupported(kind) => return Err(self.stream.unsupported(&item.shown, &kind)),
        };
        // A directory keeps what is under it; anything else replaces a lower directory.
        if !matches!(node, Node::Dir) {
            self.remove_lower_under(&item.comps);
        }
        self.nodes.insert(item.comps.clone(), node);
        self.current_layer.insert(item.comps);
        Ok(())
    }

    /// Removes what lower layers defined strictly under `dir`. The paths under a directory
    /// are one contiguous run of the map, right after the directory itself.
    fn remove_lower_under(&mut self, dir: &[String]) {
        let lower: Vec<Vec<String>> = self
            .nodes
            .range(dir.to_vec()..)
            .map(|(path, _)| path)
            .skip_while(|path| path.as_slice() == dir)
            .take_while(|path| path.len() > dir.len() && path[..dir.len()] == *dir)
            .filter(|path| !self.current_layer.contains(*path))
            .cloned()
            .collect();
        for path in lower {
            self.nodes.remove(&path);
        }
    }

    /// The wanted regular files, links replaced by the file they lead to.
    fn into_files(self) -> Result<BTreeMap<String, Vec<u8>>, ExtractError> {
        let mut out = BTreeMap::new();
        for (path, node) in &self.nodes {
            if !self.is_wanted(path) {
                continue;
            }
            let data = match node {
                Node::Dir | Node::Other => continue,
                Node::File(data) => data,
                Node::Link(link) => {
                    let mut target = &link.resolved;
                    let mut hops = 0;
                    loop {
                        match self.nodes.get(target) {
                            Some(Node::File(data)) if self.is_wanted(target) => break data,
                            Some(Node::Link(next)) if hops < MAX_LINK_HOPS => {
                                hops += 1;
                                target = &next.resolved;
                            }
                            _ => return Err(link.not_to_file()),
                        }
                    }
                }
            };
            out.insert(path.join("/"), data.clone());
        }
        Ok(out)
    }
}
