"""Members hold seats: inviting takes one of the member's type, removing frees it,
and every change lands in the tenant's audit trail."""

from __future__ import annotations

from models.platform.deps import Deps
from models.tables import MemberRow
from tests.builders.api import START, Api, new_tenant
from tests.builders.billing import by_type, create_plan, invite, plan_with_seat_addon, seats, subscribe
from tests.builders.clocks import new_clock, tenant_on

REMOVE = """mutation($id: ID!) { removeMember(memberId: $id) { __typename
  ... on Member { id email status removedAt } ... on Error { code message } } }"""
AUDIT = """query($id: ID!, $first: Int, $after: String) {
  auditLog(tenantId: $id, first: $first, after: $after) {
  edges { cursor node { at actor action subjectId before after } } pageInfo { hasNextPage endCursor } } }"""


async def test_inviting_takes_a_seat_and_removing_frees_it(api: Api) -> None:
    plan, seat = await plan_with_seat_addon(api, "team", 49_00, 10_00, includedSeats=1)
    tenant = await new_tenant(api)
    subscription = await subscribe(api, tenant, plan, {seat: 1})

    ann = await invite(api, tenant, "Ann@Team.example")
    assert (ann["email"], ann["seatType"], ann["status"]) == ("ann@team.example", "FULL", "ACTIVE")
    bob = await invite(api, tenant, "bob@team.example")
    assert (await invite(api, tenant, "cy@team.example"))["code"] == "NO_SEATS_AVAILABLE"
    summary = await seats(api, tenant)
    assert (
        summary["included"],
        summary["purchased"],
        summary["total"],
        summary["used"],
        summary["available"],
    ) == (1, 1, 2, 2, 0)

    removed = (await api(REMOVE, {"id": bob["id"]}))["removeMember"]
    assert removed["status"] == "REMOVED" and removed["removedAt"] is not None
    assert (await seats(api, tenant))["available"] == 1
    assert (await invite(api, tenant, "cy@team.example"))["status"] == "ACTIVE"
    # Bob may come back once there is a seat again; his old membership stays removed.
    assert (await invite(api, tenant, "bob@team.example"))["code"] == "NO_SEATS_AVAILABLE"

    both = await api(
        """query($t: ID!, $s: ID!) { tenant(id: $t) { members { email } seats { used } }
                        subscription(id: $s) { seats { used available } } }""",
        {"t": tenant, "s": subscription["id"]},
    )
    assert [m["email"] for m in both["tenant"]["members"]] == ["ann@team.example", "cy@team.example"]
    assert both["subscription"]["seats"] == {"used": 2, "available": 0}


async def test_removing_twice_changes_nothing_the_second_time(api: Api) -> None:
    plan = await create_plan(api, "team", 49_00, includedSeats=2)
    tenant = await new_tenant(api)
    await subscribe(api, tenant, plan)
    ann = await invite(api, tenant, "ann@team.example")
    first = (await api(REMOVE, {"id": ann["id"]}))["removeMember"]
    again = (await api(REMOVE, {"id": ann["id"]}))["removeMember"]
    assert again == first
    actions = [e["node"]["action"] for e in (await api(AUDIT, {"id": tenant}))["auditLog"]["edges"]]
    assert actions == ["subscription.created", "member.invited", "member.removed"]
    assert (await api(REMOVE, {"id": "mem_missing"}))["removeMember"]["code"] == "NOT_FOUND"


async def test_an_email_holds_one_seat_per_team(api: Api) -> None:
    plan = await create_plan(api, "team", 49_00, includedSeats=5)
    tenant, other = await new_tenant(api, "A"), await new_tenant(api, "B")
    await subscribe(api, tenant, plan)
    await subscribe(api, other, plan)
    await invite(api, tenant, "ann@team.example")
    query = """mutation($input: InviteMemberInput!) { inviteMember(input: $input) { __typename
                 ... on ValidationError { code field message } } }"""
    dup = (await api(query, {"input": {"tenantId": tenant, "email": "ANN@team.example"}}))["inviteMember"]
    assert (dup["code"], dup["field"]) == ("VALIDATION_FAILED", "input.email") and "already a member" in dup[
        "message"
    ]
    bad = (await api(query, {"input": {"tenantId": tenant, "email": "not an email"}}))["inviteMember"]
    assert (bad["code"], bad["field"]) == ("VALIDATION_FAILED", "input.email")
    # Another team may have the same person.
    assert (await invite(api, other, "ann@team.example"))["status"] == "ACTIVE"
    assert (await seats(api, tenant))["used"] == 1


