//! What a command printed, and writing it.

use std::io::Write;

use fbc::{DeclarativeConfig, Format};

/// What a command printed, for `main` to write.
#[derive(Debug, Default)]
pub struct Outcome {
    pub stdout: Vec<u8>,
    /// A catalog to write after `stdout`. It is streamed by [`emit`] so that a large
    /// catalog is never held in memory twice (once loaded, once as text).
    pub catalog: Option<(DeclarativeConfig, Format)>,
    /// Warnings for stderr.
    pub warnings: Vec<String>,
    /// A failure whose report is already in `stdout` (structured validation output).
    pub failed: bool,
}

impl Outcome {
    pub(crate) fn text(s: String) -> Outcome {
        Outcome {
            stdout: s.into_bytes(),
            ..Default::default()
        }
    }
}

/// Writes an outcome's stdout.
pub fn emit(outcome: &Outcome, out: &mut dyn Write) -> std::io::Result<()> {
    out.write_all(&outcome.stdout)?;
    if let Some((cfg, format)) = &outcome.catalog {
        let mut buffered = std::io::BufWriter::with_capacity(1 << 20, &mut *out);
        fbc::write::write(cfg, *format, &mut buffered)?;
        buffered.flush()?;
    }
    out.flush()
}
