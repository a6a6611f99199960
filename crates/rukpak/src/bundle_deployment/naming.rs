//! Template hashing and generated Bundle names (rukpak.md §3.3), byte-compatible with
//! upstream so Bundles created by the Go implementation are adopted: the hash is the
//! lower-case base-36 SHA-224 of the template as Go's `json.Encoder` writes it (struct
//! fields in declaration order, map keys sorted, HTML escaped, a trailing newline).

use std::collections::BTreeMap;

use go_encoding::push_string;
use olm_api::bundle::{Authorization, BundleSource, BundleSpec, GitSource};
use olm_api::bundle_deployment::{BundleTemplate, NAME_MAX_LENGTH};
use sha2::{Digest, Sha224};

/// Longest generated Bundle name (the Bundle CRD's limit).
const BUNDLE_NAME_MAX: usize = olm_api::bundle::NAME_MAX_LENGTH as usize;

/// The template's hash: base 36 of its SHA-224, as the `bundle-template-hash` label holds it.
pub fn template_hash(template: &BundleTemplate) -> String {
    let mut json = go_json(template);
    json.push('\n');
    go_encoding::big_int_text36(&Sha224::digest(json.as_bytes()))
}

/// `<bd>-<hash>`, the hash cut so the name fits 52 characters (the BundleDeployment name is
/// itself at most 45, leaving at least 6 characters of hash).
pub fn bundle_name(bundle_deployment: &str, hash: &str) -> String {
    let prefix: String = bundle_deployment
        .chars()
        .take(NAME_MAX_LENGTH as usize)
        .collect();
    let room = BUNDLE_NAME_MAX.saturating_sub(prefix.len() + 1);
    let suffix: String = hash.chars().take(room).collect();
    format!("{prefix}-{suffix}")
}

/// The template as `json.Marshal` writes upstream's `BundleTemplate`.
fn go_json(template: &BundleTemplate) -> String {
    let mut out = String::new();
    let mut t = Fields::new(&mut out);
    metadata(t.key("metadata"), template);
    spec(t.key("spec"), &template.spec);
    t.end();
    out
}

/// Writes one Go struct: `{"k":v,...}` with fields in the order written.
struct Fields<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Fields<'a> {
    fn new(out: &'a mut String) -> Self {
        out.push('{');
        Fields { out, first: true }
    }

    fn key(&mut self, k: &str) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        push_string(self.out, k, true);
        self.out.push(':');
        self.out
    }

    fn str(&mut self, k: &str, v: &str) {
        push_string(self.key(k), v, true);
    }

    fn str_omitempty(&mut self, k: &str, v: Option<&str>) {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            self.str(k, v);
        }
    }

    fn end(self) {
        self.out.push('}');
    }
}

/// `metav1.ObjectMeta` with the fields a template keeps, in Go's order; a zero
/// `creationTimestamp` is written as `null` (its struct type defeats `omitempty`).
fn metadata(out: &mut String, template: &BundleTemplate) {
    let m = &template.metadata;
    let mut f = Fields::new(out);
    f.str_omitempty("name", m.name.as_deref());
    f.str_omitempty("namespace", m.namespace.as_deref());
    f.key("creationTimestamp").push_str("null");
    if !m.labels.is_empty() {
        string_map(f.key("labels"), &m.labels);
    }
    if !m.annotations.is_empty() {
        string_map(f.key("annotations"), &m.annotations);
    }
    if !m.finalizers.is_empty() {
        let out = f.key("finalizers");
        out.push('[');
        for (i, finalizer) in m.finalizers.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_string(out, finalizer, true);
        }
        out.push(']');
    }
    f.end();
}

fn string_map(out: &mut String, map: &BTreeMap<String, String>) {
    // BTreeMap iterates in byte order, as Go sorts map keys.
    let mut f = Fields::new(out);
    for (k, v) in map {
        f.str(k, v);
    }
    f.end();
}

fn spec(out: &mut String, spec: &BundleSpec) {
    let mut f = Fields::new(out);
    f.str("provisionerClassName", &spec.provisioner_class_name);
    source(f.key("source"), &spec.source);
    f.end();
}

