//! From catalogs, requests and the installed state to a constraint problem, and back to a plan
//! or an explanation.
//!
//! The problem is built with variable indexes (bundles are catalog indexes) and solved in that
//! form; identifiers (deppy's strings) are only produced when the problem is unsatisfiable or
//! identifiers could collide, and then the identifier form is solved and explained exactly as
//! deppy's would be.
//!
//! Layout, each step only using the ones before it: `upgrades` (which bundles may replace an
//! installed one), `problem` (the [`Builder`](problem::Builder) that turns the input into
//! variables and constraints), `rejections` (why a bundle was not chosen), `selection` (the
//! plan read back from a selection) and `explain` (the explanation of an unsatisfiable core).

mod explain;
mod problem;
mod rejections;
mod selection;
mod upgrades;

use std::time::Instant;

use crate::catalog::Catalog;
use crate::model::{self, SolveError, SolveOptions};
use crate::plan::{InputError, Plan, ResolveError, Unsatisfiable};
use crate::request::{Installed, Options, Request};
use problem::Builder;

/// Resolves all requests jointly: one problem, every request must be satisfied.
///
/// Installed bundles owned by a request of the problem follow its upgrade policy; bundles
/// installed for other Operators are fixed facts (or upgradable, per [`Options::others`]).
pub fn resolve(
    catalog: &Catalog,
    requests: &[Request],
    installed: &[Installed],
    options: &Options,
) -> Result<Plan, ResolveError> {
    let started = Instant::now();
    let deadline = options.timeout.map(|t| started + t);
    let mut builder = Builder::new(catalog, requests, installed, options)?;
    builder.build()?;
    let indexed = builder.finish();
    if builder.identifiers_distinct() {
        match model::solve_indexed(&indexed, deadline) {
            Ok(Some(selected)) => return Ok(builder.plan(&selected)),
            Ok(None) => {}
            Err(_) => return Err(ResolveError::Cancelled),
        }
    }
    // Unsatisfiable (or identifiers that may collide): solve deppy's identifier form, which
    // reports malformed problems and explains conflicts.
    let problem = builder.problem(&indexed);
    let solve_options = SolveOptions {
        deadline,
        minimise_budget: None,
    };
    match model::solve(&problem, &solve_options) {
        Ok(selected) => Ok(builder.plan(&selected)),
        Err(SolveError::Problem(e)) => Err(InputError {
            request: None,
            message: e.to_string(),
        }
        .into()),
        Err(SolveError::Cancelled) => Err(ResolveError::Cancelled),
        Err(SolveError::NotSatisfiable(core)) => {
            let mut unsat = builder.explain(&problem, &core);
            if requests.len() > 1 {
                unsat.conflicting_requests =
                    smallest_conflicting_set(catalog, requests, installed, options, &unsat);
            }
            Err(ResolveError::Unsatisfiable(Box::new(unsat)))
        }
    }
}

/// Resolves each request in its own problem (the controller's isolation): one request's input
/// error or conflict never affects another. Two requests for the same package both fail with
/// `duplicate identifier "required package <pkg>" in input`.
pub fn resolve_each(
    catalog: &Catalog,
    requests: &[Request],
    installed: &[Installed],
    options: &Options,
) -> Vec<(String, Result<Plan, ResolveError>)> {
    requests
        .iter()
        .map(|r| {
            let duplicate = requests.iter().filter(|o| o.package == r.package).count() > 1;
            let result = if duplicate {
                Err(InputError {
                    request: Some(r.package.clone()),
                    message: format!(
                        "duplicate identifier \"required package {}\" in input",
                        r.package
                    ),
                }
                .into())
            } else {
                resolve(catalog, std::slice::from_ref(r), installed, options)
            };
            (r.package.clone(), result)
        })
        .collect()
}

/// Deletion over requests: drop every request whose removal keeps the problem unsatisfiable.
fn smallest_conflicting_set(
    catalog: &Catalog,
    requests: &[Request],
    installed: &[Installed],
    options: &Options,
    unsat: &Unsatisfiable,
) -> Vec<String> {
    let mut kept: Vec<Request> = requests.to_vec();
    let mut i = 0;
    while i < kept.len() && kept.len() > 1 {
        let mut trial = kept.clone();
        trial.remove(i);
        let unsatisfiable = match Builder::new(catalog, &trial, installed, options) {
            Ok(mut b) => match b.build() {
                Ok(()) => {
                    let indexed = b.finish();
                    let deadline = options.timeout.map(|t| Instant::now() + t);
                    if b.identifiers_distinct() {
                        matches!(model::solve_indexed(&indexed, deadline), Ok(None))
                    } else {
                        let opts = SolveOptions {
                            deadline,
                            minimise_budget: Some(0),
                        };
                        matches!(
                            model::solve(&b.problem(&indexed), &opts),
                            Err(SolveError::NotSatisfiable(_))
                        )
                    }
                }
                Err(_) => false,
            },
            Err(_) => false,
        };
        if unsatisfiable {
            kept = trial;
        } else {
            i += 1;
        }
    }
    if kept.len() == requests.len() && !unsat.conflicting_requests.is_empty() {
        return unsat.conflicting_requests.clone();
    }
    kept.into_iter().map(|r| r.package).collect()
}
