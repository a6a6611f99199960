//! `opm index add`: plan (pull the from-index and the bundles, compute the new catalog,
//! validate it) then execute (push one new layer, or write the `--generate` build context),
//! on a file-based catalog ([`crate::catalog`]) or an sqlite index ([`crate::sqlite`]).

use oci::ImageStore;
use sqlite_index::Mode;

use crate::bundles::{PulledBundle, pull_bundles, pull_bundles_permissive};
use crate::catalog::{load_catalog, validate, write_fbc};
use crate::error::IndexImageError;
use crate::fbc_add::{AddOptions, BundleToAdd, add_bundles};
use crate::kind::{
    DEFAULT_CONFIGS_PATH, DEFAULT_DATABASE_PATH, FromIndex, IndexKind, fetch_from_index,
};
use crate::output::{IndexOutput, Outcome};
use crate::sqlite;

/// Which kind of index to create when there is no `--from-index`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NewIndexKind {
    /// Upstream's only kind (deprecated upstream).
    #[default]
    Sqlite,
    /// A file-based catalog image.
    Fbc,
}

#[derive(Clone, Debug)]
pub struct AddRequest {
    pub bundles: Vec<String>,
    pub from_index: Option<String>,
    pub out: IndexOutput,
    pub mode: Mode,
    pub overwrite_latest: bool,
    /// Bundles that fail to pull or parse are reported and skipped.
    pub permissive: bool,
    pub new_index_kind: NewIndexKind,
}

/// Runs `opm index add`.
pub async fn add(store: &ImageStore, req: &AddRequest) -> Result<Outcome, IndexImageError> {
    if req.bundles.is_empty() {
        return Err(IndexImageError::Invalid(
            "no bundles to add: --bundles is empty".into(),
        ));
    }
    let from = match &req.from_index {
        Some(r) => Some(fetch_from_index(store, r).await?),
        None => None,
    };
    let mut warnings = Vec::new();
    let bundles = if req.permissive {
        let (ok, errs) = pull_bundles_permissive(store, &req.bundles).await;
        for e in errs {
            warnings.push(format!("permissive: skipping a bundle: {e}"));
        }
        if ok.is_empty() {
            return Err(IndexImageError::Invalid(
                "no bundle could be loaded (see the warnings above)".into(),
            ));
        }
        ok
    } else {
        pull_bundles(store, &req.bundles).await?
    };
    warnings.extend(bundles.iter().flat_map(PulledBundle::skip_warnings));
    let mut outcome = match from {
        Some(from) => match from.kind.clone() {
            IndexKind::Fbc { configs } => {
                add_fbc(store, req, Some(from), &configs, &bundles).await?
            }
            IndexKind::Sqlite { database } => {
                add_sqlite(store, req, Some(from), &database, &bundles).await?
            }
        },
        None => match req.new_index_kind {
            NewIndexKind::Fbc => add_fbc(store, req, None, DEFAULT_CONFIGS_PATH, &bundles).await?,
            NewIndexKind::Sqlite => {
                add_sqlite(store, req, None, DEFAULT_DATABASE_PATH, &bundles).await?
            }
        },
    };
    warnings.append(&mut outcome.warnings);
    outcome.warnings = warnings;
    Ok(outcome)
}

async fn add_fbc(
    store: &ImageStore,
    req: &AddRequest,
    from: Option<FromIndex>,
    configs: &str,
    bundles: &[PulledBundle],
) -> Result<Outcome, IndexImageError> {
    let catalog = load_catalog(store, from.as_ref(), configs, &req.out.output).await?;
    let mut after = catalog.cfg.clone();
    let adds: Vec<BundleToAdd<'_>> = bundles
        .iter()
        .map(|b| BundleToAdd {
            image: &b.reference,
            bundle: &b.bundle,
        })
        .collect();
    let changed = add_bundles(
        &mut after,
        &adds,
        AddOptions {
            mode: req.mode,
            overwrite_latest: req.overwrite_latest,
        },
    )?;
    validate(&after)?;
    let created_by = format!("opm index add --bundles {} # olm-rs", req.bundles.join(","));
    write_fbc(
        store,
        &req.out,
        from,
        configs,
        &catalog,
        &after,
        &changed,
        &created_by,
    )
    .await
}

fn to_add(b: &PulledBundle) -> Result<sqlite_index::BundleToAdd, IndexImageError> {
    sqlite_index::BundleToAdd::from_registry_bundle(&b.bundle, &b.reference)
        .map_err(|e| IndexImageError::Invalid(format!("bundle image {}: {e}", b.reference)))
}

/// `opm index add` on an sqlite index (or a new one).
async fn add_sqlite(
    store: &ImageStore,
    req: &AddRequest,
    from: Option<FromIndex>,
    database: &str,
    bundles: &[PulledBundle],
) -> Result<Outcome, IndexImageError> {
    let db = sqlite::prepare(store, from.as_ref(), database, &req.out.output).await?;
    let mut warnings = Vec::new();
    let mode = req.mode;
    let overwrite = req.overwrite_latest;
    let mut writer = sqlite::open(&db)?;
    let mut adds = Vec::new();
    for b in bundles {
        match to_add(b) {
            Ok(a) => adds.push(a),
            Err(e) if req.permissive => warnings.push(format!("permissive: skipping: {e}")),
            Err(e) => return Err(e),
        }
    }
    let changed: Vec<String> = adds.iter().map(|a| a.package().to_string()).collect();
    let result = writer.add_bundles(&adds, mode, overwrite);
    if let Err(e) = result {
        if !req.permissive {
            return Err(sqlite::writer_error(e));
        }
        // Permissive (upstream logs load errors and goes on): one bundle at a time, keeping
        // those that load.
        warnings.push(format!("permissive: {e}; adding the bundles one at a time"));
        for a in &adds {
            if let Err(e) = writer.add_bundles(std::slice::from_ref(a), mode, overwrite) {
                warnings.push(format!("permissive: skipping {}: {e}", a.image));
            }
        }
    }
    writer.commit().map_err(sqlite::writer_error)?;
    let created_by = format!("opm index add --bundles {} # olm-rs", req.bundles.join(","));
    let mut outcome = sqlite::output(store, &req.out, from, database, &db, &created_by).await?;
    outcome.changed_packages = {
        let mut c = changed;
        c.sort();
        c.dedup();
        c
    };
    outcome.warnings = warnings;
    Ok(outcome)
}
