"""Tenants through GraphQL: create, read, list, billing info, and bad input."""

from __future__ import annotations

import pytest

from tests.builders.api import START, Api, new_key

TENANT_FIELDS = """
  id name email currency timezone salesMode providerCustomerId createdAt
  billingInfo { companyName address { line1 line2 city state postalCode country } }
"""
CREATE = f"""
mutation($input: CreateTenantInput!) {{
  createTenant(input: $input) {{
    __typename
    ... on Tenant {{ {TENANT_FIELDS} }}
    ... on Error {{ code message }}
    ... on ValidationError {{ field problems {{ field message }} }}
  }}
}}"""
UPDATE = f"""
mutation($id: ID!, $input: BillingInfoInput!) {{
  updateBillingInfo(tenantId: $id, input: $input) {{
    __typename
    ... on Tenant {{ {TENANT_FIELDS} }}
    ... on Error {{ code message }}
    ... on ValidationError {{ field }}
  }}
}}"""
GET = f"query($id: ID!) {{ tenant(id: $id) {{ {TENANT_FIELDS} }} }}"
LIST = """query($first: Int, $after: String) {
  tenants(first: $first, after: $after) {
    edges { cursor node { id name } }
    pageInfo { hasNextPage endCursor }
  }
}"""

ACME = {
    "name": "Acme Analytics",
    "email": "billing@acme.example",
    "currency": "usd",
    "timezone": "America/New_York",
    "salesMode": "SALES_LED",
    "billingInfo": {
        "companyName": "Acme Analytics, Inc.",
        "address": {
            "line1": "500 Market Street",
            "city": "San Francisco",
            "state": "CA",
            "postalCode": "94105",
            "country": "us",
        },
    },
}


async def create(api: Api, *, omit: tuple[str, ...] = (), **overrides: object) -> dict:
    tenant = {k: v for k, v in {**ACME, **overrides}.items() if k not in omit}
    data = await api(CREATE, {"input": tenant})
    return data["createTenant"]


async def test_create_then_read_back(api: Api) -> None:
    created = await create(api)
    assert created["__typename"] == "Tenant"
    assert created["currency"] == "USD"  # normalised to the ISO form
    assert created["salesMode"] == "SALES_LED"
    assert created["billingInfo"]["address"]["country"] == "US"
    assert created["createdAt"] == START.isoformat()
    assert created["providerCustomerId"] is None

    fetched = (await api(GET, {"id": created["id"]}))["tenant"]
    assert fetched == {k: v for k, v in created.items() if k != "__typename"}


async def test_defaults_are_utc_and_self_serve(api: Api) -> None:
    created = await create(api, omit=("timezone", "salesMode", "billingInfo"))
    assert created["__typename"] == "Tenant", created
    assert (created["timezone"], created["salesMode"], created["billingInfo"]) == (
        "UTC",
        "SELF_SERVE",
        None,
    )


@pytest.mark.parametrize(
    ("overrides", "field", "hint"),
    [
        ({"currency": "DOLLARS"}, "input.currency", "ISO 4217"),
        ({"currency": "XYZ"}, "input.currency", "USD"),
        ({"timezone": "Mars/Olympus"}, "input.timezone", "IANA"),
        ({"email": "not-an-email"}, "input.email", "email"),
        ({"name": "   "}, "input.name", "blank"),
        ({"name": "x" * 201}, "input.name", "200"),
        (
            {"billingInfo": {"address": {**ACME["billingInfo"]["address"], "country": "USA"}}},
            "input.billingInfo.address.country",
            "ISO 3166-1 alpha-2",
        ),
        (
            {"billingInfo": {"address": {"line1": "1 Road", "city": "X", "country": "ZZ"}}},
            "input.billingInfo.address.country",
            "US, JP or DE",
        ),
    ],
)
async def test_bad_values_name_the_field_and_what_is_allowed(
    api: Api, overrides: dict, field: str, hint: str
) -> None:
    result = await create(api, **overrides)
    assert result["code"] == "VALIDATION_FAILED"
    assert result["field"] == field
    assert hint in result["message"]
    assert (await api(LIST))["tenants"]["edges"] == []


# Files of a zoneinfo directory, and tzdata's placeholder zone: ZoneInfo loads them all,
# but none is an IANA time zone (``localtime`` is whatever the server's host is set to).
@pytest.mark.parametrize("zone", ["localtime", "Factory", "posixrules", "posix/Asia/Tokyo", "right/UTC"])
async def test_zoneinfo_files_that_are_not_iana_time_zones_are_refused(api: Api, zone: str) -> None:
    result = await create(api, timezone=zone)
    assert (result["code"], result["field"]) == ("VALIDATION_FAILED", "input.timezone")
    assert result["message"] == (
        f"input.timezone: {zone!r} is not an IANA timezone; "
        "use a name such as UTC, Europe/Berlin or Asia/Tokyo"
    )
    assert (await api(LIST))["tenants"]["edges"] == []


