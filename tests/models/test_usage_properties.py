"""Property test of metering through the service layer, on both databases.

Each example makes a fresh tenant in a random timezone (UTC, Tokyo, Kathmandu at
+05:45, New York across its November DST change, Lord Howe across its 30-minute one,
St. John's in 2009 falling back over midnight) and one or two fresh meters, then runs
random steps: batches of ADD, SUB and DIRECT events (some retried, some reusing an
idempotency key for another event), single events, deletes and aggregation changes.
Timestamps come from a few seconds around a month boundary and a DST change (local
midnights and the change itself, one second either side), so points collide often.
Afterwards it checks what a user would:

- the points stored are what the events mean, applied in order by a model written
  here: ADD adds, SUB subtracts, DIRECT overwrites, a delete removes, a duplicate
  changes nothing, a conflicting key is rejected by index;
- every count (each local day touched, each month, the day-by-day period counts), in
  every aggregation, is the SUM, MAX, COUNT or LATEST of those points grouped by local
  date in the tenant's timezone, computed by brute force; compared in millionths.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from models.kernel.clock import FixedClock
from models.kernel.enums import Aggregation
from models.kernel.errors import IdempotencyConflict
from models.metering import counts as metering_counts
from models.metering import ingest as usage
from models.metering import service as meters
from models.metering.inputs import MeterCreate
from models.platform.access import operator
from models.platform.deps import Deps
from models.tables import UsagePointRow
from models.tenants import service as tenants
from models.tenants.inputs import TenantCreate

ACTOR = operator()
MICRO = 10**6
# [start, end] in UTC, each around a month boundary and a DST change: New York's fall
# back on Nov 1 2026 (06:00Z); Lord Howe's 30-minute spring forward on Oct 4 2026
# (+10:30 -> +11); St. John's falling back over midnight on Nov 1 2009 (00:01 NDT ->
# Oct 31 23:01 NST), so an hour of October comes after November has begun.
WINDOWS = [
    (datetime(2026, 10, 30, 12, tzinfo=UTC), datetime(2026, 11, 2, 12, tzinfo=UTC)),
    (datetime(2026, 9, 29, 12, tzinfo=UTC), datetime(2026, 10, 4, 18, tzinfo=UTC)),
    (datetime(2009, 10, 30, 12, tzinfo=UTC), datetime(2009, 11, 2, 12, tzinfo=UTC)),
]
DST_ZONES = ["America/New_York", "Australia/Lord_Howe", "America/St_Johns"]  # each in WINDOWS[its index]
ZONES = ["UTC", "Asia/Tokyo", "Asia/Kathmandu", *DST_ZONES]  # Kathmandu: +05:45
KEYS = ["k1", "k2", "k3"]
_serial = itertools.count()


def epoch(at: datetime) -> int:
    return int(at.timestamp())


def offset(ts: int, zone: ZoneInfo) -> timedelta | None:
    return datetime.fromtimestamp(ts, zone).utcoffset()


def landmarks(zone_name: str, window: tuple[datetime, datetime]) -> list[int]:
    """Seconds where days and offsets change in the window: local midnights and DST
    changes, with the second before each."""
    zone = ZoneInfo(zone_name)
    start, end = epoch(window[0]), epoch(window[1])
    marks = set()
    day = datetime.fromtimestamp(start, zone).date()
    while day <= datetime.fromtimestamp(end, zone).date():
        for fold in (0, 1):  # a midnight a clock went back over happens twice
            marks.add(epoch(datetime(day.year, day.month, day.day, tzinfo=zone, fold=fold)))
        day += timedelta(days=1)
    step = 15 * 60
    for at in range(start, end, step):
        if offset(at, zone) != offset(at + step, zone):
            low, high = at, at + step  # the offset changes in (low, high]: find the second
            while high - low > 1:
                middle = (low + high) // 2
                low, high = (middle, high) if offset(middle, zone) == offset(at, zone) else (low, middle)
            marks.add(high)
    return sorted(s for m in marks for s in (m - 1, m) if start <= s <= end)


def dst_day(zone_name: str, window: tuple[datetime, datetime]) -> list[int]:
    """The first and last second of each local day in the window that is not 24 hours
    long, the first second of the day after it, and the seconds either side of the
    offset's change."""
    zone = ZoneInfo(zone_name)
    changes = [
        s
        for s in landmarks(zone_name, window)
        if offset(s, zone) != offset(s - 1, zone) or offset(s, zone) != offset(s + 1, zone)
    ]
    day, end = window[0].astimezone(zone).date(), window[1].astimezone(zone).date()
    marks = []
    while day <= end:
        start = epoch(datetime(day.year, day.month, day.day, tzinfo=zone))
        after = day + timedelta(days=1)
        stop = epoch(datetime(after.year, after.month, after.day, tzinfo=zone))
        if stop - start != 86400:
            marks += [start, stop - 1, stop]
        day = after
    return [s for s in marks + changes if epoch(window[0]) <= s <= epoch(window[1])]


