//! `--migrate-level`: upstream's ordered catalog migrations (v1.73.0 `alpha/action/migrations`).

use anyhow::{Result, bail};
use fbc::csv_metadata_json;
use fbc::property::{self, TYPE_BUNDLE_OBJECT, TYPE_CSV_METADATA};
use fbc::{DeclarativeConfig, Property, RawJson};
use serde_json::Value;

/// The migrations in order; a level runs every migration up to and including itself.
pub(crate) const LEVELS: [&str; 2] = ["none", "bundle-object-to-csv-metadata"];

/// The selected migrations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Migrations {
    /// Index into [`LEVELS`] of the last migration to run.
    last: usize,
}

impl Migrations {
    /// `all` (what `--migrate` selects) or a level name.
    pub fn new(level: &str) -> Result<Migrations> {
        if level == "all" {
            return Ok(Migrations {
                last: LEVELS.len() - 1,
            });
        }
        match LEVELS.iter().position(|l| *l == level) {
            Some(last) => Ok(Migrations { last }),
            None => bail!("unknown migration level {level:?}"),
        }
    }

    /// `None` for an empty level (no migrations, as upstream).
    pub fn from_flag(level: &str) -> Result<Option<Migrations>> {
        if level.is_empty() {
            Ok(None)
        } else {
            Migrations::new(level).map(Some)
        }
    }

    pub fn apply(&self, cfg: &mut DeclarativeConfig) -> Result<()> {
        if self.last >= 1 {
            bundle_object_to_csv_metadata(cfg)?;
        }
        Ok(())
    }
}

/// Replaces the `olm.bundle.object` properties of bundles with an image and a CSV by one
/// `olm.csv.metadata`; bundles that already carry `olm.csv.metadata` are left alone.
fn bundle_object_to_csv_metadata(cfg: &mut DeclarativeConfig) -> Result<()> {
    for b in &mut cfg.bundles {
        if b.image.is_empty() || b.properties.iter().any(|p| p.r#type == TYPE_CSV_METADATA) {
            continue;
        }
        let Some(csv) = csv_of(b) else { continue };
        let value = match csv_metadata_json(&csv) {
            Ok(v) => v,
            Err(e) => bail!("bundle {:?}: {e}", b.name),
        };
        b.properties.retain(|p| p.r#type != TYPE_BUNDLE_OBJECT);
        b.properties
            .push(Property::new(TYPE_CSV_METADATA, RawJson::new(value)));
    }
    Ok(())
}

/// The first ClusterServiceVersion among a bundle's `olm.bundle.object` properties (what
/// upstream keeps as `CsvJSON` when loading).
fn csv_of(bundle: &fbc::Bundle) -> Option<Value> {
    for p in &bundle.properties {
        if p.r#type != TYPE_BUNDLE_OBJECT {
            continue;
        }
        let Ok(property::BundleObject::Data(data)) = property::parse_bundle_object(&p.value) else {
            continue;
        };
        let Ok(v) = serde_json::from_slice::<Value>(&data) else {
            continue;
        };
        if v.get("kind").and_then(Value::as_str) == Some("ClusterServiceVersion") {
            return Some(v);
        }
    }
    None
}
