//! Version ranges in the two dialects OLM uses, on top of [`semver::Version`].
//!
//! * [`masterminds`] ([`Constraints`]): Masterminds/semver v3.2.1 constraints, the dialect of
//!   the user-facing `Operator.spec.version` field (`>=1.2, <2 || ~3.1`, hyphen ranges,
//!   wildcards, `v` prefix, pre-releases excluded unless a comparator asks for them).
//! * [`blang`] ([`BlangRange`], [`parse_strict`], [`parse_tolerant`]): blang/semver v4 ranges,
//!   the dialect of catalog data (`olm.package.required` `versionRange`, `olm.skipRange`), plus
//!   blang's strict `Parse` and `ParseTolerant` for versions.
//!
//! Both parsers reproduce upstream quirks on purpose (catalogs and user input were validated
//! against the Go libraries), and report errors with the byte offset and text of the offending
//! token. See `docs/resolution.md` for the grammar and the list of quirks.
//!
//! The re-exports below are the API. The two dialect modules stay public so the paths
//! `semver_ranges::blang::…` and `semver_ranges::masterminds::…` that dependents already use keep
//! working. `groups` holds what both dialects share, `version_order` the precedence and
//! build-metadata orders.

pub mod blang;
mod groups;
pub mod masterminds;
mod version_order;

pub use blang::{
    BlangComparator, BlangOp, BlangRange, BlangRangeError, BlangVersionError, parse_strict,
    parse_tolerant,
};
pub use masterminds::{Comparator, Constraints, ConstraintsError, Op};
pub use semver::Version;
pub use version_order::{build_id_compare, precedence};