LANDMARKS = {(z, w): landmarks(z, WINDOWS[w]) for z in ZONES for w in range(len(WINDOWS))}
DST_DAYS = {(z, w): dst_day(z, WINDOWS[w]) for z in ZONES for w in range(len(WINDOWS))}


@dataclass(frozen=True)
class Ev:
    meter: int
    method: str  # ADD | SUB | DIRECT
    value: Decimal  # at most 6 decimals
    as_int: bool  # sent as a Python int (integral values only)
    ts: int | None  # None: no timestamp, the tenant's clock
    micro: int  # microseconds sent with the timestamp (truncated away)
    local_offset: bool  # timestamp sent in the tenant's timezone rather than UTC
    key: str | None


@dataclass(frozen=True)
class Step:
    kind: str  # batch | single | delete | retune | retry (the last batch or single again, as it was)
    events: tuple[Ev, ...] = ()
    meter: int = 0
    ts: int = 0
    aggregation: Aggregation = Aggregation.SUM


@dataclass(frozen=True)
class Scenario:
    timezone: str
    now: int
    meters: tuple[Aggregation, ...]
    steps: tuple[Step, ...]
    seconds: tuple[int, ...]


values = st.one_of(
    st.just(Decimal(0)),
    st.integers(0, 5).map(Decimal),
    st.integers(0, 10**6).map(Decimal),
    st.decimals(min_value=0, max_value=1000, places=6, allow_nan=False, allow_infinity=False),
    st.sampled_from([Decimal("0.000001"), Decimal("0.5"), Decimal("2.25"), Decimal("999999.999999")]),
)
aggregations = st.sampled_from(list(Aggregation))


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    timezone = draw(st.sampled_from(ZONES + DST_ZONES))  # the DST zones twice as often
    w = DST_ZONES.index(timezone) if timezone in DST_ZONES else draw(st.integers(0, len(WINDOWS) - 1))
    start, end = (epoch(t) for t in WINDOWS[w])
    marks = LANDMARKS[(timezone, w)]
    chosen = draw(st.lists(st.sampled_from(marks), min_size=1, max_size=5, unique=True))
    chosen += draw(st.lists(st.integers(start, end), max_size=3))
    # Events can always land at both ends of a day that is not 24 hours long, at the start
    # of the day after it, and either side of the offset's change.
    chosen += DST_DAYS[(timezone, w)]
    seconds = tuple(sorted(set(chosen) | {end}))  # end: the tenant's clock, where untimed events land
    n_meters = draw(st.integers(1, 2))
    meter_index = st.integers(0, n_meters - 1)

    @st.composite
    def events(draw_ev: st.DrawFn) -> Ev:
        value = draw_ev(values)
        timed = draw_ev(st.integers(0, 5)) > 0
        return Ev(
            meter=draw_ev(meter_index),
            method=draw_ev(st.sampled_from(["ADD", "ADD", "SUB", "DIRECT"])),
            value=value,
            as_int=value == value.to_integral_value() and draw_ev(st.booleans()),
            ts=draw_ev(st.sampled_from(seconds)) if timed else None,
            micro=draw_ev(st.sampled_from([0, 0, 1, 500_000, 999_999])),
            local_offset=draw_ev(st.booleans()),
            key=draw_ev(st.one_of(st.none(), st.none(), st.sampled_from(KEYS))),
        )

    def step(kind: str) -> Step:
        if kind == "batch":
            size = draw(st.integers(1, 10))
            return Step("batch", tuple(draw(events()) for _ in range(size)))
        if kind == "single":
            return Step("single", (draw(events()),))
        if kind == "delete":
            return Step("delete", meter=draw(meter_index), ts=draw(st.sampled_from(seconds)))
        if kind == "retune":
            return Step("retune", meter=draw(meter_index), aggregation=draw(aggregations))
        return Step("retry")

    kinds = st.sampled_from(["batch", "batch", "batch", "single", "single", "delete", "retune", "retry"])
    return Scenario(
        timezone=timezone,
        now=end,
        meters=tuple(draw(aggregations) for _ in range(n_meters)),
        steps=tuple(step(draw(kinds)) for _ in range(draw(st.integers(2, 7)))),
        seconds=seconds,
    )


