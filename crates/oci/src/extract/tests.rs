//! Hostile and tricky tarballs, built here, against the extraction policy.

use std::io::Write;

use flate2::{Compression, write::GzEncoder};

use super::*;

enum E<'a> {
    Dir(&'a [u8]),
    File(&'a [u8], &'a [u8], u32),
    Symlink(&'a [u8], &'a [u8]),
    HardLink(&'a [u8], &'a [u8]),
    CharDev(&'a [u8]),
    Fifo(&'a [u8]),
}

/// Writes names straight into the header so the tar crate's own path checks (which
/// refuse `..` and absolute paths) don't stop us from building hostile archives.
fn tarball(entries: &[E<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        let (name, kind, data, link, mode): (&[u8], _, &[u8], Option<&[u8]>, u32) = match e {
            E::Dir(n) => (n, tar::EntryType::Directory, b"", None, 0o755),
            E::File(n, d, m) => (n, tar::EntryType::Regular, d, None, *m),
            E::Symlink(n, t) => (n, tar::EntryType::Symlink, b"", Some(t), 0o777),
            E::HardLink(n, t) => (n, tar::EntryType::Link, b"", Some(t), 0o644),
            E::CharDev(n) => (n, tar::EntryType::Char, b"", None, 0o600),
            E::Fifo(n) => (n, tar::EntryType::Fifo, b"", None, 0o600),
        };
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        h.set_mtime(0);
        let gnu = h.as_gnu_mut().unwrap();
        gnu.name[..name.len()].copy_from_slice(name);
        if let Some(t) = link {
            gnu.linkname[..t.len()].copy_from_slice(t);
        }
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

fn sha256(data: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

struct Fixture {
    dir: tempfile::TempDir,
    layers: Vec<LayerFile>,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("out")).unwrap();
        Fixture {
            dir,
            layers: Vec::new(),
        }
    }

    fn layer(mut self, entries: &[E<'_>]) -> Self {
        let n = self.layers.len();
        let tar = tarball(entries);
        let path = self.dir.path().join(format!("layer{n}.tar.gz"));
        fs::write(&path, gz(&tar)).unwrap();
        self.layers.push(LayerFile {
            path,
            compression: LayerCompression::Gzip,
            name: format!("layer{n}"),
            diff_id: Some(sha256(&tar)),
        });
        self
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    fn extract(&self, options: &ExtractOptions) -> Result<ExtractStats, ExtractError> {
        extract_layers(&self.layers, &self.out(), options)
    }

    fn extract_default(&self) -> Result<ExtractStats, ExtractError> {
        self.extract(&ExtractOptions::default())
    }

    /// Every path under out, sorted, with `/` after directories and `@` after symlinks.
    fn listing(&self) -> Vec<String> {
        let mut out = Vec::new();
        fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
            let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap()).collect();
            entries.sort_by_key(|e| e.file_name());
            for e in entries {
                let p = e.path();
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                let m = fs::symlink_metadata(&p).unwrap();
                if m.file_type().is_symlink() {
                    out.push(format!("{rel}@"));
                } else if m.is_dir() {
                    out.push(format!("{rel}/"));
                    walk(root, &p, out);
                } else {
                    out.push(rel);
                }
            }
        }
        walk(&self.out(), &self.out(), &mut out);
        out
    }
}

#[test]
fn path_traversal_is_refused() {
    for name in [&b"../evil"[..], b"a/../../evil", b"./a/.."] {
        let f = Fixture::new().layer(&[E::File(name, b"x", 0o644)]);
        let err = f.extract_default().unwrap_err();
        assert!(matches!(err, ExtractError::PathTraversal { .. }), "{err}");
        assert!(err.to_string().contains("layer0"), "{err}");
        assert!(!f.dir.path().join("evil").exists());
    }
}

#[test]
fn absolute_paths_are_refused() {
    let f = Fixture::new().layer(&[E::File(b"/etc/passwd", b"x", 0o644)]);
    let err = f.extract_default().unwrap_err();
    assert!(
        matches!(err, ExtractError::AbsolutePath { ref entry, .. } if entry == "/etc/passwd"),
        "{err}"
    );
}

#[test]
fn non_utf8_and_nul_paths_are_refused() {
    let f = Fixture::new().layer(&[E::File(b"bad\xff\xfe", b"x", 0o644)]);
    let err = f.extract_default().unwrap_err();
    assert!(err.to_string().contains("not valid UTF-8"), "{err}");

    // A PAX `path` record can carry a NUL that a ustar name cannot.
    let mut b = tar::Builder::new(Vec::new());
    b.append_pax_extensions([("path", &b"ok\0hidden"[..])])
        .unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(1);
    h.set_mode(0o644);
    h.as_gnu_mut().unwrap().name[..2].copy_from_slice(b"ok");
    h.set_cksum();
    b.append(&h, &b"x"[..]).unwrap();
    let f = Fixture::new();
    let path = f.dir.path().join("pax.tar");
    fs::write(&path, b.into_inner().unwrap()).unwrap();
    let layers = [LayerFile {
        path,
        compression: LayerCompression::None,
        name: "pax".into(),
        diff_id: None,
    }];
    let err = extract_layers(&layers, &f.out(), &ExtractOptions::default()).unwrap_err();
    assert!(err.to_string().contains("NUL"), "{err}");
}

#[test]
fn symlinks_escaping_the_root_are_refused() {
    for (name, target) in [
        (&b"link"[..], &b"../outside"[..]),
        (b"a/b/link", b"../../../outside"),
        (b"abs", b"/etc/passwd"),
    ] {
        let f = Fixture::new().layer(&[E::Symlink(name, target)]);
        let err = f.extract_default().unwrap_err();
        assert!(matches!(err, ExtractError::LinkEscapes { .. }), "{err}");
    }
    // Inside the root is fine.
    let f = Fixture::new().layer(&[
        E::File(b"a/target", b"t", 0o644),
        E::Symlink(b"a/b/link", b"../target"),
    ]);
    f.extract_default().unwrap();
    assert_eq!(
        fs::read_link(f.out().join("a/b/link")).unwrap(),
        Path::new("../target")
    );

    let f = Fixture::new().layer(&[E::Symlink(b"link", b"x")]);
    let skip = ExtractOptions {
        symlinks: SymlinkPolicy::Skip,
        ..Default::default()
    };
    assert_eq!(f.extract(&skip).unwrap().skipped_symlinks, 1);
    assert!(f.listing().is_empty());
    let reject = ExtractOptions {
        symlinks: SymlinkPolicy::Reject,
        ..Default::default()
    };
    assert!(matches!(
        f.extract(&reject).unwrap_err(),
        ExtractError::SymlinkRefused { .. }
    ));
}

#[test]
fn symlinks_on_disk_are_never_followed() {
    // A later layer must not write through a link an earlier layer planted.
    let outside = tempfile::tempdir().unwrap();
    let f = Fixture::new()
        .layer(&[E::Dir(b"sub"), E::Symlink(b"s", b"sub")])
        .layer(&[E::File(b"s/file", b"x", 0o644)]);
    let err = f.extract_default().unwrap_err();
    assert!(
        matches!(err, ExtractError::ThroughSymlink { ref component, .. } if component == "s"),
        "{err}"
    );
    assert!(!f.out().join("sub/file").exists());
    // Under a subtree, the link is still named by its path in the image.
    let f = Fixture::new()
        .layer(&[E::Dir(b"configs/sub"), E::Symlink(b"configs/s", b"sub")])
        .layer(&[E::File(b"configs/s/file", b"x", 0o644)]);
    let subtree = ExtractOptions {
        subtree: Some("/configs".into()),
        ..Default::default()
    };
    assert_eq!(
        f.extract(&subtree).unwrap_err().to_string(),
        r#"layer layer1: entry "configs/s/file" would be written through the symlink "configs/s"; refusing to follow it"#
    );

    // Replacing a symlink with a file replaces the link, not its target.
    let f = Fixture::new()
        .layer(&[
            E::File(b"target", b"original", 0o644),
            E::Symlink(b"f", b"target"),
        ])
        .layer(&[E::File(b"f", b"new", 0o644)]);
    f.extract_default().unwrap();
    assert_eq!(fs::read(f.out().join("target")).unwrap(), b"original");
    assert_eq!(fs::read(f.out().join("f")).unwrap(), b"new");
    assert!(
        !fs::symlink_metadata(f.out().join("f"))
            .unwrap()
            .file_type()
            .is_symlink()
    );

    // A pre-existing link in the destination pointing outside is not followed either.
    let f = Fixture::new().layer(&[E::File(b"pre/file", b"x", 0o644)]);
    std::os::unix::fs::symlink(outside.path(), f.out().join("pre")).unwrap();
    assert!(matches!(
        f.extract_default().unwrap_err(),
        ExtractError::ThroughSymlink { .. }
    ));
    assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);
}

#[test]
fn hard_links_are_refused() {
    let f = Fixture::new().layer(&[E::File(b"a", b"x", 0o644), E::HardLink(b"b", b"a")]);
    let err = f.extract_default().unwrap_err();
    assert!(
        matches!(err, ExtractError::HardLink { ref entry, ref target, .. } if entry == "b" && target == "a"),
        "{err}"
    );
}

#[test]
fn devices_and_fifos_are_skipped() {
    let f = Fixture::new().layer(&[
        E::CharDev(b"dev/null"),
        E::Fifo(b"pipe"),
        E::File(b"keep", b"k", 0o644),
    ]);
    let stats = f.extract_default().unwrap();
    assert_eq!(stats.skipped_special, 2);
    assert_eq!(f.listing(), ["keep"]);
}

#[test]
fn decompression_bombs_hit_the_limits() {
    let zeros = vec![0u8; 4 << 20];
    let f = Fixture::new().layer(&[E::File(b"big", &zeros, 0o644)]);
    assert!(fs::metadata(&f.layers[0].path).unwrap().len() < 64 << 10);
    let per_file = ExtractOptions {
        limits: ExtractLimits {
            max_file_bytes: 1 << 20,
            ..Default::default()
        },
        ..Default::default()
    };
    let err = f.extract(&per_file).unwrap_err();
    assert!(
        matches!(err, ExtractError::FileTooLarge { size, .. } if size == 4 << 20),
        "{err}"
    );

    let chunk = vec![0u8; 1 << 20];
    let f = Fixture::new().layer(&[
        E::File(b"a", &chunk, 0o644),
        E::File(b"b", &chunk, 0o644),
        E::File(b"c", &chunk, 0o644),
    ]);
    let total = ExtractOptions {
        limits: ExtractLimits {
            max_total_bytes: (2 << 20) + 4096,
            ..Default::default()
        },
        ..Default::default()
    };
    let err = f.extract(&total).unwrap_err();
    assert!(
        matches!(err, ExtractError::TotalSizeExceeded { .. }),
        "{err}"
    );

    let names: Vec<String> = (0..20).map(|i| format!("f{i}")).collect();
    let entries: Vec<E<'_>> = names
        .iter()
        .map(|n| E::File(n.as_bytes(), b"", 0o644))
        .collect();
    let f = Fixture::new().layer(&entries);
    let count = ExtractOptions {
        limits: ExtractLimits {
            max_entries: 10,
            ..Default::default()
        },
        ..Default::default()
    };
    assert!(matches!(
        f.extract(&count).unwrap_err(),
        ExtractError::TooManyEntries { limit: 10, .. }
    ));
}

#[test]
fn whiteouts_flatten_layers() {
    let f = Fixture::new()
        .layer(&[
            E::File(b"a/x", b"x", 0o644),
            E::File(b"a/y", b"y", 0o644),
            E::File(b"b/old", b"o", 0o644),
            E::File(b"b/sub/deep", b"d", 0o644),
            E::File(b"c/keep", b"k", 0o644),
            E::File(b"d", b"file", 0o644),
        ])
        .layer(&[
            E::File(b"a/.wh.x", b"", 0o644),
            // Written before the opaque marker in the same layer: must survive it.
            E::File(b"b/new", b"n", 0o644),
            E::File(b"b/.wh..wh..opq", b"", 0o644),
            E::File(b".wh.c", b"", 0o644),
            // A directory replaces a lower file.
            E::File(b"d/inner", b"i", 0o644),
        ]);
    f.extract_default().unwrap();
    assert_eq!(f.listing(), ["a/", "a/y", "b/", "b/new", "d/", "d/inner"]);
    // Reading into memory flattens the same way.
    let dirs = ["a", "b", "c", "d"];
    assert_eq!(f.read(&dirs).unwrap(), f.extracted_files(&dirs));
}

#[test]
fn subtree_extraction_applies_whiteouts_inside_it() {
    let f = Fixture::new()
        .layer(&[
            E::File(b"etc/passwd", b"root", 0o644),
            E::Dir(b"configs/"),
            E::File(b"configs/p1/catalog.json", b"1", 0o644),
            E::File(b"configs/p2/catalog.json", b"2", 0o644),
        ])
        .layer(&[
            E::File(b"configs/.wh.p2", b"", 0o644),
            E::File(b"./configs/p3/c.yaml", b"3", 0o644),
        ]);
    let opts = ExtractOptions {
        subtree: Some("/configs".into()),
        ..Default::default()
    };
    f.extract(&opts).unwrap();
    assert_eq!(f.listing(), ["p1/", "p1/catalog.json", "p3/", "p3/c.yaml"]);

    // An opaque /configs in a later layer drops everything below it.
    let f = Fixture::new()
        .layer(&[E::File(b"configs/p1/catalog.json", b"1", 0o644)])
        .layer(&[
            E::File(b"configs/.wh..wh..opq", b"", 0o644),
            E::File(b"configs/p9/c.json", b"9", 0o644),
        ]);
    f.extract(&opts).unwrap();
    assert_eq!(f.listing(), ["p9/", "p9/c.json"]);

    let f = Fixture::new().layer(&[E::File(b"etc/x", b"x", 0o644)]);
    let err = f.extract(&opts).unwrap_err();
    assert_eq!(err.to_string(), r#"the image has no "/configs" directory"#);
    // An empty label is visible as such, not as a blank in the sentence.
    let empty = ExtractOptions {
        subtree: Some(String::new()),
        ..Default::default()
    };
    let err = Fixture::new().extract(&empty).unwrap_err();
    assert_eq!(err.to_string(), r#"the image has no "" directory"#);
}

#[test]
fn modes_are_normalised() {
    let f = Fixture::new().layer(&[
        E::File(b"suid", b"x", 0o4777),
        E::File(b"private", b"x", 0o600),
        E::File(b"exec", b"x", 0o700),
    ]);
    f.extract_default().unwrap();
    let mode = |n: &str| fs::metadata(f.out().join(n)).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode("suid"), 0o755);
    assert_eq!(mode("private"), 0o644);
    assert_eq!(mode("exec"), 0o755);
}

#[test]
fn corrupt_streams_are_reported() {
    let f = Fixture::new();
    let path = f.dir.path().join("bad.tar.gz");
    let mut data = gz(&tarball(&[E::File(b"a", &[7u8; 10000], 0o644)]));
    data.truncate(data.len() / 2);
    fs::write(&path, data).unwrap();
    let layers = [LayerFile {
        path,
        compression: LayerCompression::Gzip,
        name: "bad".into(),
        diff_id: None,
    }];
    let err = extract_layers(&layers, &f.out(), &ExtractOptions::default()).unwrap_err();
    assert!(matches!(err, ExtractError::Corrupt { .. }), "{err}");
}

// ---- read_layers: the in-memory reader must agree with extraction ----

impl Fixture {
    /// The regular files (symlinks followed) that extraction writes under `dirs`.
    fn extracted_files(&self, dirs: &[&str]) -> std::collections::BTreeMap<String, Vec<u8>> {
        fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
            for e in fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if fs::symlink_metadata(&p).unwrap().is_dir() {
                    walk(root, &p, out);
                } else if fs::metadata(&p).is_ok_and(|m| m.is_file()) {
                    let rel = p.strip_prefix(root).unwrap().display().to_string();
                    out.insert(rel, fs::read(&p).unwrap());
                }
            }
        }
        self.extract_default().unwrap();
        let mut out = std::collections::BTreeMap::new();
        walk(&self.out(), &self.out(), &mut out);
        out.retain(|path, _| dirs.iter().any(|d| path.starts_with(&format!("{d}/"))));
        out
    }

    fn read(
        &self,
        dirs: &[&str],
    ) -> Result<std::collections::BTreeMap<String, Vec<u8>>, ExtractError> {
        read_layers(&self.layers, dirs, &ExtractLimits::default())
    }
}

#[test]
fn reading_into_memory_replaces_like_extraction() {
    let f = Fixture::new()
        .layer(&[
            E::File(b"a/y", b"y", 0o644),
            E::File(b"e/sub/z", b"z", 0o644),
            E::File(b"other/ignored", b"i", 0o644),
        ])
        .layer(&[
            // A file replaces a lower directory and everything in it.
            E::File(b"e/sub", b"now a file", 0o644),
            E::File(b"./a/y", b"y2", 0o644),
        ]);
    let dirs = ["a", "e"];
    let read = f.read(&dirs).unwrap();
    assert_eq!(read.keys().collect::<Vec<_>>(), ["a/y", "e/sub"]);
    assert_eq!(read["a/y"], b"y2");
    assert_eq!(read, f.extracted_files(&dirs));
}

#[test]
fn reading_into_memory_follows_links_to_files_it_read() {
    let f = Fixture::new().layer(&[
        E::File(b"manifests/csv.yaml", b"kind: ClusterServiceVersion", 0o644),
        E::Symlink(b"manifests/alias.yaml", b"csv.yaml"),
        E::Symlink(b"metadata/chain", b"../manifests/alias.yaml"),
    ]);
    let dirs = ["manifests", "metadata"];
    let read = f.read(&dirs).unwrap();
    assert_eq!(read["metadata/chain"], b"kind: ClusterServiceVersion");
    assert_eq!(read, f.extracted_files(&dirs));

    // A link to something that was not read (or nothing) is named in the error.
    let f = Fixture::new().layer(&[
        E::File(b"etc/passwd", b"root", 0o644),
        E::Symlink(b"manifests/p", b"../etc/passwd"),
    ]);
    let err = f.read(&dirs).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"layer layer0: symlink "manifests/p" -> "../etc/passwd" does not lead to a file read from the image: it points at "/etc/passwd""#
    );
    // A link to the image root names its target as written and the root as `/`, never an
    // empty path; the link's own layer is named, not the last one read.
    let f = Fixture::new()
        .layer(&[E::Symlink(b"./manifests/up", b"..")])
        .layer(&[E::File(b"manifests/csv.yaml", b"kind: x", 0o644)]);
    assert_eq!(
        f.read(&dirs).unwrap_err().to_string(),
        r#"layer layer0: symlink "./manifests/up" -> ".." does not lead to a file read from the image: it points at "/""#
    );
    // Through a chain, the first link is the one named.
    let f = Fixture::new().layer(&[
        E::Dir(b"manifests/sub"),
        E::Symlink(b"manifests/a", b"b"),
        E::Symlink(b"manifests/b", b"./sub/"),
    ]);
    assert_eq!(
        f.read(&dirs).unwrap_err().to_string(),
        r#"layer layer0: symlink "manifests/a" -> "b" does not lead to a file read from the image: it points at "/manifests/b""#
    );
    let f = Fixture::new().layer(&[E::Symlink(b"manifests/up", b"../../etc/passwd")]);
    assert!(matches!(
        f.read(&dirs).unwrap_err(),
        ExtractError::LinkEscapes { .. }
    ));
}

