"""Live events across worker processes on PostgreSQL: each process's hub LISTENs on
its own connection, so what commits through one reaches subscribers of another.
Two apps on two servers (or two hubs) on one database stand for two processes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

import gateway.live
from gateway.live import Hub
from gateway.settings import Settings
from models.kernel.clock import FixedClock
from models.kernel.enums import EventType
from models.platform import events
from models.platform.deps import Deps
from models.platform.events import MAX_NOTIFY_BYTES
from models.platform.store import Store
from tests.builders.billing import invite
from tests.builders.live_subscriptions import (
    SEATS,
    http_api,
    live,
    next_data,
    seated_tenant,
    serve,
    subscribed,
)


@pytest.fixture(params=["postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """LISTEN/NOTIFY is PostgreSQL's; on SQLite the gateway is one process."""
    return request.param


@pytest.fixture
async def other_process(db_url: str, clock: FixedClock) -> AsyncIterator[Deps]:
    """A second worker's Deps: its own engine and hub on the same database."""
    store = Store(db_url)
    yield Deps(store=store, clock=clock, bus=Hub(store.dialect))
    await store.dispose()


async def test_an_invite_through_one_worker_reaches_a_subscriber_of_another(
    settings: Settings, deps: Deps, other_process: Deps, admin_key: str
) -> None:
    async with (
        serve(settings, deps) as first,
        serve(settings, other_process) as second,
        http_api(first, admin_key) as api,
    ):
        tenant = await seated_tenant(api, "Acme")
        async with live(second, admin_key) as far, live(first, admin_key) as near:
            far_op = await far.subscribe(SEATS, {"t": tenant})
            near_op = await near.subscribe(SEATS, {"t": tenant})
            await subscribed(other_process.bus, 1)
            await subscribed(deps.bus, 1)
            member = await invite(api, tenant, "ada@acme.example.com")
            for client, op in ((far, far_op), (near, near_op)):
                event = next_data(await client.receive(), op, "seatsChanged")
                assert event["memberId"] == member["id"] and event["seats"]["used"] == 1
            # Each process streams the event once, though it both committed and heard it.
            await near.assert_silent()
            await far.assert_silent()


async def test_an_event_too_big_for_a_notify_is_read_from_the_store(deps: Deps, other_process: Deps) -> None:
    hub = other_process.bus
    assert isinstance(hub, Hub)
    await hub.start(other_process.store)
    try:
        received = hub.subscribe("ten_big", frozenset({EventType.USAGE_RECORDED.value}))
        meters = {f"meter_{i:04d}": i for i in range(MAX_NOTIFY_BYTES // 10)}
        async with deps.store.transaction() as session:
            sent = events.record_event(
                session,
                deps.bus,
                EventType.USAGE_RECORDED,
                "ten_big",
                {"tenantId": "ten_big", "accepted": sum(meters.values()), "meters": meters},
                deps.clock.now(),
            )
        assert len(sent.to_json()) > MAX_NOTIFY_BYTES
        event = await asyncio.wait_for(anext(received), 5)
        assert (event.id, event.data["meters"]) == (sent.id, meters)
        assert event.at == sent.at
        await received.aclose()
    finally:
        await hub.stop()


async def test_the_hub_listens_again_after_its_connection_is_killed(
    deps: Deps, other_process: Deps, caplog: pytest.LogCaptureFixture
) -> None:
    hub = other_process.bus
    assert isinstance(hub, Hub)
    await hub.start(other_process.store)
    try:
        assert hub._connection is not None
        pid = hub._connection.get_server_pid()
        with caplog.at_level(logging.WARNING, "gateway.live"):
            async with deps.store.transaction() as session:
                await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            for _ in range(500):
                if hub._connection is not None and hub._connection.get_server_pid() != pid:
                    break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError("the hub did not reconnect")
        assert "listening again" in caplog.text
        assert "postgres@" not in caplog.text  # no DSN (and so no password) in the log

        received = hub.subscribe("ten_a", frozenset({EventType.SEATS_CHANGED.value}))
        async with deps.store.transaction() as session:
            sent = events.record_event(
                session,
                deps.bus,
                EventType.SEATS_CHANGED,
                "ten_a",
                {"reason": "member.invited"},
                deps.clock.now(),
            )
        assert (await asyncio.wait_for(anext(received), 5)).id == sent.id
        await received.aclose()
    finally:
        await hub.stop()
    assert hub._connection is None


async def test_an_unreachable_database_delays_nothing_and_crashes_nothing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(gateway.live, "START_WAIT_SECONDS", 0.3)
    store = Store("postgresql+asyncpg://gateway:secret-pw@127.0.0.1:9/nowhere")
    hub = Hub(store.dialect)
    with caplog.at_level(logging.WARNING, "gateway.live"):
        await hub.start(store)  # returns: the app starts, the hub keeps trying
        assert not hub.listening.is_set()
        await hub.stop()
    await store.dispose()
    assert "cannot connect to PostgreSQL" in caplog.text
    assert "secret-pw" not in caplog.text


async def test_a_url_with_driver_options_still_listens(db_url: str, deps: Deps) -> None:
    """Options SQLAlchemy's dialect consumes (or asyncpg takes as arguments, like ssl)
    must not reach the server as settings, or no process would ever hear an event."""
    url = f"{db_url}?ssl=disable&prepared_statement_cache_size=0"
    store = Store(url)
    hub = Hub(store.dialect)
    try:
        await hub.start(store)
        assert hub.listening.is_set()
        received = hub.subscribe("ten_opts", frozenset({EventType.SEATS_CHANGED.value}))
        async with deps.store.transaction() as session:
            sent = events.record_event(
                session, deps.bus, EventType.SEATS_CHANGED, "ten_opts", {"n": 1}, deps.clock.now()
            )
        got = await asyncio.wait_for(anext(aiter(received)), 10)
        assert got.id == sent.id
    finally:
        await hub.stop()
        await store.dispose()
