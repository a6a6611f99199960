#!/usr/bin/env python3
"""Creates Bundles and times them to Unpacked, for bench/rukpak/run.sh.

  drive.py <kubectl> <prefix> <count> <source-json> <label>

Creates <count> Bundles named <prefix>-<i> with the given source (JSON), all at once, then
polls the API server every 50 ms until each is Unpacked. Prints one JSON line: the time
from the first create to the last Unpacked, and each Bundle's own create-to-Unpacked time
(as seen at poll granularity). Fails after 10 minutes or on a Failing Bundle.
"""
import json
import subprocess
import sys
import time

kubectl, prefix, count, source, label = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
source = json.loads(source)
classname = source.pop("_class", "core-rukpak-io-plain")


def run(args, stdin=None):
    return subprocess.run([kubectl, *args], input=stdin, capture_output=True, text=True, check=True).stdout


items = [
    {
        "apiVersion": "core.rukpak.io/v1alpha1",
        "kind": "Bundle",
        "metadata": {"name": f"{prefix}-{i}", "labels": {"bench": label}},
        "spec": {"provisionerClassName": classname, "source": source},
    }
    for i in range(count)
]
start = time.monotonic()
created = {}
# One kubectl call per 50 objects keeps process start-up out of the measurement's way.
for chunk in range(0, count, 50):
    part = items[chunk:chunk + 50]
    run(["create", "-f", "-"], json.dumps({"apiVersion": "v1", "kind": "List", "items": part}))
    now = time.monotonic()
    for item in part:
        created[item["metadata"]["name"]] = now
done = {}
deadline = start + 600
while len(done) < count:
    if time.monotonic() > deadline:
        sys.exit(f"timed out: {len(done)}/{count} Unpacked")
    listed = json.loads(run(["get", "bundles", "-l", f"bench={label}", "-o", "json"]))
    now = time.monotonic()
    for b in listed["items"]:
        name = b["metadata"]["name"]
        phase = (b.get("status") or {}).get("phase")
        if phase == "Failing":
            sys.exit(f"{name} is Failing: {b['status']}")
        if phase == "Unpacked" and name not in done:
            done[name] = now - created[name]
    time.sleep(0.05)
total = time.monotonic() - start
lat = sorted(done.values())
print(json.dumps({
    "count": count,
    "total_s": round(total, 3),
    "p50_s": round(lat[len(lat) // 2], 3),
    "max_s": round(lat[-1], 3),
}))
