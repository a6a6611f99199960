//! The `git` source: a shallow, bare clone into a temporary repository, then the commit's tree
//! at `directory` is written out as plain files. Nothing is checked out and no `.git` state
//! reaches the destination; the temporary repository is removed whatever happens.
//!
//! Submodules: `directory` (cleaning and the escape check), `transport` (credentials, TLS,
//! ssh), `tree` (writing the tree).

mod directory;
mod transport;
mod tree;

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use olm_api::bundle::{GitRef, GitSource};

use crate::SecretData;
use transport::Access;
pub use tree::TreeError;

/// Settings for git fetches that do not come from the Bundle.
#[derive(Clone, Debug)]
pub struct GitOptions {
    /// PEM certificates trusted for HTTPS in addition to the system roots (e.g. a private CA).
    pub ca_pem: Option<Vec<u8>>,
    /// Where temporary repositories are created; unset: beside the destination.
    pub work_dir: Option<PathBuf>,
    /// Bound on one whole fetch, from connecting to the last file written.
    pub timeout: Duration,
    /// Bound on the bytes of file content written to the destination.
    pub max_bytes: u64,
}

impl Default for GitOptions {
    fn default() -> Self {
        Self {
            ca_pem: None,
            work_dir: None,
            timeout: Duration::from_secs(120),
            max_bytes: 512 << 20,
        }
    }
}

/// Why a git source could not be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("directory can not start with '../' or '/'")]
    EscapingDirectory,
    #[error("exactly one of branch, tag or commit must be set in the git ref")]
    AmbiguousRef,
    #[error("{kind} name {name:?} is not a valid git reference name")]
    InvalidRefName { kind: &'static str, name: String },
    #[error("commit {commit:?} is not a full 40-character hexadecimal commit SHA")]
    InvalidCommit { commit: String },
    #[error("the auth Secret has no {key:?} key")]
    SecretKeyMissing { key: &'static str },
    #[error("the auth Secret's {key:?} value is not UTF-8 text")]
    SecretKeyNotText { key: &'static str },
    #[error("the trusted CA certificates are not valid PEM: {message}")]
    CaBundle { message: String },
    #[error("creating the temporary git repository {path}: {source}")]
    WorkDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("bundle unpack git clone error: {0}")]
    Clone(CloneError),
    #[error("bundle unpack git clone error: no result within {}s (the controller's git timeout)", .0.as_secs())]
    Timeout(Duration),
    #[error("checkout commit {commit:?}: {source}")]
    Checkout {
        commit: String,
        #[source]
        source: TreeError,
    },
    #[error("the git fetch stopped unexpectedly: {message}")]
    Aborted { message: String },
}

/// Why the clone itself failed, classified from the transport's error chain.
#[derive(Debug, thiserror::Error)]
pub enum CloneError {
    #[error("repository {url:?} does not exist or cannot be read: {detail}")]
    RepositoryNotFound { url: String, detail: String },
    #[error("{kind} {name:?} does not exist in the repository")]
    RefNotFound { kind: &'static str, name: String },
    #[error(
        "the server requires credentials: name a Secret with \"username\" and \"password\" in auth.secret"
    )]
    CredentialsRequired,
    #[error(
        "the server refused the credentials of the auth Secret (HTTP 401): check its \"username\" and \"password\""
    )]
    CredentialsRefused,
    #[error(
        "the server's TLS certificate is not trusted ({detail}): give the controller its CA, or set auth.insecureSkipVerify"
    )]
    UntrustedCertificate { detail: String },
    #[error(
        "the server's ssh host key is not trusted ({detail}): add it to \"ssh-knownhosts\" in the auth Secret, or set auth.insecureSkipVerify"
    )]
    UntrustedHostKey { detail: String },
    #[error("the server refused the ssh key of the auth Secret ({detail})")]
    SshKeyRefused { detail: String },
    #[error("the connection was closed during the transfer: {detail}")]
    ConnectionLost { detail: String },
    #[error("{0}")]
    Other(String),
}

