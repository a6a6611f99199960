//! The `upload` source: the archive the upload service stored, or pending without one.

use bundle_sources::Unpack;
use oci::RegistryOptions;
use olm_api::BundleSource;
use olm_api::bundle::{SourceType, UploadSource};

use crate::fixtures::{
    Entry, Objects, Workspace, files_under, plain_bundle, raw_tgz, sources, tgz_of_dir,
};

fn upload_source() -> BundleSource {
    BundleSource {
        upload: Some(UploadSource {}),
        ..BundleSource::of_type(SourceType::Upload)
    }
}

#[tokio::test]
async fn an_upload_is_pending_until_its_archive_exists() {
    let uploads = tempfile::tempdir().unwrap();
    let (sources, _cache) = sources(RegistryOptions::default(), uploads.path());
    let ws = Workspace::new();

    let result = sources
        .unpack("combo", &upload_source(), &Objects::default(), &ws.dest())
        .await;
    assert_eq!(
        result.unwrap(),
        Unpack::Pending {
            message: "waiting for bundle to be uploaded".into()
        }
    );
    assert!(ws.files().is_empty());

    std::fs::write(
        uploads.path().join("combo.tgz"),
        tgz_of_dir(&plain_bundle()),
    )
    .unwrap();
    let result = sources
        .unpack("combo", &upload_source(), &Objects::default(), &ws.dest())
        .await;
    assert_eq!(
        result.unwrap(),
        Unpack::Unpacked {
            resolved: upload_source()
        }
    );
    assert_eq!(ws.files(), files_under(&plain_bundle()));
    ws.assert_nothing_beside_dest(&[]);
    // The upload of another Bundle is not this one's.
    let other = Workspace::new();
    let result = sources
        .unpack(
            "combo-2",
            &upload_source(),
            &Objects::default(),
            &other.dest(),
        )
        .await;
    assert!(matches!(result.unwrap(), Unpack::Pending { .. }));
}

#[tokio::test]
async fn a_bad_upload_is_refused() {
    let uploads = tempfile::tempdir().unwrap();
    let (sources, _cache) = sources(RegistryOptions::default(), uploads.path());
    std::fs::write(uploads.path().join("text.tgz"), "not an archive").unwrap();
    std::fs::write(
        uploads.path().join("evil.tgz"),
        raw_tgz(&[Entry::File("../evil.yaml", b"x")]),
    )
    .unwrap();
    std::fs::create_dir(uploads.path().join("dir.tgz")).unwrap();
    let cases = [
        ("text", "upload text.tgz: gzip: invalid header".to_owned()),
        (
            "evil",
            r#"layer upload evil.tgz: entry "../evil.yaml" has a `..` component (path traversal)"#
                .to_owned(),
        ),
        (
            "dir",
            "reading upload dir.tgz: not a regular file".to_owned(),
        ),
        (
            "../uploads",
            r#"bundle name "../uploads" cannot name an upload file"#.to_owned(),
        ),
    ];
    for (bundle, expected) in cases {
        let ws = Workspace::new();
        let result = sources
            .unpack(bundle, &upload_source(), &Objects::default(), &ws.dest())
            .await;
        assert_eq!(result.unwrap_err().to_string(), expected);
        ws.assert_nothing_beside_dest(&[]);
    }
}
