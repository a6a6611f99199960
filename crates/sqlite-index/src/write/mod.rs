//! Writing upstream opm sqlite index databases: creating and migrating them, adding bundles in
//! the `replaces`, `semver` and `semver-skippatch` modes, removing and pruning packages,
//! pruning stranded bundles and deprecating with truncation — with upstream operator-registry
//! v1.73.0's SQL, checks and error messages.
//!
//! Every change happens on a temporary copy next to the target. Each operation runs in its
//! own transaction on that copy (so a failed operation leaves the copy as it was), and
//! [`IndexWriter::commit`] renames the copy over the target: the target is never half written.
//!
//! Parts, lower first: `csv` (what the loader reads from a CSV), `bundle` (a bundle to add),
//! `error`, `graph` (upgrade graphs, pure), `query` (the loader's read queries), `load` (its
//! table operations), `migrate` (migrations 000–013), `populate` (the add modes) and `export`.

mod bundle;
mod csv;
mod error;
mod export;
mod graph;
mod load;
pub mod migrate;
mod populate;
mod query;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::Connection;

pub use bundle::{BundleAnnotations, BundleInputError, BundleToAdd};
pub use csv::CsvError;
pub use error::{AddError, WriteError};
pub use export::{ExportBundle, ExportError, ExportPlan, package_yaml, write_package_yamls};
pub use populate::{InvalidMode, Mode};

use crate::read::{Index, is_sqlite_file};

