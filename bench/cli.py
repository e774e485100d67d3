"""`python -m bench`: run every workload (ingest, month_count, dashboard, fleet, seats,
entitlements; see bench/__init__.py) on SQLite, then PostgreSQL; print the table and a summary line
of the headline ratios; write the JSON. ``--only NAME`` runs some of them."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import subprocess
import sys
import time
import traceback
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bench.workloads  # noqa: F401  (registers every workload)
from bench import report
from bench.core import PROFILES, REGISTRY, Context, Profile, Row
from bench.databases import (
    Unavailable,
    postgres_database,
    postgres_url,
    probe_postgres,
    redacted,
    sqlite_database,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = Path(__file__).resolve().parent / "results"
DATABASES = ("sqlite", "postgres")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the gateway on SQLite and PostgreSQL against hand-written baselines.",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="fewer repetitions; under 2 minutes on 2 cores")
    size.add_argument(
        "--smoke", action="store_true", help="tiny sizes: checks the code paths, measures nothing"
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"results folder (default {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--databases",
        default=",".join(DATABASES),
        help="comma-separated, of sqlite and postgres (default both)",
    )
    parser.add_argument(
        "--only", action="append", choices=sorted(REGISTRY), help="run only this workload (repeatable)"
    )
    parser.add_argument(
        "--profile-server",
        type=Path,
        metavar="DIR",
        help="run each gateway server under pyinstrument; its call tree goes to DIR/serve-<database>.txt "
        "(figures get slower)",
    )
    parser.add_argument(
        "--require-postgres",
        action="store_true",
        help="fail when PostgreSQL is unreachable instead of skipping it",
    )
    args = parser.parse_args(argv)
    args.databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    unknown = set(args.databases) - set(DATABASES)
    if unknown or not args.databases:
        parser.error(
            f"--databases takes sqlite and/or postgres, not {', '.join(sorted(unknown)) or 'nothing'}"
        )
    if args.require_postgres and "postgres" not in args.databases:
        parser.error("--require-postgres needs postgres among --databases")
    args.profile = PROFILES["smoke" if args.smoke else "quick" if args.quick else "full"]
    return args


async def run_database(
    kind: str, profile: Profile, names: list[str], errors: list[str], profile_dir: Path | None = None
) -> list[Row]:
    rows: list[Row] = []
    try:
        async with sqlite_database() if kind == "sqlite" else postgres_database() as db:
            ctx = Context(db, profile, profile_dir)
            try:
                for name in names:
                    began = time.perf_counter()
                    try:
                        rows.extend(await REGISTRY[name].run(ctx))
                    except Exception as exc:  # report it and go on with the next workload
                        traceback.print_exc()
                        errors.append(f"{name} on {kind}: {exc!r}")
                        rows.append(Row(name, kind, "error", None, "", note=repr(exc)[:300]))
                    ctx.log(f"{name}: {time.perf_counter() - began:.1f} s")
            finally:
                await ctx.close()
    except Unavailable as exc:
        print(f"[{kind}] {exc}; carrying on without it", file=sys.stderr)
        rows.append(Row("*", kind, "unavailable", None, "", note=str(exc)))
    return rows


def _commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5
        )
    except OSError:
        return None
    return done.stdout.strip() or None


async def run(args: argparse.Namespace) -> int:
    if args.require_postgres:
        problem = await probe_postgres()
        if problem:
            print(f"bench: {problem} (--require-postgres)", file=sys.stderr)
            return 2
    names = args.only or list(REGISTRY)
    started = datetime.now(UTC)
    load_before = os.getloadavg()[0]
    clock = time.perf_counter()
    rows: list[Row] = []
    errors: list[str] = []
    for kind in args.databases:
        rows.extend(await run_database(kind, args.profile, names, errors, args.profile_server))
    wall = time.perf_counter() - clock

    print(report.table(rows))
    line = report.summary(rows)
    load_after = os.getloadavg()[0]
    print(
        f"profile {args.profile.name}, {wall:.0f} s on {os.cpu_count()} cores; load average "
        f"{load_before:.1f} "
        f"before, {load_after:.1f} after (anything else running skews the figures)"
    )
    payload: dict[str, Any] = {
        "started_at": started.isoformat(),
        "wall_seconds": round(wall, 1),
        "profile": asdict(args.profile),
        "workloads": {name: REGISTRY[name].title for name in names},
        "databases": {
            kind: (
                "sqlite temporary file"
                if kind == "sqlite"
                else f"scratch database on {redacted(postgres_url())}"
            )
            for kind in args.databases
        },
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_before": round(load_before, 2),
            "load_average_after": round(load_after, 2),
        },
        "commit": _commit(),
        "rows": [r.as_dict() for r in rows],
        "summary": line,
        "errors": errors,
    }
    path = report.write(args.out, started, payload)
    print(f"results: {path}")
    if args.profile_server:
        print(f"server profiles: {args.profile_server}/serve-<database>.txt (pyinstrument call trees)")
    print(line)  # the last line: every headline ratio and the targets met
    if errors:
        print(f"bench: {len(errors)} workload(s) failed: {'; '.join(errors)}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    return asyncio.run(run(args))