/// Fetches `source` and writes the tree at its `directory` into `dest` (an existing empty
/// directory). Returns the full hex id of the commit that was read. On error `dest` may hold
/// part of the content; the caller discards it.
pub async fn fetch(
    source: &GitSource,
    secret: Option<&SecretData>,
    dest: &Path,
    options: &GitOptions,
) -> Result<String, GitError> {
    let directory = directory::clean(source.directory.as_deref())
        .map_err(|directory::EscapingDirectory| GitError::EscapingDirectory)?
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    let wanted = Wanted::from_ref(&source.ref_)?;
    let work = work_dir(dest, options)?;
    let insecure = source
        .auth
        .as_ref()
        .is_some_and(|auth| auth.insecure_skip_verify);
    let access = Access::prepare(&source.repository, secret, insecure, options, work.path())?;
    let job = CloneJob {
        url: access.url(&source.repository),
        wanted,
        directory,
        access,
        repo_dir: work.path().join("repo"),
        dest: dest.to_path_buf(),
        timeout: options.timeout,
        max_bytes: options.max_bytes,
        interrupt: Arc::new(AtomicBool::new(false)),
    };
    // On a timeout, or when the caller drops this future, the thread is told to stop: gix
    // checks the flag between reads, the tree writer between files.
    let _stop = StopOnDrop(job.interrupt.clone());
    let task = tokio::task::spawn_blocking(move || job.run());
    let result = match tokio::time::timeout(options.timeout, task).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(GitError::Aborted {
            message: join.to_string(),
        }),
        Err(_) => Err(GitError::Timeout(options.timeout)),
    };
    drop(work);
    result
}

/// Sets the blocking clone's interrupt flag when the fetch ends, however it ends.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The temporary directory holding the bare repository (and ssh key files).
fn work_dir(dest: &Path, options: &GitOptions) -> Result<tempfile::TempDir, GitError> {
    let parent = match &options.work_dir {
        Some(dir) => dir.clone(),
        None => dest
            .parent()
            .map_or_else(std::env::temp_dir, Path::to_path_buf),
    };
    tempfile::Builder::new()
        .prefix(".git-source-")
        .tempdir_in(&parent)
        .map_err(|source| GitError::WorkDir {
            path: parent,
            source,
        })
}

/// What to fetch, as gix's single-revision clone takes it: a full ref name or an object id.
#[derive(Debug, PartialEq)]
enum Wanted {
    Ref(String),
    Commit(String),
}

impl Wanted {
    fn from_ref(git_ref: &GitRef) -> Result<Self, GitError> {
        fn set(v: &Option<String>) -> Option<&str> {
            v.as_deref().filter(|s| !s.is_empty())
        }
        match (
            set(&git_ref.branch),
            set(&git_ref.tag),
            set(&git_ref.commit),
        ) {
            (Some(branch), None, None) => full_ref_name("branch", "refs/heads/", branch),
            (None, Some(tag), None) => full_ref_name("tag", "refs/tags/", tag),
            (None, None, Some(commit)) => {
                if commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit()) {
                    Ok(Self::Commit(commit.to_ascii_lowercase()))
                } else {
                    Err(GitError::InvalidCommit {
                        commit: commit.to_owned(),
                    })
                }
            }
            _ => Err(GitError::AmbiguousRef),
        }
    }

    fn revision(&self) -> &str {
        match self {
            Self::Ref(name) | Self::Commit(name) => name,
        }
    }
}

fn full_ref_name(kind: &'static str, prefix: &str, name: &str) -> Result<Wanted, GitError> {
    let full = format!("{prefix}{name}");
    // Also refuses refspec syntax (`*`, `:`, `^`) that would change what is fetched.
    match gix::refs::FullName::try_from(full.as_str()) {
        Ok(_) => Ok(Wanted::Ref(full)),
        Err(_) => Err(GitError::InvalidRefName {
            kind,
            name: name.to_owned(),
        }),
    }
}

/// One clone, run on a blocking thread.
struct CloneJob {
    url: String,
    wanted: Wanted,
    directory: Vec<String>,
    access: Access,
    repo_dir: PathBuf,
    dest: PathBuf,
    timeout: Duration,
    max_bytes: u64,
    interrupt: Arc<AtomicBool>,
}

impl CloneJob {
    fn run(self) -> Result<String, GitError> {
        let (repo, id) = self.fetch()?;
        let commit = repo
            .find_commit(id)
            .map_err(|_| GitError::Clone(self.not_found()))?;
        let id = id.to_hex().to_string();
        let directory: Vec<&str> = self.directory.iter().map(String::as_str).collect();
        let written = tree::write_subtree(
            &commit,
            &directory,
            &self.dest,
            self.max_bytes,
            &self.interrupt,
        )
        .map_err(|source| GitError::Checkout {
            commit: id.clone(),
            source,
        })?;
        tracing::debug!(
            repository = %self.url,
            commit = %id,
            files = written.files,
            bytes = written.bytes,
            symlinks_skipped = written.symlinks_skipped,
            submodules_skipped = written.submodules_skipped,
            "git source unpacked"
        );
        Ok(id)
    }

