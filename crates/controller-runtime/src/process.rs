//! What a controller process sets up once, before anything else: the TLS crypto provider,
//! logging, and the signals that stop it.

use std::ffi::OsString;
use std::future::Future;
use std::io::IsTerminal;
use std::pin::Pin;

/// Log filter when `RUST_LOG` is unset: kube's per-request chatter stays quiet.
pub const DEFAULT_LOG_FILTER: &str = "info,kube=warn";

/// `--log-format`: how log lines are written to stderr.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines, coloured only when stderr is a terminal.
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `fields.message`, …), for log
    /// collectors.
    Json,
}

impl LogFormat {
    /// The format the command line asks for: the last `--log-format VALUE` or
    /// `--log-format=VALUE` before a `--`. Logging starts before clap parses (so that
    /// nothing is logged in another format), so this reads the flag that
    /// [`crate::RuntimeArgs`] declares, documents and validates; a value that is not
    /// `json` is text here and, unless it is `text`, a usage error from clap.
    pub fn from_command_line(args: impl IntoIterator<Item = OsString>) -> LogFormat {
        let mut args = args.into_iter().skip(1);
        let mut format = LogFormat::Text;
        while let Some(arg) = args.next() {
            let value = if arg == "--log-format" {
                args.next()
            } else if arg == "--" {
                break;
            } else {
                arg.to_str()
                    .and_then(|a| a.strip_prefix("--log-format="))
                    .map(OsString::from)
            };
            if let Some(value) = value {
                format = if value == "json" {
                    LogFormat::Json
                } else {
                    LogFormat::Text
                };
            }
        }
        format
    }
}

/// Installs aws-lc-rs as rustls' process-wide provider and logs to stderr in the
/// `--log-format` of the process's command line, filtered by `RUST_LOG` (default
/// [`DEFAULT_LOG_FILTER`]). Call once, first thing in `main`.
pub fn init_process() {
    // Already installed (a test, say) is fine: it is the same provider.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let format = LogFormat::from_command_line(std::env::args_os());
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| DEFAULT_LOG_FILTER.into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// A future that resolves when the process should stop; handed to the controller.
pub type Shutdown = Pin<Box<dyn Future<Output = ()> + Send + Sync + 'static>>;

/// Resolves on SIGTERM (the kubelet stopping the Pod) or ctrl-c.
pub fn terminated() -> Shutdown {
    Box::pin(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::LogFormat;

    fn format(args: &[&str]) -> LogFormat {
        LogFormat::from_command_line(args.iter().map(Into::into))
    }

    #[test]
    fn the_log_format_is_read_from_the_command_line() {
        assert_eq!(format(&["bin"]), LogFormat::Text);
        assert_eq!(format(&["bin", "--log-format", "json"]), LogFormat::Json);
        assert_eq!(
            format(&["bin", "--x", "--log-format=json"]),
            LogFormat::Json
        );
        assert_eq!(
            format(&["bin", "--log-format=json", "--log-format", "text"]),
            LogFormat::Text
        );
        // The program name and what follows `--` are not flags.
        assert_eq!(format(&["--log-format=json"]), LogFormat::Text);
        assert_eq!(format(&["bin", "--", "--log-format=json"]), LogFormat::Text);
    }
}
