//! Request and installed-state files, and `--installed` values.

use std::path::Path;

use anyhow::{Context, bail};
use resolver::{BundleLocator, Installed, Request, UpgradePolicy};
use serde::Deserialize;

use crate::args::UsageError;

/// A request file:
///
/// ```yaml
/// requests:
/// - package: a
///   channel: stable        # optional
///   version: ">=0.1.0"     # optional Masterminds range
///   upgradePolicy: Enforce # optional: Enforce (default) or Ignore
///   catalogs: [cat]        # optional
/// installed:
/// - package: c
///   version: 0.1.0         # or bundle: c.v0.1.0, or image: …
///   for: a                 # optional: the request it was installed for (default: itself)
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputFile {
    #[serde(default)]
    requests: Vec<RequestEntry>,
    #[serde(default)]
    installed: Vec<InstalledEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RequestEntry {
    package: String,
    channel: Option<String>,
    version: Option<String>,
    upgrade_policy: Option<PolicyName>,
    catalogs: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
enum PolicyName {
    Enforce,
    Ignore,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InstalledEntry {
    package: String,
    version: Option<String>,
    bundle: Option<String>,
    image: Option<String>,
    #[serde(rename = "for")]
    owner: Option<String>,
}

impl RequestEntry {
    fn into_request(self) -> anyhow::Result<Request> {
        if self.package.is_empty() {
            bail!("a request has an empty package");
        }
        Ok(Request {
            package: self.package,
            channel: self.channel,
            version: self.version,
            upgrade_policy: match self.upgrade_policy {
                Some(PolicyName::Ignore) => UpgradePolicy::Ignore,
                Some(PolicyName::Enforce) | None => UpgradePolicy::Enforce,
            },
            catalogs: self.catalogs,
        })
    }
}

impl InstalledEntry {
    fn into_installed(self) -> anyhow::Result<Installed> {
        let locator = match (self.version, self.bundle, self.image) {
            (Some(v), None, None) => BundleLocator::Version(v),
            (None, Some(b), None) => BundleLocator::Name(b),
            (None, None, Some(i)) => BundleLocator::Image(i),
            _ => bail!(
                "installed package {:?} needs exactly one of version, bundle or image",
                self.package
            ),
        };
        Ok(Installed {
            owner: self.owner.unwrap_or_else(|| self.package.clone()),
            package: self.package,
            bundle: locator,
        })
    }
}

/// Reads a request/installed file; `.json` files are JSON, anything else YAML.
pub(crate) fn read_file(path: &Path) -> anyhow::Result<(Vec<Request>, Vec<Installed>)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let file: InputFile = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text)
            .with_context(|| format!("parsing {} as JSON", path.display()))?
    } else {
        serde_saphyr::from_str(&text)
            .with_context(|| format!("parsing {} as YAML", path.display()))?
    };
    let entries = || -> anyhow::Result<_> {
        let requests = file.requests.into_iter().map(RequestEntry::into_request);
        let installed = file
            .installed
            .into_iter()
            .map(InstalledEntry::into_installed);
        Ok((
            requests.collect::<Result<_, _>>()?,
            installed.collect::<Result<_, _>>()?,
        ))
    };
    entries().with_context(|| format!("in {}", path.display()))
}

/// `PACKAGE=VERSION|BUNDLE[,for=OWNER]`: a strict SemVer value is a version, anything else a
/// bundle name.
pub(crate) fn parse_installed_flag(text: &str) -> Result<Installed, UsageError> {
    let (main, owner) = match text.split_once(",for=") {
        Some((m, o)) if !o.is_empty() => (m, Some(o)),
        Some(_) => {
            return Err(UsageError(format!(
                "--installed {text:?}: \",for=\" needs the owning request's package"
            )));
        }
        None => (text, None),
    };
    let (package, what) = crate::args::name_value("--installed", main)?;
    let locator = if semver_ranges::parse_strict(what).is_ok() {
        BundleLocator::Version(what.to_string())
    } else {
        BundleLocator::Name(what.to_string())
    };
    Ok(Installed {
        package: package.to_string(),
        bundle: locator,
        owner: owner.unwrap_or(package).to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_flag_forms() {
        assert_eq!(
            parse_installed_flag("c=0.1.0").expect("ok"),
            Installed::own("c", BundleLocator::Version("0.1.0".into()))
        );
        assert_eq!(
            parse_installed_flag("c=c.v0.1.0,for=a").expect("ok"),
            Installed::dependency_of("c", BundleLocator::Name("c.v0.1.0".into()), "a")
        );
        assert!(parse_installed_flag("c").is_err());
        assert!(parse_installed_flag("c=1.0.0,for=").is_err());
    }

    #[test]
    fn files_reject_unknown_fields_and_ambiguous_locators() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("r.yaml");
        std::fs::write(&p, "requests:\n- package: a\n  chanel: stable\n").expect("write");
        let e = format!("{:#}", read_file(&p).expect_err("typo"));
        assert!(e.contains("chanel"), "{e}");
        std::fs::write(
            &p,
            "installed:\n- package: a\n  version: 1.0.0\n  bundle: a.v1\n",
        )
        .expect("write");
        let e = format!("{:#}", read_file(&p).expect_err("ambiguous"));
        assert!(e.contains("exactly one of version, bundle or image"), "{e}");
        let j = dir.path().join("r.json");
        std::fs::write(
            &j,
            r#"{"requests":[{"package":"a","upgradePolicy":"Ignore"}],"installed":[{"package":"a","image":"x/a:1","for":"b"}]}"#,
        )
        .expect("write");
        let (r, i) = read_file(&j).expect("valid");
        assert_eq!(r, [Request::new("a").upgrade_policy(UpgradePolicy::Ignore)]);
        assert_eq!(
            i,
            [Installed::dependency_of(
                "a",
                BundleLocator::Image("x/a:1".into()),
                "b"
            )]
        );
    }
}
