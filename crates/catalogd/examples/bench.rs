//! Benchmark harness for catalogd (driven by `bench/catalogd/run.sh`).
//!
//! * `bench generate --out DIR --min-mib N`: a large FBC built from renamed copies of the
//!   corpus catalogs (every package, channel entry and bundle name gets a per-copy prefix,
//!   so the result is a valid catalog of many distinct packages).
//! * `bench e2e --catalogd BIN --fbc DIR --out DIR`: a real control plane and registry,
//!   the catalog pushed as an image, the real `catalogd` binary as a child process; times
//!   Catalog creation → content served, writes `<out>/ready.json`, then keeps everything
//!   up (so run.sh can load-test the server) until SIGTERM/SIGINT.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};
use kube::api::{Api, ObjectMeta, PostParams};
use serde_json::{Value, json};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    Generate {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 110)]
        min_mib: u64,
        /// Corpus root (default: <workspace>/../shared/corpus or $OLMRS_CORPUS).
        #[arg(long)]
        corpus: Option<PathBuf>,
    },
    E2e {
        #[arg(long)]
        catalogd: PathBuf,
        #[arg(long)]
        fbc: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Listen port of catalogd's content server (loopback).
        #[arg(long, default_value_t = 18083)]
        port: u16,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().command {
        Cmd::Generate {
            out,
            min_mib,
            corpus,
        } => generate(&out, min_mib << 20, &corpus.unwrap_or_else(default_corpus)),
        Cmd::E2e {
            catalogd,
            fbc,
            out,
            port,
        } => e2e(&catalogd, &fbc, &out, port).await,
    }
}

fn default_corpus() -> PathBuf {
    std::env::var_os("OLMRS_CORPUS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
        PathBuf::from,
    )
}

// ---------------------------------------------------------------------------------------
// generate

fn generate(out: &Path, min_bytes: u64, corpus: &Path) -> Result<()> {
    let mut sources = Vec::new();
    for version in ["v4.15", "v4.22"] {
        let dir = corpus.join("catalogs").join(version);
        let mut packages: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        packages.sort();
        for p in packages {
            sources.push((version.replace('.', ""), p));
        }
    }
    if out.exists() {
        std::fs::remove_dir_all(out).with_context(|| format!("removing {}", out.display()))?;
    }
    let mut total = 0u64;
    let mut copies = 0u32;
    let mut packages = 0u32;
    'outer: for copy in 0u32.. {
        for (version, dir) in &sources {
            let prefix = format!("c{copy}{version}-");
            let pkg = dir.file_name().unwrap().to_string_lossy().into_owned();
            let dest = out.join(format!("{prefix}{pkg}"));
            std::fs::create_dir_all(&dest)?;
            let mut text = String::new();
            fbc::walk_metas(dir, |m: fbc::Meta| -> Result<(), fbc::LoadError> {
                let mut v: Value = serde_json::from_str(m.blob.get()).expect("metas are JSON");
                rename(&mut v, &prefix);
                text.push_str(&serde_json::to_string(&v).expect("serialises"));
                text.push('\n');
                Ok(())
            })
            .with_context(|| format!("reading {}", dir.display()))?;
            total += text.len() as u64;
            std::fs::write(dest.join("catalog.json"), text)?;
            packages += 1;
            if total >= min_bytes {
                copies = copy + 1;
                break 'outer;
            }
        }
    }
    println!(
        "generated {packages} packages ({copies} corpus copies), {:.1} MiB of FBC JSON in {}",
        total as f64 / (1 << 20) as f64,
        out.display()
    );
    Ok(())
}

fn prefixed(v: &mut Value, prefix: &str) {
    if let Value::String(s) = v
        && !s.is_empty()
    {
        *s = format!("{prefix}{s}");
    }
}

