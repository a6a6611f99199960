//! Go `fmt` renderings that upstream messages contain.

use std::fmt::Write as _;

/// Go's `%v` of a `[]string`: `[a b c]`.
pub fn format_go_list<S: AsRef<str>>(items: &[S]) -> String {
    let mut out = String::from("[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(item.as_ref());
    }
    out.push(']');
    out
}

/// Go's `%q` (`strconv.Quote`) for printable text and control characters.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A big-endian unsigned number in base 36, lower case, without leading zeros (Go's
/// `big.Int.Text(36)`, which upstream's hashes are written in).
pub fn big_int_text36(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut number: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    let mut digits = Vec::new();
    while !number.is_empty() {
        let mut remainder = 0u32;
        for byte in number.iter_mut() {
            let value = (remainder << 8) | u32::from(*byte);
            *byte = (value / 36) as u8;
            remainder = value % 36;
        }
        digits.push(DIGITS[remainder as usize]);
        let zeros = number.iter().take_while(|b| **b == 0).count();
        number.drain(..zeros);
    }
    if digits.is_empty() {
        digits.push(b'0');
    }
    digits.reverse();
    digits.into_iter().map(char::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_int_text36_matches_go() {
        assert_eq!(big_int_text36(&[0]), "0");
        assert_eq!(big_int_text36(&[35]), "z");
        assert_eq!(big_int_text36(&[36]), "10");
        assert_eq!(big_int_text36(&[1, 0]), "74");
        assert_eq!(big_int_text36(&[0, 0, 255, 255]), "1ekf");
    }

    #[test]
    fn lists_like_go() {
        assert_eq!(format_go_list::<&str>(&[]), "[]");
        assert_eq!(format_go_list(&["a", "b c"]), "[a b c]");
    }

    #[test]
    fn quotes_like_go() {
        assert_eq!(
            go_quote("a\"b\\\n\u{1}\u{85}é"),
            "\"a\\\"b\\\\\\n\\x01\\u0085é\""
        );
    }
}
