//! Every CEL rule of the CRDs, evaluated client-side with kube's `cel` feature. The API-server
//! tests (`apiserver.rs`) check the same rules against a real cluster.

use k8s_openapi::api::core::v1::LocalObjectReference;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::core::cel::{ValidationErrors, Validator, validate_cel, validate_cel_update};
use olm_api::bundle::{
    AuthSecret, Authorization, ConfigMapSource, GitRef, GitSource, HttpSource, ImageSource,
    SourceType, UploadSource,
};
use olm_api::bundle_deployment::{BundleTemplate, BundleTemplateMetadata};
use olm_api::catalog::{CatalogImageSource, CatalogSource, CatalogSourceType};
use olm_api::{
    Bundle, BundleDeployment, BundleDeploymentSpec, BundleSource, BundleSpec, Catalog, CatalogSpec,
};
use serde_json::{Value, json};

fn messages(result: Result<(), ValidationErrors>) -> Vec<String> {
    match result {
        Ok(()) => vec![],
        Err(errors) => errors.iter().map(|e| e.message.clone()).collect(),
    }
}

fn source(type_: SourceType) -> BundleSource {
    BundleSource::of_type(type_)
}

fn image_source() -> BundleSource {
    BundleSource {
        image: Some(ImageSource {
            ref_: "my-bundle@sha256:xyz123".into(),
            ..Default::default()
        }),
        ..source(SourceType::Image)
    }
}

fn git(ref_: GitRef, directory: Option<&str>) -> GitSource {
    GitSource {
        repository: "https://github.com/operator-framework/combo".into(),
        directory: directory.map(Into::into),
        ref_,
        auth: None,
    }
}

fn tag(t: &str) -> GitRef {
    GitRef {
        tag: Some(t.into()),
        ..Default::default()
    }
}

fn git_source(ref_: GitRef, directory: Option<&str>) -> BundleSource {
    BundleSource {
        git: Some(git(ref_, directory)),
        ..source(SourceType::Git)
    }
}

fn bundle(source: BundleSource) -> Bundle {
    Bundle::new(
        "b",
        BundleSpec {
            provisioner_class_name: "core-rukpak-io-plain".into(),
            source,
        },
    )
}

fn bundle_deployment(source: BundleSource) -> BundleDeployment {
    BundleDeployment::new(
        "bd",
        BundleDeploymentSpec {
            provisioner_class_name: "core-rukpak-io-plain".into(),
            template: BundleTemplate {
                metadata: BundleTemplateMetadata::default(),
                spec: BundleSpec {
                    provisioner_class_name: "core-rukpak-io-registry".into(),
                    source,
                },
            },
            config: None,
        },
    )
}

/// Each kind of source, valid.
fn valid_sources() -> Vec<BundleSource> {
    vec![
        image_source(),
        git_source(tag("v0.0.2"), None),
        git_source(
            GitRef {
                commit: Some("f5a3711".into()),
                ..Default::default()
            },
            Some("./dev/deploy"),
        ),
        BundleSource {
            config_maps: Some(vec![ConfigMapSource {
                config_map: LocalObjectReference { name: "cm".into() },
                path: Some("manifests".into()),
            }]),
            ..source(SourceType::ConfigMaps)
        },
        BundleSource {
            http: Some(HttpSource {
                url: "https://example.com/bundle.tgz".into(),
                auth: Some(Authorization {
                    secret: Some(AuthSecret {
                        name: "creds".into(),
                    }),
                    insecure_skip_verify: true,
                }),
            }),
            ..source(SourceType::Http)
        },
        BundleSource {
            upload: Some(UploadSource {}),
            ..source(SourceType::Upload)
        },
    ]
}

#[test]
fn valid_bundles_and_templates_pass() {
    for s in valid_sources() {
        assert_eq!(
            messages(validate_cel(&bundle(s.clone()))),
            Vec::<String>::new(),
            "{s:?}"
        );
        assert_eq!(
            messages(validate_cel(&bundle_deployment(s.clone()))),
            Vec::<String>::new()
        );
    }
}