async def test_iana_zones_and_links_are_accepted(api: Api) -> None:
    for zone in ("UTC", "Etc/GMT+5", "Asia/Tokyo", "America/Argentina/Buenos_Aires", "US/Eastern"):
        created = await create(api, timezone=zone, email=f"{len(zone)}@acme.example")
        assert (created["__typename"], created["timezone"]) == ("Tenant", zone), created


async def test_every_problem_is_reported(api: Api) -> None:
    result = await create(api, currency="??", timezone="Nowhere", email="nope")
    assert {p["field"] for p in result["problems"]} == {
        "input.currency",
        "input.timezone",
        "input.email",
    }


async def test_unknown_test_clock_is_not_found(api: Api) -> None:
    result = await create(api, testClockId="clock_missing")
    assert result["code"] == "NOT_FOUND"
    assert "clock_missing" in result["message"]


async def test_update_billing_info_replaces_it(api: Api) -> None:
    tenant = await create(api)
    new_info = {
        "companyName": "Acme KK",
        "address": {"line1": "1-1 Marunouchi", "city": "Chiyoda", "country": "JP"},
    }
    updated = (await api(UPDATE, {"id": tenant["id"], "input": new_info}))["updateBillingInfo"]
    assert updated["billingInfo"] == {
        "companyName": "Acme KK",
        "address": {
            "line1": "1-1 Marunouchi",
            "line2": None,
            "city": "Chiyoda",
            "state": None,
            "postalCode": None,
            "country": "JP",
        },
    }
    assert (await api(GET, {"id": tenant["id"]}))["tenant"]["billingInfo"] == updated["billingInfo"]

    bad = {"address": {"line1": "x", "city": "y", "country": "Japan"}}
    result = (await api(UPDATE, {"id": tenant["id"], "input": bad}))["updateBillingInfo"]
    assert (result["code"], result["field"]) == ("VALIDATION_FAILED", "input.address.country")
    assert (await api(GET, {"id": tenant["id"]}))["tenant"]["billingInfo"] == updated["billingInfo"]


async def test_unknown_tenant_is_not_found(api: Api) -> None:
    body = await api.raw(GET, {"id": "ten_nope"})
    assert body["data"] == {"tenant": None}
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    result = (await api(UPDATE, {"id": "ten_nope", "input": {}}))["updateBillingInfo"]
    assert result["code"] == "NOT_FOUND"


async def test_tenants_pages_through_every_tenant_once_in_creation_order(api: Api) -> None:
    names = [f"Team {i}" for i in range(7)]
    for name in names:
        await create(api, name=name)
    seen, after, pages = [], None, 0
    while True:
        page = (await api(LIST, {"first": 3, "after": after}))["tenants"]
        seen += [edge["node"]["name"] for edge in page["edges"]]
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]
    assert seen == names
    assert pages == 3


@pytest.mark.parametrize(
    ("variables", "field"),
    [({"first": 0}, "first"), ({"first": 101}, "first"), ({"after": "garbage!"}, "after")],
)
async def test_bad_page_arguments_are_rejected(api: Api, variables: dict, field: str) -> None:
    body = await api.raw(LIST, variables)
    error = body["errors"][0]
    assert error["extensions"] == {"code": "VALIDATION_FAILED", "field": field}


async def test_the_tax_rate_is_a_percent_set_by_an_admin(api: Api) -> None:
    created = (
        await api(
            """mutation { createTenant(input: {name: "Taxed", email: "t@t.example", currency: "EUR",
             taxRate: "19"}) { ... on Tenant { id taxRate } } }"""
        )
    )["createTenant"]
    assert created["taxRate"] == "19"
    set_rate = """mutation($id: ID!, $rate: Decimal!) { setTaxRate(tenantId: $id, taxRate: $rate) { __typename
        ... on Tenant { taxRate } ... on ValidationError { field } ... on Error { code message } } }"""
    assert (await api(set_rate, {"id": created["id"], "rate": "8.875"}))["setTaxRate"]["taxRate"] == "8.875"
    for bad in ("-1", "100.5", "7.12345"):
        result = (await api(set_rate, {"id": created["id"], "rate": bad}))["setTaxRate"]
        assert (result["code"], result["field"]) == ("VALIDATION_FAILED", "taxRate"), (bad, result)
    as_tenant = api.as_key((await new_key(api, "TENANT", created["id"]))["secret"])
    assert (await as_tenant(set_rate, {"id": created["id"], "rate": "0"}))["setTaxRate"][
        "code"
    ] == "FORBIDDEN"
    assert (await api("query($id: ID!) { tenant(id: $id) { taxRate } }", {"id": created["id"]}))[
        "tenant"
    ] == {"taxRate": "8.875"}