/// An index database being changed; see the module documentation.
pub struct IndexWriter {
    conn: Option<Connection>,
    target: PathBuf,
    temp: PathBuf,
    /// Upstream VACUUMs after removals; done once at commit.
    vacuum: bool,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh path next to `target` for the working copy.
fn temp_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "index.db".to_string());
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}.{}.{n}.{nanos}.tmp", std::process::id()))
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> WriteError + '_ {
    move |source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl IndexWriter {
    /// A new index at `path` (which must not exist yet) with upstream's schema at migration
    /// 013, created by applying migrations 000–013 as upstream does.
    pub fn create(path: &Path) -> Result<Self, WriteError> {
        if path.exists() {
            return Err(WriteError::Exists {
                path: path.to_path_buf(),
            });
        }
        let temp = temp_path(path);
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(io_err(&temp))?;
        Self::start(path, temp)
    }

    /// The existing index at `path`, migrated to 013 if it is older (as upstream migrates every
    /// database it opens for writing). An empty file counts as a new database.
    pub fn open(path: &Path) -> Result<Self, WriteError> {
        let meta = fs::metadata(path).map_err(io_err(path))?;
        if meta.len() > 0 && !is_sqlite_file(path).map_err(io_err(path))? {
            return Err(WriteError::NotSqlite {
                path: path.to_path_buf(),
            });
        }
        let temp = temp_path(path);
        fs::copy(path, &temp).map_err(io_err(&temp))?;
        Self::start(path, temp)
    }

    /// [`IndexWriter::open`] when `path` exists, else [`IndexWriter::create`] (upstream's
    /// `registry add -d` behaviour).
    pub fn open_or_create(path: &Path) -> Result<Self, WriteError> {
        if path.exists() {
            Self::open(path)
        } else {
            Self::create(path)
        }
    }

    fn start(target: &Path, temp: PathBuf) -> Result<Self, WriteError> {
        let mut writer = IndexWriter {
            conn: None,
            target: target.to_path_buf(),
            temp,
            vacuum: false,
        };
        let conn = Connection::open(&writer.temp)?;
        // The working copy is private and synced once by `commit` before the rename, so
        // sqlite's own journal file and fsyncs buy nothing; an in-memory journal still
        // rolls back a failed operation's transaction.
        conn.execute_batch(
            "PRAGMA foreign_keys = ON; PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF",
        )?;
        writer.conn = Some(conn);
        writer.in_transaction(migrate::migrate)?;
        Ok(writer)
    }

    /// Runs `f` in a transaction, committed only when it succeeds.
    fn in_transaction<T, E: From<WriteError>>(
        &mut self,
        f: impl FnOnce(&Connection) -> Result<T, E>,
    ) -> Result<T, E> {
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| WriteError::Upstream("index writer already closed".to_string()))?;
        let tx = conn.transaction().map_err(WriteError::from)?;
        let out = f(&tx)?;
        tx.commit().map_err(WriteError::from)?;
        Ok(out)
    }

    /// The file this writer will replace on commit.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// The index as changed so far, opened read-only (for rendering or checks before commit).
    pub fn read(&self) -> Result<Index, crate::IndexError> {
        Index::open(&self.temp)
    }

    /// Adds bundles like `opm index add`/`opm registry add` (not permissive): sanity checks,
    /// the mode's graph update, then the check that every added bundle is reachable from its
    /// channels' heads. On error nothing of this call is kept.
    pub fn add_bundles(
        &mut self,
        bundles: &[BundleToAdd],
        mode: Mode,
        overwrite_latest: bool,
    ) -> Result<(), AddError> {
        self.in_transaction(|c| populate::add_bundles(c, bundles, mode, overwrite_latest))
    }

    /// Removes packages like `opm index rm`/`opm registry rm`; each argument may itself be a
    /// comma-separated list. Bundles left without channel entries are removed too.
    pub fn remove_packages(&mut self, packages: &[&str]) -> Result<(), WriteError> {
        self.in_transaction(|c| {
            for arg in packages {
                let mut seen: Vec<&str> = Vec::new();
                let mut errs = Vec::new();
                for pkg in arg.split(',') {
                    if pkg.is_empty() || seen.contains(&pkg) {
                        continue;
                    }
                    seen.push(pkg);
                    if let Err(e) = load::remove_package(c, pkg) {
                        errs.push(e.context(format!("error removing operator package {pkg}: ")));
                    }
                }
                if let Some(e) = WriteError::aggregate(errs) {
                    return Err(e.context("error deleting packages from database: "));
                }
            }
            load::remove_stranded_bundles(c)
                .map_err(|e| e.context("error removing stranded packages from database: "))
        })?;
        self.vacuum = true;
        Ok(())
    }

    /// Removes every package not in `keep` (`opm index prune`/`opm registry prune`).
    pub fn prune(&mut self, keep: &[&str]) -> Result<(), WriteError> {
        self.in_transaction(|c| {
            for pkg in query::list_packages(c)? {
                if keep.contains(&pkg.as_str()) {
                    continue;
                }
                let mut errs = Vec::new();
                for p in pkg.split(',').filter(|p| !p.is_empty()) {
                    if let Err(e) = load::remove_package(c, p) {
                        errs.push(e.context(format!("error removing operator package {p}: ")));
                    }
                }
                if let Some(e) = WriteError::aggregate(errs) {
                    return Err(e.context("error deleting packages from database: "));
                }
            }
            Ok(())
        })?;
        self.vacuum = true;
        Ok(())
    }

    /// Removes bundles that are in no channel and not deprecated (`prune-stranded`).
    pub fn prune_stranded(&mut self) -> Result<(), WriteError> {
        self.in_transaction(|c| {
            load::remove_stranded_bundles(c)
                .map_err(|e| e.context("error removing stranded packages from database: "))
        })?;
        self.vacuum = true;
        Ok(())
    }

    /// Deprecates the bundles with these images and truncates the channels below them
    /// (`deprecatetruncate`). With `allow_package_removal`, a package whose every channel head
    /// is listed (including its default channel's) is removed instead.
    pub fn deprecate_truncate(
        &mut self,
        bundle_images: &[&str],
        allow_package_removal: bool,
    ) -> Result<(), WriteError> {
        self.in_transaction(|c| {
            let mut to_deprecate: Vec<String> = Vec::new();
            if !bundle_images.is_empty() {
                let listed = query::listed_bundle_paths(c)?;
                if !listed.is_empty() {
                    let mut missing = Vec::new();
                    for b in bundle_images {
                        if listed.contains(*b) {
                            to_deprecate.push(b.to_string());
                        } else {
                            missing.push(b.to_string());
                        }
                    }
                    if !missing.is_empty() {
                        return Err(WriteError::DeprecateMissing(missing));
                    }
                }
            }
            if allow_package_removal {
                maybe_remove_packages(c, &mut to_deprecate)?;
            }
            let mut errs = Vec::new();
            for path in &to_deprecate {
                match load::deprecate_bundle(c, path) {
                    Ok(_) => {}
                    Err(e) => {
                        let removing_default = matches!(e, WriteError::RemovingDefaultChannel);
                        errs.push(e.context(format!("error deprecating bundle {path}: ")));
                        if !removing_default {
                            break;
                        }
                    }
                }
            }
            match WriteError::aggregate(errs) {
                None => Ok(()),
                Some(e) => Err(e),
            }
        })?;
        self.vacuum = true;
        Ok(())
    }

    /// What `opm index export` writes for `packages` (all when empty): the bundle images to
    /// pull into `<package>/<version>/` and each `package.yaml` (see [`write_package_yamls`]).
    pub fn export_plan(&self, packages: &[&str]) -> Result<ExportPlan, ExportError> {
        let conn = self
            .conn
            .as_ref()
            .ok_or_else(|| WriteError::Upstream("index writer already closed".to_string()))?;
        export::plan(conn, packages)
    }

    /// Replaces the target with the changed copy (after upstream's VACUUM when packages or
    /// bundles were removed).
    pub fn commit(mut self) -> Result<(), WriteError> {
        let conn = self
            .conn
            .take()
            .ok_or_else(|| WriteError::Upstream("index writer already closed".to_string()))?;
        if self.vacuum {
            conn.execute_batch("VACUUM")?;
        }
        conn.close().map_err(|(_, e)| WriteError::Sqlite(e))?;
        let f = fs::File::open(&self.temp).map_err(io_err(&self.temp))?;
        f.sync_all().map_err(io_err(&self.temp))?;
        drop(f);
        fs::rename(&self.temp, &self.target).map_err(io_err(&self.target))?;
        if let Some(dir) = self.target.parent()
            && let Ok(d) = fs::File::open(if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            })
        {
            // Best effort: persist the rename.
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// `--allow-package-removal`: removes packages whose default channel head is listed, when all
/// their channel heads are listed, and drops their heads from `bundles` (upstream
/// `PackageDeprecator.MaybeRemovePackages`).
fn maybe_remove_packages(conn: &Connection, bundles: &mut Vec<String>) -> Result<(), WriteError> {
    let mut errs: Vec<WriteError> = Vec::new();
    let mut packages: Vec<String> = Vec::new();
    for b in bundles.iter() {
        let found = query::package_from_default_channel_head(conn, b)?;
        if !found.is_empty() {
            packages.push(found);
        }
    }
    if packages.is_empty() {
        return Ok(());
    }
    let mut removed: Vec<String> = Vec::new();
    for pkg in &packages {
        for channel in query::list_channels(conn, pkg)? {
            let head = query::bundle_path_for_channel_head(conn, pkg, &channel)?;
            if !bundles.contains(&head) {
                errs.push(WriteError::PackageRemovalIncomplete {
                    package: pkg.clone(),
                    head,
                    channel,
                });
                return Err(
                    WriteError::aggregate(errs).unwrap_or(WriteError::RemovingDefaultChannel)
                );
            }
            removed.push(head);
        }
    }
    for pkg in &packages {
        if let Err(e) = load::remove_package(conn, pkg) {
            errs.push(e.context(format!("error removing package {pkg}: ")));
        }
    }
    bundles.retain(|b| !removed.contains(b));
    match WriteError::aggregate(errs) {
        None => Ok(()),
        Some(e) => Err(e),
    }
}

impl Drop for IndexWriter {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Not committed: discard the working copy.
            drop(conn);
            let _ = fs::remove_file(&self.temp);
            let mut journal = self.temp.clone().into_os_string();
            journal.push("-journal");
            let _ = fs::remove_file(journal);
        }
    }
}
