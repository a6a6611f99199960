//! Shared, immutable JSON text. Property values (notably `olm.bundle.object` data, often hundreds
//! of kilobytes) are slices of the canonical blob they were loaded from, so loading, converting
//! and writing never copy them.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

/// A slice of JSON text shared with the blob it came from.
#[derive(Clone)]
pub struct RawJson {
    src: Arc<str>,
    range: Range<usize>,
}

impl RawJson {
    /// Wraps owned JSON text (the caller guarantees it is valid JSON, or empty for "absent").
    pub fn new(text: impl Into<Arc<str>>) -> Self {
        let src: Arc<str> = text.into();
        let range = 0..src.len();
        RawJson { src, range }
    }

    /// A slice of `src`; `range` must lie on character boundaries.
    pub(crate) fn slice(src: &Arc<str>, range: Range<usize>) -> Self {
        debug_assert!(src.is_char_boundary(range.start) && src.is_char_boundary(range.end));
        RawJson {
            src: Arc::clone(src),
            range,
        }
    }

    /// The absent value (Go's empty `json.RawMessage`).
    pub fn empty() -> Self {
        RawJson::new("")
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        &self.src[self.range.clone()]
    }

    /// The shared text behind this value, without copying when the value spans all of it.
    pub(crate) fn shared(&self) -> Arc<str> {
        if self.range.start == 0 && self.range.end == self.src.len() {
            Arc::clone(&self.src)
        } else {
            Arc::from(self.get())
        }
    }

    pub fn is_empty(&self) -> bool {
        self.range.is_empty()
    }
}

impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Eq for RawJson {}

impl std::hash::Hash for RawJson {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.get().hash(state)
    }
}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.get();
        if s.len() > 120 {
            let mut cut = 100;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            write!(f, "RawJson({}… {} bytes)", &s[..cut], s.len())
        } else {
            write!(f, "RawJson({s})")
        }
    }
}

impl fmt::Display for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.get())
    }
}
