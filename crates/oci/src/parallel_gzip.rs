//! Deterministic multi-threaded gzip for large layers (a whole sqlite index), in the style
//! of pigz: the input is cut into fixed-size chunks, each chunk is deflated on its own
//! (raw deflate ending in a sync flush, so it ends byte-aligned), and the pieces are
//! concatenated in order into **one** gzip member with one CRC-32.
//!
//! The output depends only on the input, the level and [`CHUNK`], never on the number of
//! threads or their timing, so layer digests stay reproducible across machines. Any gzip
//! reader (Go's `compress/gzip`, zlib, flate2's `GzDecoder`) reads it as an ordinary
//! single-member stream. Chunks do not share a dictionary (flate2's pure-Rust backend has
//! no `set_dictionary`), which costs about 2% of size at this chunk size.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use flate2::{Compress, Compression, FlushCompress};

/// Bytes of input deflated independently. Part of the output format: changing it changes
/// the digests of every large layer. Measured on a 38.6 MB index.db (miniz_oxide, level 3):
/// 1 MiB chunks give 13% larger output than one stream, 4 MiB 3%, 8 MiB 2%, 16 MiB 0.7%;
/// 8 MiB still splits a typical index into enough pieces to keep a few cores busy.
pub(crate) const CHUNK: usize = 8 << 20;

/// gzip header: deflate, no flags, mtime 0, no extra flags, OS "unknown" — fixed, so the
/// bytes never depend on the host.
const HEADER: [u8; 10] = [0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff];
/// An empty final block with fixed Huffman codes: closes the deflate stream after the
/// last sync-flushed chunk.
const FINAL_BLOCK: [u8; 2] = [0x03, 0x00];

type Job = (Vec<u8>, SyncSender<io::Result<Vec<u8>>>);

/// A `Write` that gzips what it is given across worker threads; [`finish`](Self::finish)
/// writes the trailer and returns the inner writer.
pub(crate) struct ParallelGzWriter<W: Write> {
    inner: W,
    level: Compression,
    chunk: usize,
    buf: Vec<u8>,
    crc: flate2::Crc,
    /// Results in input order; at most `max_pending` chunks are in flight.
    pending: VecDeque<Receiver<io::Result<Vec<u8>>>>,
    max_pending: usize,
    jobs: Option<SyncSender<Job>>,
    workers: Vec<JoinHandle<()>>,
    header_written: bool,
}

impl<W: Write> ParallelGzWriter<W> {
    pub(crate) fn new(inner: W, level: Compression, threads: usize) -> Self {
        Self::with_chunk(inner, level, threads, CHUNK)
    }

    fn with_chunk(inner: W, level: Compression, threads: usize, chunk: usize) -> Self {
        let threads = threads.max(1);
        let (jobs, workers) = if threads > 1 {
            let (tx, rx) = sync_channel::<Job>(threads);
            let rx = Arc::new(Mutex::new(rx));
            let workers = (0..threads)
                .map(|_| {
                    let rx = Arc::clone(&rx);
                    std::thread::spawn(move || {
                        loop {
                            // The lock is held only to take the next job.
                            let job = match rx.lock() {
                                Ok(guard) => guard.recv(),
                                Err(_) => return,
                            };
                            let Ok((data, reply)) = job else { return };
                            // The writer may have gone away after an error; nothing to do.
                            let _ = reply.send(deflate_chunk(&data, level));
                        }
                    })
                })
                .collect();
            (Some(tx), workers)
        } else {
            (None, Vec::new())
        };
        Self {
            inner,
            level,
            chunk,
            buf: Vec::with_capacity(chunk),
            crc: flate2::Crc::new(),
            pending: VecDeque::new(),
            max_pending: threads,
            jobs,
            workers,
            header_written: false,
        }
    }

