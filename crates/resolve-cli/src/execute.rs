//! Running an [`Invocation`]: load the catalogs, index them, resolve (`--repeat` times).

use std::time::Instant;

use anyhow::Context;
use resolver::{Catalog, FbcSource, Plan, Request, ResolveError, catalog_from_fbc};

use crate::catalogs::{self, LoadedCatalog};
use crate::invocation::Invocation;

/// What a run found.
pub(crate) struct Execution<'a> {
    pub(crate) catalogs: Vec<LoadedCatalog>,
    pub(crate) catalog: Catalog,
    /// One entry per problem (per request, or one with `--joint`): its requests and result,
    /// from the last run.
    pub(crate) outcomes: Vec<(Vec<&'a Request>, Result<Plan, ResolveError>)>,
    /// Loading the catalogs and building the index, milliseconds.
    pub(crate) load_ms: f64,
    pub(crate) index_ms: f64,
    /// One resolution of every problem, per run, microseconds.
    pub(crate) samples_us: Vec<f64>,
}

/// Loads, indexes and resolves. `Err` is an input error (a catalog that cannot be read).
pub(crate) fn execute(invocation: &Invocation) -> anyhow::Result<Execution<'_>> {
    let load_started = Instant::now();
    let catalogs = catalogs::load(&invocation.catalogs)?;
    let load_ms = load_started.elapsed().as_secs_f64() * 1e3;
    invocation.check_request_catalogs()?;

    let index_started = Instant::now();
    let catalog = catalog_from_fbc(catalogs.iter().map(|c| FbcSource {
        name: &c.name,
        priority: c.priority,
        config: &c.config,
    }))
    .context("indexing the catalogs")?;
    let index_ms = index_started.elapsed().as_secs_f64() * 1e3;

    let mut samples_us = Vec::new();
    let mut outcomes = Vec::new();
    for _ in 0..invocation.repeat {
        let started = Instant::now();
        outcomes = resolve_once(invocation, &catalog);
        samples_us.push(started.elapsed().as_secs_f64() * 1e6);
    }
    Ok(Execution {
        catalogs,
        catalog,
        outcomes,
        load_ms,
        index_ms,
        samples_us,
    })
}

/// Every problem of the mode: all requests jointly, or each on its own.
fn resolve_once<'a>(
    invocation: &'a Invocation,
    catalog: &Catalog,
) -> Vec<(Vec<&'a Request>, Result<Plan, ResolveError>)> {
    let Invocation {
        requests,
        installed,
        options,
        ..
    } = invocation;
    if invocation.joint {
        vec![(
            requests.iter().collect(),
            resolver::resolve(catalog, requests, installed, options),
        )]
    } else {
        resolver::resolve_each(catalog, requests, installed, options)
            .into_iter()
            .zip(requests)
            .map(|((_, result), r)| (vec![r], result))
            .collect()
    }
}
