"""A page on another origin calls the gateway's /graphql with the browser's own `fetch`:
from an origin listed in GATEWAY_CORS_ORIGINS it gets data (and walks Apollo's persisted
query flow: unknown hash, retry with the document, hash-only GET); from an origin not
listed, the browser refuses it. The pages are served at http://localhost:<port>/ (another
origin than the gateway's http://127.0.0.1:<port>) by a small HTTP server of the test's own on
loopback: a page Playwright made up would count as a public one, which Chromium's Local
Network Access keeps from calling loopback at all, listed or not."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from playwright.async_api import Page

from tests.browser.conftest import Offline
from tests.builders.served import Server

PAGE = b"<!doctype html><title>Billing page</title><h1>Our billing page</h1>"
TENANTS = "query Tenants { tenants(first: 1) { edges { node { name } } } }"

FETCH = """async ([url, key, query]) => {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: {"Content-Type": "application/json", "Authorization": "Bearer " + key},
      body: JSON.stringify({query}),
    });
    return {status: response.status, body: await response.json()};
  } catch (error) {
    return {refused: String(error)};
  }
}"""

APQ = """async ([url, key, query]) => {
  const bytes = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(query));
  const sha256Hash = Array.from(new Uint8Array(bytes)).map(b => b.toString(16).padStart(2, "0")).join("");
  const extensions = {persistedQuery: {version: 1, sha256Hash}};
  const headers = {"Content-Type": "application/json", "Authorization": "Bearer " + key};
  const post = async body => (await fetch(url, {method: "POST", headers, body: JSON.stringify(body)})).json();
  const unknown = await post({extensions});
  const retried = await post({query, extensions});
  const params = new URLSearchParams({extensions: JSON.stringify(extensions)});
  const get = await fetch(url + "?" + params, {headers: {"Authorization": "Bearer " + key}});
  const cached = await get.json();
  return {unknown, retried, cached};
}"""


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *_: Any) -> None:
        pass


@contextmanager
def billing_page() -> Iterator[str]:
    """The origin (http://localhost:<port>) of a server that answers every GET with PAGE."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def open_page_on(page: Page, origin: str) -> None:
    await page.goto(f"{origin}/")
    assert await page.title() == "Billing page"


async def test_a_page_on_a_listed_origin_gets_data_and_one_not_listed_is_refused(
    serve: Callable[..., Server], page: Page, offline: Offline
) -> None:
    with billing_page() as listed, billing_page() as unlisted:
        await calls_from(page, serve(GATEWAY_CORS_ORIGINS=listed), listed, unlisted)
    assert offline.blocked == []


async def calls_from(page: Page, server: Server, listed: str, unlisted: str) -> None:
    url = f"{server.base}/graphql"
    await open_page_on(page, listed)
    answer: dict[str, Any] = await page.evaluate(FETCH, [url, server.admin_key, TENANTS])
    assert answer.get("status") == 200, answer
    edges = answer["body"]["data"]["tenants"]["edges"]
    assert len(edges) == 1 and edges[0]["node"]["name"]  # the demo's tenants

    flow = await page.evaluate(APQ, [url, server.admin_key, TENANTS])
    assert flow["unknown"] == {
        "errors": [{"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]
    }
    assert flow["retried"] == answer["body"]
    assert flow["cached"] == answer["body"]

    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    await open_page_on(page, unlisted)
    refused = await page.evaluate(FETCH, [url, server.admin_key, TENANTS])
    assert "refused" in refused, refused
    assert "Failed to fetch" in refused["refused"]
    # Refused for CORS, not for anything else (the page and the gateway are both on loopback).
    assert any("No 'Access-Control-Allow-Origin' header" in line for line in console), console
