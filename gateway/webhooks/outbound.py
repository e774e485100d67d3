"""Delivering outbound webhooks: the HTTP edge of ``models.webhooks``.

A pass dispatches committed events into deliveries, then claims due deliveries for
the slots that are free and starts each as a task of its own, without waiting for
them: new events go out while older deliveries are still in flight. The slots are
shared fairly: at most PER_TENANT of one tenant's deliveries (its endpoints') are in
flight at once and the claim takes tenants in turn, so one tenant's endpoints that
never answer hold its own share, not everyone's (and their circuit pauses them,
``models.webhooks.rules.circuit_pause``). How each call is made safe against SSRF:
``gateway.webhooks.calls``.

Deliveries are signed per Standard Webhooks: ``webhook-id`` is the delivery's id (the
same on every attempt, so receivers can drop repeats), ``webhook-timestamp`` the real
time of sending (receivers check it against their clock; the gateway's clock may be a
test clock), ``webhook-signature`` the HMAC of both and the body.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from datetime import UTC, datetime
from types import TracebackType

import httpx
from standardwebhooks.webhooks import Webhook

from gateway.webhooks.calls import Answer, new_client, post
from models.kernel.enums import DeliveryStatus
from models.platform.deps import Deps
from models.webhooks import deliveries
from models.webhooks.deliveries import DueDelivery
from models.webhooks.service import DeliveryLog

log = logging.getLogger("gateway.webhooks")

CONCURRENCY = 50  # deliveries in flight at once, per process
PER_TENANT = 5  # of which one tenant's, at most


class DeliverySender:
    """Runs each claimed delivery as a task of its own, at most ``concurrency`` at once
    and ``per_tenant`` of one tenant's. ``wakeup`` is set when one finishes: its slot
    is free, the worker loop claims again. ``http``: a client the caller keeps open;
    without one the sender makes its own when something is first due."""

    def __init__(
        self,
        deps: Deps,
        http: httpx.AsyncClient | None = None,
        wakeup: asyncio.Event | None = None,
        *,
        concurrency: int = CONCURRENCY,
        per_tenant: int = PER_TENANT,
    ) -> None:
        self.deps, self.wakeup = deps, wakeup
        self.concurrency, self.per_tenant = concurrency, per_tenant
        self._http, self._owns_http = http, http is None
        self._in_flight: dict[asyncio.Task[None], str] = {}

    async def run_pass(self) -> int:
        """Dispatch, then claim and start what the free slots allow. How many events it
        dispatched plus how many deliveries it started (0: nothing to do now)."""
        dispatched = await deliveries.dispatch_events(self.deps)
        due = await deliveries.claim_due_deliveries(
            self.deps,
            self.concurrency - len(self._in_flight),
            per_tenant=self.per_tenant,
            busy=Counter(self._in_flight.values()),
        )
        for item in due:
            self._start(item)
        return dispatched + len(due)

    def _start(self, item: DueDelivery) -> None:
        """A task for the delivery, counted against its owner's share until it ends."""
        if self._http is None:
            self._http = new_client(self.concurrency)
        task = asyncio.create_task(self._deliver(self._http, item))
        self._in_flight[task] = item.owner
        task.add_done_callback(self._finished)

    async def _deliver(self, http: httpx.AsyncClient, item: DueDelivery) -> None:
        try:
            await deliver(self.deps, http, item)
        except Exception:  # its lease ends and it is claimed again
            log.exception("webhook delivery %s could not be recorded", item.delivery.id)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(task, None)
        if self.wakeup is not None:
            self.wakeup.set()

    async def drain(self) -> None:
        """Wait for every delivery in flight."""
        while self._in_flight:
            await asyncio.wait(list(self._in_flight))

    async def aclose(self) -> None:
        """Stop: deliveries in flight are cancelled (unrecorded, their lease ends and
        they are claimed again), and the sender's own client closed."""
        tasks = list(self._in_flight)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> DeliverySender:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


async def run_deliveries(deps: Deps, *, http: httpx.AsyncClient | None = None) -> int:
    """One pass, waited for whole: how many events it dispatched plus how many
    deliveries it attempted (0: nothing was due). For one-off runs and the tests;
    ``serve`` keeps a sender running instead (``gateway.workers.webhook_loop``)."""
    async with DeliverySender(deps, http) as sender:
        done = await sender.run_pass()
        await sender.drain()
    return done


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
    started = time.monotonic()
    answer = await post(
        deps, http, item.url, allow_private=item.allow_private, content=body.encode(), headers=headers
    )
    duration_ms = round((time.monotonic() - started) * 1000)
    recorded = await deliveries.record_attempt(
        deps,
        item.delivery,
        answer.status_code,
        answer.error,
        duration_ms,
        answer.body,
        timed_out=answer.timed_out,
    )
    if recorded is None:
        log.info("webhook delivery %s was deleted during its attempt", item.delivery.id)
        return
    _log_attempt(recorded, answer, duration_ms)


def _log_attempt(recorded: DeliveryLog, answer: Answer, duration_ms: int) -> None:
    """By ids only: neither the URL (it may carry a token), the address, nor the payload."""
    row, (attempt,) = recorded.delivery, recorded.attempts
    status_code, error = answer.status_code, answer.error
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
