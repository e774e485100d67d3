"""Rows, targets, profiles and the workload registry.

A workload is an async function of a ``Context`` (one database, the profile's sizes,
the product's Store on that database and, on demand, a real server) that returns
``Row``s. It measures the product's path and a hand-written baseline doing the same
work with the bare driver, and puts the baseline's figure beside each of its own:
``ratio`` is always value / baseline, so for a rate below 1 is slower than the
baseline and for a time above 1 is.
"""

from __future__ import annotations

import math
import statistics
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.databases import Database
from bench.server import BaselineServer, Server
from models.api_keys import service as api_keys
from models.api_keys.inputs import ApiKeyCreate
from models.metering import service as meters
from models.metering.inputs import MeterCreate
from models.platform.access import operator
from models.platform.deps import Deps
from models.platform.store import Store
from models.tenants import service as tenants
from models.tenants.inputs import TenantCreate


class BenchError(RuntimeError):
    """The product did something other than the baseline did: the figures would lie."""


@dataclass(frozen=True, slots=True)
class Check:
    """One target: ``value`` (or ``ratio``) ``op`` ``threshold``."""

    op: str  # ">=", "<=" or "==" (a count that must not change)
    threshold: float
    on: str = "value"  # "value" or "ratio"

    def holds(self, value: float | None, ratio: float | None) -> bool | None:
        figure = value if self.on == "value" else ratio
        if figure is None:
            return None
        if self.op == "==":
            return figure == self.threshold
        return figure >= self.threshold if self.op == ">=" else figure <= self.threshold

    def text(self, unit: str) -> str:
        if self.on == "ratio":
            return f"ratio {self.op} {self.threshold:.2f}"
        return f"{self.op} {fmt(self.threshold)} {unit}"


@dataclass(slots=True)
class Row:
    workload: str
    database: str
    metric: str
    value: float | None
    unit: str
    baseline: float | None = None
    ratio: float | None = None
    target: str | None = None
    ok: bool | None = None
    note: str = ""
    headline: bool = False  # one of the ratios on the summary line

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def measure(
    workload: str,
    database: str,
    metric: str,
    value: float | None,
    unit: str,
    *,
    baseline: float | None = None,
    targets: Sequence[Check] = (),
    note: str = "",
    headline: bool = False,
) -> Row:
    """A row with its ratio to the baseline and its targets checked (all must hold)."""
    ratio = value / baseline if value is not None and baseline else None
    verdicts = [check.holds(value, ratio) for check in targets]
    return Row(
        workload,
        database,
        metric,
        value,
        unit,
        baseline,
        ratio,
        target="; ".join(check.text(unit) for check in targets) or None,
        ok=None if not targets or None in verdicts else all(verdicts),
        note=note,
        headline=headline,
    )


def fmt(number: float | None) -> str:
    if number is None or (isinstance(number, float) and math.isnan(number)):
        return "-"
    if abs(number) >= 1000:
        return f"{number:,.0f}"
    if abs(number) >= 100:
        return f"{number:.0f}"
    if abs(number) >= 10:
        return f"{number:.1f}"
    return f"{number:.2f}"


