//! Icon media type detection for `opm init`, following the magic numbers of
//! `github.com/h2non/filetype` (images, then a few common non-image types so the error names
//! them) and upstream's SVG matcher registered last.

use std::sync::LazyLock;

use regex::bytes::Regex;

/// The MIME type of `data` ("" when unknown).
pub(crate) fn sniff(data: &[u8]) -> &'static str {
    let b = data;
    let at =
        |i: usize, bytes: &[u8]| b.len() > i + bytes.len() - 1 && &b[i..i + bytes.len()] == bytes;
    let types: [(bool, &'static str); 16] = [
        (b.len() > 2 && at(0, &[0xFF, 0xD8, 0xFF]), "image/jpeg"),
        (
            b.len() > 12
                && at(
                    0,
                    &[
                        0, 0, 0, 0x0C, 0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A, 0x00,
                    ],
                ),
            "image/jp2",
        ),
        (b.len() > 3 && at(0, &[0x89, 0x50, 0x4E, 0x47]), "image/png"),
        (b.len() > 2 && at(0, b"GIF"), "image/gif"),
        (b.len() > 11 && at(8, b"WEBP"), "image/webp"),
        (
            b.len() > 10 && (at(0, &[0x49, 0x49, 0x2A, 0]) && at(8, &[0x43, 0x52])),
            "image/x-canon-cr2",
        ),
        (
            b.len() > 10
                && (at(0, &[0x49, 0x49, 0x2A, 0]) || at(0, &[0x4D, 0x4D, 0, 0x2A]))
                && !at(8, &[0x43, 0x52]),
            "image/tiff",
        ),
        (b.len() > 1 && at(0, b"BM"), "image/bmp"),
        (
            b.len() > 2 && at(0, &[0x49, 0x49, 0xBC]),
            "image/vnd.ms-photo",
        ),
        (b.len() > 3 && at(0, b"8BPS"), "image/vnd.adobe.photoshop"),
        (
            b.len() > 3 && at(0, &[0, 0, 1, 0]),
            "image/vnd.microsoft.icon",
        ),
        (b.len() > 3 && at(0, b"%PDF"), "application/pdf"),
        (
            b.len() > 3 && at(0, &[0x50, 0x4B, 0x03, 0x04]),
            "application/zip",
        ),
        (
            b.len() > 2 && at(0, &[0x1F, 0x8B, 0x08]),
            "application/gzip",
        ),
        (
            b.len() > 3 && at(0, &[0x7F, 0x45, 0x4C, 0x46]),
            "application/x-executable",
        ),
        (is_svg(b), "image/svg+xml"),
    ];
    types
        .into_iter()
        .find(|(m, _)| *m)
        .map(|(_, t)| t)
        .unwrap_or("")
}

static COMMENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)<!--([\s\S]*?)-->").expect("static regex"));
static SVG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:<\?xml[^>]*>\s*)?(?:<!doctype svg[^>]*>\s*)?<svg[^>]*>[^*]*</svg>\s*$")
        .expect("static regex")
});

/// `go-is-svg`: text (no NUL-ish or invalid bytes in the first 24) matching an `<svg>` document.
fn is_svg(b: &[u8]) -> bool {
    let binary = b.len() >= 24 && b[..24].iter().any(|c| *c <= 8 || *c >= 0x80);
    !binary && SVG.is_match(&COMMENT.replace_all(b, &b""[..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs() {
        assert_eq!(
            sniff(b"<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>"),
            "image/svg+xml"
        );
        assert_eq!(
            sniff(b"<?xml version=\"1.0\"?>\n<!-- c -->\n<svg><g/></svg>\n"),
            "image/svg+xml"
        );
        assert_eq!(sniff(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A]), "image/png");
        assert_eq!(sniff(b"%PDF-1.4"), "application/pdf");
        assert_eq!(sniff(b"schema: olm.package\n"), "");
    }
}
