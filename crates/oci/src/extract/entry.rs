//! Reading a layer's tar stream and deciding what each entry is: the part of the policy that
//! extraction to disk ([`super::extract_layers`]) and reading into memory
//! ([`super::read_layers`]) share, so both refuse and count the same things.

use std::cell::Cell;
use std::fs;
use std::io::{self, Read};
use std::rc::Rc;

use flate2::read::MultiGzDecoder;
use sha2::{Digest as _, Sha256};

use super::LayerCompression;
use super::{ExtractError, ExtractLimits, LayerFile, io_err, normalise_path};

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_WHITEOUT: &str = ".wh..wh..opq";

/// Counts decompressed bytes and fails once past the limit.
pub(super) struct CountingReader<R> {
    inner: R,
    total: Rc<Cell<u64>>,
    limit: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let total = self.total.get() + n as u64;
        self.total.set(total);
        if total > self.limit {
            return Err(io::Error::other("total uncompressed size limit exceeded"));
        }
        Ok(n)
    }
}

/// Hashes what is read through it: a layer's uncompressed stream, for its `diff_id`.
pub(super) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// A layer's decompressed stream as the tar reader sees it: hashed, then counted.
pub(super) type LayerReader = CountingReader<HashingReader<Box<dyn Read>>>;

/// The layers of one extraction or read, with the counters their limits apply to.
pub(super) struct LayerStream<'a> {
    pub limits: &'a ExtractLimits,
    /// Name of the layer being read, for errors.
    pub layer: String,
    pub entries: u64,
    total_read: Rc<Cell<u64>>,
}

/// One opened layer: its tar stream, the `diff_id` it must hash to, and how a read error
/// of it is reported.
pub(super) struct OpenLayer {
    archive: tar::Archive<LayerReader>,
    diff_id: Option<String>,
    errors: StreamErrors,
}

impl OpenLayer {
    /// The layer's entries, read errors already turned into [`ExtractError`]s.
    pub(super) fn entries(
        &mut self,
    ) -> Result<impl Iterator<Item = Result<tar::Entry<'_, LayerReader>, ExtractError>>, ExtractError>
    {
        let errors = &self.errors;
        let entries = self.archive.entries().map_err(|e| errors.of(e))?;
        Ok(entries.map(move |entry| entry.map_err(|e| errors.of(e))))
    }

    /// Reads the rest of the stream and checks the layer's `diff_id`. The tar reader stops
    /// at the first end-of-archive block; the digest covers everything after it as well
    /// (the second block, padding), so the rest is read too, still under the total-size
    /// limit. Call once the entries are done: only a layer read to its end is verified.
    /// Returns the digest it has.
    pub(super) fn finish(self) -> Result<String, ExtractError> {
        let mut reader = self.archive.into_inner();
        io::copy(&mut reader, &mut io::sink()).map_err(|e| self.errors.of(e))?;
        let actual = format!("sha256:{}", hex::encode(reader.inner.hasher.finalize()));
        match self.diff_id {
            Some(expected) if expected != actual => Err(ExtractError::DiffIdMismatch {
                layer: self.errors.layer,
                expected,
                actual,
            }),
            _ => Ok(actual),
        }
    }
}

/// Turns a read error of a layer's stream into the total-size limit when that is what
/// stopped it, else into a corrupt-stream error.
#[derive(Clone)]
struct StreamErrors {
    layer: String,
    total_read: Rc<Cell<u64>>,
    limit: u64,
}

impl StreamErrors {
    fn of(&self, e: io::Error) -> ExtractError {
        if self.total_read.get() > self.limit {
            ExtractError::TotalSizeExceeded {
                layer: self.layer.clone(),
                limit: self.limit,
            }
        } else {
            ExtractError::Corrupt {
                layer: self.layer.clone(),
                detail: e.to_string(),
            }
        }
    }
}

impl<'a> LayerStream<'a> {
    pub(super) fn new(limits: &'a ExtractLimits) -> Self {
        Self {
            limits,
            layer: String::new(),
            entries: 0,
            total_read: Rc::new(Cell::new(0)),
        }
    }

    /// Opens `layer` (decompressing as its media type says), counting towards the total.
    pub(super) fn open(&mut self, layer: &LayerFile) -> Result<OpenLayer, ExtractError> {
        self.layer = layer.name.clone();
        let file = fs::File::open(&layer.path)
            .map_err(io_err(format!("opening layer {}", layer.path.display())))?;
        let reader: Box<dyn Read> = match layer.compression {
            LayerCompression::Gzip => Box::new(MultiGzDecoder::new(io::BufReader::new(file))),
            LayerCompression::None => Box::new(io::BufReader::new(file)),
        };
        Ok(OpenLayer {
            archive: tar::Archive::new(CountingReader {
                inner: HashingReader {
                    inner: reader,
                    hasher: Sha256::new(),
                },
                total: self.total_read.clone(),
                limit: self.limits.max_total_bytes,
            }),
            diff_id: layer.diff_id.clone(),
            errors: self.errors(),
        })
    }

