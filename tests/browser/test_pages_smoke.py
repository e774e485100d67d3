"""The browser stack itself: Chromium starts, the gateway serves its vendored assets
with the hashes the manifest pins, and nothing is fetched from beyond loopback."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from playwright.async_api import Page

from tests.browser.conftest import Offline
from tests.builders.served import Server

MANIFEST = Path(__file__).resolve().parents[2] / "gateway" / "static" / "vendor" / "assets.json"


async def test_every_vendored_asset_is_served_with_the_hash_the_manifest_pins(
    serve: Callable[..., Server], page: Page, offline: Offline
) -> None:
    server = serve()
    manifest = json.loads(MANIFEST.read_text())
    for package in manifest["packages"]:
        for path, expected in package["files"].items():
            url = f"{server.base}/assets/vendor/{package['name']}@{package['version']}/{path}"
            response = await page.request.get(url)
            assert response.status == 200, url
            digest = base64.b64encode(hashlib.sha384(await response.body()).digest()).decode()
            assert f"sha384-{digest}" == expected, url
    assert offline.blocked == []
