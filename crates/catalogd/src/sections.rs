//! Reading the sections of `all.json` a metas query selected, one chunk at a time, plain
//! or gzipped on the fly: a response holds one chunk and the encoder's state in memory,
//! however large its body.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use axum::body::Bytes;
use flate2::write::GzEncoder;
use futures::Stream;

use crate::index::Section;

/// Most bytes read from the file at once (tower-http's file service reads as much).
pub(crate) const CHUNK: usize = 64 << 10;

/// `sections` in file order with adjacent ones joined, so a package's metas, which are
/// contiguous, are one read.
pub(crate) fn merge(sections: Vec<Section>) -> Vec<Section> {
    let mut merged: Vec<Section> = Vec::with_capacity(sections.len());
    for (off, len) in sections {
        match merged.last_mut() {
            Some(last) if last.0 + last.1 == off => last.1 += len,
            _ => merged.push((off, len)),
        }
    }
    merged
}

/// The selected sections of one file, read front to back.
pub(crate) struct SectionReader {
    file: Arc<File>,
    /// What is left to read; the front section shrinks as it is read.
    sections: VecDeque<Section>,
    /// Bytes left in `sections`.
    remaining: u64,
    /// Present for a gzip body until its trailer has been written.
    gzip: Option<GzEncoder<Vec<u8>>>,
    /// The plain body ended, or the gzip trailer has been returned.
    done: bool,
}

impl SectionReader {
    /// The sections' bytes as they are.
    pub(crate) fn plain(file: Arc<File>, sections: Vec<Section>) -> Self {
        Self {
            file,
            remaining: sections.iter().map(|s| s.1).sum(),
            sections: sections.into(),
            gzip: None,
            done: false,
        }
    }

    /// One gzip member (level 6) of the sections' bytes.
    pub(crate) fn gzip(file: Arc<File>, sections: Vec<Section>) -> Self {
        Self {
            gzip: Some(GzEncoder::new(Vec::new(), flate2::Compression::default())),
            ..Self::plain(file, sections)
        }
    }

    /// The next piece of the body, `None` after the last: up to [`CHUNK`] bytes of the
    /// sections, or what the encoder produced from [`CHUNK`]s of them (it may hold back
    /// output until it has seen enough input, so several reads can make one piece).
    pub(crate) fn next_chunk(&mut self) -> io::Result<Option<Bytes>> {
        if self.done {
            return Ok(None);
        }
        loop {
            let input = self.read()?;
            let Some(gz) = &mut self.gzip else {
                self.done = input.is_empty();
                return Ok((!input.is_empty()).then(|| Bytes::from(input)));
            };
            if input.is_empty() {
                self.done = true;
                let trailer = self.gzip.take().map(GzEncoder::finish).transpose()?;
                return Ok(trailer.map(Bytes::from));
            }
            gz.write_all(&input)?;
            let out = std::mem::take(gz.get_mut());
            if !out.is_empty() {
                return Ok(Some(Bytes::from(out)));
            }
        }
    }

    /// Up to [`CHUNK`] bytes from the front sections; empty once all are read.
    fn read(&mut self) -> io::Result<Vec<u8>> {
        let len = usize::try_from(self.remaining).map_or(CHUNK, |r| r.min(CHUNK));
        let mut buf = vec![0; len];
        let mut filled = 0;
        while filled < buf.len() {
            let Some(front) = self.sections.front_mut() else {
                break;
            };
            let room = (buf.len() - filled) as u64;
            let n = front.1.min(room) as usize;
            self.file
                .read_exact_at(&mut buf[filled..filled + n], front.0)?;
            filled += n;
            self.remaining -= n as u64;
            front.0 += n as u64;
            front.1 -= n as u64;
            if front.1 == 0 {
                self.sections.pop_front();
            }
        }
        Ok(buf)
    }