    /// The repository holding the wanted commit, and the commit's id.
    fn fetch(&self) -> Result<(gix::Repository, gix::ObjectId), GitError> {
        let shallow = self.clone_revision().and_then(|repo| {
            let id = repo.head_commit()?.id;
            Ok((repo, id))
        });
        match (shallow, &self.wanted) {
            (Ok(found), _) => Ok(found),
            // Servers speaking only protocol v0/v1 send no commit they did not advertise.
            (Err(e), Wanted::Commit(sha)) if chain(&e).contains("not our ref") => {
                tracing::debug!(repository = %self.url, commit = %sha, "fetching by id refused; fetching all branches");
                let repo = self
                    .clone_all()
                    .map_err(|e| GitError::Clone(self.classify(&e)))?;
                let id = gix::ObjectId::from_hex(sha.as_bytes()).map_err(|_| {
                    GitError::InvalidCommit {
                        commit: sha.clone(),
                    }
                })?;
                Ok((repo, id))
            }
            (Err(e), _) => Err(GitError::Clone(self.classify(&e))),
        }
    }

    /// A depth-1 clone of exactly the wanted revision; HEAD of the result is its commit.
    fn clone_revision(&self) -> gix::Result<gix::Repository> {
        let depth = NonZeroU32::new(1).expect("1 is not zero");
        let mut prepare = self
            .prepare(&self.repo_dir)?
            .with_shallow(gix::remote::fetch::Shallow::DepthAtRemote(depth))
            .with_revision(Some(self.wanted.revision()))?;
        let (repo, _outcome) = prepare.fetch_only(gix::progress::Discard, &self.interrupt)?;
        Ok(repo)
    }

    /// A full clone of all branches and tags.
    fn clone_all(&self) -> gix::Result<gix::Repository> {
        let mut prepare = self.prepare(&self.repo_dir.with_extension("full"))?;
        let (repo, _outcome) = prepare.fetch_only(gix::progress::Discard, &self.interrupt)?;
        Ok(repo)
    }

    /// A bare clone into `dir` that ignores the host's git configuration and environment.
    fn prepare(&self, dir: &Path) -> gix::Result<gix::clone::PrepareFetch> {
        let open = gix::open::Options::isolated().config_overrides(self.access.config_overrides());
        let access = self.access.clone();
        let timeout = self.timeout;
        Ok(gix::clone::PrepareFetch::new(
            self.url.as_str(),
            dir,
            gix::create::Kind::Bare,
            gix::create::Options::default(),
            open,
        )?
        .configure_connection(move |connection| {
            access.configure(connection, timeout);
            Ok(())
        }))
    }

    fn not_found(&self) -> CloneError {
        let (kind, name) = match &self.wanted {
            Wanted::Ref(name) => match name.strip_prefix("refs/heads/") {
                Some(branch) => ("branch", branch),
                None => ("tag", name.trim_start_matches("refs/tags/")),
            },
            Wanted::Commit(sha) => ("commit", sha.as_str()),
        };
        CloneError::RefNotFound {
            kind,
            name: name.to_owned(),
        }
    }

    /// `text` without the password of a `user:password@` repository URL: messages end up in
    /// the Bundle's status.
    fn redact(&self, mut text: String) -> String {
        let decoded = gix::url::parse(self.url.as_str())
            .ok()
            .and_then(|url| url.password().map(str::to_owned));
        // As written (percent-encoded) and as decoded.
        for password in [url_password(&self.url).map(str::to_owned), decoded]
            .into_iter()
            .flatten()
            .filter(|p| !p.is_empty())
        {
            text = text.replace(&password, "<redacted>");
        }
        text
    }

