//! Catalog templates as `opm alpha render-template` renders them (operator-registry v1.73.0):
//! `olm.template.basic` and `olm.semver` ([`TemplateKind`]), and the mermaid upgrade-graph writer
//! ([`write_mermaid`]) behind `-o mermaid` and `opm alpha render-graph`.
//!
//! Layout: `basic` and `semver` (one module per template kind), `mermaid` (the graph writer),
//! `decode` (a template's first document). Template fields are read with
//! [`go_encoding::Node`], which gives upstream's Go struct semantics and `json: cannot unmarshal`
//! messages. Modules are private; this file lists what callers use.
//!
//! Templates name bundles by image; turning an image into an `olm.bundle` is the caller's job
//! ([`BundleRenderer`]), so this crate never pulls images.

mod basic;
mod decode;
mod mermaid;
mod semver;

use fbc::Bundle;
use go_encoding::Node;
use serde_json::Value;

pub use decode::DocumentError;
pub use mermaid::{MermaidError, MermaidOptions, write_mermaid};

/// One rendered bundle and, when known, its ClusterServiceVersion (the semver template takes the
/// package description and icon from the default channel head's CSV).
#[derive(Clone, Debug)]
pub struct RenderedBundle {
    pub bundle: Bundle,
    pub csv: Option<Value>,
}

/// Renders a bundle image reference into `olm.bundle` blobs.
pub trait BundleRenderer {
    fn render_bundle(&self, image: &str) -> Result<Vec<RenderedBundle>, BundleRenderError>;
}

impl<F> BundleRenderer for F
where
    F: Fn(&str) -> Result<Vec<RenderedBundle>, BundleRenderError>,
{
    fn render_bundle(&self, image: &str) -> Result<Vec<RenderedBundle>, BundleRenderError> {
        self(image)
    }
}

/// A bundle the renderer could not render. The renderer (opm's, which pulls images) owns the
/// message; templates report it as it is, as upstream does.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BundleRenderError(pub String);

/// A template that could not be rendered; messages follow upstream's.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("{0}")]
    Decode(String),
    #[error("{0}")]
    Render(String),
    #[error(transparent)]
    Bundle(#[from] BundleRenderError),
}

/// The template kinds `render-template` knows, by type name (`basic`, `semver`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TemplateKind {
    Basic,
    Semver,
}

impl TemplateKind {
    pub const ALL: [TemplateKind; 2] = [TemplateKind::Basic, TemplateKind::Semver];

    pub fn type_name(self) -> &'static str {
        match self {
            TemplateKind::Basic => "basic",
            TemplateKind::Semver => "semver",
        }
    }

    pub fn schema(self) -> &'static str {
        match self {
            TemplateKind::Basic => basic::SCHEMA,
            TemplateKind::Semver => semver::SCHEMA,
        }
    }

    pub fn from_type_name(name: &str) -> Option<TemplateKind> {
        Self::ALL.into_iter().find(|k| k.type_name() == name)
    }

    pub fn from_schema(schema: &str) -> Option<TemplateKind> {
        Self::ALL.into_iter().find(|k| k.schema() == schema)
    }

    /// Renders `text` as this kind of template.
    pub fn render(
        self,
        text: &str,
        renderer: &dyn BundleRenderer,
    ) -> Result<fbc::DeclarativeConfig, TemplateError> {
        match self {
            TemplateKind::Basic => basic::render(text, renderer),
            TemplateKind::Semver => semver::render(text, renderer),
        }
    }
}

/// The `schema` of the first document (matched case-insensitively, as upstream's detection).
pub fn detect_schema(text: &str) -> Result<String, TemplateError> {
    let root = decode::first_document(text)
        .map_err(|e| TemplateError::Decode(format!("decoding template input: {e}")))?;
    match Node::root(&root).field("schema").string() {
        Ok(s) if !s.is_empty() => Ok(s),
        Ok(_) => Err(TemplateError::Decode(
            "template input missing required 'schema' field".to_string(),
        )),
        Err(e) => Err(TemplateError::Decode(format!(
            "unmarshalling template schema: {}",
            e.go_message("", "string")
        ))),
    }
}
