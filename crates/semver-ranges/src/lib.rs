//! Version ranges in the two dialects OLM uses, on top of [`semver::Version`].
//!
//! * [`masterminds`]: Masterminds/semver v3.2.1 constraints, the dialect of the user-facing
//!   `Operator.spec.version` field (`>=1.2, <2 || ~3.1`, hyphen ranges, wildcards, `v` prefix,
//!   pre-releases excluded unless a comparator asks for them).
//! * [`blang`]: blang/semver v4 ranges, the dialect of catalog data (`olm.package.required`
//!   `versionRange`, `olm.skipRange`), plus blang's strict `Parse` and `ParseTolerant` for
//!   versions.
//!
//! Both parsers reproduce upstream quirks on purpose (catalogs and user input were validated
//! against the Go libraries), and report errors with the byte offset and text of the offending
//! token. See `docs/resolution.md` for the grammar and the list of quirks.

pub mod blang;
pub mod masterminds;
mod version_order;

pub use blang::{BlangRange, BlangRangeError, BlangVersionError, parse_strict, parse_tolerant};
pub use masterminds::{Constraints, ConstraintsError};
pub use semver::Version;
pub use version_order::{build_id_compare, precedence};
