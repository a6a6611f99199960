//! The `git` source. (Placeholder signature; the git helper replaces this file.)

use std::path::Path;

use olm_api::bundle::GitSource;

use crate::SecretData;

/// Settings for git fetches that do not come from the Bundle.
#[derive(Clone, Debug, Default)]
pub struct GitOptions {}

#[derive(Debug, thiserror::Error)]
pub enum GitError {}

/// Fetches `source` and writes the tree at its `directory` into `dest` (an existing empty
/// directory). Returns the full hex id of the commit that was read.
pub(crate) async fn fetch(
    source: &GitSource,
    secret: Option<&SecretData>,
    dest: &Path,
    options: &GitOptions,
) -> Result<String, GitError> {
    let _ = (source, secret, dest, options);
    unreachable!("replaced by the git module")
}
