"""A query's shared read session keeps its pool connection for the whole operation,
while fields resolved later (Tenant.invoices(after:), a second root field's service)
open sessions of their own. Concurrent queries must still all be answered: none may
hold a connection while waiting, forever, for another."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import httpx
import pytest
from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.app import create_app
from gateway.settings import Settings
from models.api_keys import service as api_keys
from models.api_keys.inputs import ApiKeyCreate
from models.kernel.clock import FixedClock
from models.platform.access import operator
from models.platform.deps import Deps
from models.platform.pagination import encode_cursor
from models.platform.reads import fetch
from models.platform.store import Store, shared_reads
from models.tables import TenantRow
from models.tables.base import table_of
from models.tenants import service as tenants
from models.tenants.inputs import TenantCreate
from resolvers.shared.loaders import Loader, Loaders

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


DASHBOARD = """query($id: ID!) {
  tenant(id: $id) { id subscription { id plan { code } addons { quantity } } members { email }
    invoices(first: 5) { edges { node { id lines { amount { amount } } } } } } }"""


async def test_a_query_reads_its_root_fields_and_every_loader_on_one_pool_connection(
    db_url: str, clock: FixedClock
) -> None:
    store = Store(db_url)
    deps = Deps(store=store, clock=clock)
    try:
        row = await tenants.create_tenant(
            deps, operator(), TenantCreate.parse({"name": "t", "email": "a@b.example", "currency": "USD"})
        )
        _, secret = await api_keys.create_api_key(
            deps, operator(), ApiKeyCreate.parse({"role": "ADMIN", "name": "admin"})
        )
        app = create_app(Settings(database_url=db_url), deps=deps)
        checkouts: list[object] = []
        event.listen(store.engine.sync_engine.pool, "checkout", lambda *args: checkouts.append(args[0]))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
        ) as http:

            async def taken(query: str) -> int:
                before = len(checkouts)
                response = await http.post(
                    "/graphql",
                    json={"query": query, "variables": {"id": row.id}},
                    headers={"Authorization": f"Bearer {secret}"},
                )
                assert response.status_code == 200 and not response.json().get("errors"), response.text
                return len(checkouts) - before

            await taken(DASHBOARD)
            # What the key lookup takes (none once cached), then one connection for the rest.
            key_only = await taken("query($id: ID!) { __typename tenant(id: $id) @skip(if: true) { id } }")
            assert await taken(DASHBOARD) == key_only + 1
    finally:
        await store.dispose()


async def test_a_loader_that_meets_a_dead_connection_reads_again_on_a_fresh_one(
    backend: str, db_url: str, clock: FixedClock
) -> None:
    if backend != "postgres":
        pytest.skip("the database server ends the connection")
    store = Store(db_url)
    deps = Deps(store=store, clock=clock)
    row = await tenants.create_tenant(
        deps, operator(), TenantCreate.parse({"name": "t", "email": "a@b.example", "currency": "USD"})
    )
    calls: list[int] = []

    async def names(session: AsyncSession, ids: Sequence[str]) -> list[str | None]:
        pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        calls.append(pid)
        if len(calls) == 1:  # the server ends this connection before the loader's statement
            async with store.read(own=True) as other:
                await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        tenants_table = table_of(TenantRow)
        rows = await fetch(session, select(tenants_table).where(tenants_table.c.id.in_(ids)))
        found = {r.id: r.name for r in rows}
        return [found.get(i) for i in ids]

    try:
        loaders = Loaders(deps)
        loaders.reads.share()
        assert await loaders.get(Loader.of(names)).load(row.id) == "t"
        assert len(calls) == 2 and calls[0] != calls[1]
        await loaders.reads.close()
    finally:
        await store.dispose()


async def test_a_read_nested_in_another_in_the_same_task_shares_its_session_instead_of_waiting(
    db_url: str, clock: FixedClock
) -> None:
    store = Store(db_url)
    deps = Deps(store=store, clock=clock)
    try:
        loaders = Loaders(deps)
        loaders.reads.share()
        token = shared_reads.set(loaders.reads.session)
        try:
            async with store.read() as outer:
                async with asyncio.timeout(10):
                    async with store.read() as inner:
                        assert inner is outer
                        assert (await inner.execute(text("SELECT 1"))).scalar_one() == 1
        finally:
            shared_reads.reset(token)
            await loaders.reads.close()
        async with store.read() as own:  # outside an operation: a session of its own again
            assert own is not outer
    finally:
        await store.dispose()
