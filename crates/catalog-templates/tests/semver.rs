//! The semver template's channel generation and linking with a stub bundle renderer.

use catalog_templates::{BundleRenderError, RenderedBundle, TemplateKind, write_mermaid};
use fbc::property::build;

fn bundle(image: &str) -> Result<Vec<RenderedBundle>, BundleRenderError> {
    let version = image.rsplit(':').next().unwrap();
    Ok(vec![RenderedBundle {
        bundle: fbc::Bundle {
            schema: "olm.bundle".into(),
            name: format!("op.v{version}"),
            package: "op".into(),
            image: image.into(),
            properties: vec![build::package("op", version, "")],
            ..Default::default()
        },
        csv: Some(serde_json::json!({"spec": {"description": "desc"}})),
    }])
}

#[test]
fn minor_and_major_channels_are_linked_like_upstream() {
    let text = "schema: olm.semver\ngenerateMajorChannels: true\ngenerateMinorChannels: true\nstable:\n  bundles:\n  - image: r/op:1.0.0\n  - image: r/op:1.0.1\n  - image: r/op:1.1.0\n  - image: r/op:2.0.0\ncandidate:\n  bundles:\n  - image: r/op:2.1.0\n";
    let cfg = TemplateKind::Semver.render(text, &bundle).unwrap();
    let out = fbc::write::to_string(&cfg, fbc::Format::Yaml);
    // Channels sorted by name; the default is the most stable archetype's highest version,
    // preferring minor channels.
    assert!(
        out.starts_with("---\ndefaultChannel: stable-v2.0\ndescription: desc\nname: op\n"),
        "{out}"
    );
    let stable_v1 = cfg.channels.iter().find(|c| c.name == "stable-v1").unwrap();
    let e: Vec<(&str, &str, Vec<String>)> = stable_v1
        .entries
        .iter()
        .map(|e| (e.name.as_str(), e.replaces.as_str(), e.skips.clone()))
        .collect();
    assert_eq!(
        e,
        vec![
            ("op.v1.0.0", "", vec![]),
            // The max Z of a Y-stream skips the earlier Zs.
            ("op.v1.0.1", "", vec!["op.v1.0.0".to_string()]),
            ("op.v1.1.0", "op.v1.0.1", vec!["op.v1.0.0".to_string()]),
        ]
    );
    let names: Vec<&str> = cfg.channels.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "candidate-v2",
            "candidate-v2.1",
            "stable-v1",
            "stable-v1.0",
            "stable-v1.1",
            "stable-v2",
            "stable-v2.0"
        ]
    );
    let (graph, warnings) = write_mermaid(&cfg, &Default::default()).unwrap();
    assert!(warnings.is_empty());
    assert!(graph.contains("      op-stable-v1-op.v1.0.1[\"op.v1.0.1\"]-- replace --> op-stable-v1-op.v1.1.0[\"op.v1.1.0\"]\n"), "{graph}");
}

#[test]
fn semver_errors() {
    let e = TemplateKind::Semver
        .render(
            "schema: olm.semver\ndefaultChannelTypePreference: major\n",
            &bundle,
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "render: unable to read file: schema attribute mismatch: DefaultChannelTypePreference set to 'major' doesn't make sense if not generating major-version channels"
    );
    let e = TemplateKind::Semver
        .render("schema: olm.semver\n", &bundle)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "render: no bundles specified or no bundles could be rendered"
    );
    let e = TemplateKind::Semver
        .render("schema: olm.semver\nstable: {bundles: [{image: r/op:1.0.0+a}, {image: r/op:1.0.0+b}]}\n", &|i: &str| {
            let mut b = bundle(i)?;
            b[0].bundle.name = format!("op-{i}");
            Ok(b)
        })
        .unwrap_err();
    assert!(
        e.to_string().contains("differ only by build metadata"),
        "{e}"
    );
}
