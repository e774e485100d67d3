"""Seats hold across processes: `billing-gateway serve --workers 2` on PostgreSQL, 60
concurrent invites for 7 free seats over 60 connections that both workers accept.
Each worker has its own engine and connection pool, so only the database's row lock
stands between them and an overbooked tenant; exactly 7 invites may win.

PostgreSQL only: on SQLite the gateway is meant to run as one process (serve warns
about more), so there is nothing across processes to test there."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.builders.api import new_tenant
from tests.builders.billing import invite, plan_with_seat_addon, seats, subscribe
from tests.builders.live import LiveServer, admin_api, running, server_errors

pytestmark = pytest.mark.serve

INCLUDED = 5
PURCHASED = 4
ALREADY_MEMBERS = 2
FREE = INCLUDED + PURCHASED - ALREADY_MEMBERS  # 7
INVITES = 60
INVITE = """mutation($input: InviteMemberInput!) { inviteMember(input: $input) { __typename
  ... on Member { id email seatType status } ... on NoSeatsAvailableError { fullType: seatType }
  ... on Error { code message } } }"""


@pytest.fixture(params=["postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """Several workers share one database only on PostgreSQL (missing under CI=true:
    fails, see tests/conftest.py)."""
    return request.param


async def served_by(server: LiveServer, request_ids: set[str]) -> dict[str, int]:
    """request id -> pid of the worker that logged it. Access lines are written as the
    response goes out, so poll the log until every request is in it."""
    deadline = time.monotonic() + 30
    while True:
        found = {
            e["request_id"]: e["pid"]
            for e in server.log_entries()
            if e.get("logger") == "gateway.access" and e.get("request_id") in request_ids
        }
        if len(found) == len(request_ids) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.1)


async def connections_on_each_worker(
    server: LiveServer, stack: AsyncExitStack, workers: list[int], per_worker: int
) -> list[httpx.AsyncClient]:
    """``per_worker`` open keep-alive connections to each worker, interleaved: the kernel
    hands a new connection to whichever worker accepts first, so open them in bursts and
    ask the access log where each landed, until every worker has its share."""
    landed: dict[int, list[httpx.AsyncClient]] = {pid: [] for pid in workers}
    for _ in range(10):
        clients = [
            await stack.enter_async_context(server.http(limits=httpx.Limits(max_connections=1)))
            for _ in range(len(workers) * per_worker)
        ]
        probes = [f"probe-{uuid.uuid4().hex[:8]}-{n}" for n in range(len(clients))]
        answers = await asyncio.gather(
            *(
                http.post("/graphql", json={"query": "{ __typename }"}, headers={"X-Request-ID": probe})
                for http, probe in zip(clients, probes, strict=True)
            )
        )
        assert {a.status_code for a in answers} == {200}, [a.text for a in answers if a.status_code != 200]
        pids = await served_by(server, set(probes))
        assert len(pids) == len(probes), f"{len(probes) - len(pids)} probes missing from the access log"
        for http, probe in zip(clients, probes, strict=True):
            landed[pids[probe]].append(http)
        if all(len(c) >= per_worker for c in landed.values()):
            # The newest: uvicorn closes a connection idle for 5 s, and a reconnect lands anywhere.
            by_worker = [c[-per_worker:] for c in landed.values()]
            return [http for group in zip(*by_worker, strict=True) for http in group]
    raise AssertionError(
        f"connections never reached every worker: { ({p: len(c) for p, c in landed.items()}) }"
    )


async def test_60_concurrent_invites_across_two_workers_admit_exactly_the_7_free_seats(
    db_url: str, tmp_path: Path
) -> None:
    async with running(db_url, tmp_path / "serve.log", workers=2, log_level="INFO") as server:
        workers = set(server.pids())
        assert len(workers) == 2 and server.process is not None and server.process.pid not in workers, workers
        async with admin_api(server) as api:
            plan, seat = await plan_with_seat_addon(api, "team", 49_00, 10_00, includedSeats=INCLUDED)
            tenant = await new_tenant(api, "Overbooked")
            assert (await subscribe(api, tenant, plan, {seat: PURCHASED}))["__typename"] == "Subscription"
            for n in range(ALREADY_MEMBERS):
                assert (await invite(api, tenant, f"early{n}@team.example"))["__typename"] == "Member"
            assert (await seats(api, tenant))["available"] == FREE

        tag = uuid.uuid4().hex[:8]
        request_ids = [f"invite-{tag}-{n}" for n in range(INVITES)]
        async with AsyncExitStack() as stack:
            pinned = await connections_on_each_worker(server, stack, sorted(workers), INVITES // 2)

            async def invite_one(n: int, http: httpx.AsyncClient) -> dict[str, Any]:
                response = await http.post(
                    "/graphql",
                    json={
                        "query": INVITE,
                        "variables": {"input": {"tenantId": tenant, "email": f"new{n}@team.example"}},
                    },
                    headers={"X-Request-ID": request_ids[n]},
                )
                assert response.status_code == 200, response.text
                body = response.json()
                assert not body.get("errors"), body["errors"]
                return body["data"]["inviteMember"]

            results = await asyncio.gather(*(invite_one(n, http) for n, http in enumerate(pinned)))

        outcomes = Counter(r["__typename"] for r in results)
        assert outcomes == {"Member": FREE, "NoSeatsAvailableError": INVITES - FREE}, outcomes
        refusals = [r for r in results if r["__typename"] == "NoSeatsAvailableError"]
        assert {(r["code"], r["fullType"]) for r in refusals} == {("NO_SEATS_AVAILABLE", "FULL")}, refusals
        admitted = {r["email"] for r in results if r["__typename"] == "Member"}
        assert all(r["status"] == "ACTIVE" for r in results if r["__typename"] == "Member")

        pids = await served_by(server, set(request_ids))
        assert len(pids) == INVITES, f"{INVITES - len(pids)} invites missing from the access log"
        per_worker = Counter(pids.values())
        assert set(per_worker) == workers, f"invites per worker pid {dict(per_worker)}; workers {workers}"
        assert min(per_worker.values()) >= INVITES // 4, f"invites per worker pid {dict(per_worker)}"
        assert set(server.pids()) == workers, "a worker died (and was replaced) during the invites"

        async with admin_api(server) as api:
            tenant_now = (
                await api(
                    """query($id: ID!) { tenant(id: $id) { seats { included purchased total used available }
                     members { email status } } }""",
                    {"id": tenant},
                )
            )["tenant"]
        total = INCLUDED + PURCHASED
        assert tenant_now["seats"] == {
            "included": INCLUDED,
            "purchased": PURCHASED,
            "total": total,
            "used": total,
            "available": 0,
        }
        early = {f"early{n}@team.example" for n in range(ALREADY_MEMBERS)}
        assert sorted(m["email"] for m in tenant_now["members"]) == sorted(early | admitted)
        assert {m["status"] for m in tenant_now["members"]} == {"ACTIVE"}
        assert server_errors(server) == []
