//! How the clone connects: credentials and TLS roots for HTTP(S), a key and known hosts for
//! SSH. Everything comes from the Bundle's auth Secret and [`GitOptions`]; the host's git
//! configuration, credential helpers and prompts are never consulted.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gix::protocol::transport::client::blocking_io::http;

use super::{GitError, GitOptions};
use crate::SecretData;

/// The Secret keys (§1.2).
const USERNAME: &str = "username";
const PASSWORD: &str = "password";
const SSH_PRIVATE_KEY: &str = "ssh-privatekey";
const SSH_KNOWN_HOSTS: &str = "ssh-knownhosts";

/// How to reach one repository, prepared before the blocking clone starts.
#[derive(Clone)]
pub(super) enum Access {
    /// `http://` and `https://`: Basic credentials (if a Secret is named) and TLS settings.
    Http {
        account: Option<gix::sec::identity::Account>,
        insecure_skip_verify: bool,
        extra_roots: Vec<reqwest::Certificate>,
    },
    /// Anything else (`ssh://…`, `git@host:path`): ssh, with the config override pointing
    /// `ssh` at the key; ssh's own messages go to `log` (gix would pass them to our stderr).
    Ssh { ssh_command: String, log: PathBuf },
    /// `file://` and `git://`: no credentials exist.
    Plain,
}

impl Access {
    /// Reads what `repository` needs from `secret`; ssh keys are written into `work_dir`
    /// (removed with it).
    pub(super) fn prepare(
        repository: &str,
        secret: Option<&SecretData>,
        insecure_skip_verify: bool,
        options: &GitOptions,
        work_dir: &Path,
    ) -> Result<Self, GitError> {
        // The same split as upstream: anything starting with `http` uses Basic auth.
        if repository.starts_with("http") {
            let account = secret
                .map(|secret| {
                    Ok::<_, GitError>(gix::sec::identity::Account {
                        username: secret_text(secret, USERNAME)?,
                        password: secret_text(secret, PASSWORD)?,
                        oauth_refresh_token: None,
                    })
                })
                .transpose()?;
            return Ok(Self::Http {
                account,
                insecure_skip_verify,
                extra_roots: extra_roots(options)?,
            });
        }
        if repository.starts_with("file://") || repository.starts_with("git://") {
            return Ok(Self::Plain);
        }
        let log = work_dir.join("ssh.log");
        let host_keys = host_key_options(secret, insecure_skip_verify, work_dir)?;
        let identity = match secret {
            Some(secret) => identity_options(secret, work_dir)?,
            None => String::new(),
        };
        let ssh_command = format!(
            "ssh -o BatchMode=yes -o ConnectTimeout=20 -o LogLevel=ERROR -E {} {identity} {host_keys}",
            shell_quote(&log)
        );
        Ok(Self::Ssh { ssh_command, log })
    }

    /// The URL to clone: for ssh without a user, user `git` as upstream (not whoever runs
    /// the controller).
    pub(super) fn url(&self, repository: &str) -> String {
        let Self::Ssh { .. } = self else {
            return repository.to_owned();
        };
        match gix::url::parse(repository) {
            Ok(mut url) if url.scheme == gix::url::Scheme::Ssh && url.user().is_none() => {
                url.set_user(Some("git".to_owned()));
                url.to_bstring().to_string()
            }
            _ => repository.to_owned(),
        }
    }

    /// Configuration overrides for the temporary repository.
    pub(super) fn config_overrides(&self) -> Vec<String> {
        match self {
            Self::Ssh {
                ssh_command: command,
                ..
            } => vec![
                format!("core.sshCommand={command}"),
                // Skips gix's probe of which ssh flavour is installed; OpenSSH is what we pass options for.
                "ssh.variant=ssh".to_owned(),
            ],
            _ => Vec::new(),
        }
    }

