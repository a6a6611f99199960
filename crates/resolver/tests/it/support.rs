//! A compact way to write the catalogs of resolution.md §6.

use resolver::{
    BundleInput, Catalog, ChannelEntry, Gvk, Plan, Property, ResolveError, Unsatisfiable,
};
use serde_json::Value;

pub(crate) struct B(pub(crate) BundleInput);

/// `p@v` in catalog `cat`, channel `stable`, named `p.v<v>`.
pub(crate) fn b(package: &str, version: &str) -> B {
    B(BundleInput {
        catalog: "cat".to_string(),
        package: package.to_string(),
        name: format!("{package}.v{version}"),
        image: format!("example.com/{package}:v{version}"),
        channels: vec![ChannelEntry {
            channel: "stable".to_string(),
            ..ChannelEntry::default()
        }],
        properties: vec![Property::Package {
            package_name: package.to_string(),
            version: version.to_string(),
            release: None,
        }],
        deprecation: None,
    })
}

pub(crate) fn g() -> Gvk {
    Gvk::new("example.com", "v1", "Foo")
}

impl B {
    pub(crate) fn requires(mut self, package: &str, range: &str) -> Self {
        self.0.properties.push(Property::PackageRequired {
            package_name: package.to_string(),
            version_range: range.to_string(),
        });
        self
    }
    pub(crate) fn requires_gvk(mut self, gvk: Gvk) -> Self {
        self.0.properties.push(Property::GvkRequired(gvk));
        self
    }
    pub(crate) fn provides(mut self, gvk: Gvk) -> Self {
        self.0.properties.push(Property::Gvk(gvk));
        self
    }
    pub(crate) fn constraint(mut self, value: Value) -> Self {
        self.0.properties.push(Property::Constraint(value));
        self
    }
    pub(crate) fn channels(mut self, channels: &[&str]) -> Self {
        self.0.channels = channels
            .iter()
            .map(|c| ChannelEntry {
                channel: c.to_string(),
                ..ChannelEntry::default()
            })
            .collect();
        self
    }
    pub(crate) fn replaces(mut self, name: &str) -> Self {
        for e in &mut self.0.channels {
            e.replaces = Some(name.to_string());
        }
        self
    }
    pub(crate) fn skips(mut self, names: &[&str]) -> Self {
        for e in &mut self.0.channels {
            e.skips = names.iter().map(|s| s.to_string()).collect();
        }
        self
    }
    pub(crate) fn skip_range(mut self, range: &str) -> Self {
        for e in &mut self.0.channels {
            e.skip_range = Some(range.to_string());
        }
        self
    }
    pub(crate) fn deprecated(mut self) -> Self {
        self.0.deprecation = Some("deprecated".to_string());
        self
    }
    pub(crate) fn catalog(mut self, name: &str) -> Self {
        self.0.catalog = name.to_string();
        self
    }
    pub(crate) fn max_ocp(mut self, v: &str) -> Self {
        self.0
            .properties
            .push(Property::MaxOpenShiftVersion(v.to_string()));
        self
    }
}

pub(crate) fn catalog(bundles: Vec<B>) -> Catalog {
    Catalog::from_bundles(bundles.into_iter().map(|b| b.0)).expect("valid test catalog")
}

/// `["a 0.1.0", …]` sorted by package.
pub(crate) fn versions(plan: &Plan) -> Vec<String> {
    plan.versions()
        .into_iter()
        .map(|(p, v)| format!("{p} {v}"))
        .collect()
}

pub(crate) fn ok(result: Result<Plan, ResolveError>) -> Plan {
    match result {
        Ok(plan) => plan,
        Err(e) => panic!("expected a plan, got:\n{e}"),
    }
}

pub(crate) fn unsat(result: Result<Plan, ResolveError>) -> Box<Unsatisfiable> {
    match result {
        Err(ResolveError::Unsatisfiable(u)) => u,
        Ok(plan) => panic!("expected unsatisfiable, got a plan:\n{plan}"),
        Err(e) => panic!("expected unsatisfiable, got:\n{e}"),
    }
}

pub(crate) fn input_error(result: Result<Plan, ResolveError>) -> String {
    match result {
        Err(ResolveError::Input(e)) => e.message,
        Ok(plan) => panic!("expected an input error, got a plan:\n{plan}"),
        Err(e) => panic!("expected an input error, got:\n{e}"),
    }
}