class Model:
    """What the events mean, from the documented rules alone."""

    def __init__(self, now: int) -> None:
        self.now = now
        self.points: dict[tuple[int, int], int] = {}  # (meter, second) -> millionths
        self.keys: dict[str, tuple[int, str, int, bool, int]] = {}
        self.seen: set[str] = set()  # for the statistics: which cases the example exercised

    def record(self, ev: Ev) -> tuple[str, int]:
        """('accepted' | 'duplicate' | 'conflict', the point's value afterwards)."""
        micros = int(ev.value * MICRO)
        ts = self.now if ev.ts is None else ev.ts
        if ev.key is not None:
            prior = self.keys.get(ev.key)
            if prior is not None:
                p_meter, p_method, p_value, p_given, p_ts = prior
                same = (p_meter, p_method, p_value, p_given) == (
                    ev.meter,
                    ev.method,
                    micros,
                    ev.ts is not None,
                )
                if same and (ev.ts is None or p_ts == ts):
                    self.seen.add("duplicate")
                    return "duplicate", self.points.get((p_meter, p_ts), 0)
                self.seen.add("conflict")
                return "conflict", 0
            self.keys[ev.key] = (ev.meter, ev.method, micros, ev.ts is not None, ts)
        point = (ev.meter, ts)
        if point in self.points:
            self.seen.add("two events on one point")
        if ev.method == "ADD":
            self.points[point] = self.points.get(point, 0) + micros
        elif ev.method == "SUB":
            self.points[point] = self.points.get(point, 0) - micros
        else:
            self.points[point] = micros
        if self.points[point] < 0:
            self.seen.add("negative point")
        return "accepted", self.points[point]

    def delete(self, meter: int, ts: int) -> bool:
        existed = self.points.pop((meter, ts), None) is not None
        self.seen.add("delete of a point" if existed else "delete of nothing")
        return existed


def payload(ev: Ev, tenant_id: str, names: list[str], zone: ZoneInfo) -> dict:
    item: dict = {
        "tenantId": tenant_id,
        "meterName": names[ev.meter],
        "method": ev.method,
        "value": int(ev.value) if ev.as_int else float(ev.value),
    }
    if ev.ts is not None:
        at = datetime.fromtimestamp(ev.ts, UTC).replace(microsecond=ev.micro)
        item["timestamp"] = at.astimezone(zone) if ev.local_offset else at
    if ev.key is not None:
        item["idempotencyKey"] = ev.key
    return item


