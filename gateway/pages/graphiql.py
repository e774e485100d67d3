"""GraphiQL at GET /graphql (a browser's `Accept: text/html`), served from the assets the
gateway ships: React, ReactDOM and GraphiQL from gateway/static/vendor (pinned in
assets.json), the page's own script and styles from gateway/static/graphiql. Every
<script> and stylesheet carries the SRI hash the manifest pins (or, for the page's own
files, the hash of the file as shipped), and a Content-Security-Policy allows nothing but
this origin, so no request leaves the machine.

The key a user pastes is kept in the tab's sessionStorage and sent as
`Authorization: Bearer <key>` (in connection_init for subscriptions); GraphiQL's own
state (tabs, history) is kept there too, never in localStorage or the URL. The first
tab holds the README's first query (default.graphql, a copy a test keeps equal), the
second a few named example operations (examples.graphql).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

STATIC = Path(__file__).resolve().parent.parent / "static"
VENDOR = STATIC / "vendor"
PAGE = STATIC / "graphiql"

# What the page loads from the vendored packages, in order: GraphiQL's UMD build needs
# React and ReactDOM as globals first, the explorer plugin GraphiQL.
SCRIPTS = (
    ("react", "umd/react.production.min.js"),
    ("react-dom", "umd/react-dom.production.min.js"),
    ("graphiql", "graphiql.min.js"),
    ("@graphiql/plugin-explorer", "dist/index.umd.js"),
)
STYLES = (("graphiql", "graphiql.min.css"), ("@graphiql/plugin-explorer", "dist/style.css"))

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        # GraphiQL's dialogs and menus (Radix) add a <style> locking the page's scroll, with
        # a nonce hook its bundle keeps private: inline styles are allowed, scripts never.
        "style-src 'self' 'unsafe-inline'",
        "font-src 'self' data:",  # GraphiQL's CSS embeds its fonts as data: URLs
        "img-src 'self' data:",
        "connect-src 'self'",  # POST /graphql and its graphql-transport-ws socket
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)


@dataclass(frozen=True)
class Asset:
    path: str  # under /assets
    integrity: str


def sri(data: bytes) -> str:
    return f"sha384-{base64.b64encode(hashlib.sha384(data).digest()).decode()}"


@functools.cache
def vendored() -> dict[tuple[str, str], Asset]:
    """(package, file) -> its URL path and pinned hash, from gateway/static/vendor/assets.json."""
    manifest = json.loads((VENDOR / "assets.json").read_text())
    return {
        (package["name"], file): Asset(f"vendor/{package['name']}@{package['version']}/{file}", integrity)
        for package in manifest["packages"]
        for file, integrity in package["files"].items()
    }


@functools.cache
def own(file: str) -> Asset:
    """One of the page's own files, with the hash of its shipped bytes."""
    return Asset(f"graphiql/{file}", sri((PAGE / file).read_bytes()))


@functools.cache
def tabs() -> list[dict[str, str]]:
    """The tabs GraphiQL opens with: the README's first query, then the examples."""
    return [
        {"query": (PAGE / "default.graphql").read_text()},
        {"query": (PAGE / "examples.graphql").read_text()},
    ]


def script_tag(base: str, asset: Asset) -> str:
    return (
        f'<script src="{html.escape(base + asset.path)}" integrity="{asset.integrity}" '
        'crossorigin="anonymous" defer></script>'
    )


def style_tag(base: str, asset: Asset) -> str:
    return (
        f'<link rel="stylesheet" href="{html.escape(base + asset.path)}" '
        f'integrity="{asset.integrity}" crossorigin="anonymous">'
    )


def page_html(assets_base: str) -> str:
    """The page; `assets_base` is where /assets is mounted (behind a proxy's root path)."""
    found = vendored()
    styles = [style_tag(assets_base, found[key]) for key in STYLES] + [
        style_tag(assets_base, own("graphiql.css"))
    ]
    scripts = [script_tag(assets_base, found[key]) for key in SCRIPTS] + [
        script_tag(assets_base, own("graphiql.js"))
    ]
    # A JSON data block is not run, so the CSP needs no hash for it; "<" is escaped so no
    # operation's text can close the element.
    config = json.dumps({"tabs": tabs()}).replace("<", "\\u003c")
    return "\n".join(
        (
            "<!doctype html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="referrer" content="no-referrer">',
            '<link rel="icon" href="data:,">',
            "<title>GraphiQL · billing-gateway</title>",
            *styles,
            *scripts,
            "</head>",
            "<body>",
            '<div id="graphiql-page">Loading GraphiQL…</div>',
            f'<script type="application/json" id="graphiql-config">{config}</script>',
            "</body>",
            "</html>",
        )
    )


def render(request: Request, default_html: str) -> Response:
    """GraphiQL for a browser; `default_html` (Strawberry's CDN page) is never used."""
    root = request.scope.get("root_path", "").rstrip("/")
    return HTMLResponse(
        page_html(f"{root}/assets/"),
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )
