#!/usr/bin/env python3
"""Scales the v4.15 corpus catalogs into a large file-based catalog for benchmarks.

Each corpus package is rendered to JSON once with upstream `opm render` (so the inputs don't
depend on our own reader), then written COPIES times under new names: copy i of package `p` is
`p-c<i>`. Package names, bundle names, channel entries (`name`, `replaces`, `skips`), the
`olm.package` property and deprecation references are renamed consistently, so every copy
validates on its own. `olm.bundle.object` payloads are copied unchanged.

Writes `<out>/json/<pkg>/catalog.json` (indented JSON, as `opm render -o json` prints it) and,
unless --no-yaml, `<out>/yaml/<pkg>/catalog.yaml` (converted by upstream `opm render -o yaml`,
the format of the corpus). Standard library only.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
DEFAULT_CORPUS = os.path.normpath(os.path.join(ROOT, "..", "shared", "corpus"))
DEFAULT_UPSTREAM = os.path.expanduser("~/.cache/olm-rs/opm/v1.73.0/bin/opm")


def parse_stream(text):
    """Parses a stream of concatenated JSON objects."""
    decoder = json.JSONDecoder()
    out, i, n = [], 0, len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            return out
        obj, i = decoder.raw_decode(text, i)
        out.append(obj)


def renamer(old, new):
    """Maps a bundle (or channel) name of package `old` to its name in package `new`."""

    def rename(name):
        if not name:
            return name
        if name.startswith(old):
            return new + name[len(old):]
        return new + "--" + name

    return rename


def rename_blob(blob, old, new):
    rename = renamer(old, new)
    schema = blob.get("schema")
    if schema == "olm.package":
        blob["name"] = new
    elif schema == "olm.channel":
        blob["package"] = new
        for e in blob.get("entries") or []:
            e["name"] = rename(e.get("name", ""))
            if e.get("replaces"):
                e["replaces"] = rename(e["replaces"])
            if e.get("skips"):
                e["skips"] = [rename(s) for s in e["skips"]]
    elif schema == "olm.bundle":
        blob["package"] = new
        blob["name"] = rename(blob.get("name", ""))
        for p in blob.get("properties") or []:
            if p.get("type") == "olm.package":
                p["value"]["packageName"] = new
    elif schema == "olm.deprecations":
        blob["package"] = new
        for e in blob.get("entries") or []:
            ref = e.get("reference") or {}
            if ref.get("schema") == "olm.bundle" and ref.get("name"):
                ref["name"] = rename(ref["name"])
    elif blob.get("package") == old:
        blob["package"] = new
    return blob


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--copies", type=int, default=28, help="copies of each corpus package (default 28: 5,068 bundles)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "out", "fbc", "large"))
    ap.add_argument("--corpus", default=os.environ.get("OLMRS_CORPUS", DEFAULT_CORPUS))
    ap.add_argument("--upstream", default=os.environ.get("OPM_UPSTREAM", DEFAULT_UPSTREAM))
    ap.add_argument("--no-yaml", action="store_true", help="only write the JSON tree")
    args = ap.parse_args()

    src = os.path.join(args.corpus, "catalogs", "v4.15")
    packages = sorted(d for d in os.listdir(src) if os.path.isdir(os.path.join(src, d)))
    if not packages:
        sys.exit(f"no packages under {src}")
    if not os.access(args.upstream, os.X_OK):
        sys.exit(f"upstream opm not found at {args.upstream} (set OPM_UPSTREAM)")

    # Start from an empty tree so a smaller re-run leaves no stale packages behind.
    if os.path.exists(args.out):
        shutil.rmtree(args.out)
    json_root = os.path.join(args.out, "json")
    yaml_root = os.path.join(args.out, "yaml")

    bundles = 0
    written = []
    for pkg in packages:
        rendered = subprocess.run(
            [args.upstream, "render", os.path.join(src, pkg), "-o", "json"],
            check=True, capture_output=True, text=True,
        ).stdout
        template = json.dumps(parse_stream(rendered))
        for i in range(args.copies):
            new = f"{pkg}-c{i:03d}"
            blobs = [rename_blob(b, pkg, new) for b in json.loads(template)]
            bundles += sum(1 for b in blobs if b.get("schema") == "olm.bundle")
            d = os.path.join(json_root, new)
            os.makedirs(d, exist_ok=True)
            text = "".join(json.dumps(b, indent=4, ensure_ascii=False) + "\n" for b in blobs)
            write_atomic(os.path.join(d, "catalog.json"), text)
            written.append(new)

    if not args.no_yaml:
        def to_yaml(name):
            d = os.path.join(yaml_root, name)
            os.makedirs(d, exist_ok=True)
            out = subprocess.run(
                [args.upstream, "render", os.path.join(json_root, name), "-o", "yaml"],
                check=True, capture_output=True, text=True,
            ).stdout
            write_atomic(os.path.join(d, "catalog.yaml"), out)

        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(to_yaml, written))

    def size(root):
        return sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(root) for f in fs)

    print(f"{len(written)} packages, {bundles} bundles")
    print(f"json: {json_root} ({size(json_root) / 1e6:.0f} MB)")
    if not args.no_yaml:
        print(f"yaml: {yaml_root} ({size(yaml_root) / 1e6:.0f} MB)")


if __name__ == "__main__":
    main()
