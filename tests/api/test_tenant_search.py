"""tenants(search:): a case-insensitive match on name, email, id prefix or provider
customer id, done in the database, paged with the same keyset cursors, within the
key's scope."""

from __future__ import annotations

import pytest

from models.platform.deps import Deps
from tests.builders.api import Api, new_key
from tests.builders.stripe_webhooks import link_customer

SEARCH = """query($search: String, $first: Int, $after: String) {
  tenants(search: $search, first: $first, after: $after) {
    edges { cursor node { id name } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}"""
CREATE = """mutation($name: String!, $email: String!) {
  createTenant(input: {name: $name, email: $email, currency: "USD"}) {
    ... on Tenant { id } ... on Error { code message } } }"""


async def tenant(api: Api, name: str, email: str = "ops@example.com") -> str:
    data = await api(CREATE, {"name": name, "email": email})
    return data["createTenant"]["id"]


async def names(api: Api, search: str | None, first: int | None = None) -> list[str]:
    page = (await api(SEARCH, {"search": search, "first": first}))["tenants"]
    return [edge["node"]["name"] for edge in page["edges"]]


async def test_search_matches_the_name_ignoring_case(api: Api) -> None:
    await tenant(api, "Acme Analytics")
    await tenant(api, "Globex")
    assert await names(api, "aCmE") == ["Acme Analytics"]
    assert await names(api, "analytic") == ["Acme Analytics"]


async def test_search_matches_the_email(api: Api) -> None:
    await tenant(api, "Acme", "billing@ACME.example")
    await tenant(api, "Globex", "finance@globex.example")
    assert await names(api, "acme.EXAMPLE") == ["Acme"]
    assert await names(api, "finance@") == ["Globex"]


async def test_search_matches_a_tenant_id_by_its_prefix_only(api: Api) -> None:
    acme = await tenant(api, "Acme")
    await tenant(api, "Globex")
    assert await names(api, acme.split("_")[0] + "_") == ["Acme", "Globex"]
    assert await names(api, acme) == ["Acme"]
    assert await names(api, acme.upper()) == ["Acme"]
    assert await names(api, acme[-8:]) == []  # a piece from the end of an id is not a prefix


async def test_search_matches_the_provider_customer_id(api: Api, deps: Deps) -> None:
    acme = await tenant(api, "Acme")
    await tenant(api, "Globex")
    await link_customer(deps, acme, "cus_Rz9Kq")
    assert await names(api, "cus_rz9") == ["Acme"]
    assert await names(api, "RZ9KQ") == ["Acme"]


@pytest.mark.parametrize(
    ("search", "expected"),
    [("50%", ["Save 50% now"]), ("a_b", ["a_b corp"]), ("\\", ["back\\slash"]), ("%", ["Save 50% now"])],
)
async def test_wildcards_in_the_search_match_literally(api: Api, search: str, expected: list[str]) -> None:
    for name in ["Save 50% now", "Save 500 now", "a_b corp", "axb corp", "back\\slash"]:
        await tenant(api, name)
    assert await names(api, search) == expected


async def test_a_blank_or_null_search_lists_every_tenant(api: Api) -> None:
    await tenant(api, "Acme")
    await tenant(api, "Globex")
    assert await names(api, None) == ["Acme", "Globex"]
    assert await names(api, "   ") == ["Acme", "Globex"]


async def test_pages_of_a_search_hold_each_match_once_in_creation_order(api: Api) -> None:
    for i in range(7):
        await tenant(api, f"Match {i}")
        await tenant(api, f"Other {i}")
    seen, after, pages = [], None, 0
    while True:
        page = (await api(SEARCH, {"search": "match", "first": 3, "after": after}))["tenants"]
        seen += [edge["node"]["name"] for edge in page["edges"]]
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [f"Match {i}" for i in range(7)]
    assert pages == 3


async def test_a_search_longer_than_200_characters_is_refused_naming_search(api: Api) -> None:
    await tenant(api, "Acme")
    assert await names(api, "a" * 200) == []
    body = await api.raw(SEARCH, {"search": "a" * 201})
    assert body["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED", "field": "search"}
    assert "200" in body["errors"][0]["message"]


async def test_a_tenant_key_finds_only_its_own_tenant(api: Api) -> None:
    acme = await tenant(api, "Acme Team")
    await tenant(api, "Globex Team")
    key = await new_key(api, "TENANT", acme)
    as_acme = api.as_key(key["secret"])
    assert await names(as_acme, "team") == ["Acme Team"]
    assert await names(as_acme, "globex") == []