async def test_a_tenant_without_a_subscription_has_no_seats(api: Api) -> None:
    tenant = await new_tenant(api)
    result = await invite(api, tenant, "ann@team.example")
    assert result["code"] == "SUBSCRIPTION_NOT_ACTIVE" and "subscribe first" in result["message"], result
    summary = await seats(api, tenant)
    assert (summary["total"], summary["used"], summary["available"]) == (0, 0, 0)
    assert by_type(summary) == {"FULL": (0, 0), "VIEWER": (0, 0), "GUEST": (0, 0)}


async def test_inviting_to_a_tenant_that_does_not_exist_is_not_found_and_names_it(api: Api) -> None:
    result = await invite(api, "ten_nobody", "ann@team.example")
    assert result["code"] == "NOT_FOUND" and "ten_nobody" in result["message"], result


async def test_subscribing_with_fewer_seats_than_existing_members_names_who_must_go(
    api: Api, deps: Deps
) -> None:
    """A team brought over from before billing: its members are there first."""
    plan, seat = await plan_with_seat_addon(api, "team", 0, 10_00)
    tenant = await new_tenant(api)
    async with deps.store.transaction() as session:
        session.add_all(
            MemberRow(
                id=f"mem_{i}",
                tenant_id=tenant,
                email=f"m{i}@team.example",
                seat_type="FULL",
                created_at=START,
            )
            for i in range(4)
        )
    short = await subscribe(api, tenant, plan, {seat: 3})
    assert short["__typename"] == "SeatsInUseError" and short["code"] == "SEATS_IN_USE"
    assert short["membersToRemove"] == 1
    assert sorted(m["email"] for m in short["members"]) == [f"m{i}@team.example" for i in range(4)]
    assert (await subscribe(api, tenant, plan, {seat: 4}))["seats"]["used"] == 4


async def test_the_audit_trail_says_who_changed_what_and_when(api: Api, admin_key: str) -> None:
    clock = await new_clock(api, "2026-03-10T09:30:00Z")
    tenant = await tenant_on(api, "Audited", clock)
    plan = await create_plan(api, "team", 49_00, includedSeats=3)
    subscription = await subscribe(api, tenant, plan)
    ann = await invite(api, tenant, "ann@team.example", "FULL")
    await api(REMOVE, {"id": ann["id"]})
    admin_id = (await api("query { apiKeys { edges { node { id name } } } }"))["apiKeys"]["edges"]
    admin_id = next(e["node"]["id"] for e in admin_id if e["node"]["name"] == "test admin")

    page = (await api(AUDIT, {"id": tenant, "first": 2}))["auditLog"]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = (await api(AUDIT, {"id": tenant, "first": 2, "after": page["pageInfo"]["endCursor"]}))["auditLog"]
    assert rest["pageInfo"]["hasNextPage"] is False
    created, invited, removed = [e["node"] for e in page["edges"] + rest["edges"]]

    assert {e["at"] for e in (created, invited, removed)} == {
        "2026-03-10T09:30:00+00:00"
    }  # the tenant's clock
    assert {e["actor"] for e in (created, invited, removed)} == {admin_id}
    assert created["subjectId"] == subscription["id"] and created["before"] is None
    assert created["after"]["subscription"]["plan"] == "team"
    assert created["after"]["seats"]["FULL"] == {"total": 3, "used": 0}
    assert invited["subjectId"] == ann["id"]
    assert invited["before"] == {"member": None, "seats": {"seatType": "FULL", "total": 3, "used": 0}}
    assert invited["after"]["member"]["email"] == "ann@team.example"
    assert invited["after"]["seats"]["used"] == 1
    assert removed["before"]["member"]["status"] == "ACTIVE"
    assert removed["after"]["member"]["status"] == "REMOVED"
    assert removed["after"]["seats"] == {"seatType": "FULL", "total": 3, "used": 0}