fn source(out: &mut String, source: &BundleSource) {
    let mut f = Fields::new(out);
    f.str("type", source.type_.as_str());
    if let Some(image) = &source.image {
        let mut i = Fields::new(f.key("image"));
        i.str("ref", &image.ref_);
        i.str_omitempty("pullSecret", image.pull_secret.as_deref());
        i.end();
    }
    if let Some(git) = &source.git {
        git_source(f.key("git"), git);
    }
    if let Some(maps) = source.config_maps.as_ref().filter(|m| !m.is_empty()) {
        let out = f.key("configMaps");
        out.push('[');
        for (n, entry) in maps.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            let mut c = Fields::new(out);
            let mut r = Fields::new(c.key("configMap"));
            r.str_omitempty("name", Some(&entry.config_map.name));
            r.end();
            c.str_omitempty("path", entry.path.as_deref());
            c.end();
        }
        out.push(']');
    }
    if source.upload.is_some() {
        f.key("upload").push_str("{}");
    }
    if let Some(http) = &source.http {
        let mut h = Fields::new(f.key("http"));
        h.str("url", &http.url);
        authorization(h.key("auth"), http.auth.as_ref());
        h.end();
    }
    f.end();
}

fn git_source(out: &mut String, git: &GitSource) {
    let mut g = Fields::new(out);
    g.str("repository", &git.repository);
    g.str_omitempty("directory", git.directory.as_deref());
    let mut r = Fields::new(g.key("ref"));
    r.str_omitempty("branch", git.ref_.branch.as_deref());
    r.str_omitempty("tag", git.ref_.tag.as_deref());
    r.str_omitempty("commit", git.ref_.commit.as_deref());
    r.end();
    authorization(g.key("auth"), git.auth.as_ref());
    g.end();
}

