"""Stored API keys are remembered for a few seconds per process, and a revoked one is still
refused on its very next request (models/api_keys/cache.py, gateway/auth.py).

The key lookups are counted as the statements on ``api_keys`` the store runs; on
PostgreSQL the hub LISTENs as it does in a served worker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, update

from gateway import demo
from gateway.auth import REJECTED, Authenticator
from gateway.live import Hub, connect_params
from models.api_keys import service as api_keys
from models.api_keys.cache import CHANNEL, KeyCache
from models.api_keys.inputs import ApiKeyCreate
from models.kernel.enums import Role
from models.platform.access import Principal, operator
from models.platform.deps import Deps
from models.tables import ApiKeyRow


class Ticking:
    """Monotonic seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def hub(deps: Deps) -> AsyncIterator[Hub]:
    assert isinstance(deps.bus, Hub)
    await deps.bus.start(deps.store)
    yield deps.bus
    await deps.bus.stop()


@pytest.fixture
def ticking() -> Ticking:
    return Ticking()


@pytest.fixture
def auth(deps: Deps, hub: Hub, ticking: Ticking) -> Authenticator:
    auth = Authenticator(deps, None, cache_seconds=5)
    auth.keys = KeyCache(5, size=3, freshness=hub, monotonic=ticking)
    return auth


@contextmanager
def key_lookups(deps: Deps) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "api_keys" in statement:
            statements.append(statement)

    engine = deps.store.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def stored_key(deps: Deps) -> tuple[str, str]:
    spec = {"role": "ADMIN", "name": "cached"}
    row, secret = await api_keys.create_api_key(deps, operator(), ApiKeyCreate.parse(spec))
    return row.id, secret


async def who(auth: Authenticator, secret: str) -> Principal | None:
    principal, problem = await auth.from_header(f"Bearer {secret}")
    assert (principal is None) == (problem == REJECTED)
    return principal


async def test_a_key_is_looked_up_once_and_then_remembered(deps: Deps, auth: Authenticator) -> None:
    key_id, secret = await stored_key(deps)
    with key_lookups(deps) as lookups:
        first = await who(auth, secret)
        again = [await who(auth, secret) for _ in range(5)]
    assert first == Principal(Role.ADMIN, None, key_id)
    assert again == [first] * 5
    assert len(lookups) == 1


async def test_a_remembered_key_is_looked_up_again_once_its_seconds_are_up(
    deps: Deps, auth: Authenticator, ticking: Ticking
) -> None:
    key_id, secret = await stored_key(deps)
    await who(auth, secret)
    # Revoked behind the gateway's back (an UPDATE in psql): only the seconds bound it.
    async with deps.store.transaction() as session:
        await session.execute(
            update(ApiKeyRow).where(ApiKeyRow.id == key_id).values(revoked_at=deps.clock.now())
        )
    ticking.now += 4.9
    assert await who(auth, secret) is not None
    ticking.now += 0.2
    with key_lookups(deps) as lookups:
        assert await who(auth, secret) is None
    assert len(lookups) == 1


async def test_revoking_a_remembered_key_refuses_it_on_the_next_request(
    deps: Deps, auth: Authenticator
) -> None:
    key_id, secret = await stored_key(deps)
    assert await who(auth, secret) is not None
    await api_keys.revoke_api_key(deps, operator(), key_id)
    assert await who(auth, secret) is None
    assert len(auth.keys) == 0


async def test_a_restarted_demo_forgets_the_key_it_revokes_at_once(deps: Deps, auth: Authenticator) -> None:
    first = await demo.rotate_demo_admin_key(deps)
    assert await who(auth, first) is not None
    second = await demo.rotate_demo_admin_key(deps)
    assert await who(auth, first) is None
    assert await who(auth, second) is not None


async def test_a_revocation_committed_by_another_process_is_heard_before_the_next_request(
    deps: Deps, hub: Hub, auth: Authenticator, backend: str
) -> None:
    """Another worker's revocation reaches this one only through NOTIFY, and nothing says
    it has been read off the LISTEN socket when the next request comes in: here it has
    not (the hub's socket is not read meanwhile), and the lookup refuses all the same."""
    if backend != "postgres":
        pytest.skip("on SQLite every revocation is this process's own (tested above)")
    key_id, secret = await stored_key(deps)
    assert await who(auth, secret) is not None
    listening = hub._connection
    assert listening is not None
    listening._transport.pause_reading()  # type: ignore[attr-defined]  # asyncpg's socket, held unread
    other = await asyncpg.connect(**connect_params(deps.store))
    try:
        async with other.transaction():
            await other.execute("UPDATE api_keys SET revoked_at = now() WHERE id = $1", key_id)
            await other.execute("SELECT pg_notify($1, $2)", CHANNEL, key_id)
    finally:
        await other.close()
        listening._transport.resume_reading()  # type: ignore[attr-defined]  # as above
    assert await who(auth, secret) is None


async def test_at_most_the_cache_size_of_keys_are_remembered_the_least_recent_dropped(
    deps: Deps, auth: Authenticator
) -> None:
    secrets = [(await stored_key(deps))[1] for _ in range(4)]
    for secret in secrets:
        await who(auth, secret)
    assert len(auth.keys) == 3
    with key_lookups(deps) as lookups:
        for secret in secrets[1:]:
            await who(auth, secret)
        assert lookups == []
        await who(auth, secrets[0])
        assert len(lookups) == 1


async def test_unknown_and_revoked_keys_are_not_remembered(deps: Deps, auth: Authenticator) -> None:
    key_id, secret = await stored_key(deps)
    await api_keys.revoke_api_key(deps, operator(), key_id)
    with key_lookups(deps) as lookups:
        for _ in range(3):
            assert await who(auth, secret) is None
            assert await who(auth, "gwk_" + "x" * 40) is None
    assert len(lookups) == 6
    assert len(auth.keys) == 0


async def test_zero_seconds_looks_every_key_up(deps: Deps, hub: Hub) -> None:
    auth = Authenticator(deps, None, cache_seconds=0)
    _, secret = await stored_key(deps)
    with key_lookups(deps) as lookups:
        for _ in range(3):
            assert await who(auth, secret) is not None
    assert len(lookups) == 3


async def test_without_a_listening_hub_postgresql_remembers_nothing(deps: Deps, backend: str) -> None:
    """Not listening, a worker could miss another's revocation: it looks every key up."""
    auth = Authenticator(deps, None, cache_seconds=5)
    _, secret = await stored_key(deps)
    with key_lookups(deps) as lookups:
        for _ in range(3):
            assert await who(auth, secret) is not None
    assert len(lookups) == (1 if backend == "sqlite" else 3)


async def test_a_lookup_that_raced_a_revocation_is_not_remembered(deps: Deps, hub: Hub) -> None:
    """Read before the revocation committed, finished after: remembering it would serve a
    revoked key for the cache's seconds."""
    cache = KeyCache(5, freshness=hub)
    key_id, secret = await stored_key(deps)
    key_hash = api_keys.hash_secret(secret)

    def revoking_meanwhile(found: str) -> Callable[[], Any]:
        async def load() -> Principal | None:
            principal = await api_keys.find(deps, found)
            await api_keys.revoke_api_key(deps, operator(), key_id)
            return principal

        return load

    assert await cache.lookup(key_hash, lambda found: revoking_meanwhile(found)()) is not None
    assert len(cache) == 0
    assert await cache.lookup(key_hash, lambda found: api_keys.find(deps, found)) is None
