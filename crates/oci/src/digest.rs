//! `sha256:<hex>` digests: validated before they ever become a file name, computed while
//! streaming.

use std::fmt;
use std::io::{self, Write};

use sha2::{Digest as _, Sha256};

use crate::error::ImageError;

/// A validated `sha256:` digest (64 lowercase hex digits). Digests come from untrusted
/// manifests and name files in the cache, so nothing else is accepted.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Digest(String);

impl Sha256Digest {
    pub fn parse(s: &str) -> Result<Self, ImageError> {
        let invalid = |reason: &str| ImageError::InvalidContent {
            reference: s.to_owned(),
            what: "digest".into(),
            detail: reason.to_owned(),
        };
        let Some(hex) = s.strip_prefix("sha256:") else {
            return Err(match s.split_once(':') {
                Some((alg, _)) => invalid(&format!(
                    "digest algorithm {alg:?} is not supported (only sha256)"
                )),
                None => invalid("expected sha256:<64 hex digits>"),
            });
        };
        if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(invalid("expected sha256:<64 lowercase hex digits>"));
        }
        Ok(Sha256Digest(s.to_owned()))
    }

    pub fn of(data: &[u8]) -> Self {
        Sha256Digest(format!("sha256:{}", hex::encode(Sha256::digest(data))))
    }

    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A writer that hashes and counts what passes through it.
pub(crate) struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    written: u64,
}

impl<W: Write> HashingWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            written: 0,
        }
    }

    pub(crate) fn finish(self) -> (W, Sha256Digest, u64) {
        let digest = Sha256Digest(format!("sha256:{}", hex::encode(self.hasher.finalize())));
        (self.inner, digest, self.written)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// An incremental hasher for async code paths that write chunks themselves.
#[derive(Default)]
pub(crate) struct Hasher {
    hasher: Sha256,
    len: u64,
}

impl Hasher {
    pub(crate) fn update(&mut self, data: &[u8]) {
        self.hasher.update(data);
        self.len += data.len() as u64;
    }

    pub(crate) fn finish(self) -> (Sha256Digest, u64) {
        (
            Sha256Digest(format!("sha256:{}", hex::encode(self.hasher.finalize()))),
            self.len,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_sha256_is_accepted() {
        let good = Sha256Digest::of(b"x");
        assert_eq!(Sha256Digest::parse(good.as_str()).unwrap(), good);
        for bad in [
            "sha256:../../etc/passwd",
            "sha256:ABCDEF",
            "sha512:00",
            "deadbeef",
            "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeF",
        ] {
            assert!(Sha256Digest::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hashing_writer_matches_one_shot_digest() {
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(b"hello ").unwrap();
        w.write_all(b"world").unwrap();
        let (out, digest, n) = w.finish();
        assert_eq!(out, b"hello world");
        assert_eq!(n, 11);
        assert_eq!(digest, Sha256Digest::of(b"hello world"));
    }
}
