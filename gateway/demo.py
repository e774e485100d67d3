"""Demo data for `billing-gateway seed-demo` and `serve --demo`. Safe to run again.
The subscription lifecycle's tenants (in trial, overdue, paused) are ``demo_lifecycle``'s."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

from sqlalchemy import select, text

from gateway import demo_lifecycle
from models.api_keys import service as api_keys
from models.catalog import service as catalog
from models.entitlements import service as entitlements
from models.entitlements.inputs import FeatureCreate, FeatureGrantCreate
from models.kernel.errors import NotFound, ValidationFailed
from models.metering import ingest as usage
from models.metering import service as meters
from models.metering.inputs import MeterCreate, UsageChargeCreate
from models.platform.access import operator
from models.platform.deps import Deps
from models.tables import AddonRow, FeatureGrantRow, FeatureRow, PlanAddonRow, PlanRow, TenantRow
from models.tenants import service as tenants

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
    *demo_lifecycle.LIFECYCLE_TENANTS,
]


# The seat-billing guide's catalog (prices in minor units), plus one plan each in JPY and EUR.
DEMO_PLANS: list[dict[str, Any]] = [
    {
        "code": "starter",
        "name": "Starter",
        "currency": "USD",
        "base_price": 49_00,
        "included_seats": 3,
        "min_seats": 1,
        "addons": ["starter_seat"],
    },
    {
        "code": "team_pro",
        "name": "Team Pro",
        "currency": "USD",
        "base_price": 99_00,
        "included_seats": 5,
        "min_seats": 5,
        "addons": ["team_seat", "viewer_seat", "guest_seat", "pack_5", "pack_10", "pack_25"],
    },
    {
        "code": "team_pro_annual",
        "name": "Team Pro (annual)",
        "currency": "USD",
        "interval": "YEAR",
        "base_price": 950_40,
        "included_seats": 5,
        "min_seats": 5,
        "addons": ["team_seat_annual"],
    },
    {"code": "per_user", "name": "Per User", "currency": "USD", "base_price": 0, "addons": ["user_seat"]},
    {
        "code": "professional",
        "name": "Professional",
        "currency": "USD",
        "base_price": 99_00,
        "trial_days": demo_lifecycle.TRIAL_DAYS,
        "addons": ["professional_seat"],
    },
    {
        "code": "enterprise",
        "name": "Enterprise",
        "currency": "USD",
        "base_price": 499_00,
        "min_seats": 25,
        "addons": ["enterprise_seat", "viewer_seat", "guest_seat"],
    },
    {
        "code": "team_jp",
        "name": "チーム",
        "currency": "JPY",
        "base_price": 9_800,
        "included_seats": 3,
        "addons": ["seat_jp"],
    },
    {
        "code": "team_eu",
        "name": "Team (EUR)",
        "currency": "EUR",
        "base_price": 89_00,
        "included_seats": 5,
        "addons": ["seat_eu"],
    },
]
DEMO_ADDONS: list[dict[str, Any]] = [
    {
        "code": "starter_seat",
        "name": "Additional seat",
        "currency": "USD",
        "price": 10_00,
        "seat_type": "FULL",
    },
    {
        "code": "team_seat",
        "name": "Additional team seat",
        "currency": "USD",
        "price": 15_00,
        "seat_type": "FULL",
    },
    {
        "code": "team_seat_annual",
        "name": "Additional team seat (annual)",
        "currency": "USD",
        "price": 144_00,
        "seat_type": "FULL",
    },
    {
        "code": "viewer_seat",
        "name": "View-only seat",
        "currency": "USD",
        "price": 5_00,
        "seat_type": "VIEWER",
    },
    {"code": "guest_seat", "name": "Guest seat", "currency": "USD", "price": 0, "seat_type": "GUEST"},
    {
        "code": "pack_5",
        "name": "5-seat pack",
        "currency": "USD",
        "price": 50_00,
        "seat_type": "FULL",
        "seats_per_unit": 5,
    },
    {
        "code": "pack_10",
        "name": "10-seat pack",
        "currency": "USD",
        "price": 80_00,
        "seat_type": "FULL",
        "seats_per_unit": 10,
    },
    {
        "code": "pack_25",
        "name": "25-seat pack",
        "currency": "USD",
        "price": 175_00,
        "seat_type": "FULL",
        "seats_per_unit": 25,
    },
    {"code": "user_seat", "name": "User", "currency": "USD", "price": 12_00, "seat_type": "FULL"},
    {
        "code": "professional_seat",
        "name": "Professional seat",
        "currency": "USD",
        "price": 10_00,
        "seat_type": "FULL",
    },
    {
        "code": "enterprise_seat",
        "name": "Enterprise seat",
        "currency": "USD",
        "price": 7_00,
        "seat_type": "FULL",
    },
    {"code": "seat_jp", "name": "追加シート", "currency": "JPY", "price": 1_200, "seat_type": "FULL"},
    {"code": "seat_eu", "name": "Additional seat", "currency": "EUR", "price": 13_00, "seat_type": "FULL"},
]
# Demo tenant (by email) -> plan, add-on quantities, members. Acme is full, to show enforcement.
DEMO_TEAMS: dict[str, dict[str, Any]] = {
    "billing@acme.example": {
        "plan": "team_pro",
        "addons": {"team_seat": 2, "viewer_seat": 2},
        "members": [
            (f"{name}@acme.example", "FULL") for name in ("ana", "ben", "chloe", "dev", "eli", "fay", "gus")
        ]
        + [("viewer@acme.example", "VIEWER")],
    },
    "keiri@sakura.example": {
        "plan": "team_jp",
        "addons": {"seat_jp": 2},
        "members": [
            ("haruto@sakura.example", "FULL"),
            ("yui@sakura.example", "FULL"),
            ("sota@sakura.example", "FULL"),
        ],
    },
    "finance@nordwind.example": {
        "plan": "team_eu",
        "addons": {"seat_eu": 20},
        "members": [(f"{name}@nordwind.example", "FULL") for name in ("lena", "jonas", "mia", "paul")],
    },
}

# Meters, and what plans charge for them (the seed FAQ's sum and max aggregations).
DEMO_METERS: list[dict[str, Any]] = [
    {
        "name": "api_calls",
        "display_name": "API calls",
        "aggregation": "SUM",
        "description": "Requests to the public API.",
    },
    {
        "name": "storage_gb",
        "display_name": "Storage (GB)",
        "aggregation": "MAX",
        "description": "Peak storage used, sampled daily.",
    },
]
DEMO_USAGE_CHARGES: list[dict[str, Any]] = [
    # $1 per started 1,000 calls after 10,000 free ones each month.
    {
        "plan": "team_pro",
        "meter_name": "api_calls",
        "model": "PACKAGE",
        "unit_amount": 1_00,
        "package_size": 1_000,
        "free_units": 10_000,
    },
    {
        "plan": "team_pro",
        "meter_name": "storage_gb",
        "model": "GRADUATED",
        "tiers": [
            {"up_to": 50, "unit_amount": 0},
            {"up_to": 500, "unit_amount": 25},
            {"up_to": None, "unit_amount": 10},
        ],
    },
    {
        "plan": "team_jp",
        "meter_name": "api_calls",
        "model": "VOLUME",
        "tiers": [
            {"up_to": 10_000, "unit_amount": 0},
            {"up_to": 100_000, "unit_amount": 1, "flat_amount": 500},
            {"up_to": None, "unit_amount": 1, "flat_amount": 0},
        ],
    },
]
DEMO_USAGE_DAYS = 20

# Features, and what each plan grants of them: SSO on Enterprise; projects by tier;
# API calls capped on Starter (blocked past 10,000 a period), unlimited (and charged
# for, where a plan has a usage charge) on the rest; editing for FULL seats only.
DEMO_FEATURES: list[dict[str, Any]] = [
    {"code": "sso", "name": "Single sign-on", "kind": "BOOLEAN", "description": "SAML and OIDC sign-in."},
    {"code": "projects", "name": "Projects", "kind": "LIMIT", "description": "Projects held at once."},
    {"code": "api_calls", "name": "API calls", "kind": "METERED", "meter_name": "api_calls"},
    {"code": "editing", "name": "Editing", "kind": "BOOLEAN", "description": "Changing content."},
]
DEMO_PROJECTS: dict[str, int | None] = {"starter": 3, "enterprise": None}  # other plans: 20
DEMO_GRANTS: list[tuple[str, dict[str, Any]]] = [  # (plan code, grant)
    (plan, grant)
    for plan in [p["code"] for p in DEMO_PLANS]
    for grant in [
        {"feature_code": "projects", "limit": DEMO_PROJECTS.get(plan, 20)},
        {"feature_code": "api_calls", "limit": 10_000 if plan == "starter" else None},
        {"feature_code": "editing", "seat_types": ["FULL"]},
        *([{"feature_code": "sso"}] if plan == "enterprise" else []),
    ]
]

DEMO_KEY_NAME = "demo admin"


async def seed_demo(deps: Deps) -> list[TenantRow]:
    """Create what of the demo is not there yet: the catalog (matched by code), the
    tenants (by email), their subscriptions and members. Returns the new tenants."""
    created = await _seed_tenants(deps)
    await _seed_catalog(deps)
    await _seed_meters(deps)
    await _seed_features(deps)
    await demo_lifecycle.seed_teams(deps, DEMO_TEAMS)
    await _seed_usage(deps)
    await demo_lifecycle.seed_lifecycle(deps)
    return created


async def _seed_catalog(deps: Deps) -> None:
    async with deps.store.transaction() as session:
        if deps.store.dialect == "postgresql":
            await session.execute(text("LOCK TABLE plans, addons IN SHARE ROW EXCLUSIVE MODE"))
        now = deps.clock.now()
        addons = {a.code: a for a in (await session.scalars(select(AddonRow))).all()}
        for spec in DEMO_ADDONS:
            if spec["code"] not in addons:
                addons[spec["code"]] = catalog.new_addon(catalog.AddonCreate.parse(spec), now)
                session.add(addons[spec["code"]])
        plans = {p.code: p for p in (await session.scalars(select(PlanRow))).all()}
        for spec in DEMO_PLANS:
            if spec["code"] not in plans:
                fields = {k: v for k, v in spec.items() if k != "addons"}
                plans[spec["code"]] = catalog.new_plan(catalog.PlanCreate.parse(fields), now)
                session.add(plans[spec["code"]])
        await session.flush()
        attached = set((await session.execute(select(PlanAddonRow.plan_id, PlanAddonRow.addon_id))).all())
        for spec in DEMO_PLANS:
            plan = plans[spec["code"]]
            for code in spec["addons"]:
                addon = addons[code]
                pair = (plan.id, addon.id)
                # An operator's own plan or add-on may hold a demo code: never pair it wrongly.
                offerable = addon.currency == plan.currency and addon.archived_at is None
                if offerable and pair not in attached:
                    session.add(PlanAddonRow(plan_id=pair[0], addon_id=pair[1], attached_at=now))


async def _seed_meters(deps: Deps) -> None:
    """The demo meters and usage charges, where the names are free."""
    admin = operator()
    for spec in DEMO_METERS:
        with contextlib.suppress(ValidationFailed):  # the name is taken: an earlier seed, or the operator's
            await meters.create_meter(deps, admin, MeterCreate.parse(spec))
    async with deps.store.read() as session:
        plans = dict((await session.execute(select(PlanRow.code, PlanRow.id))).all())
    for spec in DEMO_USAGE_CHARGES:
        fields = {k: v for k, v in spec.items() if k != "plan"}
        with contextlib.suppress(ValidationFailed):  # already charged for
            await meters.add_usage_charge(
                deps, admin, UsageChargeCreate.parse({"plan_id": plans[spec["plan"]], **fields})
            )


async def _seed_features(deps: Deps) -> None:
    """The demo features where the codes are free, and their grants to plans that grant
    nothing of them yet (an operator's own grant, or feature of another kind, is kept)."""
    admin = operator()
    for spec in DEMO_FEATURES:
        with contextlib.suppress(ValidationFailed):  # the code is taken: an earlier seed, or the operator's
            await entitlements.create_feature(deps, admin, FeatureCreate.parse(spec))
    async with deps.store.read() as session:
        plans = dict((await session.execute(select(PlanRow.code, PlanRow.id))).all())
        kinds = dict((await session.execute(select(FeatureRow.code, FeatureRow.kind))).all())
        grants = select(FeatureGrantRow.plan_id, FeatureRow.code).join(FeatureRow)
        granted = set((await session.execute(grants.where(FeatureGrantRow.revoked_at.is_(None)))).all())
    demo_kinds = {f["code"]: f["kind"] for f in DEMO_FEATURES}
    for plan, spec in DEMO_GRANTS:
        code, plan_id = spec["feature_code"], plans.get(plan)
        if plan_id is None or (plan_id, code) in granted or kinds.get(code) != demo_kinds[code]:
            continue
        grant = FeatureGrantCreate.parse({"plan_id": plan_id, **spec})
        with contextlib.suppress(ValidationFailed, NotFound):  # archived since, or changed by the operator
            await entitlements.grant_feature(deps, admin, grant)


async def _seed_usage(deps: Deps) -> None:
    """Hourly API calls and a daily storage peak for the last days, keyed by hour, so
    seeding again counts nothing twice and only adds the hours since."""
    async with deps.store.read() as session:
        demo_teams = (
            select(TenantRow.id).where(TenantRow.email.in_(list(DEMO_TEAMS))).order_by(TenantRow.email)
        )
        tenant_ids = list((await session.scalars(demo_teams)).all())
    now = deps.clock.now().replace(minute=0, second=0, microsecond=0)
    events: list[dict[str, Any]] = []
    for n, tenant_id in enumerate(tenant_ids):
        for hour in range(DEMO_USAGE_DAYS * 24, 0, -1):
            at = now - timedelta(hours=hour)
            calls = 40 + (at.hour * 37 + at.day * 11 + n * 5) % 90 * (3 if 9 <= at.hour <= 18 else 1)
            events.append(
                {
                    "tenantId": tenant_id,
                    "meterName": "api_calls",
                    "value": calls,
                    "timestamp": at,
                    "idempotencyKey": f"demo-api_calls-{at.isoformat()}",
                }
            )
            if at.hour == 12:
                gigabytes = 20 + n * 30 + (DEMO_USAGE_DAYS * 24 - hour) / 24 * 1.5
                events.append(
                    {
                        "tenantId": tenant_id,
                        "meterName": "storage_gb",
                        "value": round(gigabytes, 2),
                        "method": "DIRECT",
                        "timestamp": at,
                        "idempotencyKey": f"demo-storage_gb-{at.date().isoformat()}",
                    }
                )
    await usage.record_batch(deps, operator(), events)


async def _seed_tenants(deps: Deps) -> list[TenantRow]:
    clocks = await demo_lifecycle.test_clocks_for(deps, DEMO_TENANTS)  # the overdue tenant lives on one
    async with deps.store.transaction() as session:
        if deps.store.dialect == "postgresql":  # two seeds at once must not both insert
            await session.execute(text("LOCK TABLE tenants IN SHARE ROW EXCLUSIVE MODE"))
        existing = set(
            (
                await session.scalars(
                    select(TenantRow.email).where(TenantRow.email.in_([t["email"] for t in DEMO_TENANTS]))
                )
            ).all()
        )
        return [
            await tenants.insert_tenant(
                session,
                deps,
                tenants.TenantCreate.parse({**spec, "test_clock_id": clocks.get(spec["email"])}),
            )
            for spec in DEMO_TENANTS
            if spec["email"] not in existing
        ]


def demo_key_name(address: str) -> str:
    """The demo's ADMIN key is named after the address it serves on, one live key each."""
    return f"{DEMO_KEY_NAME} on {address}"


async def rotate_demo_admin_key(deps: Deps, address: str = "127.0.0.1:8000") -> str:
    """A fresh ADMIN key for the demo about to serve on ``address`` (host:port). The key
    of an earlier demo on that address is revoked in the same step: `serve` has found the
    port free, so that demo has stopped, and restarting never piles up live admin
    secrets. A demo running on another port keeps its key."""
    name = demo_key_name(address)
    async with deps.store.transaction() as session:
        await api_keys.revoke_named(session, deps, name)
        _, secret = api_keys.insert_api_key(
            session, deps, operator(), api_keys.ApiKeyCreate.parse({"role": "ADMIN", "name": name})
        )
    return secret
