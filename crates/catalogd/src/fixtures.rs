//! Builders for the objects unit tests reason about (controller-rs's `fixtures.rs`):
//! `catalog("cat").image("reg.example/cat:v1").unpacked_at(t).build()`.

use std::time::{Duration, SystemTime};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use olm_api::catalog::{
    Catalog, CatalogImageSource, CatalogSource, CatalogSourceType, CatalogSpec, CatalogStatus,
    FINALIZER_DELETE_SERVER_CACHE, ResolvedCatalogSource, ResolvedImageSource,
};

use crate::store::{StoredCatalog, StoredSource};

/// The digest fixtures resolve to.
pub(crate) const DIGEST: &str =
    "sha256:abababababababababababababababababababababababababababababababab";

/// `t(secs)`: a fixed instant plus `secs`, so tests read as offsets.
pub(crate) fn t(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
}

/// A Catalog as the controller's `apply` sees it: uid `uid-<name>`, generation 1, the
/// finalizer in place, an image source `reg.example/<name>:v1` without a pull secret or
/// poll interval.
pub(crate) fn catalog(name: &str) -> CatalogFixture {
    let mut c = Catalog::new(
        name,
        CatalogSpec {
            source: CatalogSource {
                type_: CatalogSourceType::Image,
                image: Some(CatalogImageSource {
                    ref_: format!("reg.example/{name}:v1"),
                    pull_secret: None,
                    poll_interval: None,
                    insecure_skip_tls_verify: false,
                }),
            },
        },
    );
    c.metadata.uid = Some(format!("uid-{name}"));
    c.metadata.generation = Some(1);
    c.metadata.finalizers = Some(vec![FINALIZER_DELETE_SERVER_CACHE.into()]);
    CatalogFixture(c)
}

pub(crate) struct CatalogFixture(Catalog);

impl CatalogFixture {
    fn image_source(&mut self) -> &mut CatalogImageSource {
        self.0
            .spec
            .source
            .image
            .as_mut()
            .expect("fixtures have an image source")
    }

    pub(crate) fn image(mut self, reference: &str) -> Self {
        self.image_source().ref_ = reference.into();
        self
    }

    pub(crate) fn poll(mut self, interval: Option<&str>) -> Self {
        self.image_source().poll_interval = interval.map(Into::into);
        self
    }

    pub(crate) fn uid(mut self, uid: &str) -> Self {
        self.0.metadata.uid = Some(uid.into());
        self
    }

    /// Sets an annotation.
    pub(crate) fn annotate(mut self, key: &str, value: &str) -> Self {
        self.0
            .metadata
            .annotations
            .get_or_insert_default()
            .insert(key.into(), value.into());
        self
    }

    pub(crate) fn generation(mut self, generation: i64) -> Self {
        self.0.metadata.generation = Some(generation);
        self
    }

    /// Status as after a successful check at `at`: the spec's reference resolved to
    /// [`DIGEST`], generation 1 observed.
    pub(crate) fn unpacked_at(self, at: SystemTime) -> Self {
        let reference = self.0.spec.source.image.as_ref().unwrap().ref_.clone();
        let name = self.0.metadata.name.clone().unwrap();
        self.with_status(CatalogStatus {
            resolved_source: Some(ResolvedCatalogSource {
                type_: CatalogSourceType::Image,
                image: Some(ResolvedImageSource {
                    ref_: reference,
                    resolved_ref: format!("reg.example/{name}@{DIGEST}"),
                    last_poll_attempt: Time(jiff::Timestamp::try_from(at).unwrap()),
                    pull_secret: None,
                }),
            }),
            observed_generation: Some(1),
            ..Default::default()
        })
    }

    pub(crate) fn with_status(mut self, status: CatalogStatus) -> Self {
        self.0.status = Some(status);
        self
    }

    pub(crate) fn build(self) -> Catalog {
        self.0
    }
}

/// What the store holds for `name`: `digest`, stored at the epoch, without a source record.
pub(crate) fn stored(name: &str, digest: &str) -> StoredCatalog {
    StoredCatalog {
        name: name.into(),
        digest: digest.into(),
        dir: "/nonexistent".into(),
        stored_at: SystemTime::UNIX_EPOCH,
        size: 0,
        source: None,
    }
}

/// [`stored`] with the image it came from, as an unpack records it.
pub(crate) fn stored_from(name: &str, reference: &str, at: SystemTime) -> StoredCatalog {
    StoredCatalog {
        stored_at: at,
        source: Some(StoredSource {
            reference: reference.into(),
            resolved_ref: format!("reg.example/{name}@{DIGEST}"),
        }),
        ..stored(name, DIGEST)
    }
}