    /// Turns gix's error chain into the reason a user can act on. The texts matched are
    /// gix's and git's own; the tests pin each case against real servers.
    fn classify(&self, error: &gix::Error) -> CloneError {
        let text = self.redact(chain(error));
        let detail = || text.clone();
        if let Some(ssh) = self.access.ssh_messages() {
            let last = ssh.lines().last().unwrap_or_default().to_owned();
            if ssh.contains("Host key verification failed") {
                return CloneError::UntrustedHostKey { detail: last };
            }
            if ssh.contains("Permission denied") {
                return CloneError::SshKeyRefused { detail: last };
            }
            return CloneError::Other(format!("{text} (ssh: {last})"));
        }
        if text.contains("No credentials were returned") {
            CloneError::CredentialsRequired
        } else if text.contains("were not accepted by the remote") {
            CloneError::CredentialsRefused
        } else if text.contains("invalid peer certificate") {
            CloneError::UntrustedCertificate {
                detail: text.rsplit(": ").next().unwrap_or_default().to_owned(),
            }
        } else if text.contains("didn't have the requested revision")
            || text.contains("not our ref")
        {
            self.not_found()
        } else if [
            "no such repository",
            "is a valid git directory",
            "Received HTTP status 404",
            "does not appear to be a git repository",
            "Repository not found",
        ]
        .iter()
        .any(|marker| text.contains(marker))
        {
            CloneError::RepositoryNotFound {
                url: self.redact(self.url.clone()),
                detail: detail(),
            }
        } else if transfer_cut(error) {
            CloneError::ConnectionLost { detail: detail() }
        } else {
            CloneError::Other(detail())
        }
    }
}

/// The password part of `scheme://user:password@host/…`, as written.
fn url_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let userinfo = authority.rsplit_once('@')?.0;
    Some(userinfo.split_once(':')?.1)
}

/// The messages of an error and its sources, joined with `: `, repeats left out.
fn chain(error: &gix::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        let text = e.to_string();
        if !text.is_empty() && !parts.contains(&text) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

/// Whether the connection ended before the server finished: an early EOF or reset on a
/// plain stream, or an HTTP body that broke off.
fn transfer_cut(error: &gix::Error) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if e.downcast_ref::<reqwest::Error>()
            .is_some_and(reqwest::Error::is_body)
        {
            return true;
        }
        current = match e.downcast_ref::<std::io::Error>() {
            Some(io) if is_cut(io.kind()) => return true,
            // `io::Error::source` skips the wrapped error itself; look at it too.
            Some(io) => io.get_ref().map(|inner| inner as _).or_else(|| e.source()),
            None => e.source(),
        };
    }
    false
}

fn is_cut(kind: std::io::ErrorKind) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        kind,
        UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git_ref(branch: Option<&str>, tag: Option<&str>, commit: Option<&str>) -> GitRef {
        GitRef {
            branch: branch.map(str::to_owned),
            tag: tag.map(str::to_owned),
            commit: commit.map(str::to_owned),
        }
    }

    #[test]
    fn url_passwords_are_found_as_written() {
        assert_eq!(url_password("https://u:p%3Aw@h:1/r"), Some("p%3Aw"));
        assert_eq!(url_password("https://u@h/r"), None);
        assert_eq!(url_password("https://h/r@x"), None);
        assert_eq!(url_password("git@h:r"), None);
    }

    #[test]
    fn refs_become_full_names() {
        let wanted = Wanted::from_ref(&git_ref(Some("main"), None, None)).unwrap();
        assert_eq!(wanted, Wanted::Ref("refs/heads/main".into()));
        let wanted = Wanted::from_ref(&git_ref(None, Some("v1.0.0"), None)).unwrap();
        assert_eq!(wanted, Wanted::Ref("refs/tags/v1.0.0".into()));
        let sha = "9E3AB7F1A4B2C3D4E5F60718293A4B5C6D7E8F90";
        let wanted = Wanted::from_ref(&git_ref(None, None, Some(sha))).unwrap();
        assert_eq!(wanted, Wanted::Commit(sha.to_ascii_lowercase()));
    }

    #[test]
    fn bad_refs_are_refused_with_their_reason() {
        let err = Wanted::from_ref(&git_ref(None, None, Some("9e3ab7f"))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "commit \"9e3ab7f\" is not a full 40-character hexadecimal commit SHA"
        );
        let err = Wanted::from_ref(&git_ref(Some("a*b"), None, None)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "branch name \"a*b\" is not a valid git reference name"
        );
        for ambiguous in [
            git_ref(None, None, None),
            git_ref(Some("main"), Some("v1"), None),
            git_ref(Some(""), None, None),
        ] {
            assert!(matches!(
                Wanted::from_ref(&ambiguous),
                Err(GitError::AmbiguousRef)
            ));
        }
    }
}
