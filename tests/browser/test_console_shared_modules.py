"""The shared front-end modules (gateway/static/shared, used by the console and the
portal) in the browser that runs them: money formatted exactly per currency's minor unit,
strings falling back to English, and the GraphQL client's persisted-query exchanges with
a server that knows APQ, one that does not, and one that refuses the key."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

from tests.browser.conftest import Offline

STATIC = Path(__file__).resolve().parents[2] / "gateway" / "static"


class Assets(SimpleHTTPRequestHandler):
    """/assets/<path> from gateway/static, as the gateway mounts it; / is an empty page."""

    def translate_path(self, path: str) -> str:
        relative = path.split("?", 1)[0].removeprefix("/assets/")
        return str(STATIC / relative)

    def do_GET(self) -> None:
        if self.path == "/":
            body = b"<!doctype html><title>modules</title>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def assets() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Assets)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


async def test_money_is_formatted_exactly_in_each_currency_s_minor_unit(
    page: Page, assets: str, offline: Offline
) -> None:
    await page.goto(assets)
    shown = await page.evaluate(
        """async () => {
          const m = await import("/assets/shared/money.js");
          const f = (amount, currency, locale) => m.formatMoney({ amount, currency }, locale);
          return {
            usd: f(9900, "USD", "en-US"), jpy: f(1200, "JPY", "en-US"), jpyJa: f(1200, "JPY", "ja-JP"),
            bhd: m.toDecimalString(1234, "BHD"), negative: f(-5, "USD", "en-US"),
            largest: f(Number.MAX_SAFE_INTEGER, "USD", "en-US"), eur: f(1300, "EUR", "de-DE"),
            parsed: [m.parseMoneyInput("12.5", "USD"), m.parseMoneyInput("1200", "JPY"),
                     m.parseMoneyInput("12.5", "JPY"), m.parseMoneyInput("1.005", "USD")],
          };
        }"""
    )
    assert shown == {
        "usd": "$99.00",
        "jpy": "¥1,200",
        "jpyJa": "￥1,200",
        "bhd": "1.234",
        "negative": "-$0.05",
        "largest": "$90,071,992,547,409.91",  # every digit: no float on the way
        "eur": "13,00\xa0€",
        "parsed": [1250, 1200, None, None],
    }
    assert offline.blocked == []


async def test_a_string_missing_in_japanese_falls_back_to_english_and_a_missing_key_shows_itself(
    page: Page, assets: str
) -> None:
    await page.goto(assets)
    shown = await page.evaluate(
        """async () => {
          const { createI18n } = await import("/assets/shared/i18n.js");
          const messages = { en: { hi: "Hello {name}", only: "English only" }, ja: { hi: "{name}さん" } };
          const i18n = createI18n(messages, "t.lang");
          i18n.setLang("ja");
          return [i18n.t("hi", { name: "Aiko" }), i18n.t("only"), i18n.t("nope"),
                  document.documentElement.lang, localStorage.getItem("t.lang")];
        }"""
    )
    assert shown == ["Aikoさん", "English only", "nope", "ja", "ja"]


CLIENT_EXCHANGES = """async (server) => {
  const { createClient, sha256Hex } = await import("/assets/shared/graphql.js");
  const doc = "query ConsoleProbe { __typename }";
  const hash = await sha256Hex(doc);
  const known = new Set();
  const sent = [];
  const json = (status, body) => new Response(JSON.stringify(body), { status });
  const servers = {
    apq: (body) => {
      if (!body.query && !known.has(body.extensions.persistedQuery.sha256Hash)) {
        return json(200, { errors: [{ message: "PersistedQueryNotFound",
                                      extensions: { code: "PERSISTED_QUERY_NOT_FOUND" } }] });
      }
      if (body.query) known.add(body.extensions.persistedQuery.sha256Hash);
      return json(200, { data: { __typename: "Query" } });
    },
    plain: (body) => body.query ? json(200, { data: { __typename: "Query" } })
                                : new Response("No GraphQL query found in the request", { status: 400 }),
    refusing: () => json(200, { data: null, errors: [{ message: "The API key is not valid",
                                                         extensions: { code: "UNAUTHENTICATED" } }] }),
  };
  const fetchImpl = async (url, init) => {
    const body = JSON.parse(init.body);
    sent.push({ query: "query" in body, hash: body.extensions.persistedQuery.sha256Hash === hash,
                name: body.operationName, auth: init.headers.Authorization });
    return servers[server](body);
  };
  const client = createClient({ getKey: () => "gwk_k", fetchImpl });
  const outcomes = [];
  for (let i = 0; i < 2; i++) {
    try { outcomes.push(await client.request(doc)); } catch (err) { outcomes.push(err.code); }
  }
  return { sent, outcomes };
}"""


@pytest.mark.parametrize(
    ("server", "sent", "outcome"),
    [
        # APQ: the hash, then the document with it; the second time the hash alone serves.
        ("apq", [False, True, False], {"__typename": "Query"}),
        # No APQ (400 in plain text): the document with its hash, and from then on at once.
        ("plain", [False, True, True], {"__typename": "Query"}),
        # A refused key is the server's answer to the hash-only request: not sent twice.
        ("refusing", [False, False], "UNAUTHENTICATED"),
    ],
)
async def test_the_client_sends_persisted_queries_and_falls_back_to_the_document(
    page: Page, assets: str, server: str, sent: list[bool], outcome: Any
) -> None:
    await page.goto(assets)
    result = await page.evaluate(CLIENT_EXCHANGES, server)
    assert [request["query"] for request in result["sent"]] == sent
    assert all(
        r["hash"] and r["name"] == "ConsoleProbe" and r["auth"] == "Bearer gwk_k" for r in result["sent"]
    )
    assert result["outcomes"] == [outcome, outcome]
