//! Rendering a parsed bundle into the `olm.bundle` blob `opm render` writes.

use std::collections::BTreeSet;
use std::path::Path;

use go_encoding::{Canonical, push_canonical};

use super::csv::{Csv, CsvError};
use super::csv_metadata::csv_metadata_json;
use super::files::parse_bundle_dir;
use super::parse::Manifest;
use super::{BundleError, RegistryBundle, invalid};
use crate::declcfg::{Bundle, RelatedImage, SCHEMA_BUNDLE};
use crate::property::{self, Property, TYPE_BUNDLE_OBJECT, TYPE_CSV_METADATA, build};
use crate::raw::RawJson;

/// Which kind of object properties the rendered bundle carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ObjectProfile {
    /// One `olm.bundle.object` per manifest (opm ≥ v1.46 default; OpenShift ≤ 4.16 catalogs).
    #[default]
    BundleObjects,
    /// `--migrate-level bundle-object-to-csv-metadata`: a single `olm.csv.metadata` instead of the
    /// objects, for bundles with an image (OpenShift ≥ 4.17 catalogs).
    CsvMetadata,
}

impl RegistryBundle {
    /// The CSV manifest.
    pub fn csv(&self) -> &Manifest {
        &self.manifests[self.csv_index]
    }

    /// The typed view of the CSV.
    fn csv_view(&self) -> Csv<'_> {
        Csv::new(&self.csv().object)
    }

    /// The CSV's path with the problem.
    fn csv_error(&self, source: CsvError) -> BundleError {
        BundleError::Csv {
            path: self.csv().path.clone(),
            source,
        }
    }

    /// Each manifest as the compact JSON `json.Marshal` gives for an unstructured object.
    pub fn manifest_json(&self) -> Vec<String> {
        self.manifests
            .iter()
            .map(|m| {
                let mut s = String::new();
                push_canonical(&mut s, &m.object, Canonical::MANIFEST);
                s
            })
            .collect()
    }

    /// `relatedImages`: the CSV's `spec.relatedImages`, the bundle image, then every container
    /// and init container image of the deployment install strategy, de-duplicated by image and
    /// sorted by image.
    pub fn related_images(&self, image: &str) -> Result<Vec<RelatedImage>, BundleError> {
        let mut out: Vec<RelatedImage> = self
            .csv_view()
            .related_images()
            .map_err(|e| self.csv_error(e))?
            .into_iter()
            .map(|(name, image)| RelatedImage { name, image })
            .collect();
        let mut all: BTreeSet<String> = out.iter().map(|r| r.image.clone()).collect();
        if !image.is_empty() && !all.contains(image) {
            out.push(RelatedImage {
                name: String::new(),
                image: image.to_string(),
            });
        }
        for img in self.operator_images().map_err(|e| self.csv_error(e))? {
            if all.insert(img.clone()) {
                out.push(RelatedImage {
                    name: String::new(),
                    image: img,
                });
            }
        }
        out.sort_by(|a, b| a.image.cmp(&b.image));
        Ok(out)
    }

    /// Container images of the CSV's `deployment` install strategy.
    pub fn operator_images(&self) -> Result<BTreeSet<String>, CsvError> {
        self.csv_view().operator_images()
    }

    /// Renders the `olm.bundle` blob as `opm render` does for this directory with `image` as the
    /// bundle image reference (tags are not resolved).
    pub fn render(&self, image: &str, profile: ObjectProfile) -> Result<Bundle, BundleError> {
        let bad = |m: String| invalid(&self.csv().path, m);
        let mut provided: BTreeSet<property::Gvk> = BTreeSet::new();
        let mut required: BTreeSet<property::Gvk> = BTreeSet::new();
        let mut package_prop: Option<Property> = None;
        let mut others = Vec::new();
        for (i, p) in self.properties.iter().enumerate() {
            let err = |e: go_encoding::DecodeError| {
                bad(format!("parse property[{i}] of type {:?}: {e}", p.r#type))
            };
            match p.r#type.as_str() {
                property::TYPE_GVK => {
                    provided.insert(property::parse_gvk(&p.value).map_err(err)?);
                }
                property::TYPE_PACKAGE => {
                    let v = property::parse_package(&p.value).map_err(err)?;
                    package_prop = Some(build::package(&v.package_name, &v.version, &v.release));
                }
                _ => others.push(p.clone()),
            }
        }
        let mut package_required = Vec::new();
        for (i, p) in self.dependencies.iter().enumerate() {
            let err = |e: go_encoding::DecodeError| {
                bad(format!("parse dependency[{i}] of type {:?}: {e}", p.r#type))
            };
            match p.r#type.as_str() {
                property::TYPE_GVK => {
                    required.insert(property::parse_gvk(&p.value).map_err(err)?);
                }
                property::TYPE_PACKAGE => {
                    let v = property::parse_package(&p.value).map_err(err)?;
                    package_required.push(build::package_required(&v.package_name, &v.version));
                }
                _ => others.push(p.clone()),
            }
        }
        for api in self
            .csv_view()
            .required_apis()
            .map_err(|e| self.csv_error(e))?
        {
            required.insert(property::Gvk {
                group: api.group,
                kind: api.kind,
                version: api.version,
            });
        }
        // Provided APIs are already among the derived olm.gvk properties.

        let mut props: Vec<Property> = Vec::new();
        let manifests = self.manifest_json();
        let use_csv_metadata = profile == ObjectProfile::CsvMetadata && !image.is_empty();
        if use_csv_metadata {
            props.push(Property::new(
                TYPE_CSV_METADATA,
                RawJson::new(csv_metadata_json(&self.csv().object).map_err(|e| self.csv_error(e))?),
            ));
        } else {
            for m in &manifests {
                props.push(build::bundle_object(m.as_bytes()));
            }
        }
        props
            .push(package_prop.unwrap_or_else(|| build::package(&self.package, &self.version, "")));
        for g in &provided {
            props.push(build::gvk(&g.group, &g.version, &g.kind));
        }
        for g in &required {
            props.push(build::gvk_required(&g.group, &g.version, &g.kind));
        }
        props.extend(package_required);
        props.extend(others);
        props.sort_by(|a, b| {
            a.r#type
                .cmp(&b.r#type)
                .then_with(|| a.value.get().cmp(b.value.get()))
        });
        // Objects last (stable).
        let (objs, mut rest): (Vec<Property>, Vec<Property>) = props
            .into_iter()
            .partition(|p| p.r#type == TYPE_BUNDLE_OBJECT || p.r#type == TYPE_CSV_METADATA);
        rest.extend(objs);

        Ok(Bundle {
            schema: SCHEMA_BUNDLE.to_string(),
            name: self.name.clone(),
            package: self.package.clone(),
            image: image.to_string(),
            properties: rest,
            related_images: self.related_images(image)?,
            origin: None,
        })
    }
}

/// Parses `dir` and renders it (see [`RegistryBundle::render`]).
pub fn render_bundle_dir(
    dir: &Path,
    image: &str,
    profile: ObjectProfile,
) -> Result<Bundle, BundleError> {
    parse_bundle_dir(dir)?.render(image, profile)
}
