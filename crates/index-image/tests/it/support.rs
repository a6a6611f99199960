//! Index commands run in a [`RegistryEnv`], and reading back what they pushed.

use std::path::Path;

use index_image::{AddRequest, IndexOutput, Mode, NewIndexKind, Outcome, Output, RegistryAccess};
use testenv::RegistryEnv;

/// A store over its own blob cache `cache`, with no logins (as opm's flags would set it up).
pub(crate) fn store_with_cache(env: &RegistryEnv, cache: &Path) -> oci::ImageStore {
    RegistryAccess {
        use_http: true,
        cache_dir: Some(cache.to_path_buf()),
        auth_file: Some(env.no_auth_file()),
        ..Default::default()
    }
    .store()
    .unwrap()
}

pub(crate) fn add_request(
    bundles: Vec<String>,
    from_index: Option<String>,
    tag: &str,
) -> AddRequest {
    AddRequest {
        bundles,
        from_index,
        out: IndexOutput {
            output: Output::Push(tag.to_string()),
            binary_image: "scratch".into(),
        },
        mode: Mode::Replaces,
        overwrite_latest: false,
        permissive: false,
        new_index_kind: NewIndexKind::Fbc,
    }
}

pub(crate) async fn add(env: &RegistryEnv, req: &AddRequest) -> Outcome {
    index_image::add(&env.store, req)
        .await
        .unwrap_or_else(|e| panic!("index add failed: {e}"))
}

/// The catalog of a pushed FBC index image, loaded.
pub(crate) async fn catalog_of(env: &RegistryEnv, reference: &str) -> fbc::DeclarativeConfig {
    let image = index_image::fetch(&env.store, reference).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("configs");
    index_image::unpack_dir(&env.store, &image, reference, "/configs", &dest)
        .await
        .unwrap();
    fbc::load_fs(&dest).unwrap()
}

/// (name, replaces, skips) of a channel's entries, sorted by name.
pub(crate) fn entries(
    cfg: &fbc::DeclarativeConfig,
    package: &str,
    channel: &str,
) -> Vec<(String, String, Vec<String>)> {
    let ch = cfg
        .channels
        .iter()
        .find(|c| c.package == package && c.name == channel)
        .unwrap_or_else(|| panic!("channel {package}/{channel} missing"));
    let mut out: Vec<_> = ch
        .entries
        .iter()
        .map(|e| (e.name.clone(), e.replaces.clone(), e.skips.clone()))
        .collect();
    out.sort();
    out
}

pub(crate) fn entry(name: &str, replaces: &str, skips: &[&str]) -> (String, String, Vec<String>) {
    (
        name.to_string(),
        replaces.to_string(),
        skips.iter().map(|s| s.to_string()).collect(),
    )
}
