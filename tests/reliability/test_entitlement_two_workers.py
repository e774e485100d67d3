"""Entitlement limits hold across processes: `billing-gateway serve --workers 2` on
PostgreSQL, 60 concurrent consumeEntitlement calls over 60 connections that both workers
accept, against a LIMIT feature and a METERED one with 7 remaining each. Each worker has
its own engine and pool, so only the tenant's row lock stands between them and a limit
passed; exactly 7 may win, and the meter counts exactly the 7 it admitted.

PostgreSQL only, as tests/reliability/test_two_workers.py (whose connection pinning
this reuses): on SQLite the gateway is one process."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.builders.api import new_tenant
from tests.builders.billing import create_plan, subscribe
from tests.builders.entitlements import ENTITLEMENT, consume, entitlement, feature, grant
from tests.builders.live import LiveServer, admin_api, running, server_errors
from tests.builders.metering import new_meter, today_count
from tests.reliability.test_two_workers import connections_on_each_worker, served_by

pytestmark = pytest.mark.serve

LIMIT = 20
REMAINING = 7
CONSUMERS = 60
CONSUME = f"""mutation($input: ConsumeEntitlementInput!) {{ consumeEntitlement(input: $input) {{ __typename
  ... on EntitlementConsumed {{ duplicate entitlement {{ {ENTITLEMENT} }} }}
  ... on LimitReachedError {{ code entitlement {{ {ENTITLEMENT} }} }}
  ... on Error {{ code message }} }} }}"""


@pytest.fixture(params=["postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """Several workers share one database only on PostgreSQL (missing under CI=true:
    fails, see tests/conftest.py)."""
    return request.param


async def consume_over(http: httpx.AsyncClient, spec: dict[str, Any], request_id: str) -> dict[str, Any]:
    response = await http.post(
        "/graphql",
        json={"query": CONSUME, "variables": {"input": spec}},
        headers={"X-Request-ID": request_id},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body["errors"]
    return body["data"]["consumeEntitlement"]


async def contend(
    server: LiveServer, workers: set[int], tenant: str, code: str
) -> tuple[list[dict[str, Any]], Counter[int]]:
    """CONSUMERS consumptions of ``code`` at once, half over connections to each worker:
    (their results, how many each worker pid served)."""
    tag = uuid.uuid4().hex[:8]
    request_ids = [f"consume-{tag}-{n}" for n in range(CONSUMERS)]
    async with AsyncExitStack() as stack:
        pinned = await connections_on_each_worker(server, stack, sorted(workers), CONSUMERS // 2)
        results = await asyncio.gather(
            *(
                consume_over(
                    http,
                    {"tenantId": tenant, "featureCode": code, "amount": 1, "idempotencyKey": f"{tag}-{n}"},
                    request_ids[n],
                )
                for n, http in enumerate(pinned)
            )
        )
    pids = await served_by(server, set(request_ids))
    assert len(pids) == CONSUMERS, f"{CONSUMERS - len(pids)} consumptions missing from the access log"
    return results, Counter(pids.values())


async def test_60_concurrent_consumptions_across_two_workers_admit_exactly_the_7_remaining(
    db_url: str, tmp_path: Path
) -> None:
    async with running(db_url, tmp_path / "serve.log", workers=2, log_level="INFO") as server:
        workers = set(server.pids())
        assert len(workers) == 2, workers
        async with admin_api(server) as api:
            await new_meter(api, "api_calls")
            await feature(api, "projects", "LIMIT")
            await feature(api, "api", "METERED", meter="api_calls")
            plan = await create_plan(api, "team", 49_00)
            await grant(api, "projects", plan=plan, limit=LIMIT)
            await grant(api, "api", plan=plan, limit=LIMIT)
            tenant = await new_tenant(api, "Contended")
            assert (await subscribe(api, tenant, plan))["__typename"] == "Subscription"
            for code in ("projects", "api"):  # 13 used of 20: one consumption each
                for n in range(LIMIT - REMAINING):
                    consumed = await consume(api, tenant, code, f"early-{code}-{n}")
                    assert consumed["__typename"] == "EntitlementConsumed", consumed
            for code in ("projects", "api"):
                assert (await entitlement(api, tenant, code))["remaining"] == REMAINING

        for code in ("projects", "api"):
            results, per_worker = await contend(server, workers, tenant, code)
            outcomes = Counter(r["__typename"] for r in results)
            expected = {"EntitlementConsumed": REMAINING, "LimitReachedError": CONSUMERS - REMAINING}
            assert outcomes == expected, (code, outcomes)
            # Each admitted one saw its own consumption: 14, 15, ... 20 used, one each.
            admitted = sorted(
                r["entitlement"]["used"] for r in results if r["__typename"] == "EntitlementConsumed"
            )
            assert admitted == list(range(LIMIT - REMAINING + 1, LIMIT + 1)), (code, admitted)
            assert set(per_worker) == workers, f"{code}: consumptions per worker pid {dict(per_worker)}"
            assert min(per_worker.values()) >= CONSUMERS // 4, f"{code}: per worker pid {dict(per_worker)}"

        assert set(server.pids()) == workers, "a worker died (and was replaced) during the consumptions"
        async with admin_api(server) as api:
            for code in ("projects", "api"):
                final = await entitlement(api, tenant, code)
                assert (final["enabled"], final["reason"], final["used"], final["remaining"]) == (
                    False,
                    "LIMIT_REACHED",
                    LIMIT,
                    0,
                ), (code, final)
            assert await today_count(api, tenant, "api_calls") == LIMIT  # the meter counted the 7, once each
        assert server_errors(server) == []
