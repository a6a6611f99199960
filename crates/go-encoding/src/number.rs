//! Number formatting that reproduces Go's `strconv` output, because upstream `opm` re-encodes every
//! catalog number through `float64` and byte-compatible output depends on the exact digits.

/// Shortest round-trip decimal digits of `f` (no sign) and the decimal exponent of the first digit,
/// i.e. `f = 0.d1d2d3… × 10^(exp+1)`.
fn shortest_digits(f: f64) -> (String, i32) {
    // Rust's `{:e}` prints the shortest representation that round-trips, like Go's `-1` precision.
    let s = format!("{:e}", f.abs());
    let (mantissa, exp) = s.split_once('e').unwrap_or((s.as_str(), "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    (digits, exp.parse().unwrap_or(0))
}

fn push_exponent(out: &mut String, exp: i32, min_digits: usize) {
    if exp < 0 {
        out.push('-');
    } else {
        out.push('+');
    }
    let e = exp.unsigned_abs().to_string();
    for _ in e.len()..min_digits {
        out.push('0');
    }
    out.push_str(&e);
}

fn push_e_format(out: &mut String, neg: bool, digits: &str, exp: i32) {
    if neg {
        out.push('-');
    }
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    out.push('e');
    push_exponent(out, exp, 2);
}

/// Go `encoding/json` formatting of a float64 (`'f'` unless the magnitude is below 1e-6 or at
/// least 1e21, then `'e'` with `e-07` shortened to `e-7`).
pub fn push_json_f64(out: &mut String, f: f64) {
    if !f.is_finite() {
        // JSON cannot carry these; Go refuses to encode them. Callers never produce them from
        // parsed JSON, so emit `null` rather than invalid JSON.
        out.push_str("null");
        return;
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let (digits, exp) = shortest_digits(f);
        let mut s = String::new();
        push_e_format(&mut s, f.is_sign_negative(), &digits, exp);
        // Go cleans `e-07` to `e-7`.
        let n = s.len();
        let b = s.as_bytes();
        if n >= 4 && b[n - 4] == b'e' && b[n - 3] == b'-' && b[n - 2] == b'0' {
            s.remove(n - 2);
        }
        out.push_str(&s);
    } else {
        // Display prints the shortest round-trip digits without an exponent, as Go's 'f', -1.
        out.push_str(&format!("{f}"));
    }
}

/// Go `strconv.FormatFloat(f, 'g', -1, 64)` as used by the YAML encoder, with `.inf`/`.nan`.
pub fn format_go_g(f: f64) -> String {
    if f.is_nan() {
        return ".nan".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.to_string();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let (digits, exp) = shortest_digits(f);
    let mut out = String::new();
    // With the shortest precision Go uses 6 as the exponent threshold.
    if !(-4..6).contains(&exp) {
        push_e_format(&mut out, f.is_sign_negative(), &digits, exp);
    } else {
        out.push_str(&format!("{f}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(f: f64) -> String {
        let mut s = String::new();
        push_json_f64(&mut s, f);
        s
    }

    #[test]
    fn json_floats_match_go() {
        assert_eq!(json(1.0), "1");
        assert_eq!(json(-0.0), "-0");
        assert_eq!(json(1e21), "1e+21");
        assert_eq!(json(1e20), "100000000000000000000");
        assert_eq!(json(0.000001), "0.000001");
        assert_eq!(json(0.0000001), "1e-7");
        assert_eq!(json(1.5e-10), "1.5e-10");
        assert_eq!(json(12345678901234567890.0), "12345678901234567000");
        assert_eq!(json(0.1), "0.1");
        assert_eq!(json(123.456), "123.456");
    }

    #[test]
    fn g_floats_match_go() {
        assert_eq!(format_go_g(1.5), "1.5");
        assert_eq!(format_go_g(1e21), "1e+21");
        assert_eq!(format_go_g(1e20), "1e+20");
        assert_eq!(format_go_g(123456.0), "123456");
        assert_eq!(format_go_g(1234567.5), "1.2345675e+06");
        assert_eq!(format_go_g(0.0001), "0.0001");
        assert_eq!(format_go_g(0.00001), "1e-05");
        assert_eq!(format_go_g(-2.5e-7), "-2.5e-07");
    }
}
