//! Image references: a registry reference (`registry/repo:tag`, `…@sha256:…`, Docker Hub
//! normalisation) or an OCI image-layout directory (`oci:<dir>[:name]`).

use std::fmt;
use std::path::PathBuf;

use oci_spec::distribution::Reference;

use crate::error::ImageError;

/// Where an image lives: a registry or an OCI image-layout directory on disk.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ImageRef {
    Registry(RegistryRef),
    Layout(LayoutRef),
}

/// A reference to an image in a registry. Docker Hub short names are normalised
/// (`busybox` → `docker.io/library/busybox:latest`); a reference with neither tag nor
/// digest means `:latest`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RegistryRef {
    inner: Reference,
}

/// An image in an OCI image layout (`index.json`, `oci-layout`, `blobs/`), selected by its
/// `org.opencontainers.image.ref.name` annotation. Without a name, reading picks the only
/// image in the layout and writing adds an unnamed entry (as skopeo does).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LayoutRef {
    pub dir: PathBuf,
    pub name: Option<String>,
}

const LAYOUT_PREFIX: &str = "oci:";
const DOCKER_PREFIX: &str = "docker://";

impl ImageRef {
    /// Parses `oci:<dir>[:name]`, `docker://<ref>` or a plain registry reference.
    ///
    /// In the layout form the directory ends at the first `:` (as in skopeo), so the
    /// directory itself cannot contain a colon.
    pub fn parse(s: &str) -> Result<Self, ImageError> {
        let invalid = |reason: String| ImageError::InvalidReference {
            reference: s.to_owned(),
            reason,
        };
        if let Some(rest) = s.strip_prefix(LAYOUT_PREFIX) {
            let (dir, name) = match rest.split_once(':') {
                Some((dir, name)) => (dir, Some(name)),
                None => (rest, None),
            };
            if dir.is_empty() {
                return Err(invalid("the oci: transport needs a directory".into()));
            }
            if let Some(name) = name {
                validate_layout_name(name).map_err(|e| invalid(e.to_string()))?;
            }
            return Ok(ImageRef::Layout(LayoutRef {
                dir: PathBuf::from(dir),
                name: name.map(str::to_owned),
            }));
        }
        let plain = s.strip_prefix(DOCKER_PREFIX).unwrap_or(s);
        if plain.contains("://") {
            return Err(invalid(
                "unsupported transport; use a registry reference, docker://<ref> or oci:<dir>[:name]"
                    .into(),
            ));
        }
        RegistryRef::parse(plain)
            .map(ImageRef::Registry)
            .map_err(|e| match e {
                ImageError::InvalidReference { reason, .. } => invalid(reason),
                other => other,
            })
    }

    /// The same place with another tag (registry) or name (layout).
    pub fn with_tag(&self, tag: &str) -> Result<Self, ImageError> {
        match self {
            ImageRef::Registry(r) => Ok(ImageRef::Registry(r.with_tag(tag)?)),
            ImageRef::Layout(l) => {
                validate_layout_name(tag).map_err(|e| ImageError::InvalidReference {
                    reference: tag.to_owned(),
                    reason: e.to_string(),
                })?;
                Ok(ImageRef::Layout(LayoutRef {
                    dir: l.dir.clone(),
                    name: Some(tag.to_owned()),
                }))
            }
        }
    }
}

impl std::str::FromStr for ImageRef {
    type Err = ImageError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ImageRef::parse(s)
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageRef::Registry(r) => r.fmt(f),
            ImageRef::Layout(l) => l.fmt(f),
        }
    }
}

impl fmt::Display for LayoutRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{LAYOUT_PREFIX}{}", self.dir.display())?;
        if let Some(name) = &self.name {
            write!(f, ":{name}")?;
        }
        Ok(())
    }
}

/// Why an image name of the layout transport is refused.
#[derive(Debug, thiserror::Error)]
enum InvalidLayoutName {
    #[error("the image name after `oci:<dir>:` is empty")]
    Empty,
    #[error("image name {0:?} may only contain letters, digits and -._:@/+")]
    Characters(String),
}

