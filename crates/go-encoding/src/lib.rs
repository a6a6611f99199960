//! JSON and YAML read and written the way Go's `encoding/json` and go-yaml v2 (through
//! `sigs.k8s.io/yaml`) do, so that our output is byte-compatible with upstream Go tools and our
//! decoding accepts and rejects what theirs does.
//!
//! * writing JSON ([`push_string`], [`push_canonical`], [`push_compact`], [`push_indented`],
//!   [`GoObject`]): Go string escaping, sorted keys, `json.Compact`/`json.Indent` layout;
//! * numbers ([`push_json_f64`], [`format_go_g`]): Go's `strconv` digits, and Go's `%v` of a
//!   string list ([`format_go_list`]) and `%q` ([`go_quote`]);
//! * writing YAML ([`to_yaml_document`]): go-yaml's key order, scalar resolution and emitter
//!   layout;
//! * transcoding a JSON stream straight to canonical JSON ([`canonical_json_stream`]);
//! * decoding with Go struct semantics ([`Node`] over parsed values, [`Fields`] over raw JSON
//!   text): case-insensitive field names, `null` as the zero value, errors naming the JSON path.

mod decode;
mod fmt;
mod json;
mod number;
mod transcode;
mod yaml;

pub use decode::{
    DecodeError, Fields, Kind, Node, Problem, decode_array, decode_base64, decode_int,
    decode_string, join,
};
pub use fmt::{big_int_text36, format_go_list, go_quote};
pub use json::{
    Canonical, GoObject, NumberStyle, go_kind, push_canonical, push_compact, push_indented,
    push_string, push_string_array, to_canonical,
};
pub use number::{format_go_g, push_json_f64};
pub use transcode::{CanonicalDoc, canonical_json_stream};
pub use yaml::{Resolved, natural_less, resolve_plain, to_yaml_document};