    fn submit(&mut self) -> io::Result<()> {
        if !self.header_written {
            self.inner.write_all(&HEADER)?;
            self.header_written = true;
        }
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(self.chunk));
        match &self.jobs {
            Some(jobs) => {
                let (tx, rx) = sync_channel(1);
                jobs.send((data, tx))
                    .map_err(|_| io::Error::other("gzip worker threads stopped"))?;
                self.pending.push_back(rx);
                while self.pending.len() > self.max_pending {
                    self.write_oldest()?;
                }
            }
            None => {
                let out = deflate_chunk(&data, self.level)?;
                self.inner.write_all(&out)?;
            }
        }
        Ok(())
    }

    fn write_oldest(&mut self) -> io::Result<()> {
        if let Some(rx) = self.pending.pop_front() {
            let out = rx
                .recv()
                .map_err(|_| io::Error::other("a gzip worker thread died"))??;
            self.inner.write_all(&out)?;
        }
        Ok(())
    }

    /// Compresses what is buffered, writes the final block and the trailer (CRC-32 and
    /// length mod 2^32), stops the workers and returns the inner writer.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        if !self.buf.is_empty() || !self.header_written {
            self.submit()?;
        }
        while !self.pending.is_empty() {
            self.write_oldest()?;
        }
        self.inner.write_all(&FINAL_BLOCK)?;
        self.inner.write_all(&self.crc.sum().to_le_bytes())?;
        self.inner.write_all(&self.crc.amount().to_le_bytes())?;
        self.inner.flush()?;
        self.jobs = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        Ok(self.inner)
    }
}

impl<W: Write> Write for ParallelGzWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(self.chunk - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        self.crc.update(&data[..n]);
        if self.buf.len() == self.chunk {
            self.submit()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        // A gzip stream can only be flushed at chunk boundaries without changing its bytes.
        Ok(())
    }
}

/// One chunk as raw deflate blocks ending in a sync flush (empty stored block), so the
/// next chunk's blocks can follow at a byte boundary.
fn deflate_chunk(data: &[u8], level: Compression) -> io::Result<Vec<u8>> {
    let mut c = Compress::new(level, false);
    let mut out = Vec::with_capacity(data.len() / 2 + 1024);
    loop {
        let consumed = usize::try_from(c.total_in()).map_err(io::Error::other)?;
        c.compress_vec(&data[consumed..], &mut out, FlushCompress::Sync)
            .map_err(io::Error::other)?;
        let consumed = usize::try_from(c.total_in()).map_err(io::Error::other)?;
        // zlib's contract: the flush is complete once output space was left over.
        if consumed == data.len() && out.len() < out.capacity() {
            return Ok(out);
        }
        out.reserve(out.capacity().max(4096));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Small chunks keep the tests fast in debug builds; the format is the same.
    const TEST_CHUNK: usize = 64 << 10;

    fn sample(len: usize) -> Vec<u8> {
        // Compressible but not trivial: a counter rendered as text, with some noise.
        let mut out = Vec::with_capacity(len);
        let mut x: u32 = 12345;
        while out.len() < len {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            out.extend_from_slice(format!("row {} value {}\n", out.len() / 7, x >> 20).as_bytes());
        }
        out.truncate(len);
        out
    }

    fn gz(data: &[u8], threads: usize, write_size: usize) -> Vec<u8> {
        let mut w =
            ParallelGzWriter::with_chunk(Vec::new(), Compression::new(6), threads, TEST_CHUNK);
        for piece in data.chunks(write_size.max(1)) {
            w.write_all(piece).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn round_trips_through_a_standard_gzip_reader() {
        for len in [
            0,
            1,
            1000,
            TEST_CHUNK - 1,
            TEST_CHUNK,
            TEST_CHUNK + 1,
            3 * TEST_CHUNK + 17,
        ] {
            let data = sample(len);
            let z = gz(&data, 3, 65_536);
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&z[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data, "length {len}");
        }
    }

    #[test]
    fn output_does_not_depend_on_threads_or_write_sizes() {
        let data = sample(4 * TEST_CHUNK + 4321);
        let one = gz(&data, 1, 1 << 20);
        assert_eq!(gz(&data, 2, 7777), one);
        assert_eq!(gz(&data, 8, 100_000), one);
    }

    #[test]
    fn a_single_member_with_a_correct_trailer() {
        let data = sample(2 * TEST_CHUNK + 5);
        let z = gz(&data, 2, 4096);
        assert_eq!(&z[..10], &HEADER);
        let n = z.len();
        let mut crc = flate2::Crc::new();
        crc.update(&data);
        assert_eq!(&z[n - 8..n - 4], &crc.sum().to_le_bytes());
        assert_eq!(&z[n - 4..], &(data.len() as u32).to_le_bytes());
        // flate2's single-member decoder reads the whole stream, so nothing follows it.
        let mut dec = flate2::read::GzDecoder::new(&z[..]);
        let mut back = Vec::new();
        dec.read_to_end(&mut back).unwrap();
        assert_eq!(back.len(), data.len());
    }
}