#[test]
fn reading_into_memory_refuses_what_extraction_refuses() {
    let dirs = ["a"];
    let cases: [&[E<'_>]; 4] = [
        &[E::File(b"a/../../evil", b"x", 0o644)],
        &[E::File(b"/a/abs", b"x", 0o644)],
        &[E::File(b"a/x", b"x", 0o644), E::HardLink(b"a/y", b"a/x")],
        &[E::File(b"a/.wh.", b"", 0o644)],
    ];
    for entries in cases {
        let f = Fixture::new().layer(entries);
        let from_disk = f.extract_default().unwrap_err().to_string();
        assert_eq!(f.read(&dirs).unwrap_err().to_string(), from_disk);
    }
    // Devices are skipped by both.
    let f = Fixture::new().layer(&[E::CharDev(b"a/null"), E::File(b"a/k", b"k", 0o644)]);
    assert_eq!(f.read(&dirs).unwrap(), f.extracted_files(&dirs));

    // Outside the wanted directories, what extraction would not write is not refused.
    let f = Fixture::new().layer(&[
        E::File(b"base/x", b"x", 0o644),
        E::HardLink(b"base/y", b"base/x"),
        E::File(b"a/k", b"k", 0o644),
    ]);
    assert_eq!(f.read(&dirs).unwrap().keys().collect::<Vec<_>>(), ["a/k"]);

    // The limits hold in memory too; bytes outside the wanted directories still count.
    let zeros = vec![0u8; 4 << 20];
    let f = Fixture::new().layer(&[E::File(b"a/big", &zeros, 0o644)]);
    let limits = ExtractLimits {
        max_file_bytes: 1 << 20,
        ..Default::default()
    };
    assert!(matches!(
        read_layers(&f.layers, &dirs, &limits).unwrap_err(),
        ExtractError::FileTooLarge { size, .. } if size == 4 << 20
    ));
    let f = Fixture::new().layer(&[E::File(b"elsewhere/big", &zeros, 0o644)]);
    let limits = ExtractLimits {
        max_total_bytes: 1 << 20,
        ..Default::default()
    };
    assert!(matches!(
        read_layers(&f.layers, &dirs, &limits).unwrap_err(),
        ExtractError::TotalSizeExceeded { .. }
    ));
}

// ---- diff_ids: both readers check the uncompressed digest of every layer ----

#[test]
fn a_wrong_diff_id_is_refused_by_both_readers() {
    let mut f = Fixture::new()
        .layer(&[E::Dir(b"configs"), E::File(b"configs/a.json", b"{}", 0o644)])
        .layer(&[E::File(b"configs/b.json", b"{}", 0o644)]);
    let wrong = sha256(b"not the layer");
    f.layers[1].diff_id = Some(wrong.clone());
    let actual = sha256(&tarball(&[E::File(b"configs/b.json", b"{}", 0o644)]));
    let check = |err: ExtractError| match err {
        ExtractError::DiffIdMismatch {
            layer,
            expected,
            actual: got,
        } => {
            assert_eq!(
                (layer.as_str(), expected.as_str(), got.as_str()),
                ("layer1", wrong.as_str(), actual.as_str())
            );
        }
        other => panic!("expected a diff_id mismatch, got {other}"),
    };
    check(extract_layers(&f.layers, &f.out(), &ExtractOptions::default()).unwrap_err());
    check(read_layers(&f.layers, &["configs"], &ExtractLimits::default()).unwrap_err());
    check(verify_layer(&f.layers[1], &ExtractLimits::default()).unwrap_err());
    assert_eq!(
        verify_layer(&f.layers[0], &ExtractLimits::default()).unwrap(),
        f.layers[0].diff_id.clone().unwrap()
    );
}

/// The tar reader stops at the first end-of-archive block; the digest must still cover the
/// whole stream (GNU tar pads archives to 10 KiB records), and that rest counts towards the
/// total-size limit.
#[test]
fn the_diff_id_covers_the_stream_past_the_end_of_archive() {
    let f = Fixture::new();
    let mut tar = tarball(&[E::File(b"a", b"x", 0o644)]);
    let tar_only = sha256(&tar);
    tar.resize(tar.len() + 10240, 0);
    let path = f.dir.path().join("padded.tar.gz");
    fs::write(&path, gz(&tar)).unwrap();
    let mut layer = LayerFile {
        path,
        compression: LayerCompression::Gzip,
        name: "padded".into(),
        diff_id: Some(sha256(&tar)),
    };
    extract_layers(
        std::slice::from_ref(&layer),
        &f.out(),
        &ExtractOptions::default(),
    )
    .unwrap();
    layer.diff_id = Some(tar_only);
    assert!(matches!(
        read_layers(
            std::slice::from_ref(&layer),
            &[""],
            &ExtractLimits::default()
        ),
        Err(ExtractError::DiffIdMismatch { .. })
    ));
    let limits = ExtractLimits {
        max_total_bytes: tar.len() as u64 - 1,
        ..ExtractLimits::default()
    };
    assert!(matches!(
        verify_layer(&layer, &limits),
        Err(ExtractError::TotalSizeExceeded { .. })
    ));
}

/// A gzip layer at `path` holding one `size`-byte file of zeros named `name`, about
/// 1 KiB per MiB, without a diff_id to check.
fn zeros_layer(path: &Path, name: &str, size: u64) -> LayerFile {
    fs::write(path, testenv::registry::zeros_layer(name, size).unwrap()).unwrap();
    LayerFile {
        path: path.to_path_buf(),
        compression: LayerCompression::Gzip,
        name: "zeros".into(),
        diff_id: None,
    }
}

/// Bytes of the regular files under `dir`.
fn bytes_under(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let m = fs::symlink_metadata(e.as_ref().unwrap().path()).unwrap();
            if m.is_dir() {
                bytes_under(&e.unwrap().path())
            } else {
                m.len()
            }
        })
        .sum()
}

