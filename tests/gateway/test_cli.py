"""The `billing-gateway` command line, run as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway.demo import DEMO_ADDONS, DEMO_PLANS, DEMO_TEAMS, DEMO_TENANTS
from gateway.demo_lifecycle import LIFECYCLE_TEAMS
from models.api_keys.service import authenticate
from models.catalog.inputs import PlanCreate
from models.catalog.service import create_plan
from models.kernel.enums import Role, SeatType
from models.members.service import seat_totals_of
from models.platform.access import operator
from models.platform.deps import Deps
from models.seats.queries import seats_in_use
from models.subscriptions.inputs import SubscriptionCreate
from models.subscriptions.queries import live_subscriptions
from models.subscriptions.service import subscribe
from models.tables import AddonRow, InvoiceRow, MemberRow, PlanRow, SubscriptionRow, TenantRow
from models.tenants.inputs import TenantCreate
from models.tenants.service import create_tenant, list_tenants
from models.test_clocks import service as test_clocks


def run(db_url: str, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        env={**os.environ, "GATEWAY_DATABASE_URL": db_url, **env},
    )


async def test_create_api_key_prints_a_working_secret_once(db_url: str, tmp_path: Path, deps: Deps) -> None:
    made = run(db_url, tmp_path, "create-api-key", "--admin", "--name", "ops")
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert secret.startswith("gwk_") and "\n" not in secret
    assert secret not in made.stderr
    principal = await authenticate(deps, secret)
    assert principal is not None and principal.role is Role.ADMIN


async def test_seed_demo_twice_adds_the_demo_once(db_url: str, tmp_path: Path, deps: Deps) -> None:
    for expected in (f"{len(DEMO_TENANTS)} demo tenants added", "0 demo tenants added"):
        seeded = run(db_url, tmp_path, "seed-demo")
        assert seeded.returncode == 0 and expected in seeded.stderr, seeded.stderr
        async with deps.store.read() as session:
            counts = [
                await session.scalar(select(func.count()).select_from(t))
                for t in (TenantRow, PlanRow, AddonRow, SubscriptionRow, MemberRow, InvoiceRow)
            ]
            teams = {**DEMO_TEAMS, **LIFECYCLE_TEAMS}
            members = sum(len(team["members"]) for team in teams.values())
            # Every tenant subscribed; the one in trial has no invoice yet, the paused one its first only.
            tenants = len(DEMO_TENANTS)
            assert counts == [tenants, len(DEMO_PLANS), len(DEMO_ADDONS), tenants, members, tenants - 1], (
                counts
            )
    # The guide's catalog, and a team at capacity to show enforcement on.
    tenants = await list_tenants(deps, operator())
    acme = next(t for t in tenants.items if t.name == "Acme Analytics")
    async with deps.store.read() as session:
        (subscription,) = await live_subscriptions(session, [acme.id])
        (used,) = await seats_in_use(session, [acme.id])
        totals = await seat_totals_of(session, subscription)
    assert totals[SeatType.FULL] == used[SeatType.FULL] == 7
    assert {p["code"] for p in DEMO_PLANS} >= {
        "starter",
        "team_pro",
        "per_user",
        "professional",
        "enterprise",
    }


async def test_tenant_keys_from_the_cli(db_url: str, tmp_path: Path, deps: Deps) -> None:
    missing = run(db_url, tmp_path, "create-api-key", "--tenant-id", "ten_nope", "--role", "PARTNER")
    assert missing.returncode != 0
    assert "Tenant 'ten_nope' was not found" in missing.stderr
    neither = run(db_url, tmp_path, "create-api-key")
    assert neither.returncode != 0 and "--admin or --tenant-id" in neither.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GATEWAY_DATABASE_URL": "mysql://root@localhost/x"}, "GATEWAY_DATABASE_URL"),
        ({"GATEWAY_ADMIN_API_KEY": "short"}, "GATEWAY_ADMIN_API_KEY: must be at least 24 characters"),
        ({"GATEWAY_PROVIDER": "paypal"}, "GATEWAY_PROVIDER"),
    ],
)
def test_bad_settings_name_the_variable(tmp_path: Path, env: dict[str, str], message: str) -> None:
    result = run(
        env.pop("GATEWAY_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/x.db"), tmp_path, "migrate", **env
    )
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_creates_the_sqlite_default_in_the_working_directory(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "GATEWAY_DATABASE_URL"}
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "migrate"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "gateway.db").exists()


async def test_bill_renews_what_is_due_once(db_url: str, tmp_path: Path, deps: Deps) -> None:
    # A tenant whose test clock stands past its period end: due, not yet renewed.
    clock = await test_clocks.create_test_clock(deps, operator(), datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
    tenant = await create_tenant(
        deps,
        operator(),
        TenantCreate.parse(
            {
                "name": "Acme Analytics",
                "email": "billing@example.com",
                "currency": "USD",
                "test_clock_id": clock.id,
            }
        ),
    )
    plan = await create_plan(
        deps,
        operator(),
        PlanCreate.parse({"code": "team", "name": "Team", "currency": "USD", "base_price": 99_00}),
    )
    subscription = await subscribe(
        deps, operator(), SubscriptionCreate.parse({"tenant_id": tenant.id, "plan_id": plan.id})
    )
    await test_clocks.move_test_clock(deps, operator(), clock.id, datetime(2026, 2, 20, tzinfo=UTC))

    billed = run(db_url, tmp_path, "bill")
    assert billed.returncode == 0, billed.stderr
    assert "renewed 1 subscription(s); issued 1 invoice(s): ACME-0002" in billed.stderr
    again = run(db_url, tmp_path, "bill")
    assert again.returncode == 0, again.stderr
    assert "renewed 0 subscription(s); issued 0 invoice(s)\n" in again.stderr

    async with deps.store.read() as session:
        issued = (
            await session.execute(
                select(InvoiceRow.number, InvoiceRow.reason, InvoiceRow.period_start).order_by(
                    InvoiceRow.number
                )
            )
        ).all()
        renewed = await session.get(SubscriptionRow, subscription.id)
    assert issued == [
        ("ACME-0001", "SUBSCRIBE", datetime(2026, 1, 15, 12, 0, tzinfo=UTC)),
        ("ACME-0002", "RENEWAL", datetime(2026, 2, 15, 12, 0, tzinfo=UTC)),
    ]
    assert renewed.current_period_end == datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