    /// The whole body in memory, for bodies small enough to keep.
    pub(crate) fn read_to_end(mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(chunk) = self.next_chunk()? {
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// The body as a stream; each piece is read on the blocking pool, and only when the
    /// connection has taken the previous one.
    pub(crate) fn into_stream(self) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
        futures::stream::try_unfold(self, |mut reader| async move {
            let (reader, chunk) = tokio::task::spawn_blocking(move || {
                let chunk = reader.next_chunk();
                (reader, chunk)
            })
            .await
            .map_err(io::Error::other)?;
            Ok(chunk?.map(|c| (c, reader)))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use futures::TryStreamExt;

    use super::*;

    /// A file of numbered lines, and the sections of every third line.
    fn sample() -> (tempfile::NamedTempFile, Arc<File>, Vec<Section>, Vec<u8>) {
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        let (mut sections, mut expected, mut offset) = (Vec::new(), Vec::new(), 0u64);
        for i in 0..30_000u32 {
            // Varying lengths, some lines longer than a chunk.
            let pad = if i % 1000 == 999 {
                CHUNK + 7
            } else {
                (i % 97) as usize
            };
            let line = format!("{{\"n\":{i},\"pad\":\"{}\"}}\n", "x".repeat(pad));
            if i % 3 == 0 {
                sections.push((offset, line.len() as u64));
                expected.extend_from_slice(line.as_bytes());
            }
            tmp.write_all(line.as_bytes()).unwrap();
            offset += line.len() as u64;
        }
        let file = Arc::new(tmp.reopen().unwrap());
        (tmp, file, sections, expected)
    }

    #[test]
    fn merge_joins_adjacent_sections_only() {
        assert_eq!(
            merge(vec![(0, 5), (5, 3), (10, 2), (12, 1), (20, 4)]),
            vec![(0, 8), (10, 3), (20, 4)]
        );
        assert_eq!(merge(vec![]), vec![]);
    }

    #[test]
    fn plain_chunks_are_bounded_and_concatenate_to_the_selection() {
        let (_tmp, file, sections, expected) = sample();
        assert!(expected.len() > 20 * CHUNK);
        let mut reader = SectionReader::plain(file, merge(sections));
        let mut got = Vec::new();
        let mut chunks = 0;
        while let Some(chunk) = reader.next_chunk().unwrap() {
            assert!(!chunk.is_empty() && chunk.len() <= CHUNK, "{}", chunk.len());
            got.extend_from_slice(&chunk);
            chunks += 1;
        }
        assert_eq!(got, expected);
        assert_eq!(chunks, expected.len().div_ceil(CHUNK), "chunks are filled");
        assert!(reader.next_chunk().unwrap().is_none(), "stays at the end");
    }

    #[test]
    fn gzip_is_produced_piece_by_piece_and_decodes_to_the_selection() {
        let (_tmp, file, sections, expected) = sample();
        let mut reader = SectionReader::gzip(file, merge(sections));
        let mut zipped = Vec::new();
        let mut pieces = 0;
        while let Some(piece) = reader.next_chunk().unwrap() {
            // The encoder emits at most about what it was given, plus block headers.
            assert!(
                !piece.is_empty() && piece.len() <= 2 * CHUNK,
                "{}",
                piece.len()
            );
            zipped.extend_from_slice(&piece);
            pieces += 1;
        }
        assert!(pieces > 1, "the body came in one piece");
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&zipped[..])
            .read_to_end(&mut unzipped)
            .unwrap();
        assert_eq!(unzipped, expected);
    }

    #[test]
    fn an_empty_selection_is_an_empty_body_or_an_empty_gzip_member() {
        let (_tmp, file, _, _) = sample();
        assert_eq!(
            SectionReader::plain(file.clone(), vec![])
                .read_to_end()
                .unwrap(),
            b""
        );
        let zipped = SectionReader::gzip(file, vec![]).read_to_end().unwrap();
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&zipped[..])
            .read_to_end(&mut unzipped)
            .unwrap();
        assert!(unzipped.is_empty());
    }

    #[tokio::test]
    async fn the_stream_yields_the_same_pieces() {
        let (_tmp, file, sections, expected) = sample();
        let sections = merge(sections);
        let chunks: Vec<Bytes> = SectionReader::plain(file, sections)
            .into_stream()
            .try_collect()
            .await
            .unwrap();
        assert!(chunks.len() > 1);
        assert_eq!(chunks.concat(), expected);
    }

    #[test]
    fn a_file_shorter_than_its_index_is_an_error() {
        let (_tmp, file, _, _) = sample();
        let len = file.metadata().unwrap().len();
        let mut reader = SectionReader::plain(file, vec![(len - 10, 20)]);
        let err = reader.next_chunk().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