/// Renames everything that names a package or a bundle; channel names stay.
fn rename(v: &mut Value, prefix: &str) {
    let schema = v["schema"].as_str().unwrap_or_default().to_owned();
    match schema.as_str() {
        "olm.package" => prefixed(&mut v["name"], prefix),
        "olm.channel" => {
            prefixed(&mut v["package"], prefix);
            for e in v["entries"].as_array_mut().into_iter().flatten() {
                prefixed(&mut e["name"], prefix);
                if e.get("replaces").is_some() {
                    prefixed(&mut e["replaces"], prefix);
                }
                for s in e["skips"].as_array_mut().into_iter().flatten() {
                    prefixed(s, prefix);
                }
            }
        }
        "olm.bundle" => {
            prefixed(&mut v["package"], prefix);
            prefixed(&mut v["name"], prefix);
            for p in v["properties"].as_array_mut().into_iter().flatten() {
                match p["type"].as_str() {
                    Some("olm.package") | Some("olm.package.required") => {
                        prefixed(&mut p["value"]["packageName"], prefix);
                    }
                    _ => {}
                }
            }
        }
        "olm.deprecations" => {
            prefixed(&mut v["package"], prefix);
            for e in v["entries"].as_array_mut().into_iter().flatten() {
                if e["reference"]["schema"] == "olm.bundle" {
                    prefixed(&mut e["reference"]["name"], prefix);
                }
            }
        }
        _ => {
            if v.get("package").is_some() {
                prefixed(&mut v["package"], prefix);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// e2e

/// Stops the catalogd child by its PID (SIGTERM, then SIGKILL) however we exit.
struct ChildGuard(Option<Child>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(child) = self.0.take() {
            testenv::process::stop_child(child, "catalogd");
        }
    }
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

async fn e2e(catalogd: &Path, fbc_dir: &Path, out: &Path, port: u16) -> Result<()> {
    testenv::install_crypto_provider();
    std::fs::create_dir_all(out)?;
    let Some(cluster) = testenv::cluster().await else {
        bail!("no control plane (see docs/testing.md)");
    };
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    cluster.apply_crds(&workspace.join("config/crd")).await?;
    let namespace = testenv::unique_name("catalogd-bench");
    let ns: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(cluster.client());
    ns.create(
        &PostParams::default(),
        &k8s_openapi::api::core::v1::Namespace {
            metadata: ObjectMeta {
                name: Some(namespace.clone()),
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .await?;
    let registry = testenv::registry::Registry::start_plain().await?;

    let storage = out.join("storage");
    if storage.exists() {
        std::fs::remove_dir_all(&storage)?;
    }
    let options = oci::RegistryOptions {
        use_http: true,
        ..oci::RegistryOptions::default()
    };
    let pusher = oci::ImageStore::new(out.join("pusher-blobs"), options)?;
    let started = Instant::now();
    let image = oci::catalog_image(None, fbc_dir)?.build(&pusher).await?;
    let build_s = started.elapsed().as_secs_f64();
    let reference = format!("{}/bench/catalog:v1", registry.host_port());
    let started = Instant::now();
    pusher
        .push(&image, &oci::ImageRef::parse(&reference)?)
        .await?;
    let push_s = started.elapsed().as_secs_f64();
    eprintln!("image built in {build_s:.1}s, pushed in {push_s:.1}s");

    let base_url = format!("http://127.0.0.1:{port}");
    let label = namespace.clone();
    let log = std::fs::File::create(out.join("catalogd.log"))?;
    let child = Command::new(catalogd)
        .arg("--namespace")
        .arg(&namespace)
        .arg("--storage-dir")
        .arg(&storage)
        .arg("--catalogs-server-addr")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--http-external-address")
        .arg(&base_url)
        .args(["--metrics-bind-address", "127.0.0.1:0"])
        .args(["--health-probe-bind-address", "127.0.0.1:0"])
        .arg("--catalog-selector")
        .arg(format!("olmrs-bench={label}"))
        .arg("--registry-use-http")
        .env("KUBECONFIG", cluster.kubeconfig())
        .env("RUST_LOG", "info,kube=warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {}", catalogd.display()))?;
    let pid = child.id();
    let _guard = ChildGuard(Some(child));
    let http = reqwest::Client::new();
    let name = testenv::unique_name("bench");
    let probe = format!("{base_url}/catalogs/{name}/all.json");
    // The server is up once it answers at all (404 for a catalog not created yet).
    let deadline = Instant::now() + Duration::from_secs(60);
    while http.head(&probe).send().await.is_err() {
        if Instant::now() > deadline {
            bail!(
                "catalogd did not start; see {}",
                out.join("catalogd.log").display()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let catalog: olm_api::catalog::Catalog = serde_json::from_value(json!({
        "apiVersion": "catalogd.operatorframework.io/v1alpha1",
        "kind": "Catalog",
        "metadata": {"name": name, "labels": {"olmrs-bench": label}},
        "spec": {"source": {"type": "image", "image": {"ref": reference, "pollInterval": "0s"}}},
    }))?;
    let api: Api<olm_api::catalog::Catalog> = Api::all(cluster.client());
    let created = Instant::now();
    api.create(&PostParams::default(), &catalog).await?;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let resp = http.head(&probe).send().await?;
        if resp.status().is_success() {
            break;
        }
        if Instant::now() > deadline {
            bail!("content not served after 600s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let served_s = created.elapsed().as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(60);
    let unpacked_s = loop {
        let c = api.get(&name).await?;
        if c.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Unpacked") {
            break created.elapsed().as_secs_f64();
        }
        if Instant::now() > deadline {
            bail!("status not Unpacked: {:?}", c.status);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let current = storage.join("catalogs").join(&name).join("current");
    let size = std::fs::metadata(current.join("all.json"))?.len();
    let gz_size = std::fs::metadata(current.join("all.json.gz"))
        .map(|m| m.len())
        .unwrap_or_default();
    let ready = json!({
        "base_url": base_url,
        "name": name,
        "current_dir": current.canonicalize()?,
        "all_json_bytes": size,
        "all_json_gz_bytes": gz_size,
        "image_build_s": build_s,
        "image_push_s": push_s,
        "create_to_served_s": served_s,
        "create_to_unpacked_status_s": unpacked_s,
        "catalogd_pid": pid,
        "catalogd_peak_rss_kib_after_unpack": peak_rss_kib(pid),
    });
    std::fs::write(out.join("ready.json"), serde_json::to_vec_pretty(&ready)?)?;
    eprintln!("{ready:#}");

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    // Peak RSS once the load tests have run too.
    let after = json!({"catalogd_peak_rss_kib_total": peak_rss_kib(pid)});
    std::fs::write(out.join("after.json"), serde_json::to_vec_pretty(&after)?)?;
    drop(registry);
    Ok(())
}
