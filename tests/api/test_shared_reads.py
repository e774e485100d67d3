"""A query's shared read session keeps its pool connection for the whole operation,
while fields resolved later (Tenant.invoices(after:), a second root field's service)
open sessions of their own. Concurrent queries must still all be answered: none may
hold a connection while waiting, forever, for another."""

from __future__ import annotations

import asyncio

import httpx

from gateway.app import create_app
from gateway.settings import Settings
from models.api_keys import service as api_keys
from models.api_keys.inputs import ApiKeyCreate
from models.kernel.clock import FixedClock
from models.platform.access import operator
from models.platform.deps import Deps
from models.platform.pagination import encode_cursor
from models.platform.store import Store
from models.tenants import service as tenants
from models.tenants.inputs import TenantCreate

QUERY = """query($after: String!, $id: ID!) {
  one: tenant(id: $id) { subscription { id } members { email } }
  all: tenants { edges { node { id invoices(after: $after) { edges { node { id } } } } } } }"""


async def test_concurrent_queries_never_starve_the_pool(db_url: str, clock: FixedClock) -> None:
    store = Store(db_url, pool_size=1)  # 2 connections on PostgreSQL, 3 on SQLite
    # A starved pool waits forever, so the timeout only has to outlast honest queueing: the
    # one connection the snapshot leaves serves 8 requests' keys, root fields and loads
    # (over 5 s on a loaded CI machine, once past 20 s beside the fuzz and soak runs), and
    # still fail, rather than hang, when the pool is starved.
    store.engine.sync_engine.pool._timeout = 45
    deps = Deps(store=store, clock=clock)
    try:
        for i in range(6):
            row = await tenants.create_tenant(
                deps,
                operator(),
                TenantCreate.parse({"name": f"t{i}", "email": "a@b.example", "currency": "USD"}),
            )
        _, secret = await api_keys.create_api_key(
            deps, operator(), ApiKeyCreate.parse({"role": "ADMIN", "name": "admin"})
        )
        app = create_app(Settings(database_url=db_url), deps=deps)
        variables = {"after": encode_cursor("~"), "id": row.id}
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
        ) as http:

            async def query() -> httpx.Response:
                return await http.post(
                    "/graphql",
                    json={"query": QUERY, "variables": variables},
                    headers={"Authorization": f"Bearer {secret}"},
                )

            for _ in range(3):
                for response in await asyncio.gather(*(query() for _ in range(8))):
                    assert response.status_code == 200, response.text
                    body = response.json()
                    assert not body.get("errors"), body["errors"][:2]
                    assert len(body["data"]["all"]["edges"]) == 6
    finally:
        await store.dispose()
