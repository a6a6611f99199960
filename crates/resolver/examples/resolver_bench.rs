//! Benchmark problems for the resolver, and the Rust side of `bench/resolver/run.sh`.
//!
//! ```text
//! resolver_bench generate --corpus <shared/corpus> --out <dir>
//! resolver_bench solve --catalog <dir> --requests <file> [--joint] [--explain] [--repeat N]
//! ```
//!
//! `generate` writes one directory per problem: `catalog/catalog.json` (an FBC JSON stream) and
//! `requests.json` (`{"requests": [...], "installed": [...]}`, the `resolve` CLI's request-file
//! format). The deppy harness in `bench/resolver/deppy-harness` reads the same two files.
//!
//! Problems:
//! * `community-*`: the corpus catalogs (v4.22, plus the v4.15 packages v4.22 lacks) copied 27
//!   times under new package, bundle and API-group names (405 packages, ~7,000 bundles, the size
//!   of the community index), plus three shared providers (rabbitmq-cluster-operator,
//!   cert-manager, tekton-operator) so that the corpus' real dependencies resolve. Only the
//!   properties resolution reads are kept (no `olm.bundle.object` / `olm.csv.metadata`).
//! * `chain-*`: deep dependency chains (each package requires the next), with and without a
//!   pin at the bottom that forces every level to back off.
//! * `gvk-providers`: 200 packages provide one API; 50 requested consumers require it.
//! * `dense`: resolution.md §1.5 row 2: 333 packages × 21 versions, half the bundles with 1–2
//!   `>=1.N.0` dependencies on random packages, 50 requests.
//!
//! `solve` loads a problem, indexes it, resolves it `--repeat` times (isolated per request, or
//! `--joint`) and prints JSON: sizes, latency (µs) and the selected bundle identifiers. Plans
//! are built the way a controller needs them (`Options::not_chosen` off); `--explain` fills
//! `not_chosen` too.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use resolver::{
    BundleLocator, FbcSource, Installed, Options, Plan, Request, ResolveError, catalog_from_fbc,
    resolve, resolve_each,
};
use serde_json::{Value, json};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("generate") => generate(&args[1..]),
        Some("solve") => solve(&args[1..]),
        _ => Err(
            "usage: resolver_bench generate --corpus DIR --out DIR | solve --catalog DIR \
                  --requests FILE [--joint] [--explain] [--repeat N]"
                .to_string(),
        ),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn required(args: &[String], name: &str) -> Result<String, String> {
    flag(args, name).ok_or_else(|| format!("{name} is required"))
}

// ---------------------------------------------------------------------------------------------
// Problem generation.

/// Deterministic xorshift64* (no dependency, same problems on every machine).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// An FBC being written: blobs in order.
#[derive(Default)]
struct Fbc {
    blobs: Vec<Value>,
    bundles: usize,
    packages: BTreeSet<String>,
}

impl Fbc {
    fn package(&mut self, name: &str, default_channel: &str) {
        self.packages.insert(name.to_string());
        self.blobs.push(
            json!({"schema": "olm.package", "name": name, "defaultChannel": default_channel}),
        );
    }
    fn channel(&mut self, package: &str, name: &str, entries: Vec<Value>) {
        self.blobs.push(
            json!({"schema": "olm.channel", "package": package, "name": name, "entries": entries}),
        );
    }
    fn bundle(&mut self, package: &str, name: &str, version: &str, mut properties: Vec<Value>) {
        properties.insert(
            0,
            json!({"type": "olm.package", "value": {"packageName": package, "version": version}}),
        );
        self.bundles += 1;
        self.blobs.push(json!({
            "schema": "olm.bundle",
            "package": package,
            "name": name,
            "image": format!("registry.example/bench/{package}:v{version}"),
            "properties": properties,
        }));
    }
    /// A package whose versions form one `replaces` chain in channel `stable`.
    fn linear(&mut self, package: &str, versions: &[(String, Vec<Value>)]) {
        self.package(package, "stable");
        let names: Vec<String> = versions
            .iter()
            .map(|(v, _)| format!("{package}.v{v}"))
            .collect();
        let entries = names
            .iter()
            .enumerate()
            .map(|(i, n)| match i {
                0 => json!({"name": n}),
                _ => json!({"name": n, "replaces": names[i - 1]}),
            })
            .collect();
        self.channel(package, "stable", entries);
        for ((v, props), n) in versions.iter().zip(&names) {
            self.bundle(package, n, v, props.clone());
        }
    }
}

