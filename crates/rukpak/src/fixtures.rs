//! Fixture builders for reconcile and webhook unit tests: Bundles and ConfigMaps as the API
//! server would hand them over, without a cluster.

use k8s_openapi::api::core::v1::LocalObjectReference;
use olm_api::bundle::{
    Bundle, BundleSource, BundleSpec, BundleStatus, ConfigMapSource, GitRef, GitSource,
    PHASE_UNPACKED, PROVISIONER_PLAIN, SourceType,
};

use crate::store::StoredBundle;

pub(crate) struct BundleFixture {
    bundle: Bundle,
}

impl BundleFixture {
    fn with_source(name: &str, source: BundleSource) -> Self {
        let mut bundle = Bundle::new(
            name,
            BundleSpec {
                provisioner_class_name: PROVISIONER_PLAIN.to_owned(),
                source,
            },
        );
        bundle.metadata.uid = Some(format!("uid-{name}"));
        bundle.metadata.generation = Some(1);
        Self { bundle }
    }

    fn empty_source(type_: SourceType) -> BundleSource {
        BundleSource {
            type_,
            image: None,
            git: None,
            config_maps: None,
            http: None,
            upload: None,
        }
    }

    fn git_ref(name: &str, ref_: GitRef) -> Self {
        Self::with_source(
            name,
            BundleSource {
                git: Some(GitSource {
                    repository: "https://github.com/operator-framework/combo".into(),
                    ref_,
                    ..GitSource::default()
                }),
                ..Self::empty_source(SourceType::Git)
            },
        )
    }

    /// A plain Bundle of the combo repository at `tag`.
    pub(crate) fn git(name: &str, tag: &str) -> Self {
        Self::git_ref(
            name,
            GitRef {
                tag: Some(tag.into()),
                ..GitRef::default()
            },
        )
    }

    /// A plain Bundle of the combo repository at `commit`.
    pub(crate) fn git_commit(name: &str, commit: &str) -> Self {
        Self::git_ref(
            name,
            GitRef {
                commit: Some(commit.into()),
                ..GitRef::default()
            },
        )
    }

    /// A Bundle of ConfigMaps `(name, path)`.
    pub(crate) fn config_maps(name: &str, maps: &[(&str, Option<&str>)]) -> Self {
        let items = maps
            .iter()
            .map(|(cm, path)| ConfigMapSource {
                config_map: LocalObjectReference {
                    name: (*cm).to_owned(),
                },
                path: path.map(str::to_owned),
            })
            .collect();
        Self::with_source(
            name,
            BundleSource {
                config_maps: Some(items),
                ..Self::empty_source(SourceType::ConfigMaps)
            },
        )
    }

    /// A Bundle of `type_` with no member set (what only a missing CRD rule would admit).
    pub(crate) fn without_member(name: &str, type_: SourceType) -> Self {
        Self::with_source(name, Self::empty_source(type_))
    }

    pub(crate) fn uid(mut self, uid: &str) -> Self {
        self.bundle.metadata.uid = Some(uid.into());
        self
    }

    pub(crate) fn generation(mut self, generation: i64) -> Self {
        self.bundle.metadata.generation = Some(generation);
        self
    }

    pub(crate) fn class(mut self, class: &str) -> Self {
        self.bundle.spec.provisioner_class_name = class.into();
        self
    }

    pub(crate) fn source(mut self, edit: impl FnOnce(&mut BundleSource)) -> Self {
        edit(&mut self.bundle.spec.source);
        self
    }

    /// Status as after a successful unpack that pinned `resolved`.
    pub(crate) fn unpacked(mut self, resolved: BundleSource) -> Self {
        self.bundle.status = Some(BundleStatus {
            phase: Some(PHASE_UNPACKED.into()),
            resolved_source: Some(resolved),
            ..BundleStatus::default()
        });
        self
    }

    pub(crate) fn build(self) -> Bundle {
        self.bundle
    }
}

/// A store record for an object with `uid` unpacked from `resolved`.
pub(crate) fn stored(uid: &str, resolved: &BundleSource) -> StoredBundle {
    StoredBundle {
        uid: uid.into(),
        resolved_source: resolved.clone(),
        digest: "sha256:0".into(),
        size: 0,
    }
}