fn text_only(subtree: &str) -> ExtractOptions {
    ExtractOptions {
        subtree: Some(subtree.into()),
        require_text: true,
        ..Default::default()
    }
}

#[test]
fn a_huge_binary_file_fails_at_its_first_bytes_when_text_is_required() {
    let tmp = tempfile::tempdir().unwrap();
    let layer = zeros_layer(
        &tmp.path().join("layer.tar.gz"),
        "configs/foo/catalog.json",
        2 << 30,
    );
    assert!(fs::metadata(&layer.path).unwrap().len() < 4 << 20);
    let out = tmp.path().join("out");
    fs::create_dir(&out).unwrap();
    let err = extract_layers(&[layer], &out, &text_only("/configs")).unwrap_err();
    assert!(
        matches!(&err, ExtractError::NotText { entry, .. } if entry == "configs/foo/catalog.json"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "\"configs/foo/catalog.json\" is not text (NUL byte at offset 0); a catalog file must be JSON or YAML"
    );
    let written = bytes_under(&out);
    assert!(written < 1 << 20, "{written} bytes written before failing");
}

#[test]
fn required_text_is_checked_in_the_subtree_only_and_before_writing() {
    // A multi-byte character cut by the end of the sniffed head is text; later binary
    // content is for the loader to refuse.
    let mut cut = vec![b'x'; TEXT_SNIFF_BYTES - 1];
    cut.extend_from_slice("é and a NUL: \0".as_bytes());
    let f = Fixture::new().layer(&[
        E::File(b"configs/ok.yaml", b"schema: olm.package\nname: a\n", 0o644),
        E::File(b"configs/cut.json", &cut, 0o644),
        E::File(b"bin/tool", b"\x7fELF\0\0\0", 0o755),
    ]);
    f.extract(&text_only("/configs")).unwrap();
    assert_eq!(f.listing(), ["cut.json", "ok.yaml"]);
    assert_eq!(fs::read(f.out().join("cut.json")).unwrap(), cut);

    // Any file of the subtree, whatever its name: the FBC loader parses them all.
    for (name, data, detail) in [
        (
            &b"configs/a/icon.png"[..],
            &b"\x89PNG\r\n\x1a\n\0\0"[..],
            "NUL byte at offset 8",
        ),
        (
            b"configs/latin1.yaml",
            b"name: caf\xe9\n",
            "invalid UTF-8 at offset 9",
        ),
        (
            b"configs/short.json",
            b"{\"a\":\"\xc3",
            "invalid UTF-8 at offset 6",
        ),
    ] {
        let f = Fixture::new().layer(&[E::File(name, data, 0o644)]);
        let err = f.extract(&text_only("configs")).unwrap_err();
        let shown = String::from_utf8_lossy(name);
        assert_eq!(
            err.to_string(),
            format!("{shown:?} is not text ({detail}); a catalog file must be JSON or YAML")
        );
        assert_eq!(bytes_under(&f.out()), 0, "{shown}");
        // Without the option the same content is extracted as it is.
        fs::remove_dir_all(f.out()).unwrap();
        fs::create_dir(f.out()).unwrap();
        let options = ExtractOptions {
            subtree: Some("configs".into()),
            ..Default::default()
        };
        f.extract(&options).unwrap();
        assert_eq!(bytes_under(&f.out()), data.len() as u64);
    }
}
