"""A revoked API key is refused on its next request by every worker: `billing-gateway
serve --workers 2` on PostgreSQL, each worker remembering the key (for 30 s here), one
revoking it, and the very next request with it to each worker refused.

PostgreSQL only: several workers share one database only there (on SQLite a worker
hears only its own revocations; the cache's seconds bound the others, see README)."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import AsyncExitStack
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.builders.api import new_key, new_tenant
from tests.builders.live import admin_api, running, server_errors
from tests.reliability.test_two_workers import connections_on_each_worker, served_by

pytestmark = pytest.mark.serve

TENANT = "query($id: ID!) { tenant(id: $id) { id name } }"
# Answered by the fast path (gateway/fast_entitlements.py), which reads the key itself.
ENTITLEMENT = 'query($t: ID!) { entitlement(tenantId: $t, featureCode: "none") { enabled } }'
REVOKE = "mutation($id: ID!) { revokeApiKey(id: $id) { __typename ... on ApiKey { revokedAt } } }"
PER_WORKER = 3


@pytest.fixture(params=["postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """Several workers share one database only on PostgreSQL."""
    return request.param


async def ask(http: httpx.AsyncClient, secret: str, tenant: str, query: str = TENANT) -> tuple[str, str]:
    """(request id, the error code or "ok") of one request with ``secret``."""
    request_id = f"key-{uuid.uuid4().hex[:10]}"
    response = await http.post(
        "/graphql",
        json={"query": query, "variables": {"id" if query == TENANT else "t": tenant}},
        headers={"Authorization": f"Bearer {secret}", "X-Request-ID": request_id},
    )
    assert response.status_code == 200, response.text
    errors = response.json().get("errors")
    return request_id, (errors[0]["extensions"]["code"] if errors else "ok")


async def test_a_key_revoked_through_one_worker_is_refused_on_its_next_request_by_each(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_API_KEY_CACHE_SECONDS", "30")
    async with running(db_url, tmp_path / "serve.log", workers=2, log_level="INFO") as server:
        workers = sorted(server.pids())
        assert len(workers) == 2, workers
        async with admin_api(server) as api:
            tenant = await new_tenant(api, "Revoked")
            revoked = await new_key(api, "TENANT", tenant)
            bypassed = await new_key(api, "TENANT", tenant)

        async with AsyncExitStack() as stack:
            pinned = await connections_on_each_worker(server, stack, workers, PER_WORKER)
            # Both keys remembered by both workers.
            warm = [await ask(http, key["secret"], tenant) for http in pinned for key in (revoked, bypassed)]
            assert {code for _, code in warm} == {"ok"}, warm
            served = await served_by(server, {request_id for request_id, _ in warm})
            assert set(served.values()) == set(workers), served

            # Revoked behind the gateway's back (SQL, no NOTIFY): both workers still serve
            # it from memory, which is what makes the revocation below a test of the cache.
            sql = await asyncpg.connect(db_url.replace("postgresql+asyncpg", "postgresql"))
            try:
                await sql.execute(
                    "UPDATE api_keys SET revoked_at = now() WHERE id = $1", bypassed["apiKey"]["id"]
                )
            finally:
                await sql.close()
            stale = await asyncio.gather(*(ask(http, bypassed["secret"], tenant) for http in pinned))
            assert {code for _, code in stale} == {"ok"}, stale

            # Revoked through the first worker's connection, then at once to every connection.
            answer = await pinned[0].post(
                "/graphql", json={"query": REVOKE, "variables": {"id": revoked["apiKey"]["id"]}}
            )
            assert answer.json()["data"]["revokeApiKey"]["revokedAt"] is not None, answer.text
            after = await asyncio.gather(
                *(ask(http, revoked["secret"], tenant) for http in pinned),
                *(ask(http, revoked["secret"], tenant, ENTITLEMENT) for http in pinned),
            )
            assert {code for _, code in after} == {"UNAUTHENTICATED"}, after
            served = await served_by(server, {request_id for request_id, _ in after})
            assert sorted(served.values()) == sorted(workers * PER_WORKER * 2), served
        assert set(server.pids()) == set(workers), "a worker died (and was replaced) during the test"
        assert server_errors(server) == []