/// OCI `ref.name` grammar, loosely: non-empty, printable ASCII without whitespace or `/`
/// at either end.
fn validate_layout_name(name: &str) -> Result<(), InvalidLayoutName> {
    if name.is_empty() {
        return Err(InvalidLayoutName::Empty);
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-._:@/+".contains(c))
    {
        return Err(InvalidLayoutName::Characters(name.to_string()));
    }
    Ok(())
}

impl RegistryRef {
    pub fn parse(s: &str) -> Result<Self, ImageError> {
        let inner: Reference = s.parse().map_err(|e: oci_spec::distribution::ParseError| {
            ImageError::InvalidReference {
                reference: s.to_owned(),
                reason: e.to_string(),
            }
        })?;
        Ok(RegistryRef { inner })
    }

    /// The registry as written after normalisation (`docker.io` for Docker Hub).
    pub fn registry(&self) -> &str {
        self.inner.registry()
    }

    /// The host actually contacted (`index.docker.io` for Docker Hub).
    pub fn resolved_registry(&self) -> &str {
        self.inner.resolve_registry()
    }

    pub fn repository(&self) -> &str {
        self.inner.repository()
    }

    pub fn tag(&self) -> Option<&str> {
        self.inner.tag()
    }

    pub fn digest(&self) -> Option<&str> {
        self.inner.digest()
    }

    /// The same repository pinned to `digest` (tag dropped).
    pub fn with_digest(&self, digest: &str) -> Self {
        RegistryRef {
            inner: self.inner.clone_with_digest(digest.to_owned()),
        }
    }

    /// The same repository with `tag` (digest dropped).
    pub fn with_tag(&self, tag: &str) -> Result<Self, ImageError> {
        RegistryRef::parse(&format!(
            "{}/{}:{tag}",
            self.inner.registry(),
            self.inner.repository()
        ))
    }

    pub(crate) fn as_oci(&self) -> &Reference {
        &self.inner
    }
}

impl fmt::Display for RegistryRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

    fn reg(s: &str) -> RegistryRef {
        match ImageRef::parse(s).unwrap() {
            ImageRef::Registry(r) => r,
            other => panic!("expected a registry reference, got {other:?}"),
        }
    }

    #[test]
    fn docker_hub_short_names_are_normalised() {
        let r = reg("busybox");
        assert_eq!(r.registry(), "docker.io");
        assert_eq!(r.resolved_registry(), "index.docker.io");
        assert_eq!(r.repository(), "library/busybox");
        assert_eq!(r.tag(), Some("latest"));
        assert_eq!(r.to_string(), "docker.io/library/busybox:latest");
        assert_eq!(reg("index.docker.io/foo/bar:1").registry(), "docker.io");
        assert_eq!(reg("docker://quay.io/a/b:c").registry(), "quay.io");
    }

    #[test]
    fn registry_with_port_tag_and_digest() {
        let r = reg("127.0.0.1:5000/olm/catalog:v4.15");
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.repository(), "olm/catalog");
        assert_eq!(r.tag(), Some("v4.15"));
        let r = reg(&format!("localhost/x@{D}"));
        assert_eq!(r.registry(), "localhost");
        assert_eq!(r.digest(), Some(D));
        assert_eq!(r.tag(), None);
        let pinned = reg("quay.io/a/b:t").with_digest(D);
        assert_eq!(pinned.to_string(), format!("quay.io/a/b@{D}"));
        assert_eq!(pinned.with_tag("u").unwrap().to_string(), "quay.io/a/b:u");
    }

    #[test]
    fn layout_references() {
        assert_eq!(
            ImageRef::parse("oci:/tmp/x:v1").unwrap(),
            ImageRef::Layout(LayoutRef {
                dir: "/tmp/x".into(),
                name: Some("v1".into())
            })
        );
        assert_eq!(
            ImageRef::parse("oci:rel/dir").unwrap(),
            ImageRef::Layout(LayoutRef {
                dir: "rel/dir".into(),
                name: None
            })
        );
        assert_eq!(ImageRef::parse("oci:/a:b").unwrap().to_string(), "oci:/a:b");
    }

    #[test]
    fn bad_references_are_specific() {
        for (input, needle) in [
            ("oci:", "needs a directory"),
            ("oci:/x:", "is empty"),
            ("oci:/x:a b", "may only contain"),
            ("quay.io/UPPER/x", "invalid reference format"),
            ("quay.io/a@sha256:abc", "invalid reference format"),
            ("containers-storage://x", "unsupported transport"),
            ("", "at least one component"),
        ] {
            let err = ImageRef::parse(input).unwrap_err().to_string();
            assert!(err.contains(needle), "{input:?}: {err}");
        }
    }
}
