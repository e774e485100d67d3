"""Fixtures: every store-touching test runs on SQLite and on PostgreSQL, each on a
fresh database copied from a migrated template (a file copy on SQLite, CREATE
DATABASE ... TEMPLATE on PostgreSQL).

PostgreSQL comes from GATEWAY_TEST_POSTGRES_URL. Without it the PostgreSQL variants
are skipped locally; under CI=true a missing or unreachable server fails them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

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
from models.platform.deps import BillingPolicy, Deps
from models.platform.migrate import upgrade_url
from models.platform.store import Store

# The builders' asserts explain their failures as the tests' own do.
pytest.register_assert_rewrite("tests.builders")

from tests.builders.api import START, Api
from tests.builders.dns import FakeDns

PG_URL = os.environ.get("GATEWAY_TEST_POSTGRES_URL", "")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BACKENDS = ["sqlite", "postgres"]


NO_GRACE = BillingPolicy(usage_grace=timedelta(0))


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
def dns() -> FakeDns:
    """What host names resolve to for this test's gateway (outbound webhooks)."""
    return FakeDns()


@pytest.fixture
def deps(store: Store, clock: FixedClock, settings: Settings, dns: FakeDns) -> Deps:
    # Renewals bill their usage at the period's end here, as they did before the grace
    # window existed; tests/api/test_late_usage.py walks the default hour. The rest of
    # the policy is the test app's settings'.
    policy = dataclasses.replace(settings.billing_policy(), usage_grace=NO_GRACE.usage_grace)
    return Deps(store=store, clock=clock, bus=Hub(store.dialect), policy=policy, resolver=dns)


@pytest.fixture
def settings(db_url: str) -> Settings:
    """The test app's settings. ADMIN keys may register webhook endpoints on loopback,
    where the tests' receivers listen."""
    return Settings(database_url=db_url, webhooks_allow_private=True)


@pytest.fixture
async def client(settings: Settings, deps: Deps) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, deps=deps)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
        yield http


@pytest.fixture
async def admin_key(deps: Deps) -> str:
    _, secret = await api_keys.create_api_key(
        deps, operator(), ApiKeyCreate.parse({"role": "ADMIN", "name": "test admin"})
    )
    return secret


@pytest.fixture
def api(client: httpx.AsyncClient, admin_key: str) -> Api:
    return Api(client, admin_key)


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
