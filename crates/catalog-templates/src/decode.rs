//! Reading a template's first YAML or JSON document as upstream does (`decodeFileFS` then
//! `json.Unmarshal`); its fields are then read with [`go_encoding::Node`], which gives Go's
//! struct semantics and error messages.

use std::path::Path;

use serde_json::Value;

/// The input holds no document to decode.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error(transparent)]
    Load(#[from] fbc::LoadError),
    /// Go's `io.EOF`.
    #[error("EOF")]
    Empty,
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// The first document of a YAML or JSON stream, as canonical JSON.
pub(crate) fn first_document(text: &str) -> Result<Value, DocumentError> {
    let mut first: Option<fbc::Meta> = None;
    fbc::parse_metas(Path::new("template"), text, |m| {
        if first.is_none() {
            first = Some(m);
        }
        Ok(())
    })?;
    let meta = first.ok_or(DocumentError::Empty)?;
    Ok(serde_json::from_str(meta.blob.get())?)
}
