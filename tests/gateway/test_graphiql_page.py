"""The GraphiQL page as the gateway renders it (issue 21): every script and stylesheet
from this origin with the hash the vendoring manifest pins, a CSP that allows nothing
else, the README's first query preloaded, and the vendored files intact on disk.
tests/browser/test_graphiql.py drives the same page in Chromium."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

from graphql import OperationDefinitionNode, parse, validate
from starlette.requests import Request

from gateway.pages import graphiql
from gateway.schema import build_schema

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MANIFEST = ROOT / "gateway" / "static" / "vendor" / "assets.json"
VENDOR_SCRIPT = ROOT / "scripts" / "vendor_assets.py"


class Tags(HTMLParser):
    """The page's <script> and <link> tags, and its JSON config block."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[dict[str, str | None]] = []
        self.config = ""
        self._in_config = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in ("script", "link") and ("src" in attributes or "href" in attributes):
            self.tags.append({"tag": tag, **attributes})
        self._in_config = tag == "script" and attributes.get("id") == "graphiql-config"

    def handle_data(self, data: str) -> None:
        if self._in_config:
            self.config += data

    def handle_endtag(self, tag: str) -> None:
        self._in_config = False


def browser_get(root_path: str = "") -> Request:
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/graphql",
            "root_path": root_path,
            "query_string": b"",
            "headers": [(b"accept", b"text/html")],
        }
    )


def rendered(root_path: str = "") -> tuple[Tags, dict[str, str]]:
    response = graphiql.render(browser_get(root_path), "<html>Strawberry's CDN page</html>")
    assert response.status_code == 200
    tags = Tags()
    tags.feed(bytes(response.body).decode())
    return tags, dict(response.headers)


def sri(data: bytes) -> str:
    return f"sha384-{base64.b64encode(hashlib.sha384(data).digest()).decode()}"


def test_every_script_and_stylesheet_carries_the_hash_the_manifest_pins() -> None:
    tags, _ = rendered()
    pinned = {
        f"/assets/vendor/{p['name']}@{p['version']}/{file}": integrity
        for p in json.loads(MANIFEST.read_text())["packages"]
        for file, integrity in p["files"].items()
    }
    urls = []
    for tag in tags.tags:
        url = str(tag.get("src") or tag.get("href"))
        if tag.get("rel") == "icon":
            assert url == "data:,"  # no favicon request
            continue
        urls.append(url)
        assert tag["crossorigin"] == "anonymous", tag
        if url.startswith("/assets/vendor/"):
            assert tag["integrity"] == pinned[url], tag
        else:
            own = ROOT / "gateway" / "static" / url.removeprefix("/assets/")
            assert tag["integrity"] == sri(own.read_bytes()), tag
    assert urls == [
        "/assets/vendor/graphiql@3.8.3/graphiql.min.css",
        "/assets/vendor/@graphiql/plugin-explorer@3.2.5/dist/style.css",
        "/assets/graphiql/graphiql.css",
        "/assets/vendor/react@18.3.1/umd/react.production.min.js",
        "/assets/vendor/react-dom@18.3.1/umd/react-dom.production.min.js",
        "/assets/vendor/graphiql@3.8.3/graphiql.min.js",
        "/assets/vendor/@graphiql/plugin-explorer@3.2.5/dist/index.umd.js",
        "/assets/graphiql/graphiql.js",
    ]


def test_behind_a_proxy_the_assets_are_asked_for_under_its_root_path() -> None:
    tags, _ = rendered(root_path="/billing")
    assert all(
        str(t.get("src") or t.get("href")).startswith(("/billing/assets/", "data:")) for t in tags.tags
    )


def test_the_content_security_policy_allows_this_origin_only() -> None:
    _, headers = rendered()
    policy = dict(d.strip().split(" ", 1) for d in headers["content-security-policy"].split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"  # no inline script, no eval, no CDN
    assert policy["connect-src"] == "'self'"
    assert policy["style-src"] == "'self' 'unsafe-inline'"  # GraphiQL's dialogs add a <style>
    assert not [d for d in policy.values() if re.search(r"https?:|wss?:|\*", d)]
    assert headers["cache-control"] == "no-store"


def test_the_first_tab_holds_the_readmes_first_query() -> None:
    first_block = re.findall(r"```graphql\n(.*?)```", README.read_text(), flags=re.S)[0]
    tags, _ = rendered()
    config = json.loads(tags.config)
    assert config["tabs"][0]["query"] == first_block, (
        "gateway/static/graphiql/default.graphql must be the README's first graphql block: copy it over"
    )


def test_the_example_operations_are_named_and_valid_against_the_schema() -> None:
    schema = build_schema()._schema
    examples = (ROOT / "gateway" / "static" / "graphiql" / "examples.graphql").read_text()
    document = parse(examples)
    assert validate(schema, document) == []
    names = [d.name.value for d in document.definitions if isinstance(d, OperationDefinitionNode) and d.name]
    assert len(names) == len(document.definitions) >= 3


def test_an_operation_cannot_close_the_config_block() -> None:
    graphiql.tabs.cache_clear()
    try:
        graphiql.tabs()[1]["query"] = "# </script><script>alert(1)</script>"
        html = graphiql.page_html("/assets/")
    finally:
        graphiql.tabs.cache_clear()
    assert "</script><script>alert" not in html


def run_check(vendor_script: Path) -> subprocess.CompletedProcess[str]:
    # A proxy on a closed port: any attempt to reach the registry would fail the run.
    offline = {**os.environ, "https_proxy": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9"}
    return subprocess.run(
        [sys.executable, str(vendor_script), "--check"],
        capture_output=True,
        text=True,
        env=offline,
        timeout=60,
    )


def test_the_vendored_assets_match_their_manifest_offline() -> None:
    checked = run_check(VENDOR_SCRIPT)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "all vendored assets match assets.json" in checked.stdout


def test_the_check_names_a_vendored_file_that_was_changed(tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    (copy / "scripts").mkdir(parents=True)
    shutil.copy(VENDOR_SCRIPT, copy / "scripts")
    shutil.copytree(ROOT / "gateway" / "static" / "vendor", copy / "gateway" / "static" / "vendor")
    tampered = copy / "gateway" / "static" / "vendor" / "react@18.3.1" / "umd" / "react.production.min.js"
    tampered.write_text(tampered.read_text() + "\n/* changed */")

    checked = run_check(copy / "scripts" / "vendor_assets.py")
    assert checked.returncode == 1
    assert f"{tampered} does not match its hash" in checked.stdout
