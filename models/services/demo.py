"""Demo data for `billing-gateway seed-demo` and `serve --demo`. Safe to run again."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text, update

from models.services import api_keys, tenants
from models.services.api_keys import operator
from models.services.base import Deps
from models.tables import ApiKeyRow, TenantRow

DEMO_TENANTS: list[dict[str, Any]] = [
    {
        "name": "Acme Analytics",
        "email": "billing@acme.example",
        "currency": "USD",
        "timezone": "America/New_York",
        "sales_mode": "SELF_SERVE",
        "billing_info": {
            "company_name": "Acme Analytics, Inc.",
            "address": {
                "line1": "500 Market Street",
                "city": "San Francisco",
                "state": "CA",
                "postal_code": "94105",
                "country": "US",
            },
        },
    },
    {
        "name": "Sakura Design",
        "email": "keiri@sakura.example",
        "currency": "JPY",
        "timezone": "Asia/Tokyo",
        "sales_mode": "SELF_SERVE",
        "billing_info": {
            "company_name": "Sakura Design K.K.",
            "address": {
                "line1": "1-1-1 Marunouchi",
                "city": "Chiyoda-ku",
                "state": "Tokyo",
                "postal_code": "100-0005",
                "country": "JP",
            },
        },
    },
    {
        "name": "Nordwind Logistics",
        "email": "finance@nordwind.example",
        "currency": "EUR",
        "timezone": "Europe/Berlin",
        "sales_mode": "SALES_LED",
        "billing_info": {
            "company_name": "Nordwind Logistics GmbH",
            "address": {
                "line1": "Friedrichstrasse 100",
                "city": "Berlin",
                "postal_code": "10117",
                "country": "DE",
            },
        },
    },
]


DEMO_KEY_NAME = "demo admin"


async def seed_demo(deps: Deps) -> list[TenantRow]:
    """Create the demo tenants that are not there yet (matched by email), all at once."""
    async with deps.store.transaction() as session:
        if deps.store.dialect == "postgresql":  # two seeds at once must not both insert
            await session.execute(text("LOCK TABLE tenants IN SHARE ROW EXCLUSIVE MODE"))
        existing = set(
            (await session.scalars(
                select(TenantRow.email).where(TenantRow.email.in_([t["email"] for t in DEMO_TENANTS]))
            )).all()
        )
        return [
            await tenants.insert_tenant(session, deps, tenants.TenantCreate.parse(spec))
            for spec in DEMO_TENANTS
            if spec["email"] not in existing
        ]


async def rotate_demo_admin_key(deps: Deps) -> str:
    """A fresh ADMIN key for the demo; earlier demo keys are revoked in the same step,
    so restarting the demo never piles up live admin secrets."""
    async with deps.store.transaction() as session:
        await session.execute(
            update(ApiKeyRow)
            .where(ApiKeyRow.name == DEMO_KEY_NAME, ApiKeyRow.revoked_at.is_(None))
            .values(revoked_at=deps.clock.now())
        )
        _, secret = api_keys.insert_api_key(
            session, deps, operator(), api_keys.ApiKeyCreate.parse({"role": "ADMIN", "name": DEMO_KEY_NAME})
        )
    return secret
