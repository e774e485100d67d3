"""What the console's browser tests need besides the browser: the public API over
HTTP (to set up and to check what the console did), a webhook receiver on loopback,
and the provider outbox read from the database the served gateway writes."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx
from playwright.async_api import Page
from sqlalchemy import select

from gateway.pages import console
from models.kernel.enums import ProviderTaskKind, TaskStatus
from models.platform.store import Store
from models.tables import ProviderTaskRow
from tests.builders.served import Server


def gql(server: Server, query: str, variables: dict[str, Any] | None = None, key: str | None = None) -> Any:
    response = httpx.post(
        f"{server.base}/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {key or server.admin_key}"},
        timeout=10,
    )
    body = response.json()
    assert not body.get("errors"), body
    return body["data"]


class Receiver:
    """A webhook endpoint on 127.0.0.1 that answers 200 and keeps each request's
    `webhook-id` header, in order."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        received = self.ids

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                received.append(self.headers.get("webhook-id", ""))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class RefusingProvider:
    """A payment provider on 127.0.0.1 that refuses every request as Stripe refuses a bad
    one (HTTP 400, invalid_request_error): the gateway's calls fail for good, and each
    tenant shows a provider error the console can retry."""

    REFUSAL = json.dumps(
        {
            "error": {
                "type": "invalid_request_error",
                "code": "resource_missing",
                "message": "Refused by the test",
            }
        }
    ).encode()

    def __init__(self) -> None:
        self.requests: list[str] = []
        seen = self.requests
        refusal = self.REFUSAL

        class Handler(BaseHTTPRequestHandler):
            def refuse(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                seen.append(f"{self.command} {self.path}")
                self.send_response(400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(refusal)))
                self.end_headers()
                self.wfile.write(refusal)

            do_GET = do_POST = do_DELETE = refuse

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def customer_syncs(db_url: str, tenant_id: str) -> list[ProviderTaskRow]:
    """The tenant's SYNC_CUSTOMER tasks in the provider outbox, oldest first. The API
    shows only refusals (Tenant.providerError), so a queued call is read from the store."""
    store = Store(db_url)
    try:
        async with store.read() as session:
            rows = await session.scalars(
                select(ProviderTaskRow)
                .where(
                    ProviderTaskRow.tenant_id == tenant_id,
                    ProviderTaskRow.kind == ProviderTaskKind.SYNC_CUSTOMER,
                )
                .order_by(ProviderTaskRow.id)
            )
            return list(rows.all())
    finally:
        await store.dispose()


class Traffic:
    """Every request a page makes, to check it spoke only persisted queries."""

    def __init__(self, page: Page) -> None:
        self.requests: list[tuple[str, str, str | None]] = []
        page.on(
            "request", lambda request: self.requests.append((request.method, request.url, request.post_data))
        )

    def assert_only_persisted_console_queries(self, server: Server) -> None:
        trusted = console.persisted_documents()
        graphql = 0
        for method, url, post_data in self.requests:
            path = urlsplit(url).path
            if path != "/graphql":
                assert method == "GET" and (path == "/console" or path.startswith("/assets/")), url
                continue
            graphql += 1
            body = json.loads(post_data or "{}")
            persisted = body["extensions"]["persistedQuery"]
            assert persisted["version"] == 1
            assert persisted["sha256Hash"] in trusted, body.get("operationName")  # one of operations.js's
            if "query" in body:  # sent again with its document: the very text hashed
                assert hashlib.sha256(body["query"].encode()).hexdigest() == persisted["sha256Hash"]
        assert graphql > 10


async def settled_failures(db_url: str, tenant_id: str, timeout: float = 20) -> int:
    """Once none of the tenant's provider tasks is PENDING: how many the provider refused."""
    store = Store(db_url)
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        while True:
            async with store.read() as session:
                statuses = list(
                    (
                        await session.scalars(
                            select(ProviderTaskRow.status).where(ProviderTaskRow.tenant_id == tenant_id)
                        )
                    ).all()
                )
            if statuses and TaskStatus.PENDING not in statuses:
                return statuses.count(TaskStatus.FAILED)
            assert asyncio.get_running_loop().time() < deadline, f"provider tasks still pending: {statuses}"
            await asyncio.sleep(0.2)
    finally:
        await store.dispose()
