//! Flag values written the way upstream's Go binaries take them: Go durations (`15s`,
//! `12h`) and listen addresses that may omit the host (`:8080`).

use std::net::SocketAddr;
use std::time::Duration;

/// A flag's value is not a Go duration.
#[derive(Debug, thiserror::Error)]
// The reason is part of the message, not a `source`: it is one short sentence.
#[error("{flag} {value:?}: {reason}")]
pub struct DurationError {
    pub flag: &'static str,
    pub value: String,
    pub reason: kube::core::duration::ParseError,
}

/// A flag's value is neither `host:port` nor `:port`.
#[derive(Debug, thiserror::Error)]
#[error("{reason}: expected host:port or :port, e.g. :8083")]
pub struct ListenAddrError {
    reason: std::net::AddrParseError,
}

/// Parses `value` of `flag` as a Go duration (`time.ParseDuration`), e.g. `1m30s`.
pub fn go_duration(flag: &'static str, value: &str) -> Result<Duration, DurationError> {
    value
        .parse::<kube::core::Duration>()
        .map(Into::into)
        .map_err(|reason| DurationError {
            flag,
            value: value.to_owned(),
            reason,
        })
}

/// `host:port`, or `:port` for all IPv4 interfaces (the form upstream's flags take).
/// A clap `value_parser`.
pub fn listen_addr(value: &str) -> Result<SocketAddr, ListenAddrError> {
    let full = match value.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => value.to_owned(),
    };
    full.parse().map_err(|reason| ListenAddrError { reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_read_as_go_does() {
        assert_eq!(go_duration("--x", "15s").unwrap(), Duration::from_secs(15));
        assert_eq!(
            go_duration("--x", "12h").unwrap(),
            Duration::from_secs(12 * 3600)
        );
        assert_eq!(
            go_duration("--x", "1m30s").unwrap(),
            Duration::from_secs(90)
        );
        assert_eq!(
            go_duration("--x", "250ms").unwrap(),
            Duration::from_millis(250)
        );
        let err = go_duration("--gc-interval", "12").unwrap_err();
        assert!(
            err.to_string().starts_with("--gc-interval \"12\": "),
            "{err}"
        );
    }

    #[test]
    fn listen_addresses_may_omit_the_host() {
        assert_eq!(
            listen_addr(":8080").unwrap(),
            "0.0.0.0:8080".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            listen_addr("127.0.0.1:9").unwrap(),
            "127.0.0.1:9".parse::<SocketAddr>().unwrap()
        );
        let err = listen_addr("8083").unwrap_err();
        assert!(
            err.to_string()
                .ends_with(": expected host:port or :port, e.g. :8083"),
            "{err}"
        );
    }
}
