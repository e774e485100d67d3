"""Fixtures: every store-touching test runs on SQLite and on PostgreSQL, each on a
fresh database copied from a migrated template (a file copy on SQLite, CREATE
DATABASE ... TEMPLATE on PostgreSQL).

PostgreSQL comes from GATEWAY_TEST_POSTGRES_URL. Without it the PostgreSQL variants
are skipped locally; under CI=true a missing or unreachable server fails them.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from gateway.app import create_app
from gateway.live import Hub
from gateway.logging import configure_logging
from gateway.settings import Settings
from models.api_keys import service as api_keys
from models.api_keys.inputs import ApiKeyCreate
from models.kernel.clock import FixedClock
from models.platform.access import operator
from models.platform.deps import Deps
from models.platform.migrate import upgrade_url
from models.platform.store import Store

PG_URL = os.environ.get("GATEWAY_TEST_POSTGRES_URL", "")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BACKENDS = ["sqlite", "postgres"]
START = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slowest tests first: under pytest-xdist they then run beside the rest instead
    of alone at the end (the soak alone is a minute)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def _pg_dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url)
    if database:
        parsed = parsed.set(database=database)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def _pg_url(database: str) -> str:
    return make_url(PG_URL).set(database=database).render_as_string(hide_password=False)


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(_pg_dsn(PG_URL), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    asyncio.run(upgrade_url(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    if not PG_URL:
        reason = "GATEWAY_TEST_POSTGRES_URL is not set"
        if IN_CI:
            pytest.fail(f"{reason}: under CI=true PostgreSQL tests must run", pytrace=False)
        pytest.skip(f"{reason}; set it to run the PostgreSQL variants")
    name = f"gw_tmpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        message = f"PostgreSQL at GATEWAY_TEST_POSTGRES_URL is unreachable: {exc!r}"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    asyncio.run(upgrade_url(_pg_url(name)))
    yield name
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database for this test alone."""
    if backend == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "gateway.db"
        shutil.copyfile(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"gw_t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    yield _pg_url(name)
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def empty_db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, not even migrated."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/empty.db"
        return
    request.getfixturevalue("pg_template")  # skips or fails like every PostgreSQL test
    name = f"gw_e_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    yield _pg_url(name)
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    store = Store(db_url)
    yield store
    await store.dispose()


@pytest.fixture
def deps(store: Store, clock: FixedClock) -> Deps:
    return Deps(store=store, clock=clock, bus=Hub(store.dialect))


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url)


@pytest.fixture
async def client(settings: Settings, deps: Deps) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, deps=deps)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
        yield http


@pytest.fixture
async def admin_key(deps: Deps) -> str:
    _, secret = await api_keys.create_api_key(deps, operator(), ApiKeyCreate.parse({"role": "ADMIN", "name": "test admin"}))
    return secret


class Api:
    """GraphQL over the app's real HTTP route, as a client would call it."""

    def __init__(self, http: httpx.AsyncClient, key: str | None) -> None:
        self.http = http
        self.key = key

    def as_key(self, key: str | None) -> Api:
        return Api(self.http, key)

    async def raw(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def __call__(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The data of an operation that must not produce GraphQL errors."""
        body = await self.raw(query, variables)
        assert not body.get("errors"), body["errors"]
        return body["data"]


@pytest.fixture
def api(client: httpx.AsyncClient, admin_key: str) -> Api:
    return Api(client, admin_key)


async def new_tenant(api: Api, name: str = "Team", test_clock_id: str | None = None) -> str:
    data = await api(
        """mutation($name: String!, $clock: ID) { createTenant(input: {name: $name,
             email: "team@example.com", currency: "USD", testClockId: $clock}) {
             ... on Tenant { id } ... on Error { code message } } }""",
        {"name": name, "clock": test_clock_id},
    )
    return data["createTenant"]["id"]


async def new_key(api: Api, role: str, tenant_id: str | None = None) -> dict[str, Any]:
    """{secret, apiKey {id role name tenantId secretHint revokedAt}} or an error."""
    spec: dict[str, Any] = {"role": role, "name": f"{role.lower()} key"}
    if tenant_id:
        spec["tenantId"] = tenant_id
    data = await api(
        """mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { __typename
             ... on NewApiKey { secret apiKey { id role name tenantId secretHint revokedAt } }
             ... on Error { code message } } }""",
        {"input": spec},
    )
    return data["createApiKey"]


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """What the gateway logs (JSON lines, DEBUG and up, SQL statements included)."""
    stream = io.StringIO()
    handler = configure_logging("DEBUG", "json", stream)
    sql = logging.getLogger("sqlalchemy.engine")
    sql.setLevel(logging.INFO)
    yield stream
    sql.setLevel(logging.WARNING)
    logging.getLogger().removeHandler(handler)
    logging.getLogger().setLevel(logging.WARNING)
