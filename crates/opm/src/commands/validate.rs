//! `opm validate`: load, convert, validate; with `-o json|yaml` a structured result on stdout.

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::cli::{CatalogFormat, ValidateArgs, ValidateFormat};
use crate::outcome::Outcome;

/// Why a catalog is invalid, printed as the error alone (its causes are part of its text).
#[derive(Debug, thiserror::Error)]
pub(crate) enum Invalid {
    #[error("{0}")]
    Load(fbc::LoadError),
    #[error("{0}")]
    Model(fbc::ValidationError),
}

pub(crate) fn check(dir: &Path) -> Result<(), Invalid> {
    let cfg = fbc::load_fs(dir).map_err(Invalid::Load)?;
    fbc::convert_to_model(&cfg).map_err(Invalid::Model)?;
    Ok(())
}

pub(crate) fn run(a: ValidateArgs) -> Result<Outcome> {
    let dir = a.directory.as_path();
    let meta = std::fs::metadata(dir).with_context(|| format!("stat {}", dir.display()))?;
    if !meta.is_dir() {
        bail!("{:?} is not a directory", dir.display().to_string());
    }
    let result = check(dir);
    let format = match a.output.get()? {
        ValidateFormat::Text => return result.map(|()| Outcome::default()).map_err(Into::into),
        ValidateFormat::Structured(format) => format,
    };
    let error = result.as_ref().err().map(ToString::to_string);
    let text = match format {
        CatalogFormat::Json => json_report(error.as_deref()),
        CatalogFormat::Yaml => yaml_report(error.as_deref()),
    };
    Ok(Outcome {
        stdout: text.into_bytes(),
        warnings: Vec::new(),
        failed: result.is_err(),
        ..Default::default()
    })
}

/// Upstream's indented JSON of `{passed, error: {message}}`.
fn json_report(error: Option<&str>) -> String {
    let mut text = String::new();
    text.push_str("{\n  \"passed\": ");
    text.push_str(if error.is_none() { "true" } else { "false" });
    if let Some(e) = error {
        text.push_str(",\n  \"error\": {\n    \"message\": ");
        go_encoding::push_string(&mut text, e, true);
        text.push_str("\n  }");
    }
    text.push_str("\n}\n");
    text
}

/// Upstream's YAML of `{error: {message}, passed}`.
fn yaml_report(error: Option<&str>) -> String {
    let mut doc = serde_json::Map::new();
    if let Some(e) = error {
        let mut m = serde_json::Map::new();
        m.insert("message".into(), serde_json::Value::String(e.to_string()));
        doc.insert("error".into(), serde_json::Value::Object(m));
    }
    doc.insert("passed".into(), serde_json::Value::Bool(error.is_none()));
    let mut text = go_encoding::to_yaml_document(&serde_json::Value::Object(doc));
    // Upstream prints the marshalled YAML (which ends in a newline) with Println.
    text.push('\n');
    text
}
