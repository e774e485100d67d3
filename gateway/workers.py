"""The background loops every `serve` process runs: renewals, provider tasks and
webhook deliveries. Each is safe to run in several processes at once (rows are
claimed under lock or lease) and survives any failure of one pass."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from gateway.live import Hub
from gateway.webhooks.outbound import DeliverySender
from models.metering.ingest import purge_expired_keys
from models.payments.collection import run_provider_tasks
from models.platform.deps import Deps
from models.platform.outbox import purge_finished
from models.subscriptions.timeline import renew_due

log = logging.getLogger("gateway.workers")

# How often the outbox loops look for due retries when nothing wakes them.
OUTBOX_POLL_SECONDS = 1.0


async def billing_worker(deps: Deps, interval: float) -> None:
    """Renew what falls due, every ``interval`` seconds, for as long as the app runs,
    and forget usage idempotency keys and finished outbox rows past their 35 days. Every worker process runs
    one; renewals lock their rows and re-check, so two workers never renew a period twice."""
    while True:
        try:
            run = await renew_due(deps)
            if run.renewed or run.failed:
                log.info(
                    "billing run: %d renewed, %d invoices, %d failed",
                    run.renewed,
                    len(run.invoices),
                    len(run.failed),
                )
            await purge_expired_keys(deps)
            await purge_finished(deps)
        except Exception:
            log.exception("billing run failed; retrying in %s s", interval)
        await asyncio.sleep(interval)


async def outbox_loop(name: str, work: Callable[[], Awaitable[int]], wakeup: asyncio.Event) -> None:
    """Run ``work`` until it finds nothing due, then sleep until woken (work was
    queued in this process, or, on PostgreSQL, in another) or the poll interval ends
    (retries fall due with time alone)."""
    while True:
        wakeup.clear()
        try:
            done = await work()
        except Exception:
            log.exception("%s pass failed; retrying in %s s", name, OUTBOX_POLL_SECONDS)
            done = 0
        if not done:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), OUTBOX_POLL_SECONDS)


async def webhook_loop(deps: Deps, wakeup: asyncio.Event) -> None:
    """The outbox loop of webhook deliveries. Its passes do not wait for the deliveries
    they start (``DeliverySender``): a delivery that finishes wakes the loop, which
    claims into the freed slot; stopping the loop cancels those still in flight."""
    async with DeliverySender(deps, wakeup=wakeup) as sender:
        await outbox_loop("webhooks", sender.run_pass, wakeup)


def start_workers(deps: Deps, hub: Hub, billing_interval: float) -> list[asyncio.Task[None]]:
    tasks = [
        asyncio.create_task(outbox_loop("provider", lambda: run_provider_tasks(deps), hub.wakeup())),
        asyncio.create_task(webhook_loop(deps, hub.wakeup())),
    ]
    if billing_interval > 0:
        tasks.append(asyncio.create_task(billing_worker(deps, billing_interval)))
    return tasks


async def stop_workers(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
