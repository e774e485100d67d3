"""Stripe refuses the gateway's API key: a wrong key (here the publishable key pasted
where the secret key goes) or a secret key revoked in the dashboard (HTTP 401), or a
restricted key without the permission (HTTP 403). Nothing the
gateway retries can help, so the call is not retried: the task is FAILED at its first
attempt, and the tenant's `providerError` and `/healthz` say that the key was refused,
naming GATEWAY_STRIPE_API_KEY and never the key. Once `serve` starts with a valid key,
what was owed goes out.

localstripe itself answers 401 to a key that does not start with ``sk_`` (the wrong
key), but takes every ``sk_`` key and has no permissions, so the revoked and the
restricted keys are refused by the proxy in front of it, with the bodies Stripe sends
(whose messages quote the key's last characters)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import timedelta

import httpx
import pytest

from gateway import health
from tests.builders.stripe_harness import RecordingProxy, free_port
from tests.builders.stripe_world import WEBHOOK_SECRET, StripeWorld
from tests.providers.conftest import STRIPE_API_KEY

PUBLISHABLE = "pk_test_51GatewayPublishable000000000000000Qk7"
REVOKED = "sk_live_51GatewayRevoked0000000000000000000Wz9"
RESTRICTED = "rk_live_51GatewayRestricted00000000000000Rr4"
STATE = "query($id: ID!) { tenant(id: $id) { providerError providerCustomerId } }"
SET_A_KEY = (
    "Set a valid key (Stripe dashboard, Developers > API keys) and restart the gateway; what was owed is "
    "then sent again"
)
REFUSALS = {
    PUBLISHABLE: "HTTP 401, request req_proxy) when asked to list customers: the key is wrong or was revoked",
    REVOKED: "HTTP 401, request req_proxy) when asked to list customers: the key is wrong or was revoked",
    RESTRICTED: "HTTP 403, request req_proxy) when asked to list customers: the key lacks the permission "
    "(a restricted key: grant it, or use a secret key)",
}


class RefusingProxy(RecordingProxy):
    """Answers for Stripe to the revoked key (401) and to the restricted key without
    the permission (403), with the bodies Stripe sends."""

    async def _handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes] | None:
        key = headers.get("authorization", "").removeprefix("Bearer ")
        if key == REVOKED:
            message = f"Expired API Key provided: sk_live_{'*' * 39}{key[-4:]}"
            return 401, json.dumps({"error": {"message": message, "type": "invalid_request_error"}}).encode()
        if key == RESTRICTED:
            message = (
                f"The provided key 'rk_live_{'*' * 39}{key[-4:]}' does not have the required permissions "
                "for this endpoint on account 'acct_1Gateway'. Having the 'rak_customer_read' permission "
                "would allow this request to continue."
            )
            return 403, json.dumps({"error": {"message": message, "type": "invalid_request_error"}}).encode()
        return await super()._handle(method, target, headers, body)


PROXY = RefusingProxy


@pytest.fixture(autouse=True)
def health_reads_the_outbox_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "PROVIDER_CHECK_SECONDS", 0)


async def refused_at_once(world: StripeWorld, key: str) -> tuple[str, str]:
    """A tenant whose customer sync Stripe refused for the key; (tenant, refusal)."""
    tenant = await world.tenant("Refused")
    assert await world.run_tasks() == 1
    (task,) = await world.tasks()
    assert (task.kind, task.status, task.attempts) == ("SYNC_CUSTOMER", "FAILED", 1)
    world.clock.set(world.clock.now() + timedelta(hours=2))
    assert await world.run_tasks() == 0  # not retried: the same key would be refused again
    return tenant, f"Stripe refused GATEWAY_STRIPE_API_KEY ({REFUSALS[key]}. {SET_A_KEY}"


@pytest.mark.parametrize(
    "stripe_api_key", [PUBLISHABLE, REVOKED, RESTRICTED], ids=["wrong key", "revoked key", "restricted key"]
)
async def test_a_refused_key_fails_at_once_and_shows_on_the_tenant_and_healthz(
    world: StripeWorld, stripe_api_key: str
) -> None:
    tenant, refusal = await refused_at_once(world, stripe_api_key)

    shown = (await world.api(STATE, {"id": tenant}))["tenant"]
    assert shown == {
        "providerError": f"syncing the customer failed after 1 attempt(s): key refused: {refusal}",
        "providerCustomerId": None,
    }
    async with httpx.AsyncClient(base_url=world.gateway_url) as http:
        healthz = await http.get("/healthz")
    assert healthz.status_code == 200  # the API still serves; a monitor reads `status`
    assert healthz.json() == {
        "status": "degraded",
        "database": "up",
        "provider": "key refused",
        "detail": refusal,
    }
    for told in (shown["providerError"], healthz.text):
        assert stripe_api_key not in told and stripe_api_key[-4:] not in told and "***" not in told


@pytest.mark.serve
@pytest.mark.parametrize("stripe_api_key", [REVOKED], ids=["revoked key"])
async def test_serve_with_a_valid_key_sends_what_was_refused(
    world: StripeWorld, stripe_api_key: str, db_url: str
) -> None:
    tenant, _ = await refused_at_once(world, stripe_api_key)

    # The operator sets a valid key and restarts: `serve` queues the refused call again.
    async with served(db_url, world) as (base, logs):
        await until(lambda: customer_of(world, tenant), "the customer was synced with the valid key")
        async with httpx.AsyncClient(base_url=base) as http:
            assert (await http.get("/healthz")).json() == {"status": "ok", "database": "up"}
    assert (await world.api(STATE, {"id": tenant}))["tenant"]["providerError"] is None
    (task,) = await world.tasks()
    assert (task.status, task.attempts, task.last_error) == ("DONE", 2, None)
    assert "1 provider task(s) refused for the API key queued again with this key" in logs()


async def customer_of(world: StripeWorld, tenant: str) -> bool:
    return (await world.api(STATE, {"id": tenant}))["tenant"]["providerCustomerId"] is not None


async def until(check, what: str, timeout: float = 30) -> None:  # noqa: ANN001
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"not done after {timeout} s: {what}"
        await asyncio.sleep(0.1)


class served:  # noqa: N801 (used as a context manager)
    """`billing-gateway serve` with the valid key, its Stripe calls through the proxy
    (this event loop serves the proxy, so everything here waits asynchronously)."""

    def __init__(self, db_url: str, world: StripeWorld) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "GATEWAY_DATABASE_URL": db_url,
            "GATEWAY_PROVIDER": "stripe",
            "GATEWAY_STRIPE_API_KEY": STRIPE_API_KEY,
            "GATEWAY_STRIPE_API_BASE": world.proxy.url,
            "GATEWAY_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "GATEWAY_BILLING_INTERVAL_SECONDS": "0",
            "GATEWAY_LOG_LEVEL": "INFO",
        }

    async def __aenter__(self):  # noqa: ANN204
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gateway",
            "serve",
            "--port",
            str(self.port),
            env=self.env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        self.stderr: list[str] = []
        self.reader = asyncio.create_task(self._read())
        base = f"http://127.0.0.1:{self.port}"
        async with httpx.AsyncClient(base_url=base, timeout=1) as http:

            async def healthy() -> bool:
                assert self.process.returncode is None, "".join(self.stderr)
                try:
                    return (await http.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            await until(healthy, "serve answered /healthz")
        return base, lambda: "".join(self.stderr)

    async def _read(self) -> None:
        assert self.process.stderr is not None
        async for line in self.process.stderr:
            self.stderr.append(line.decode())

    async def __aexit__(self, *_: object) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        await self.reader