def brute_force(values_by_ts: list[tuple[int, int]], aggregation: Aggregation) -> int:
    """A count in millionths straight from (second, value) points."""
    if not values_by_ts:
        return 0
    if aggregation is Aggregation.SUM:
        return sum(v for _, v in values_by_ts)
    if aggregation is Aggregation.MAX:
        return max(v for _, v in values_by_ts)
    if aggregation is Aggregation.COUNT:
        return len(values_by_ts) * MICRO
    return max(values_by_ts)[1]


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
async def test_every_count_is_the_brute_force_count_of_the_points_the_events_left(
    deps: Deps, clock: FixedClock, scenario: Scenario
) -> None:
    s = scenario
    zone = ZoneInfo(s.timezone)
    clock.set(datetime.fromtimestamp(s.now, UTC).replace(microsecond=250_000))
    tenant = await tenants.create_tenant(
        deps,
        ACTOR,
        TenantCreate.parse(
            {
                "name": f"U{next(_serial):07d} Co",
                "email": "team@example.com",
                "currency": "USD",
                "timezone": s.timezone,
            }
        ),
    )
    rows = [
        await meters.create_meter(
            deps, ACTOR, MeterCreate.parse({"name": f"m_{next(_serial)}_{i}", "aggregation": a.value})
        )
        for i, a in enumerate(s.meters)
    ]
    names = [r.name for r in rows]
    model = Model(s.now)

    sent: Step | None = None
    for step in s.steps:
        if step.kind == "retry":
            if sent is None:
                continue
            step = sent
        if step.kind in ("batch", "single"):
            sent = step
        if step.kind == "batch":
            expected = [model.record(ev) for ev in step.events]
            outcome = await usage.record_batch(
                deps, ACTOR, [payload(ev, tenant.id, names, zone) for ev in step.events]
            )
            assert outcome.accepted == sum(kind == "accepted" for kind, _ in expected)
            assert outcome.duplicates == sum(kind == "duplicate" for kind, _ in expected)
            assert [i for i, _ in outcome.errors] == [
                i for i, (kind, _) in enumerate(expected) if kind == "conflict"
            ]
            assert all(isinstance(error, IdempotencyConflict) for _, error in outcome.errors), outcome.errors
        elif step.kind == "single":
            (ev,) = step.events
            kind, value = model.record(ev)
            try:
                recorded = await usage.record_usage(deps, ACTOR, payload(ev, tenant.id, names, zone))
            except IdempotencyConflict:
                assert kind == "conflict"
            else:
                assert kind != "conflict"
                assert (recorded.duplicate, recorded.value) == (kind == "duplicate", value)
        elif step.kind == "delete":
            existed = model.delete(step.meter, step.ts)
            at = datetime.fromtimestamp(step.ts, UTC).astimezone(zone)
            deleted = await usage.delete_usage(deps, ACTOR, tenant.id, names[step.meter], at)
            assert (deleted.existed, deleted.value) == (existed, 0)
        else:
            await meters.update_meter(deps, ACTOR, rows[step.meter].id, step.aggregation)

    # a) The stored points are the model's.
    async with deps.store.read() as session:
        stored = (
            await session.execute(
                select(UsagePointRow.meter_id, UsagePointRow.ts, UsagePointRow.value).where(
                    UsagePointRow.tenant_id == tenant.id
                )
            )
        ).all()
    index_of = {r.id: i for i, r in enumerate(rows)}
    points = {(index_of[m], ts): value for m, ts, value in stored}
    assert points == model.points
    event(f"timezone {s.timezone}")
    for kind in sorted({kind for kind in model.seen}):
        event(f"saw {kind}")

    # b) Every count is the brute-force count of the stored points, in every aggregation.
    by_day: dict[tuple[int, date], list[tuple[int, int]]] = defaultdict(list)
    for (m, ts), value in points.items():
        by_day[(m, datetime.fromtimestamp(ts, UTC).astimezone(zone).date())].append((ts, value))
    days = sorted({datetime.fromtimestamp(ts, UTC).astimezone(zone).date() for ts in s.seconds})
    months = sorted({d.replace(day=1) for d in days})
    first, last = days[0] - timedelta(days=1), days[-1] + timedelta(days=1)
    for aggregation in Aggregation:
        for row in rows:
            await meters.update_meter(deps, ACTOR, row.id, aggregation)
        for m, name in enumerate(names):
            for day in days:
                (count,) = await metering_counts.counts(
                    deps, ACTOR, tenant.id, name, metering_counts.Span(month=False, day=day)
                )
                assert count.value == brute_force(by_day[(m, day)], aggregation), (name, aggregation, day)
            for month in months:
                in_month = [
                    p for (mm, d), ps in by_day.items() if mm == m and d.replace(day=1) == month for p in ps
                ]
                (count,) = await metering_counts.counts(
                    deps, ACTOR, tenant.id, name, metering_counts.Span(month=True, day=month)
                )
                assert count.value == brute_force(in_month, aggregation), (name, aggregation, month)
            _, per_day = await metering_counts.period_counts(deps, ACTOR, tenant.id, name, first, last)
            expected = [
                (first + timedelta(days=n), by_day[(m, first + timedelta(days=n))])
                for n in range((last - first).days + 1)
            ]
            assert [(c.day, c.value) for c in per_day] == [
                (d, brute_force(ps, aggregation)) for d, ps in expected
            ]
