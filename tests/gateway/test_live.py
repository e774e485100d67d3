"""Live GraphQL subscriptions over `graphql-transport-ws`, against a real uvicorn
server on 127.0.0.1 and a real websocket client, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from gateway.live import QUEUE_SIZE, Hub
from gateway.settings import Settings
from models.kernel.enums import Role
from models.platform.deps import Deps
from models.platform.events import Event, Holder, Holdings
from resolvers.live import subscriptions as live_subscriptions
from tests.builders.api import START, new_key, new_tenant
from tests.builders.billing import invite, plan_with_seat_addon, subscribe
from tests.builders.live_subscriptions import (
    SEATS,
    LiveClient,
    http_api,
    live,
    next_data,
    seated_tenant,
    serve,
    subscribed,
)
from tests.builders.metering import event as usage
from tests.builders.metering import new_meter, record_all

USAGE = """subscription($t: ID!) { usageRecorded(tenantId: $t) { tenantId accepted
  meters { meterName events } } }"""
INVOICES = """subscription($t: ID!) { invoiceEvents(tenantId: $t) { type at
  invoice { id number status total { amount currency } amountDue { amount }
            lines { kind amount { amount } } } } }"""
ENTITLEMENTS = """subscription($t: ID!) { entitlementsChanged(tenantId: $t) { tenantId at reason
  entitlements { featureCode enabled reason limit used remaining } } }"""
SUBSCRIPTIONS = """subscription($t: ID!) { subscriptionEvents(tenantId: $t) { type at
  subscription { id status pausedAt } } }"""
REVOKE = "mutation($id: ID!) { revokeApiKey(id: $id) { __typename } }"


async def test_a_tenant_key_sees_its_invites_live_and_another_tenants_key_sees_nothing(
    settings: Settings, deps: Deps, admin_key: str
) -> None:
    async with serve(settings, deps) as address, http_api(address, admin_key) as api:
        acme = await seated_tenant(api, "Acme")
        globex = await seated_tenant(api, "Globex")
        acme_key = (await new_key(api, "TENANT", acme))["secret"]
        globex_key = (await new_key(api, "TENANT", globex))["secret"]

        async with (
            live(address, acme_key) as acme_live,
            live(address, admin_key) as admin_live,
            live(address, globex_key) as globex_live,
        ):
            acme_op = await acme_live.subscribe(SEATS, {"t": acme})
            admin_op = await admin_live.subscribe(SEATS, {"t": acme})
            globex_op = await globex_live.subscribe(SEATS, {"t": globex})
            await subscribed(deps.bus, 3)
            # Globex's key asking for Acme's seats: NOT_FOUND, as if Acme did not exist.
            spy_op = await globex_live.subscribe(SEATS, {"t": acme})
            refused = await globex_live.receive()
            assert refused["type"] == "error" and refused["id"] == spy_op, refused
            assert [e["extensions"]["code"] for e in refused["payload"]] == ["NOT_FOUND"]
            assert deps.bus.subscriber_count == 3  # the refused one left nothing behind

            member = await invite(api, acme, "ada@acme.example.com")
            assert member["__typename"] == "Member"

            for client, op in ((acme_live, acme_op), (admin_live, admin_op)):
                event = next_data(await client.receive(), op, "seatsChanged")
                assert event["tenantId"] == acme
                assert event["reason"] == "member.invited"
                assert event["memberId"] == member["id"]
                assert event["seats"]["used"] == 1 and event["seats"]["available"] == 2
                assert {t["seatType"]: (t["total"], t["used"]) for t in event["seats"]["byType"]}["FULL"] == (
                    3,
                    1,
                )
            # Acme's event reached every subscriber of Acme: Globex's socket heard nothing.
            await globex_live.assert_silent()

            # Each event reads the seats afresh, not from the previous event's loaders.
            await invite(api, acme, "grace@acme.example.com")
            event = next_data(await acme_live.receive(), acme_op, "seatsChanged")
            assert (event["seats"]["used"], event["seats"]["available"]) == (2, 1)

            # Globex's own invite does reach Globex's subscription (it was live all along).
            await invite(api, globex, "hal@globex.example.com")
            event = next_data(await globex_live.receive(), globex_op, "seatsChanged")
            assert event["tenantId"] == globex and event["seats"]["used"] == 1

            # The client's complete ends the subscription on the server.
            await acme_live.ws.send(json.dumps({"id": acme_op, "type": "complete"}))
            await subscribed(deps.bus, 2)


async def test_a_key_revoked_while_subscribed_stops_receiving(
    settings: Settings, deps: Deps, admin_key: str
) -> None:
    async with serve(settings, deps) as address, http_api(address, admin_key) as api:
        tenant = await seated_tenant(api, "Initech")
        key = await new_key(api, "TENANT", tenant)
        async with live(address, key["secret"]) as client:
            op = await client.subscribe(SEATS, {"t": tenant})
            await subscribed(deps.bus, 1)
            await invite(api, tenant, "peter@initech.example.com")
            assert next_data(await client.receive(), op, "seatsChanged")["seats"]["used"] == 1

            assert (await api(REVOKE, {"id": key["apiKey"]["id"]}))["revokeApiKey"]["__typename"] == "ApiKey"
            await invite(api, tenant, "milton@initech.example.com")
            ended = await client.receive()
            assert ended["type"] == "next" and ended["payload"]["data"] is None, ended
            assert [e["extensions"]["code"] for e in ended["payload"]["errors"]] == ["UNAUTHENTICATED"]
            assert (await client.receive())["type"] == "complete"
            await subscribed(deps.bus, 0)
            await invite(api, tenant, "bob@initech.example.com")
            await client.assert_silent()


async def test_who_may_subscribe_to_what(settings: Settings, deps: Deps, admin_key: str) -> None:
    async with serve(settings, deps) as address, http_api(address, admin_key) as api:
        tenant = await new_tenant(api, "Umbrella")
        partner = (await new_key(api, "PARTNER", tenant))["secret"]
        async with live(address, partner) as client:
            # A partner reads usage, never seats or invoices.
            for query in (SEATS, INVOICES, SUBSCRIPTIONS):
                op = await client.subscribe(query, {"t": tenant})
                message = await client.receive()
                assert message["type"] == "error" and message["id"] == op, message
                assert message["payload"][0]["extensions"]["code"] == "NOT_FOUND"
            await client.subscribe(USAGE, {"t": tenant})
            await subscribed(deps.bus, 1)
            await client.assert_silent()
        async with live(address, admin_key) as client:
            op = await client.subscribe(SEATS, {"t": "ten_missing"})
            message = await client.receive()
            assert message["type"] == "error" and message["payload"][0]["extensions"]["code"] == "NOT_FOUND"
        # connection_init without a key: acknowledged (introspection stays open), subscriptions refused.
        async with live(address, None) as client:
            op = await client.subscribe(SEATS, {"t": tenant})
            message = await client.receive()
            assert message["id"] == op and message["type"] == "error", message
            assert message["payload"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            assert "Authorization: Bearer" in message["payload"][0]["message"]
        await subscribed(deps.bus, 0)


async def test_another_tenants_keys_get_not_found_on_every_live_field(
    settings: Settings, deps: Deps, admin_key: str
) -> None:
    async with serve(settings, deps) as address, http_api(address, admin_key) as api:
        victim = await new_tenant(api, "Victim")
        intruder = await new_tenant(api, "Intruder")
        keys = [(await new_key(api, role, intruder))["secret"] for role in ("TENANT", "PARTNER")]
        for key in keys:
            async with live(address, key) as client:
                for query in (SEATS, USAGE, INVOICES, ENTITLEMENTS, SUBSCRIPTIONS):
                    op = await client.subscribe(query, {"t": victim})
                    message = await client.receive()
                    assert message["type"] == "error" and message["id"] == op, message
                    assert [e["extensions"]["code"] for e in message["payload"]] == ["NOT_FOUND"]
                    assert victim in message["payload"][0]["message"]
        assert deps.bus.subscriber_count == 0


async def test_a_bad_key_in_connection_init_closes_the_socket_with_4403(
    settings: Settings, deps: Deps, admin_key: str
) -> None:
    async with serve(settings, deps) as address:
        async with websockets.connect(f"ws://{address}/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            await ws.send(
                json.dumps({"type": "connection_init", "payload": {"Authorization": "Bearer gw_nope"}})
            )
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def test_usage_recorded_streams_to_the_tenants_partner(
    settings: Settings, deps: Deps, admin_key: str
) -> None:
    async with serve(settings, deps) as address, http_api(address, admin_key) as api:
        tenant = await new_tenant(api, "Hooli")
        other = await new_tenant(api, "Pied Piper")
        await new_meter(api, "api_calls")
        await new_meter(api, "storage_gb", "MAX")
        partner = (await new_key(api, "PARTNER", tenant))["secret"]
        async with live(address, partner) as client:
            op = await client.subscribe(USAGE, {"t": tenant})
            await subscribed(deps.bus, 1)
            await record_all(
                api,
                [
                    usage(tenant, "api_calls", 1),
                    usage(other, "api_calls", 7),
                    usage(tenant, "api_calls", 2),
                    usage(tenant, "storage_gb", 40),
                ],
            )
            event = next_data(await client.receive(), op, "usageRecorded")
            assert event == {
                "tenantId": tenant,
                "accepted": 3,
                "meters": [{"meterName": "api_calls", "events": 2}, {"meterName": "storage_gb", "events": 1}],
            }
            await client.assert_silent()  # Pied Piper's usage is not Hooli's

            # The partner's own recordUsage streams too.
            async with http_api(address, partner) as as_partner:
                await record_all(as_partner, [usage(tenant, "api_calls", 5)])
            event = next_data(await client.receive(), op, "usageRecorded")
            assert (event["accepted"], event["meters"]) == (1, [{"meterName": "api_calls", "events": 1}])


async def test_invoice_events_carry_the_invoice(settings: Settings, deps: Deps, admin_key: str) -> None:
    async with serve(settings, deps) as address, http_api(address, admin_key) as api:
        tenant = await new_tenant(api, "Vandelay")
        key = (await new_key(api, "TENANT", tenant))["secret"]
        plan, seat = await plan_with_seat_addon(api, "vandelay", 99_00, 15_00, includedSeats=5)
        async with live(address, key) as client:
            op = await client.subscribe(INVOICES, {"t": tenant})
            await subscribed(deps.bus, 1)
            subscription = await subscribe(api, tenant, plan, {seat: 10})
            event = next_data(await client.receive(), op, "invoiceEvents")
            invoice = subscription["latestInvoice"]
            assert event["type"] == "invoice.created"
            assert event["invoice"]["id"] == invoice["id"] and event["invoice"]["number"] == invoice["number"]
            assert event["invoice"]["total"] == {"amount": 249_00, "currency": "USD"}
            assert [line["amount"]["amount"] for line in event["invoice"]["lines"]] == [99_00, 150_00]


async def test_subscription_events_stream_a_pause_and_a_resume_with_the_subscription(
    settings: Settings, deps: Deps, admin_key: str
) -> None:
    async with serve(settings, deps) as address, http_api(address, admin_key) as api:
        tenant = await new_tenant(api, "Initech")
        key = (await new_key(api, "TENANT", tenant))["secret"]
        plan, seat = await plan_with_seat_addon(api, "initech", 99_00, 15_00, includedSeats=5)
        subscription = (await subscribe(api, tenant, plan, {seat: 1}))["id"]
        async with live(address, key) as client:
            op = await client.subscribe(SUBSCRIPTIONS, {"t": tenant})
            await subscribed(deps.bus, 1)
            for mutation, type_, status in (
                ("pauseSubscription", "subscription.paused", "PAUSED"),
                ("resumeSubscription", "subscription.resumed", "ACTIVE"),
            ):
                done = await api(
                    f"mutation($id: ID!) {{ {mutation}(subscriptionId: $id) {{ __typename }} }}",
                    {"id": subscription},
                )
                assert done[mutation]["__typename"] == "Subscription", done
                event = next_data(await client.receive(), op, "subscriptionEvents")
                assert (event["type"], event["subscription"]["id"], event["subscription"]["status"]) == (
                    type_,
                    subscription,
                    status,
                )


async def test_the_hub_drops_a_slow_subscriber_without_blocking_the_publisher() -> None:
    hub = Hub("sqlite")
    slow = hub.subscribe("ten_a", frozenset({"seats.changed"}))
    other = hub.subscribe("ten_b", frozenset({"seats.changed"}))
    burst = [Event(f"evt_{i}", "seats.changed", "ten_a", {}, START) for i in range(QUEUE_SIZE + 5)]
    hub.published(burst)  # returns at once: nothing awaits the subscriber
    assert hub.subscriber_count == 1  # the slow one is out; the other stays
    received = [event.id async for event in slow]
    assert received == [f"evt_{i}" for i in range(QUEUE_SIZE)]
    hub.published([Event("evt_b", "seats.changed", "ten_b", {}, START)])
    assert (await anext(other)).id == "evt_b"
    await other.aclose()
    assert hub.subscriber_count == 0


async def refused(client: LiveClient, op: str) -> str:
    """The refusal of subscription `op`: its message, after checking it is VALIDATION_FAILED."""
    message = await client.receive()
    assert (message["id"], message["type"]) == (op, "error"), message
    assert message["payload"][0]["extensions"]["code"] == "VALIDATION_FAILED"
    return message["payload"][0]["message"]


async def test_a_tenants_keys_hold_at_most_the_cap_of_live_subscriptions_and_each_key_its_own(
    settings: Settings, deps: Deps, admin_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live_subscriptions, "MAX_PER_TENANT", 3)
    monkeypatch.setattr(live_subscriptions, "MAX_PER_KEY", 2)
    async with serve(settings, deps) as address, http_api(address, admin_key) as api:
        acme, globex = await new_tenant(api, "Acme"), await new_tenant(api, "Globex")
        first, second = [(await new_key(api, "TENANT", acme))["secret"] for _ in range(2)]
        globex_key = (await new_key(api, "TENANT", globex))["secret"]
        async with live(address, first) as one, live(address, second) as two:
            for _ in range(2):
                await one.subscribe(SEATS, {"t": acme})
            await subscribed(deps.bus, 2)
            assert "this key already holds 2" in await refused(one, await one.subscribe(SEATS, {"t": acme}))
            await two.subscribe(SEATS, {"t": acme})
            await subscribed(deps.bus, 3)
            message = await refused(two, await two.subscribe(SEATS, {"t": acme}))
            assert "this tenant's keys already hold 3 live subscriptions" in message
            assert deps.bus.subscriber_count == 3  # the refused ones left nothing behind
            async with live(address, globex_key) as other:
                await other.subscribe(SEATS, {"t": globex})  # another tenant's count is its own
                await subscribed(deps.bus, 4)


async def test_a_partner_key_cannot_shut_the_tenants_own_keys_or_an_admin_out_of_live_events(
    settings: Settings, deps: Deps, admin_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live_subscriptions, "MAX_PER_TENANT", 4)
    monkeypatch.setattr(live_subscriptions, "PARTNER_SHARE", 2)
    async with serve(settings, deps) as address, http_api(address, admin_key) as api:
        acme = await seated_tenant(api, "Acme")
        partners = [(await new_key(api, "PARTNER", acme))["secret"] for _ in range(2)]
        tenant_key = (await new_key(api, "TENANT", acme))["secret"]
        async with live(address, partners[0]) as partner, live(address, partners[1]) as other_partner:
            for _ in range(2):
                await partner.subscribe(USAGE, {"t": acme})
            await subscribed(deps.bus, 2)
            message = await refused(partner, await partner.subscribe(USAGE, {"t": acme}))
            assert "PARTNER keys already hold 2 live subscriptions, their share" in message
            # The share is the PARTNER keys' together: a second PARTNER key gets no more room.
            await refused(other_partner, await other_partner.subscribe(USAGE, {"t": acme}))

            async with live(address, tenant_key) as own, live(address, admin_key) as staff:
                for _ in range(2):
                    await own.subscribe(SEATS, {"t": acme})
                for _ in range(3):  # ADMIN subscriptions are not the tenant's to count
                    await staff.subscribe(SEATS, {"t": acme})
                await subscribed(deps.bus, 7)
                await invite(api, acme, "ada@acme.example.com")
                for client, ops in ((own, ("1", "2")), (staff, ("1", "2", "3"))):
                    received = sorted([await client.receive() for _ in ops], key=lambda m: m["id"])
                    reasons = [
                        next_data(m, op, "seatsChanged")["reason"]
                        for m, op in zip(received, ops, strict=True)
                    ]
                    assert reasons == ["member.invited"] * len(ops)


def test_partner_keys_never_take_more_than_their_share_of_a_tenants_live_room() -> None:
    """Whatever its PARTNER keys hold, the tenant's own keys keep MAX_PER_TENANT - PARTNER_SHARE."""
    for partners in range(live_subscriptions.MAX_PER_TENANT + 2):
        held = Holdings(by_key=1, by_role={Role.PARTNER: partners + 1})
        allowed = live_subscriptions.over_quota(Holder(Role.PARTNER, "key_p"), held) is None
        assert allowed == (partners < live_subscriptions.PARTNER_SHARE)
    room = live_subscriptions.MAX_PER_TENANT - live_subscriptions.PARTNER_SHARE
    for own in range(room):
        held = Holdings(
            by_key=1, by_role={Role.PARTNER: live_subscriptions.PARTNER_SHARE, Role.TENANT: own + 1}
        )
        assert live_subscriptions.over_quota(Holder(Role.TENANT, f"key_{own}"), held) is None
