"""Outbound webhooks end to end: real operations emit events, the delivery pass POSTs
them to a real HTTP receiver on 127.0.0.1, signed per Standard Webhooks, retried on
the schedule (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h) and logged; each
endpoint receives only its tenant's events of the types it asked for."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import WebhookVerificationError

from gateway.webhooks.outbound import run_deliveries
from models.kernel.clock import FixedClock
from models.kernel.enums import EventType
from models.platform import events
from models.platform.deps import Deps
from models.tables import WebhookDeliveryRow
from models.webhooks import deliveries as webhook_deliveries
from tests.builders.api import Api, new_tenant
from tests.builders.billing import invite, plan_with_seat_addon, subscribe
from tests.builders.receivers import Received, Receiver, receiving
from tests.builders.webhook_endpoints import DELIVERIES, new_endpoint


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with receiving() as receiver:
        yield receiver


async def deliveries(api: Api, endpoint_id: str, first: int = 50) -> list[dict[str, Any]]:
    data = await api(DELIVERIES, {"id": endpoint_id, "first": first})
    return [edge["node"] for edge in data["webhookDeliveries"]["edges"]]


async def subscribed_tenant(api: Api, name: str, code: str) -> str:
    """A tenant on a plan with 3 included seats and 2 bought."""
    tenant = await new_tenant(api, name)
    plan, seat = await plan_with_seat_addon(api, code, 49_00, 10_00, includedSeats=3)
    assert (await subscribe(api, tenant, plan, {seat: 2}))["__typename"] == "Subscription"
    return tenant


def advance(clock: FixedClock, by: timedelta) -> None:
    clock.set(clock.now() + by)


async def test_a_partner_receives_seats_changed_signed_with_its_secret(
    api: Api, deps: Deps, receiver: Receiver
) -> None:
    tenant = await subscribed_tenant(api, "Acme", "team")
    assert await run_deliveries(deps) > 0  # the subscription's events: no endpoint wanted them
    endpoint, secret = await new_endpoint(api, receiver.url(), ["seats.changed"], tenant)
    receiver.answers["/hooks"] = [503]

    member = await invite(api, tenant, "ann@acme.example")
    assert await run_deliveries(deps) == 2  # one event dispatched, one delivery attempted
    advance(deps.clock, timedelta(seconds=5))
    assert await run_deliveries(deps) == 1

    first, second = receiver.requests
    for request in (first, second):
        assert request.verified(secret) == {
            "type": "seats.changed",
            "timestamp": "2026-01-15T12:00:00+00:00",
            "data": {
                "tenantId": tenant,
                "reason": "member.invited",
                "memberId": member["id"],
                "seats": {
                    "FULL": {"total": 5, "used": 1},
                    "VIEWER": {"total": 0, "used": 0},
                    "GUEST": {"total": 0, "used": 0},
                },
            },
        }
        assert request.headers["content-type"] == "application/json"
    # The same webhook-id on every attempt: the receiver can drop repeats.
    (delivery,) = await deliveries(api, endpoint)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery["id"]
    assert (delivery["status"], delivery["attempts"]) == ("SUCCEEDED", 2)
    assert delivery["eventType"] == "seats.changed"
    assert [(a["attempt"], a["statusCode"], a["responseBody"]) for a in delivery["attemptLog"]] == [
        (1, 503, "receiver is down"),
        (2, 200, "ok"),
    ]
    # A forged body or another endpoint's secret does not verify.
    forged = Received(first.path, first.headers, first.body.replace(b'"used":1', b'"used":0'))
    with pytest.raises(WebhookVerificationError):
        forged.verified(secret)
    _, other_secret = await new_endpoint(api, receiver.url("/other"), ["seats.changed"], tenant)
    with pytest.raises(WebhookVerificationError):
        first.verified(other_secret)


SCHEDULE = [
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
]


async def test_a_failing_endpoint_is_retried_on_the_schedule_then_failed_and_redelivered(
    api: Api, deps: Deps, receiver: Receiver, log_output: Any
) -> None:
    tenant = await subscribed_tenant(api, "Flaky", "team")
    await run_deliveries(deps)
    endpoint, secret = await new_endpoint(api, receiver.url(), ["seats.changed"], tenant)
    receiver.answers["/hooks"] = [500] * 7
    await invite(api, tenant, "bob@flaky.example")

    start = deps.clock.now()
    await run_deliveries(deps)
    assert len(receiver.requests) == 1
    for wait in SCHEDULE:
        # Not a second early...
        advance(deps.clock, wait - timedelta(seconds=1))
        assert await run_deliveries(deps) == 0
        (delivery,) = await deliveries(api, endpoint)
        assert delivery["status"] == "PENDING"
        assert delivery["nextAttemptAt"] == (deps.clock.now() + timedelta(seconds=1)).isoformat()
        # ...and on time.
        advance(deps.clock, timedelta(seconds=1))
        assert await run_deliveries(deps) == 1
    assert len(receiver.requests) == 7
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1

    (delivery,) = await deliveries(api, endpoint)
    assert (delivery["status"], delivery["attempts"], delivery["nextAttemptAt"]) == ("FAILED", 7, None)
    times, at = [], start
    for wait in [timedelta(0), *SCHEDULE]:
        at += wait
        times.append(at.isoformat())
    assert [(a["attempt"], a["at"], a["statusCode"]) for a in delivery["attemptLog"]] == [
        (n, t, 500) for n, t in enumerate(times, 1)
    ]
    # Spent: nothing more however long one waits.
    advance(deps.clock, timedelta(days=3))
    assert await run_deliveries(deps) == 0

    # The log shows each attempt, and neither the secret nor the payload.
    lines = [json.loads(line) for line in log_output.getvalue().splitlines()]
    attempts = [line for line in lines if line["logger"] == "gateway.webhooks"]
    assert [(a["attempt"], a["status_code"], a["delivery_id"], a["endpoint_id"]) for a in attempts] == [
        (n, 500, delivery["id"], endpoint) for n in range(1, 8)
    ]
    assert [a.get("next_attempt_at") for a in attempts] == [*times[1:], None]
    assert "no attempts left: FAILED" in attempts[-1]["msg"]
    for a in attempts:
        assert secret not in json.dumps(a) and "bob@flaky" not in json.dumps(a) and "seats" not in a["msg"]
    assert secret not in log_output.getvalue()

    # The partner fixed its endpoint: redeliver.
    redelivered = (
        await api(
            """mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { __typename
             ... on WebhookDelivery { id status nextAttemptAt attempts } } }""",
            {"id": delivery["id"]},
        )
    )["redeliverWebhook"]
    assert redelivered == {
        "__typename": "WebhookDelivery",
        "id": delivery["id"],
        "status": "PENDING",
        "nextAttemptAt": deps.clock.now().isoformat(),
        "attempts": 7,
    }
    assert await run_deliveries(deps) == 1
    assert receiver.requests[-1].headers["webhook-id"] == delivery["id"]
    assert receiver.requests[-1].verified(secret)["type"] == "seats.changed"
    (delivery,) = await deliveries(api, endpoint)
    assert (delivery["status"], delivery["attempts"]) == ("SUCCEEDED", 8)
    assert delivery["attemptLog"][-1]["statusCode"] == 200

    # A succeeded delivery can be sent again too (the partner lost its copy).
    redeliver = "mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { __typename } }"
    await api(redeliver, {"id": delivery["id"]})
    assert await run_deliveries(deps) == 1
    (delivery,) = await deliveries(api, endpoint)
    assert [a["attempt"] for a in delivery["attemptLog"]] == list(range(1, 10))
    assert len(receiver.requests) == 9


async def test_an_endpoint_that_does_not_answer_is_retried_with_the_reason(
    api: Api, deps: Deps, receiver: Receiver
) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{closed.getsockname()[1]}/hooks"  # bound, never listening: refused
    tenant = await subscribed_tenant(api, "Gone", "team")
    await run_deliveries(deps)
    endpoint, _ = await new_endpoint(api, url, ["seats.changed"], tenant)
    redirecting, _ = await new_endpoint(api, receiver.url("/moved"), ["seats.changed"], tenant)
    receiver.answers["/moved"] = [308]
    await invite(api, tenant, "cy@gone.example")
    assert await run_deliveries(deps) == 3
    closed.close()

    (delivery,) = await deliveries(api, endpoint)
    (attempt,) = delivery["attemptLog"]
    assert delivery["status"] == "PENDING" and attempt["statusCode"] is None
    assert "Connect" in attempt["error"]
    # A redirect is not followed: it is a failed attempt.
    (delivery,) = await deliveries(api, redirecting)
    assert delivery["status"] == "PENDING" and delivery["attemptLog"][0]["statusCode"] == 308
    assert len(receiver.requests) == 1


async def test_endpoints_receive_only_their_tenants_events_of_their_types(
    api: Api, deps: Deps, receiver: Receiver
) -> None:
    acme = await subscribed_tenant(api, "Acme", "team_a")
    globex = await subscribed_tenant(api, "Globex", "team_g")
    await run_deliveries(deps)
    acme_seats, acme_secret = await new_endpoint(api, receiver.url("/acme"), ["seats.changed"], acme)
    everyone, _ = await new_endpoint(api, receiver.url("/all"), ["seats.changed"], None)
    acme_paid, _ = await new_endpoint(api, receiver.url("/acme-paid"), ["invoice.paid"], acme)

    await invite(api, acme, "ann@acme.example")
    await invite(api, globex, "gus@globex.example")
    await run_deliveries(deps)

    (only,) = receiver.at("/acme")
    assert only.verified(acme_secret)["data"]["tenantId"] == acme
    everyones = sorted(json.loads(r.body)["data"]["tenantId"] for r in receiver.at("/all"))
    assert everyones == sorted([acme, globex])
    assert receiver.at("/acme-paid") == []
    assert await deliveries(api, acme_paid) == []
    assert len(receiver.requests) == 3


async def test_a_disabled_endpoint_gets_nothing_new_its_retries_wait_and_a_deleted_one_is_gone(
    api: Api, deps: Deps, receiver: Receiver
) -> None:
    tenant = await subscribed_tenant(api, "Pause", "team")
    await run_deliveries(deps)
    paused, _ = await new_endpoint(api, receiver.url("/paused"), ["seats.changed"], tenant)
    receiver.answers["/paused"] = [500]
    ann = (await invite(api, tenant, "ann@pause.example"))["id"]
    await run_deliveries(deps)
    update = """mutation($id: ID!, $on: Boolean!) { updateWebhookEndpoint(id: $id, input: {enabled: $on}) {
                  __typename ... on WebhookEndpoint { enabled } } }"""
    assert (await api(update, {"id": paused, "on": False}))["updateWebhookEndpoint"]["enabled"] is False

    await invite(api, tenant, "bo@pause.example")  # while disabled: not owed to it
    advance(deps.clock, timedelta(minutes=1))
    assert await run_deliveries(deps) == 1  # the event, dispatched to no one; Ann's retry waits
    assert len(receiver.requests) == 1

    await api(update, {"id": paused, "on": True})
    assert await run_deliveries(deps) == 1
    assert [json.loads(r.body)["data"]["memberId"] for r in receiver.at("/paused")] == [ann, ann]
    assert [d["status"] for d in await deliveries(api, paused)] == ["SUCCEEDED"]

    doomed, _ = await new_endpoint(api, receiver.url("/doomed"), ["seats.changed"], tenant)
    receiver.answers["/doomed"] = [500]
    await invite(api, tenant, "cy@pause.example")
    await run_deliveries(deps)
    deleted = (
        await api(
            "mutation($id: ID!) "
            "{ deleteWebhookEndpoint(id: $id) { __typename ... on WebhookEndpoint { id } } }",
            {"id": doomed},
        )
    )["deleteWebhookEndpoint"]
    assert deleted == {"__typename": "WebhookEndpoint", "id": doomed}
    advance(deps.clock, timedelta(hours=1))
    assert await run_deliveries(deps) == 0
    assert len(receiver.at("/doomed")) == 1
    body = await api.raw(DELIVERIES, {"id": doomed})
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    async with deps.store.read() as session:
        assert (
            await session.scalars(
                select(WebhookDeliveryRow.id).where(WebhookDeliveryRow.endpoint_id == doomed)
            )
        ).all() == []


async def test_dispatch_makes_one_delivery_per_matching_endpoint_once(api: Api, deps: Deps) -> None:
    tenant = await new_tenant(api, "Direct")
    other = await new_tenant(api, "Other")
    mine, _ = await new_endpoint(api, "https://hooks.example.com/mine", ["usage.recorded"], tenant)
    everyone, _ = await new_endpoint(api, "https://hooks.example.com/all", ["usage.recorded", "invoice.paid"])
    now = deps.clock.now()
    async with deps.store.transaction() as session:
        events.record_event(session, deps.bus, EventType.USAGE_RECORDED, tenant, {"tenantId": tenant}, now)
        events.record_event(session, deps.bus, EventType.USAGE_RECORDED, other, {"tenantId": other}, now)
        events.record_event(session, deps.bus, EventType.INVOICE_PAID, None, {"note": "no tenant"}, now)
    with pytest.raises(RuntimeError):  # rolled back: never delivered
        async with deps.store.transaction() as session:
            events.record_event(
                session, deps.bus, EventType.USAGE_RECORDED, tenant, {"tenantId": tenant}, now
            )
            raise RuntimeError

    assert await webhook_deliveries.dispatch_events(deps) == 3
    assert await webhook_deliveries.dispatch_events(deps) == 0
    async with deps.store.read() as session:
        rows = (await session.scalars(select(WebhookDeliveryRow))).all()
    assert sorted((r.endpoint_id, r.event_type) for r in rows) == sorted(
        [
            (mine, "usage.recorded"),
            (everyone, "usage.recorded"),
            (everyone, "usage.recorded"),
            (everyone, "invoice.paid"),
        ]
    )
    assert all(r.status == "PENDING" and r.next_attempt_at == now for r in rows)


async def test_concurrent_passes_send_each_delivery_once(api: Api, deps: Deps, receiver: Receiver) -> None:
    tenant = await new_tenant(api, "Busy")
    await new_endpoint(api, receiver.url(), ["usage.recorded"], tenant)
    async with deps.store.transaction() as session:
        for n in range(30):
            events.record_event(
                session, deps.bus, EventType.USAGE_RECORDED, tenant, {"n": n}, deps.clock.now()
            )

    await asyncio.gather(*(run_deliveries(deps) for _ in range(4)))
    while await run_deliveries(deps):
        pass

    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert len(ids) == len(set(ids)) == 30
    assert sorted(json.loads(r.body)["data"]["n"] for r in receiver.requests) == list(range(30))


async def test_a_token_in_an_endpoint_url_stays_out_of_the_log(
    api: Api, deps: Deps, receiver: Receiver, log_output: Any
) -> None:
    tenant = await subscribed_tenant(api, "Tokens", "team")
    await run_deliveries(deps)
    await new_endpoint(
        api, receiver.url("/hooks/T0KEN-IN-PATH?token=s3cr3t-query"), ["seats.changed"], tenant
    )
    await invite(api, tenant, "eve@tokens.example")
    assert await run_deliveries(deps) >= 1
    assert [r.path for r in receiver.requests] == ["/hooks/T0KEN-IN-PATH"]
    # (The fixture also logs SQL statements and the driver's DEBUG tracing, with their
    # parameters, which serving at INFO does not.)
    lines = [
        line
        for line in log_output.getvalue().splitlines()
        if '"logger": "sqlalchemy' not in line and '"logger": "aiosqlite' not in line
    ]
    logged = "\n".join(lines)
    assert "gateway.webhooks" in logged  # the attempt is logged, by ids
    assert "T0KEN-IN-PATH" not in logged and "s3cr3t-query" not in logged