    fn errors(&self) -> StreamErrors {
        StreamErrors {
            layer: self.layer.clone(),
            total_read: self.total_read.clone(),
            limit: self.limits.max_total_bytes,
        }
    }

    /// A read error of the stream: the total limit if that is what stopped it.
    pub(super) fn stream_error(&self, e: io::Error) -> ExtractError {
        self.errors().of(e)
    }

    /// Counts the entry and decides what it is. Errors here hold for every entry, wanted
    /// or not: the entry limit, unsafe paths and malformed whiteouts.
    pub(super) fn classify<R: Read>(
        &mut self,
        entry: &tar::Entry<'_, R>,
    ) -> Result<Entry, ExtractError> {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(ExtractError::TooManyEntries {
                layer: self.layer.clone(),
                limit: self.limits.max_entries,
            });
        }
        let raw_path = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw_path).into_owned();
        let comps = normalise_path(&raw_path, &self.layer, self.limits.max_path_len, false)?;
        let Some(name) = comps.last() else {
            return Ok(Entry::Root);
        };
        // Whiteouts first: they are markers, never files.
        if name == OPAQUE_WHITEOUT {
            return Ok(Entry::Whiteout {
                path: comps[..comps.len() - 1].to_vec(),
                opaque: true,
            });
        }
        if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            if hidden.is_empty() || hidden == "." || hidden == ".." {
                return Err(ExtractError::InvalidPath {
                    layer: self.layer.clone(),
                    entry: shown,
                    reason: "malformed whiteout name".into(),
                });
            }
            let mut path = comps[..comps.len() - 1].to_vec();
            path.push(hidden.to_owned());
            return Ok(Entry::Whiteout {
                path,
                opaque: false,
            });
        }
        let header = entry.header();
        let link = || entry.link_name_bytes().map(|t| t.into_owned());
        let kind = match header.entry_type() {
            tar::EntryType::Directory => Kind::Dir,
            tar::EntryType::Regular | tar::EntryType::Continuous => Kind::File {
                executable: header.mode().unwrap_or(0o644) & 0o111 != 0,
                size: entry.size(),
            },
            tar::EntryType::Symlink => Kind::Symlink(link().unwrap_or_default()),
            tar::EntryType::Link => Kind::HardLink(link().unwrap_or_default()),
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => Kind::Special,
            other => Kind::Unsupported(format!("{other:?}")),
        };
        Ok(Entry::Item(Item { comps, shown, kind }))
    }

    pub(super) fn hard_link(&self, shown: &str, target: &[u8]) -> ExtractError {
        ExtractError::HardLink {
            layer: self.layer.clone(),
            entry: shown.to_owned(),
            target: String::from_utf8_lossy(target).into_owned(),
        }
    }

    pub(super) fn unsupported(&self, shown: &str, kind: &str) -> ExtractError {
        ExtractError::UnsupportedEntry {
            layer: self.layer.clone(),
            entry: shown.to_owned(),
            kind: kind.to_owned(),
        }
    }

    pub(super) fn file_too_large(&self, shown: &str, size: u64) -> ExtractError {
        ExtractError::FileTooLarge {
            layer: self.layer.clone(),
            entry: shown.to_owned(),
            size,
            limit: self.limits.max_file_bytes,
        }
    }

    /// A symlink's target as path components, judged lexically from the link's own
    /// directory (`link` is the link's path below the root the target must stay in).
    pub(super) fn resolve_link(
        &self,
        link: &[String],
        target: &[u8],
        shown: &str,
    ) -> Result<Vec<String>, ExtractError> {
        let invalid = |reason: &str| ExtractError::InvalidPath {
            layer: self.layer.clone(),
            entry: shown.to_owned(),
            reason: reason.into(),
        };
        let text =
            std::str::from_utf8(target).map_err(|_| invalid("symlink target is not UTF-8"))?;
        if text.is_empty() || text.contains('\0') || text.len() > self.limits.max_path_len {
            return Err(invalid("symlink target is empty, too long or contains NUL"));
        }
        let escapes = || ExtractError::LinkEscapes {
            layer: self.layer.clone(),
            entry: shown.to_owned(),
            target: text.to_owned(),
        };
        if text.starts_with('/') {
            return Err(escapes());
        }
        let mut resolved = link[..link.len().saturating_sub(1)].to_vec();
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
}

/// One tar entry, classified.
pub(super) enum Entry {
    /// The layer root itself (`./`).
    Root,
    /// `.wh.<name>` removes `path` from lower layers; `.wh..wh..opq` (`opaque`) removes the
    /// lower-layer content of the directory `path`.
    Whiteout {
        path: Vec<String>,
        opaque: bool,
    },
    Item(Item),
}

/// An entry that is content rather than a marker.
pub(super) struct Item {
    /// Its normalised path in the image.
    pub comps: Vec<String>,
    /// Its path as written, for errors.
    pub shown: String,
    pub kind: Kind,
}

pub(super) enum Kind {
    Dir,
    File {
        executable: bool,
        size: u64,
    },
    Symlink(Vec<u8>),
    /// Refused by both readers (where they would use it).
    HardLink(Vec<u8>),
    /// Devices and FIFOs, which are skipped.
    Special,
    Unsupported(String),
}
