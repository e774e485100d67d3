"""Vendor the browser pages' front-end assets from the npm registry, pinned.

`gateway/static/vendor/assets.json` names each package, its exact version, the
registry's integrity hash of its tarball, and the files the pages load with their
SRI hashes (sha384, as the pages' <script integrity> attributes carry them).

    python scripts/vendor_assets.py            # fetch the pinned tarballs, verify, extract
    python scripts/vendor_assets.py --update   # take each listed version's integrity afresh
                                               # (after editing a version in assets.json)
    python scripts/vendor_assets.py --check    # offline: files on disk match the manifest

Nothing is fetched at run time: the gateway serves the extracted files itself, so
GraphiQL, the console and the portal work on a machine with no internet.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "gateway" / "static" / "vendor"
MANIFEST = VENDOR / "assets.json"
REGISTRY = "https://registry.npmjs.org"


def sri(data: bytes, algorithm: str = "sha384") -> str:
    return f"{algorithm}-{base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310  # the npm registry, https
        return bytes(response.read())


def vendor(package: dict, update: bool) -> None:
    name, version = package["name"], package["version"]
    meta = json.loads(fetch(f"{REGISTRY}/{name}/{version}"))
    if update:
        package["integrity"] = meta["dist"]["integrity"]
    tarball = fetch(meta["dist"]["tarball"])
    algorithm = package["integrity"].split("-", 1)[0]
    if sri(tarball, algorithm) != package["integrity"]:
        sys.exit(f"{name}@{version}: the tarball does not match its pinned integrity; refusing it")
    target = VENDOR / f"{name}@{version}"
    with tarfile.open(fileobj=io.BytesIO(tarball)) as archive:
        for path in package["files"]:
            member = archive.extractfile(f"package/{path}")
            if member is None:
                sys.exit(f"{name}@{version}: {path} is not in the package")
            data = member.read()
            (target / path).parent.mkdir(parents=True, exist_ok=True)
            (target / path).write_bytes(data)
            package["files"][path] = sri(data)
    print(f"vendored {name}@{version}: {len(package['files'])} file(s)")


def check(manifest: dict) -> list[str]:
    """What on disk differs from the manifest (empty: all present and intact)."""
    problems = []
    for package in manifest["packages"]:
        for path, expected in package["files"].items():
            file = VENDOR / f"{package['name']}@{package['version']}" / path
            if not file.is_file():
                problems.append(f"{file} is missing")
            elif sri(file.read_bytes()) != expected:
                problems.append(f"{file} does not match its hash")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--update", action="store_true", help="take each version's integrity afresh")
    parser.add_argument("--check", action="store_true", help="verify the files on disk, offline")
    args = parser.parse_args()
    manifest = json.loads(MANIFEST.read_text())
    if args.check:
        problems = check(manifest)
        print("\n".join(problems) or "all vendored assets match assets.json")
        sys.exit(1 if problems else 0)
    for package in manifest["packages"]:
        vendor(package, args.update)
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