def percentile(samples: Sequence[float], pct: float) -> float:
    """Linear interpolation between the closest ranks (pct 50 is the median)."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * pct / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


@dataclass(frozen=True, slots=True)
class Profile:
    """How much work a run does, per workload."""

    name: str
    batches: int  # ingestion batches per path
    batch_size: int  # events per batch
    point_sizes: tuple[int, ...]  # month counts: points of one meter, one meter per size
    count_calls: int  # month counts: timed calls per path and size
    warmup: int  # untimed calls first
    fleet_tenants: int  # dashboard and fleet: tenants besides the dashboard's
    fleet_templates: int  # of those, made through the product; the others are copies of them
    history_months: int  # renewals each product-made tenant went through (months + 1 invoices)
    dashboard_points: int  # usage points per meter this month of the dashboard's tenant
    load_seconds: float  # dashboard: timed seconds of load per path
    clients: int  # dashboard: concurrent kept-alive clients
    fleet_calls: int  # fleet: timed calls per path, at most
    fleet_seconds: float  # fleet: fewer calls (2 at least) once a path has taken this long
    invites: int  # seats: concurrent invites to one team
    free_seats: int  # seats: its free seats
    entitlement_tenants: int  # entitlements: tenants checked (each has three features)
    entitlement_points: int  # entitlements: usage points of each tenant's metered feature this period


PROFILES = {
    "smoke": Profile(
        "smoke",
        batches=2,
        batch_size=200,
        point_sizes=(2_000,),
        count_calls=5,
        warmup=1,
        fleet_tenants=12,
        fleet_templates=2,
        history_months=2,
        dashboard_points=20,
        load_seconds=0.3,
        clients=4,
        fleet_calls=2,
        fleet_seconds=1.0,
        invites=20,
        free_seats=5,
        entitlement_tenants=4,
        entitlement_points=20,
    ),
    "quick": Profile(
        "quick",
        batches=5,
        batch_size=10_000,
        point_sizes=(1_000_000, 5_000_000),
        count_calls=50,
        warmup=5,
        fleet_tenants=200,
        fleet_templates=3,
        history_months=12,
        dashboard_points=300,
        load_seconds=2.0,
        clients=8,
        fleet_calls=5,
        fleet_seconds=3.0,
        invites=200,
        free_seats=50,
        entitlement_tenants=20,
        entitlement_points=200,
    ),
    "full": Profile(
        "full",
        batches=20,
        batch_size=10_000,
        point_sizes=(1_000_000, 5_000_000, 10_000_000),
        count_calls=200,
        warmup=10,
        fleet_tenants=200,
        fleet_templates=8,
        history_months=12,
        dashboard_points=300,
        load_seconds=10.0,
        clients=8,
        fleet_calls=20,
        fleet_seconds=30.0,
        invites=200,
        free_seats=50,
        entitlement_tenants=50,
        entitlement_points=500,
    ),
}


class Context:
    """What a workload gets for one database: the product's Store (and Deps with the
    system clock, as `serve` has), bare-driver connections, a server and a baseline
    server each started on first use and kept for the rest of the database's
    workloads, a stored ADMIN key, and ``shared``: what one workload seeded for the
    next ones (the dashboard's tenants serve the fleet query too)."""

    def __init__(self, db: Database, profile: Profile, profile_dir: Path | None = None) -> None:
        self.db = db
        self.profile = profile
        self.profile_dir = profile_dir  # pyinstrument the server: <dir>/serve-<database>.txt
        self.store = Store(db.url)
        self.deps = Deps(store=self.store)
        self.shared: dict[str, Any] = {}
        self._server: Server | None = None
        self._baseline: BaselineServer | None = None
        self._admin_secret: str | None = None

    @property
    def database(self) -> str:
        return self.db.kind

    async def server(self) -> Server:
        if self._server is None:
            self.log("starting billing-gateway serve")
            to = self.profile_dir / f"serve-{self.db.kind}.txt" if self.profile_dir else None
            server = Server(self.db.url, profile_to=to)
            try:
                await server.start()
            except BaseException:
                await server.stop()
                raise
            self._server = server
        return self._server

    async def baseline(self) -> BaselineServer:
        if self._baseline is None:
            self.log("starting the baseline server")
            baseline = BaselineServer(self.db.url)
            try:
                await baseline.start()
            except BaseException:
                await baseline.stop()
                raise
            self._baseline = baseline
        return self._baseline

    async def admin_secret(self) -> str:
        """A stored ADMIN key (made once per database): the product looks it up by its
        hash on every request, as it does a partner's key, where the bootstrap key the
        server's httpx client carries is a comparison in memory."""
        if self._admin_secret is None:
            _, self._admin_secret = await api_keys.create_api_key(
                self.deps, operator(), ApiKeyCreate.parse({"role": "ADMIN", "name": "bench"})
            )
        return self._admin_secret

    async def new_tenant(self, name: str) -> str:
        """A tenant made through the service, in UTC (its local days are UTC days)."""
        spec = {"name": name, "email": "bench@example.com", "currency": "USD", "timezone": "UTC"}
        row = await tenants.create_tenant(self.deps, operator(), TenantCreate.parse(spec))
        return row.id

    async def new_meter(self, name: str) -> tuple[str, str]:
        """(id, name) of a SUM meter made through the service."""
        row = await meters.create_meter(
            self.deps, operator(), MeterCreate.parse({"name": name, "aggregation": "SUM"})
        )
        return row.id, row.name

    def log(self, message: str) -> None:
        print(f"[{self.db.kind}] {message}", file=sys.stderr, flush=True)

    async def close(self) -> None:
        for server in (self._server, self._baseline):
            if server is not None:
                await server.stop()
        self._server = self._baseline = None
        await self.store.dispose()


@dataclass(frozen=True, slots=True)
class Workload:
    name: str
    title: str
    run: Callable[[Context], Awaitable[list[Row]]] = field(repr=False)


REGISTRY: dict[str, Workload] = {}


def workload(name: str, title: str) -> Callable[[Callable[[Context], Awaitable[list[Row]]]], Any]:
    """Register a workload; they run in the order their modules register them."""

    def register(run: Callable[[Context], Awaitable[list[Row]]]) -> Callable[[Context], Awaitable[list[Row]]]:
        if name in REGISTRY:
            raise ValueError(f"workload {name!r} is registered twice")
        REGISTRY[name] = Workload(name, title, run)
        return run

    return register


def differences(product: Any, baseline: Any, path: str = "data", limit: int = 5) -> list[str]:
    """Where two JSON values differ (the first ``limit`` places), for a BenchError that
    says what the product answered and what the baseline did."""
    found: list[str] = []

    def walk(a: Any, b: Any, at: str) -> None:
        if len(found) >= limit:
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                if key not in a or key not in b:
                    found.append(
                        f"{at}.{key}: {'missing' if key not in a else repr(a[key])[:80]} vs "
                        f"{'missing' if key not in b else repr(b[key])[:80]}"
                    )
                else:
                    walk(a[key], b[key], f"{at}.{key}")
        elif isinstance(a, list) and isinstance(b, list):
            if len(a) != len(b):
                found.append(f"{at}: {len(a)} items vs {len(b)}")
            for i, (x, y) in enumerate(zip(a, b, strict=False)):
                walk(x, y, f"{at}[{i}]")
        elif a != b:
            found.append(f"{at}: {a!r} vs {b!r}")

    walk(product, baseline, path)
    return found