#[test]
fn missing_member_is_named_like_the_webhook_does() {
    let cases = [
        (
            SourceType::Image,
            r#"bundle.spec.source.image must be set for source type "image""#,
        ),
        (
            SourceType::Git,
            r#"bundle.spec.source.git must be set for source type "git""#,
        ),
        (
            SourceType::ConfigMaps,
            r#"bundle.spec.source.configmaps must be set for source type "configmaps""#,
        ),
        (
            SourceType::Http,
            r#"bundle.spec.source.http must be set for source type "http""#,
        ),
        (
            SourceType::Upload,
            r#"bundle.spec.source.upload must be set for source type "upload""#,
        ),
    ];
    for (type_, expected) in cases {
        assert_eq!(
            messages(validate_cel(&bundle(source(type_)))),
            vec![expected.to_owned()]
        );
        let template_message =
            expected.replace("bundle.spec", "bundledeployment.spec.template.spec");
        assert_eq!(
            messages(validate_cel(&bundle_deployment(source(type_)))),
            vec![template_message]
        );
    }
}

#[test]
fn empty_config_maps_list_is_rejected() {
    let s = BundleSource {
        config_maps: Some(vec![]),
        ..source(SourceType::ConfigMaps)
    };
    assert_eq!(
        messages(validate_cel(&bundle(s))),
        [r#"bundle.spec.source.configmaps must be set for source type "configmaps""#]
    );
}

#[test]
fn member_of_another_type_is_rejected() {
    // type git, but the image member is set (and git is missing).
    let mut s = image_source();
    s.type_ = SourceType::Git;
    assert_eq!(
        messages(validate_cel(&bundle(s.clone()))),
        [
            r#"bundle.spec.source.git must be set for source type "git""#,
            r#"bundle.spec.source.image may only be set for source type "image""#,
        ]
    );
    assert_eq!(
        messages(validate_cel(&bundle_deployment(s))),
        [
            r#"bundledeployment.spec.template.spec.source.git must be set for source type "git""#,
            r#"bundledeployment.spec.template.spec.source.image may only be set for source type "image""#,
        ]
    );

    // type image with both image and git set.
    let mut s = image_source();
    s.git = Some(git(tag("v1"), None));
    assert_eq!(
        messages(validate_cel(&bundle(s))),
        [r#"bundle.spec.source.git may only be set for source type "git""#]
    );

    for member in SourceType::ALL {
        let mut s = valid_sources()
            .into_iter()
            .find(|s| s.type_ == member)
            .expect("a valid source of every type");
        s.type_ = if member == SourceType::Image {
            SourceType::Upload
        } else {
            SourceType::Image
        };
        let expected =
            format!(r#"bundle.spec.source.{member} may only be set for source type "{member}""#);
        assert!(
            messages(validate_cel(&bundle(s))).contains(&expected),
            "{member}"
        );
    }
}

#[test]
fn git_ref_needs_exactly_one_of_branch_tag_commit() {
    let expected = ["exactly one of branch, tag or commit must be set"];
    assert_eq!(
        messages(validate_cel(&bundle(git_source(GitRef::default(), None)))),
        expected
    );
    let two = GitRef {
        branch: Some("main".into()),
        tag: Some("v1".into()),
        commit: None,
    };
    assert_eq!(
        messages(validate_cel(&bundle(git_source(two.clone(), None)))),
        expected
    );
    assert_eq!(
        messages(validate_cel(&bundle_deployment(git_source(two, None)))),
        expected
    );
    let branch = GitRef {
        branch: Some("main".into()),
        ..Default::default()
    };
    assert!(validate_cel(&bundle(git_source(branch, None))).is_ok());
}

#[test]
fn git_directory_must_stay_inside_the_repository() {
    let message = r#"bundle.spec.source.git.directory begins with "../": directory must define path within the repository"#;
    for bad in ["..", "../", "../manifests", "./../x", ".//../x", "././.."] {
        assert_eq!(
            messages(validate_cel(&bundle(git_source(tag("v1"), Some(bad))))),
            [message],
            "{bad}"
        );
    }
    for good in [
        "manifests",
        "./manifests",
        "..manifests",
        "a/../b",
        "dev/deploy",
        "...",
        ".",
    ] {
        assert!(
            validate_cel(&bundle(git_source(tag("v1"), Some(good)))).is_ok(),
            "{good}"
        );
    }
    assert_eq!(
        messages(validate_cel(&bundle_deployment(git_source(
            tag("v1"),
            Some("../x")
        )))),
        [message.replace("bundle.spec", "bundledeployment.spec.template.spec")]
    );
}

#[test]
fn bundle_rules_have_no_transition_rule() {
    // Immutability of Bundle.spec is the webhook's job (rukpak.md §2.1): with no CEL transition
    // rule, the API server lets the update through to the webhook, whose message users expect.
    let old = bundle(git_source(tag("v0.0.2"), None));
    let new = bundle(git_source(tag("v0.0.3"), None));
    assert!(validate_cel_update(&new, &old).is_ok());
}

fn catalog(ref_: &str, poll_interval: Option<&str>) -> Catalog {
    Catalog::new(
        "c",
        CatalogSpec {
            source: CatalogSource {
                type_: CatalogSourceType::Image,
                image: Some(CatalogImageSource {
                    ref_: ref_.into(),
                    pull_secret: None,
                    poll_interval: poll_interval.map(Into::into),
                    insecure_skip_tls_verify: false,
                }),
            },
        },
    )
}

const NEGATIVE: &str = "pollInterval must not be negative; use 0s to disable polling";
const DIGEST: &str = "cannot specify PollInterval while using digest-based image";

// Which spellings are admitted is the pattern's job (see version_patterns.rs); CEL sees the
// field as a `duration` and only checks its sign.
#[test]
fn poll_interval_accepts_non_negative_durations() {
    for ok in ["24h", "0s", "30m", "1h30m", "1.5h", "90s", "1h0m0s"] {
        assert!(
            validate_cel(&catalog(
                "registry.redhat.io/redhat/redhat-operator-index:v4.15",
                Some(ok)
            ))
            .is_ok(),
            "{ok}"
        );
    }
}

#[test]
fn poll_interval_rejects_negative_durations() {
    let tag_ref = "quay.io/operatorhubio/catalog:latest";
    for negative in ["-1h", "-1s", "-30m", "-1h30m"] {
        assert_eq!(
            messages(validate_cel(&catalog(tag_ref, Some(negative)))),
            [NEGATIVE],
            "{negative}"
        );
    }
}

#[test]
fn digest_ref_cannot_poll() {
    let digest = "quay.io/operatorhubio/catalog@sha256:c7f11097a628f092d8bad148406aa0e0951094a03445fd4bc0775431ef683a41";
    assert!(validate_cel(&catalog(digest, None)).is_ok());
    assert_eq!(
        messages(validate_cel(&catalog(digest, Some("24h")))),
        [DIGEST]
    );
    // As upstream v0.11+: any pollInterval, 0s included, is refused with a digest.
    assert_eq!(
        messages(validate_cel(&catalog(digest, Some("0s")))),
        [DIGEST]
    );
}

/// Validates raw JSON against an installed CRD's schema, for objects the typed structs cannot
/// hold.
fn validate_json(crd: &CustomResourceDefinition, object: &Value) -> Vec<String> {
    let schema = serde_json::to_value(
        crd.spec.versions[0]
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .expect("schema"),
    )
    .expect("schema as JSON");
    messages(Validator::new().validate(&schema, object, None))
}

#[test]
fn catalog_without_image_member_is_rejected() {
    let object = json!({
        "apiVersion": "catalogd.operatorframework.io/v1alpha1",
        "kind": "Catalog",
        "metadata": {"name": "c"},
        "spec": {"source": {"type": "image"}}
    });
    assert_eq!(
        validate_json(&olm_api::crd::catalog(), &object),
        [r#"spec.source.image must be set for source type "image""#]
    );
}

#[test]
fn installed_crds_carry_the_same_rules_as_the_derived_ones() {
    // crd::all() post-processes the derived CRDs; the CEL rules must survive that.
    let bad = json!({
        "apiVersion": "core.rukpak.io/v1alpha1",
        "kind": "Bundle",
        "metadata": {"name": "b"},
        "spec": {"provisionerClassName": "core-rukpak-io-plain", "source": {"type": "image"}}
    });
    assert_eq!(
        validate_json(&olm_api::crd::bundle(), &bad),
        [r#"bundle.spec.source.image must be set for source type "image""#]
    );
    let negative = json!({
        "apiVersion": "catalogd.operatorframework.io/v1alpha1",
        "kind": "Catalog",
        "metadata": {"name": "c"},
        "spec": {"source": {"type": "image", "image": {"ref": "x:1", "pollInterval": "-5m"}}}
    });
    assert_eq!(
        validate_json(&olm_api::crd::catalog(), &negative),
        [NEGATIVE]
    );
}