fn write_problem(out: &Path, name: &str, fbc: &Fbc, input: Value) -> Result<(), String> {
    let dir = out.join(name);
    let catalog = dir.join("catalog");
    fs::create_dir_all(&catalog).map_err(|e| format!("creating {}: {e}", catalog.display()))?;
    let mut text = String::new();
    for b in &fbc.blobs {
        text.push_str(&serde_json::to_string(b).map_err(|e| e.to_string())?);
        text.push('\n');
    }
    write_atomic(&catalog.join("catalog.json"), text.as_bytes())?;
    let requests = serde_json::to_vec_pretty(&input).map_err(|e| e.to_string())?;
    write_atomic(&dir.join("requests.json"), &requests)?;
    println!(
        "{name}: {} packages, {} bundles, {} requests, {} installed",
        fbc.packages.len(),
        fbc.bundles,
        input["requests"].as_array().map_or(0, Vec::len),
        input["installed"].as_array().map_or(0, Vec::len),
    );
    Ok(())
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::File::create(&tmp).map_err(|e| format!("creating {}: {e}", tmp.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    fs::rename(&tmp, path).map_err(|e| format!("renaming to {}: {e}", path.display()))
}

fn generate(args: &[String]) -> Result<(), String> {
    let corpus = PathBuf::from(required(args, "--corpus")?);
    let out = PathBuf::from(required(args, "--out")?);
    community(&corpus, &out)?;
    chains(&out)?;
    gvk_providers(&out)?;
    dense(&out)?;
    Ok(())
}

const COPIES: usize = 27;

/// Resolution-relevant property types; the rest (manifests, CSV metadata) is dropped.
const KEPT: &[&str] = &[
    "olm.package.required",
    "olm.gvk",
    "olm.gvk.required",
    "olm.constraint",
    "olm.maxOpenShiftVersion",
    "olm.deprecated",
];

fn community(corpus: &Path, out: &Path) -> Result<(), String> {
    let load = |v: &str| {
        let dir = corpus.join("catalogs").join(v);
        fbc::load_fs(&dir).map_err(|e| format!("loading {}: {e}", dir.display()))
    };
    let v422 = load("v4.22")?;
    let v415 = load("v4.15")?;
    let newer: BTreeSet<&str> = v422.packages.iter().map(|p| p.name.as_str()).collect();
    // Packages in name order: v4.22's, then v4.15's that v4.22 lacks.
    let mut sources: BTreeMap<&str, &fbc::DeclarativeConfig> = BTreeMap::new();
    for p in &v422.packages {
        sources.insert(&p.name, &v422);
    }
    for p in &v415.packages {
        if !newer.contains(p.name.as_str()) {
            sources.insert(&p.name, &v415);
        }
    }
    // APIs the corpus packages provide themselves get a per-copy group; required APIs nobody
    // in the corpus provides (cert-manager, tekton, rabbitmq cluster) point at the shared
    // providers.
    let mut own_apis = BTreeSet::new();
    for cfg in [&v422, &v415] {
        for b in &cfg.bundles {
            for p in b.properties.iter().filter(|p| p.r#type == "olm.gvk") {
                let v: Value = serde_json::from_str(p.value.get()).map_err(|e| e.to_string())?;
                own_apis.insert(v.to_string());
            }
        }
    }

    let mut fbc = Fbc::default();
    let provider = |kind: &str, group: &str, version: &str| json!({"type": "olm.gvk", "value": {"group": group, "version": version, "kind": kind}});
    let versions = |list: &[&str], props: &dyn Fn() -> Vec<Value>| -> Vec<(String, Vec<Value>)> {
        list.iter().map(|v| (v.to_string(), props())).collect()
    };
    fbc.linear(
        "rabbitmq-cluster-operator",
        &versions(&["1.14.0", "2.0.0", "2.1.0", "2.5.0", "2.6.0"], &|| {
            vec![provider("RabbitmqCluster", "rabbitmq.com", "v1beta1")]
        }),
    );
    fbc.linear(
        "cert-manager",
        &versions(&["1.12.0", "1.13.0", "1.14.0"], &|| {
            vec![provider("Certificate", "cert-manager.io", "v1")]
        }),
    );
    fbc.linear(
        "tekton-operator",
        &versions(&["0.68.0", "0.69.0", "0.70.0"], &|| {
            vec![provider("TektonConfig", "operator.tekton.dev", "v1alpha1")]
        }),
    );

    let mut names = Vec::new();
    for k in 0..COPIES {
        for (&package, cfg) in &sources {
            let renamed = format!("{package}-c{k}");
            let rename = |bundle: &str| format!("{bundle}-c{k}");

            names.push(renamed.clone());
            let default = cfg
                .packages
                .iter()
                .find(|p| p.name == package)
                .map(|p| p.default_channel.clone())
                .unwrap_or_default();
            fbc.package(&renamed, &default);
            for ch in cfg.channels.iter().filter(|c| c.package == package) {
                let entries = ch
                    .entries
                    .iter()
                    .map(|e| {
                        let mut v = json!({"name": rename(&e.name)});
                        if !e.replaces.is_empty() {
                            v["replaces"] = json!(rename(&e.replaces));
                        }
                        if !e.skips.is_empty() {
                            v["skips"] =
                                json!(e.skips.iter().map(|s| rename(s)).collect::<Vec<_>>());
                        }
                        if !e.skip_range.is_empty() {
                            v["skipRange"] = json!(e.skip_range);
                        }
                        v
                    })
                    .collect();
                fbc.channel(&renamed, &ch.name, entries);
            }
            for b in cfg.bundles.iter().filter(|b| b.package == package) {
                let mut version = String::new();
                let mut props = Vec::new();
                for p in &b.properties {
                    let mut value: Value =
                        serde_json::from_str(p.value.get()).map_err(|e| e.to_string())?;
                    if p.r#type == "olm.package" {
                        version = value["version"].as_str().unwrap_or_default().to_string();
                        continue;
                    }
                    if !KEPT.contains(&p.r#type.as_str()) {
                        continue;
                    }
                    if (p.r#type == "olm.gvk" || p.r#type == "olm.gvk.required")
                        && own_apis.contains(&value.to_string())
                        && let Some(g) = value["group"].as_str()
                    {
                        value["group"] = json!(format!("c{k}.{g}"));
                    }
                    props.push(json!({"type": p.r#type, "value": value}));
                }
                fbc.bundle(&renamed, &rename(&b.name), &version, props);
            }
        }
    }

    // Requests: a typical single package (49 bundles, 4 channels), one with real
    // dependencies, and 50 packages spread over the copies.
    let single = json!({"requests": [{"package": "infinispan-c13"}], "installed": []});
    write_problem(out, "community-single", &fbc, single)?;
    let deps = json!({
        "requests": [{"package": "rabbitmq-messaging-topology-operator-c13"}],
        "installed": []
    });
    write_problem(out, "community-single-deps", &fbc, deps)?;

    let mut requests = Vec::new();
    let mut installed = Vec::new();
    for i in 0..50 {
        let package = &names[i * names.len() / 50];
        requests.push(json!({"package": package}));
        // Every fifth Operator is already installed at its lowest version.
        if i % 5 == 0 {
            let lowest = fbc
                .blobs
                .iter()
                .filter(|b| b["schema"] == "olm.bundle" && b["package"] == json!(package))
                .filter_map(|b| {
                    let v = b["properties"][0]["value"]["version"].as_str()?;
                    semver::Version::parse(v).ok()
                })
                .min();
            if let Some(v) = lowest {
                installed.push(json!({"package": package, "version": v.to_string()}));
            }
        }
    }
    write_problem(
        out,
        "community-fifty",
        &fbc,
        json!({"requests": requests, "installed": installed}),
    )?;
    Ok(())
}

fn chains(out: &Path) -> Result<(), String> {
    // chain-deep: 200 levels × 5 versions; 1.v requires the next package in `>=1.0.0 <2.0.0`.
    let depth = 200;
    let mut fbc = Fbc::default();
    for i in 0..depth {
        let next = format!("chain-{:03}", i + 1);
        let versions: Vec<(String, Vec<Value>)> = (0..5)
            .map(|v| {
                let props = if i + 1 < depth {
                    vec![json!({"type": "olm.package.required",
                        "value": {"packageName": next, "versionRange": ">=1.0.0 <2.0.0"}})]
                } else {
                    Vec::new()
                };
                (format!("1.{v}.0"), props)
            })
            .collect();
        fbc.linear(&format!("chain-{i:03}"), &versions);
    }
    write_problem(
        out,
        "chain-deep",
        &fbc,
        json!({"requests": [{"package": "chain-000"}], "installed": []}),
    )?;

    // chain-pinned: 1.v requires the next package at `>=1.v.0`; the bottom is pinned to 1.0.0,
    // so every level has to back off from its preferred 1.4.0 to 1.0.0.
    let depth = 30;
    let mut fbc = Fbc::default();
    for i in 0..depth {
        let next = format!("pin-{:03}", i + 1);
        let versions: Vec<(String, Vec<Value>)> = (0..5)
            .map(|v| {
                let props = if i + 1 < depth {
                    vec![json!({"type": "olm.package.required",
                        "value": {"packageName": next, "versionRange": format!(">=1.{v}.0")}})]
                } else {
                    Vec::new()
                };
                (format!("1.{v}.0"), props)
            })
            .collect();
        fbc.linear(&format!("pin-{i:03}"), &versions);
    }
    write_problem(
        out,
        "chain-pinned",
        &fbc,
        json!({"requests": [
            {"package": "pin-000"},
            {"package": format!("pin-{:03}", depth - 1), "version": "1.0.0"}
        ], "installed": []}),
    )
}

fn gvk_providers(out: &Path) -> Result<(), String> {
    let mut fbc = Fbc::default();
    let shared = json!({"group": "shared.example.com", "version": "v1", "kind": "Widget"});
    for p in 0..200 {
        let versions: Vec<(String, Vec<Value>)> = (0..3)
            .map(|v| {
                (
                    format!("1.{v}.0"),
                    vec![
                        json!({"type": "olm.gvk", "value": shared}),
                        json!({"type": "olm.gvk", "value":
                            {"group": format!("p{p}.example.com"), "version": "v1", "kind": "Own"}}),
                    ],
                )
            })
            .collect();
        fbc.linear(&format!("provider-{p:03}"), &versions);
    }
    let mut requests = Vec::new();
    for c in 0..50 {
        let versions: Vec<(String, Vec<Value>)> = (0..3)
            .map(|v| {
                (
                    format!("2.{v}.0"),
                    vec![json!({"type": "olm.gvk.required", "value": shared})],
                )
            })
            .collect();
        let name = format!("consumer-{c:02}");
        fbc.linear(&name, &versions);
        requests.push(json!({"package": name}));
    }
    write_problem(
        out,
        "gvk-providers",
        &fbc,
        json!({"requests": requests, "installed": []}),
    )
}

fn dense(out: &Path) -> Result<(), String> {
    let (packages, versions) = (333, 21);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut fbc = Fbc::default();
    for p in 0..packages {
        let list: Vec<(String, Vec<Value>)> = (0..versions)
            .map(|v| {
                let mut props = Vec::new();
                if rng.below(2) == 0 {
                    for _ in 0..=rng.below(2) {
                        let target = rng.below(packages);
                        if target == p {
                            continue;
                        }
                        let min = rng.below(versions);
                        props.push(json!({"type": "olm.package.required", "value": {
                            "packageName": format!("dense-{target:03}"),
                            "versionRange": format!(">=1.{min}.0"),
                        }}));
                    }
                }
                (format!("1.{v}.0"), props)
            })
            .collect();
        fbc.linear(&format!("dense-{p:03}"), &list);
    }
    let mut requests = Vec::new();
    let mut seen = BTreeSet::new();
    while requests.len() < 50 {
        let p = rng.below(packages);
        if seen.insert(p) {
            requests.push(json!({"package": format!("dense-{p:03}")}));
        }
    }
    write_problem(
        out,
        "dense",
        &fbc,
        json!({"requests": requests, "installed": []}),
    )
}

// ---------------------------------------------------------------------------------------------
// Solving.

fn read_input(path: &Path) -> Result<(Vec<Request>, Vec<Installed>), String> {
    let text = fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let s = |x: &Value| x.as_str().map(str::to_string);
    let requests = v["requests"]
        .as_array()
        .ok_or("requests must be a list")?
        .iter()
        .map(|r| Request {
            package: s(&r["package"]).unwrap_or_default(),
            channel: s(&r["channel"]),
            version: s(&r["version"]),
            ..Request::default()
        })
        .collect();
    let installed = v["installed"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|i| {
                    let package = s(&i["package"]).unwrap_or_default();
                    Installed::own(
                        package,
                        BundleLocator::Version(s(&i["version"]).unwrap_or_default()),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Ok((requests, installed))
}

fn selection(result: &Result<Plan, ResolveError>) -> Value {
    match result {
        Ok(plan) => json!(
            plan.selections
                .iter()
                .map(|s| format!("{}-{}-{}", s.catalog, s.package, s.bundle))
                .collect::<Vec<_>>()
        ),
        Err(ResolveError::Unsatisfiable(_)) => json!("unsatisfiable"),
        Err(e) => json!(format!("error: {e}")),
    }
}

/// CPU time of the whole process (every thread) in nanoseconds, from the process CPU clock
/// (exact, unlike `/proc/self/schedstat`, which only advances at scheduler ticks).
fn cpu_ns() -> Option<u64> {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    u64::try_from(t.tv_sec)
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(u64::try_from(t.tv_nsec).ok()?)
}

fn solve(args: &[String]) -> Result<(), String> {
    let dir = PathBuf::from(required(args, "--catalog")?);
    let input = PathBuf::from(required(args, "--requests")?);
    let joint = args.iter().any(|a| a == "--joint");
    let repeat: usize = flag(args, "--repeat")
        .map(|r| r.parse().map_err(|e| format!("--repeat: {e}")))
        .transpose()?
        .unwrap_or(20);

    let started = Instant::now();
    let config = fbc::load_fs(&dir).map_err(|e| format!("loading {}: {e}", dir.display()))?;
    let load_ms = started.elapsed().as_secs_f64() * 1e3;
    let started = Instant::now();
    let catalog = catalog_from_fbc([FbcSource::new("gen", &config)]).map_err(|e| e.to_string())?;
    let index_ms = started.elapsed().as_secs_f64() * 1e3;
    // The request-independent indexes are built once per catalog, like the deppy harness' maps
    // (reported on their own).
    let started = Instant::now();
    catalog.prepare();
    let prepare_ms = started.elapsed().as_secs_f64() * 1e3;
    let (requests, installed) = read_input(&input)?;
    // What a controller uses: the selection and why, without the `not_chosen` lists (deppy
    // produces neither). `--explain` measures the default, fully explained plan.
    let options = Options {
        not_chosen: args.iter().any(|a| a == "--explain"),
        ..Options::default()
    };

    let mut samples = Vec::with_capacity(repeat);
    let mut selections = Vec::new();
    let cpu_start = cpu_ns();
    for _ in 0..repeat.max(1) {
        let started = Instant::now();
        let results: Vec<Result<Plan, ResolveError>> = if joint {
            vec![resolve(&catalog, &requests, &installed, &options)]
        } else {
            resolve_each(&catalog, &requests, &installed, &options)
                .into_iter()
                .map(|(_, r)| r)
                .collect()
        };
        samples.push(started.elapsed().as_secs_f64() * 1e6);
        selections = results.iter().map(selection).collect();
    }
    // CPU time of the whole loop: unlike wall-clock samples, it does not grow when other
    // processes compete for the cores.
    let cpu_mean_us = match (cpu_start, cpu_ns()) {
        (Some(a), Some(b)) => json!((b - a) as f64 / 1e3 / samples.len() as f64),
        _ => Value::Null,
    };
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    let report = json!({
        "solver": "olm-rs resolver (resolvo)",
        "bundles": catalog.len(),
        "packages": catalog.package_names().count(),
        "requests": requests.len(),
        "joint": joint,
        "notChosen": options.not_chosen,
        "runs": samples.len(),
        "loadMs": load_ms,
        "indexMs": index_ms,
        "prepareMs": prepare_ms,
        "minUs": at(0.0),
        "medianUs": at(0.5),
        "p95Us": at(0.95),
        "cpuMeanUs": cpu_mean_us,
        "selections": selections,
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
    );
    Ok(())
}
