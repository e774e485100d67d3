"""Delivering outbound webhooks: the HTTP edge of ``models.webhooks``.

Each pass dispatches committed events into deliveries, claims the due ones and POSTs
them, a bounded number at a time, signed per Standard Webhooks: ``webhook-id`` is the
delivery's id (the same on every attempt, so receivers can drop repeats),
``webhook-timestamp`` the real time of sending (receivers check it against their
clock; the gateway's clock may be a test clock), ``webhook-signature`` the HMAC of
both and the body. Redirects are not followed: a 3xx is a failed attempt.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC, datetime

import httpx
from standardwebhooks.webhooks import Webhook

from models.kernel.enums import DeliveryStatus
from models.platform.deps import Deps
from models.webhooks import deliveries
from models.webhooks import rules as webhook_rules
from models.webhooks.deliveries import DueDelivery

log = logging.getLogger("gateway.webhooks")

TIMEOUT_SECONDS = 10.0
CONCURRENCY = 10  # deliveries in flight at once, per process
BATCH = 50  # deliveries claimed per pass
USER_AGENT = "billing-gateway-webhooks/1"


def new_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=TIMEOUT_SECONDS,
        follow_redirects=False,
        headers={"user-agent": USER_AGENT},
        limits=httpx.Limits(max_connections=CONCURRENCY),
    )


async def run_deliveries(deps: Deps, *, http: httpx.AsyncClient | None = None) -> int:
    """One pass: how many events it dispatched plus how many deliveries it attempted
    (0: nothing was due). ``http``: a client the caller keeps open across passes;
    without one a client is made for the pass, only when something is due."""
    dispatched = await deliveries.dispatch_events(deps)
    due = await deliveries.claim_due_deliveries(deps, BATCH)
    if due:
        if http is not None:
            await _deliver_all(deps, http, due)
        else:
            async with new_client() as client:
                await _deliver_all(deps, client, due)
    return dispatched + len(due)


async def _deliver_all(deps: Deps, http: httpx.AsyncClient, due: list[DueDelivery]) -> None:
    slots = asyncio.Semaphore(CONCURRENCY)

    async def one(item: DueDelivery) -> None:
        async with slots:
            try:
                await deliver(deps, http, item)
            except Exception:  # its lease ends and it is claimed again
                log.exception("webhook delivery %s could not be recorded", item.delivery.id)

    await asyncio.gather(*(one(item) for item in due))


def body_of(item: DueDelivery) -> str:
    """The Standard Webhooks payload: type, timestamp (when the event happened), data."""
    event = item.event
    return json.dumps(
        {"type": event.type, "timestamp": event.at.isoformat(), "data": event.data}, separators=(",", ":")
    )


def signed_headers(item: DueDelivery, body: str, sent_at: datetime) -> dict[str, str]:
    msg_id = item.delivery.id
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": Webhook(item.secret).sign(msg_id, sent_at, body),
    }


async def deliver(deps: Deps, http: httpx.AsyncClient, item: DueDelivery) -> None:
    """POST one delivery and record the attempt."""
    body = body_of(item)
    headers = signed_headers(item, body, datetime.now(UTC))
    status_code: int | None = None
    error: str | None = None
    answer: str | None = None
    started = time.monotonic()
    try:
        async with http.stream("POST", item.url, content=body.encode(), headers=headers) as response:
            status_code = response.status_code
            answer = await _start_of(response)
    except httpx.TimeoutException:
        error = f"no answer within {TIMEOUT_SECONDS:g} s"
    except Exception as exc:  # refused, reset, bad TLS, unusable URL: a failed attempt all the same
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    duration_ms = round((time.monotonic() - started) * 1000)
    recorded = await deliveries.record_attempt(deps, item.delivery, status_code, error, duration_ms, answer)
    if recorded is None:
        log.info("webhook delivery %s was deleted during its attempt", item.delivery.id)
        return
    row, (attempt,) = recorded.delivery, recorded.attempts
    outcome = f"answered {status_code}" if status_code is not None else f"failed ({error})"
    if row.status == DeliveryStatus.SUCCEEDED:
        then, level = "delivered", logging.INFO
    elif row.status == DeliveryStatus.FAILED:
        then, level = "no attempts left: FAILED", logging.WARNING
    else:
        then, level = f"next attempt at {row.next_attempt_at.isoformat()}", logging.WARNING
    next_at = row.next_attempt_at.isoformat() if row.status == DeliveryStatus.PENDING else None
    log.log(
        level,
        "webhook %s to endpoint %s: attempt %d %s; %s",
        row.id,
        row.endpoint_id,
        attempt.attempt,
        outcome,
        then,
        extra={
            "delivery_id": row.id,
            "endpoint_id": row.endpoint_id,
            "event_type": row.event_type,
            "attempt": attempt.attempt,
            "status_code": status_code,
            "error": error,
            "duration_ms": duration_ms,
            "delivery_status": row.status,
            "next_attempt_at": next_at,
        },
    )


async def _start_of(response: httpx.Response, limit: int = webhook_rules.MAX_TEXT) -> str:
    """The first ``limit`` bytes of the answer, for the delivery log; the rest is not read."""
    data = b""
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) >= limit:
            break
    return data[:limit].decode("utf-8", errors="replace")