    /// Applies credentials and TLS settings to a connection before its handshake.
    pub(super) fn configure(
        &self,
        connection: &mut gix::remote::Connection<
            '_,
            '_,
            '_,
            Box<dyn gix::protocol::transport::client::blocking_io::Transport + Send>,
        >,
        timeout: Duration,
    ) {
        let Self::Http {
            account,
            insecure_skip_verify,
            extra_roots,
        } = self
        else {
            connection.set_credentials(|_| Ok(None));
            return;
        };
        let account = account.clone();
        connection.set_credentials(move |action| {
            Ok(match (&account, action) {
                (Some(account), gix::credentials::helper::Action::Get(context)) => {
                    Some(gix::credentials::protocol::Outcome {
                        identity: account.clone(),
                        next: context.into(),
                    })
                }
                // Nothing to store or erase: the Secret is the only source.
                _ => None,
            })
        });
        let roots = extra_roots.clone();
        let insecure = *insecure_skip_verify;
        let backend = http::reqwest::Options {
            configure_client: Some(Box::new(move |builder| {
                let builder = builder
                    .tls_certs_merge(roots.clone())
                    .tls_danger_accept_invalid_certs(insecure)
                    // reqwest's blocking client otherwise gives up after 30 s, even mid-pack.
                    .timeout(timeout);
                Ok(builder)
            })),
            configure_request: None,
        };
        connection.set_transport_options(Box::new(http::Options {
            user_agent: Some(concat!("olm-rs/", env!("CARGO_PKG_VERSION")).to_owned()),
            backend: Some(Arc::new(Mutex::new(backend))),
            ..Default::default()
        }));
    }

    /// What ssh wrote about a failed connection (host key or key refused), if anything.
    pub(super) fn ssh_messages(&self) -> Option<String> {
        let Self::Ssh { log, .. } = self else {
            return None;
        };
        let text = std::fs::read_to_string(log).ok()?;
        let text = text.trim();
        (!text.is_empty()).then(|| text.to_owned())
    }
}

fn extra_roots(options: &GitOptions) -> Result<Vec<reqwest::Certificate>, GitError> {
    match &options.ca_pem {
        None => Ok(Vec::new()),
        Some(pem) => reqwest::Certificate::from_pem_bundle(pem).map_err(|e| GitError::CaBundle {
            message: e.to_string(),
        }),
    }
}

fn secret_text(secret: &SecretData, key: &'static str) -> Result<String, GitError> {
    let value = secret.get(key).ok_or(GitError::SecretKeyMissing { key })?;
    String::from_utf8(value.clone()).map_err(|_| GitError::SecretKeyNotText { key })
}

/// `-i <key>` from the Secret, and no other identity. OpenSSH refuses keys readable by
/// others, hence the 0600 file.
fn identity_options(secret: &SecretData, work_dir: &Path) -> Result<String, GitError> {
    let key = secret
        .get(SSH_PRIVATE_KEY)
        .ok_or(GitError::SecretKeyMissing {
            key: SSH_PRIVATE_KEY,
        })?;
    let key_file = work_dir.join("ssh-key");
    write_private(&key_file, key)?;
    Ok(format!(
        "-i {} -o IdentitiesOnly=yes -o IdentityAgent=none",
        shell_quote(&key_file)
    ))
}

/// Host key checking: none with `insecureSkipVerify`, else strictly against the Secret's
/// known hosts, or the system's when the Secret has none. Never a prompt.
fn host_key_options(
    secret: Option<&SecretData>,
    insecure_skip_verify: bool,
    work_dir: &Path,
) -> Result<String, GitError> {
    if insecure_skip_verify {
        return Ok("-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null".to_owned());
    }
    match secret.and_then(|secret| secret.get(SSH_KNOWN_HOSTS)) {
        Some(known_hosts) => {
            let file = work_dir.join("known_hosts");
            write_private(&file, known_hosts)?;
            Ok(format!(
                "-o StrictHostKeyChecking=yes -o UserKnownHostsFile={}",
                shell_quote(&file)
            ))
        }
        None => Ok("-o StrictHostKeyChecking=yes".to_owned()),
    }
}

fn write_private(path: &Path, content: &[u8]) -> Result<(), GitError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut content = content.to_vec();
    // OpenSSH rejects a key file whose last line has no newline.
    if !content.ends_with(b"\n") {
        content.push(b'\n');
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(&content))
        .map_err(|source| GitError::WorkDir {
            path: path.to_path_buf(),
            source,
        })
}

/// Single-quotes `path` for the shell that runs `core.sshCommand`.
fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ssh_access() -> Access {
        Access::Ssh {
            ssh_command: String::new(),
            log: PathBuf::new(),
        }
    }

    #[test]
    fn ssh_urls_without_a_user_get_user_git() {
        let ssh = ssh_access();
        assert_eq!(
            ssh.url("ssh://example.com/r.git"),
            "ssh://git@example.com/r.git"
        );
        assert_eq!(
            ssh.url("example.com:org/r.git"),
            "git@example.com:org/r.git"
        );
        assert_eq!(
            ssh.url("ssh://me@example.com:2222/r"),
            "ssh://me@example.com:2222/r"
        );
        assert_eq!(ssh.url("git@example.com:org/r"), "git@example.com:org/r");
        assert_eq!(Access::Plain.url("git://h/r"), "git://h/r");
    }
}
