#!/usr/bin/env bash
# Refreshes the page's vendored JavaScript from the npm registry: for each
# package pinned below, downloads its tarball, checks it against the
# registry's sha512 integrity, copies the files the page loads and the
# licence into node/web/vendor/<name>/, and records version, licence,
# tarball, integrity and each file's SHA-256 in node/web/vendor/vendor.json
# (a test checks the files against it). Running the node needs none of
# this, nor Node.js: the files are compiled into the binary.
#
# To move to another version, change it here, run this script, run the page
# tests (scripts/test.sh), and commit the vendor directory with the script.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 - <<'PYEOF'
import base64, hashlib, io, json, os, shutil, tarfile, urllib.request

# name in vendor/, npm package, version, files to copy (from package/).
PACKAGES = [
    ("chart.js", "chart.js", "4.6.1", ["dist/chart.umd.min.js", "LICENSE.md"]),
    ("chartjs-chart-sankey", "chartjs-chart-sankey", "0.19.1",
     ["dist/chartjs-chart-sankey.min.js", "LICENSE"]),
    ("noble-ed25519", "@noble/ed25519", "3.2.0", ["index.js", "LICENSE"]),
    ("noble-hashes", "@noble/hashes", "2.4.0",
     ["sha2.js", "_md.js", "_u64.js", "utils.js", "LICENSE"]),
]
REGISTRY = "https://registry.npmjs.org"
root = os.path.join("node", "web", "vendor")
manifest = []
for name, package, version, files in PACKAGES:
    with urllib.request.urlopen(f"{REGISTRY}/{package}/{version}") as r:
        meta = json.load(r)
    dist = meta["dist"]
    with urllib.request.urlopen(dist["tarball"]) as r:
        tarball = r.read()
    algo, _, want = dist["integrity"].partition("-")
    got = base64.b64encode(hashlib.new(algo, tarball).digest()).decode()
    if got != want:
        raise SystemExit(f"{package}@{version}: tarball does not match the registry's integrity")
    out = os.path.join(root, name)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    recorded = {}
    with tarfile.open(fileobj=io.BytesIO(tarball)) as tar:
        for f in files:
            data = tar.extractfile(f"package/{f}").read()
            dest = os.path.basename(f)
            with open(os.path.join(out, dest), "wb") as w:
                w.write(data)
            recorded[dest] = hashlib.sha256(data).hexdigest()
    manifest.append({
        "name": name, "package": package, "version": version,
        "license": meta.get("license"), "tarball": dist["tarball"],
        "integrity": dist["integrity"], "files": recorded,
    })
    print(f"{package}@{version} ({meta.get('license')}): {', '.join(recorded)}")
with open(os.path.join(root, "vendor.json"), "w") as w:
    json.dump(manifest, w, indent=1)
    w.write("\n")
PYEOF
