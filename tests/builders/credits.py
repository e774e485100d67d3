"""Credit grants and the credit ledger, through GraphQL."""

from __future__ import annotations

from typing import Any

from tests.builders.api import Api

GRANT = "id amount { amount } remaining { amount } currency expiresAt expiredAt description createdAt"
ENTRY = """amount { amount } reason description at balanceAfter { amount }
  invoice { number } grant { id description }"""


async def grant_credits(
    api: Api, tenant_id: str, amount: int, expires_at: str | None = None, description: str = "Goodwill"
) -> dict[str, Any]:
    """The GrantCreditsResult: a CreditGrant (GRANT's fields) or an error."""
    return (
        await api(
            f"""mutation($input: GrantCreditsInput!) {{ grantCredits(input: $input) {{ __typename
             ... on CreditGrant {{ {GRANT} }} ... on ValidationError {{ field }}
             ... on Error {{ code message }} }} }}""",
            {
                "input": {
                    "tenantId": tenant_id,
                    "amount": amount,
                    "expiresAt": expires_at,
                    "description": description,
                }
            },
        )
    )["grantCredits"]


async def grant(api: Api, tenant_id: str, amount: int, expires_at: str | None = None, name: str = "") -> str:
    made = await grant_credits(api, tenant_id, amount, expires_at, name or f"Grant of {amount}")
    assert made["__typename"] == "CreditGrant", made
    return made["id"]


async def credit_grants(api: Api, tenant_id: str) -> dict[str, dict[str, Any]]:
    """The tenant's grants by description."""
    data = await api(
        f"query($id: ID!) {{ tenant(id: $id) {{ creditGrants {{ {GRANT} }} }} }}", {"id": tenant_id}
    )
    return {g["description"]: g for g in data["tenant"]["creditGrants"]}


async def ledger(api: Api, tenant_id: str, page: int = 100) -> list[dict[str, Any]]:
    """The whole credit ledger, oldest first, walked ``page`` entries at a time."""
    entries: list[dict[str, Any]] = []
    after = None
    while True:
        data = await api(
            f"""query($id: ID!, $first: Int, $after: String) {{ tenant(id: $id) {{
             creditLedger(first: $first, after: $after) {{ edges {{ node {{ {ENTRY} }} }}
             pageInfo {{ hasNextPage endCursor }} }} }} }}""",
            {"id": tenant_id, "first": page, "after": after},
        )
        connection = data["tenant"]["creditLedger"]
        entries.extend(edge["node"] for edge in connection["edges"])
        if not connection["pageInfo"]["hasNextPage"]:
            return list(reversed(entries))
        after = connection["pageInfo"]["endCursor"]


def moves(entries: list[dict[str, Any]]) -> list[tuple[str, int, str | None]]:
    """(reason, amount, grant description) of each entry, oldest first."""
    return [(e["reason"], e["amount"]["amount"], (e["grant"] or {}).get("description")) for e in entries]