/// Go's `Authorization` is a struct field: always written, `{"secret":{}}` when unset.
fn authorization(out: &mut String, auth: Option<&Authorization>) {
    let mut a = Fields::new(out);
    let mut s = Fields::new(a.key("secret"));
    s.str_omitempty("name", auth.and_then(Authorization::secret_name));
    s.end();
    if auth.is_some_and(|a| a.insecure_skip_verify) {
        a.key("insecureSkipVerify").push_str("true");
    }
    a.end();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(value: serde_json::Value) -> BundleTemplate {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn names_fit_the_bundle_limit() {
        let hash = "abcdefghijklmnopqrstuvwxyz0123456789abcdefgh";
        assert_eq!(bundle_name("combo", hash), format!("combo-{hash}"));
        let long = "x".repeat(45);
        assert_eq!(bundle_name(&long, hash), format!("{long}-abcdef"));
        assert_eq!(bundle_name(&long, hash).len(), 52);
    }

    #[test]
    fn only_what_the_template_holds_changes_the_hash() {
        let base = serde_json::json!({
            "metadata": {"labels": {"app": "combo"}},
            "spec": {"provisionerClassName": "core-rukpak-io-plain",
                     "source": {"type": "image", "image": {"ref": "quay.io/x/y:v1"}}},
        });
        let mut relabelled = base.clone();
        relabelled["metadata"]["labels"]["app"] = "other".into();
        let a = template_hash(&template(base.clone()));
        assert_eq!(a, template_hash(&template(base)));
        assert_ne!(a, template_hash(&template(relabelled)));
    }

    /// Recorded from Go: upstream's `BundleTemplate` type decoded from the input, then
    /// `json.Marshal` and upstream's hash function (`internal/util/hash.go`) over it.
    const GO_VECTORS: &[(&str, &str, &str)] = &[
        (
            r#"{"metadata": {"labels": {"app": "combo"}}, "spec": {"provisionerClassName": "core-rukpak-io-plain", "source": {"type": "image", "image": {"ref": "quay.io/x/y:v1"}}}}"#,
            "2vv4xya0sjlh61etd2g747cm4l3390dl0xsazf3ed2c4",
            r#"{"metadata":{"creationTimestamp":null,"labels":{"app":"combo"}},"spec":{"provisionerClassName":"core-rukpak-io-plain","source":{"type":"image","image":{"ref":"quay.io/x/y:v1"}}}}"#,
        ),
        (
            r#"{"metadata": {"name": "n", "namespace": "ns", "labels": {"b": "2", "a": "<&>"}, "annotations": {"z": "1"}, "finalizers": ["f1", "f2"]}, "spec": {"provisionerClassName": "core-rukpak-io-registry", "source": {"type": "image", "image": {"ref": "r@sha256:abc", "pullSecret": "ps"}}}}"#,
            "17pu8mn66e7xhnu4erp2dcj756146xlufof91twy70au",
            r#"{"metadata":{"name":"n","namespace":"ns","creationTimestamp":null,"labels":{"a":"\u003c\u0026\u003e","b":"2"},"annotations":{"z":"1"},"finalizers":["f1","f2"]},"spec":{"provisionerClassName":"core-rukpak-io-registry","source":{"type":"image","image":{"ref":"r@sha256:abc","pullSecret":"ps"}}}}"#,
        ),
        (
            r#"{"spec": {"provisionerClassName": "core-rukpak-io-plain", "source": {"type": "git", "git": {"repository": "https://github.com/x/y", "directory": "./manifests", "ref": {"tag": "v0.0.2"}}}}}"#,
            "37rm4deqp1wctp5d6xw2v8rweo9lol5zlw3w7o8pdmnp",
            r#"{"metadata":{"creationTimestamp":null},"spec":{"provisionerClassName":"core-rukpak-io-plain","source":{"type":"git","git":{"repository":"https://github.com/x/y","directory":"./manifests","ref":{"tag":"v0.0.2"},"auth":{"secret":{}}}}}}"#,
        ),
        (
            r#"{"spec": {"provisionerClassName": "core-rukpak-io-plain", "source": {"type": "git", "git": {"repository": "ssh://git@h/y", "ref": {"branch": "main", "commit": "0123"}, "auth": {"secret": {"name": "s"}, "insecureSkipVerify": true}}}}}"#,
            "jdf5swnwpj6h2ne1tfq7w35238def82b7vycm2ej7t1",
            r#"{"metadata":{"creationTimestamp":null},"spec":{"provisionerClassName":"core-rukpak-io-plain","source":{"type":"git","git":{"repository":"ssh://git@h/y","ref":{"branch":"main","commit":"0123"},"auth":{"secret":{"name":"s"},"insecureSkipVerify":true}}}}}"#,
        ),
        (
            r#"{"spec": {"provisionerClassName": "core-rukpak-io-plain", "source": {"type": "configMaps", "configMaps": [{"configMap": {"name": "a"}, "path": "manifests"}, {"configMap": {"name": "b"}}]}}}"#,
            "1qfucvd731h6h9veka5g98odh88uz1fzg99thkdmdq1a",
            r#"{"metadata":{"creationTimestamp":null},"spec":{"provisionerClassName":"core-rukpak-io-plain","source":{"type":"configMaps","configMaps":[{"configMap":{"name":"a"},"path":"manifests"},{"configMap":{"name":"b"}}]}}}"#,
        ),
        (
            r#"{"spec": {"provisionerClassName": "core-rukpak-io-helm", "source": {"type": "http", "http": {"url": "https://h/c.tgz", "auth": {"secret": {"name": "creds"}}}}}}"#,
            "29e1bwbvcoc5nuvppjihurekhfdgtt6s288v894o2i4c",
            r#"{"metadata":{"creationTimestamp":null},"spec":{"provisionerClassName":"core-rukpak-io-helm","source":{"type":"http","http":{"url":"https://h/c.tgz","auth":{"secret":{"name":"creds"}}}}}}"#,
        ),
        (
            r#"{"metadata": {"labels": {"app": "x", "bundleDigest": "00ff"}}, "spec": {"provisionerClassName": "core-rukpak-io-plain", "source": {"type": "upload", "upload": {}}}}"#,
            "7gmrf0xk8ux5x3a5216d6ef046d2wtl1cwuu439tp6l",
            r#"{"metadata":{"creationTimestamp":null,"labels":{"app":"x","bundleDigest":"00ff"}},"spec":{"provisionerClassName":"core-rukpak-io-plain","source":{"type":"upload","upload":{}}}}"#,
        ),
        (
            r#"{"metadata": {"annotations": {"u": "é "}}, "spec": {"provisionerClassName": "core-rukpak-io-plain", "source": {"type": "http", "http": {"url": "https://h/c.tgz"}}}}"#,
            "1j2iv4e4b0mi6r2tuetomz56thkvu559azn3fhanixw7",
            r#"{"metadata":{"creationTimestamp":null,"annotations":{"u":"é\u2028"}},"spec":{"provisionerClassName":"core-rukpak-io-plain","source":{"type":"http","http":{"url":"https://h/c.tgz","auth":{"secret":{}}}}}}"#,
        ),
    ];

    #[test]
    fn hashes_and_json_match_upstream_go() {
        for (input, hash, json) in GO_VECTORS {
            let t: BundleTemplate = serde_json::from_str(input).unwrap();
            assert_eq!(go_json(&t), *json, "{input}");
            assert_eq!(template_hash(&t), *hash, "{input}");
        }
    }
}
