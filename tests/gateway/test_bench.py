"""`python -m bench --smoke`: every workload's code path at tiny sizes, through a real
server, on SQLite (and on PostgreSQL when GATEWAY_TEST_POSTGRES_URL is set). It checks
that the benchmark runs and reports, never how fast anything is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.serve

ROOT = Path(__file__).resolve().parents[2]
WORKLOADS = {
    "ingest/http",
    "ingest/service",
    "month_count/setup",
    "month_count/service",
    "month_count/http",
    "dashboard/setup",
    "dashboard/http",
    "fleet/http",
    "fleet/sql",
    "seats/http",
    "entitlements/setup",
    "entitlements/http",
    "entitlements/sql",
}
HEADLINES = {
    "ingest/http",
    "ingest/service",
    "month_count/service",
    "month_count/http",
    "dashboard/http",
    "fleet/http",
    "seats/http",
    "entitlements/http",
}


def test_the_smoke_run_measures_every_workload_on_each_database_and_writes_its_json(tmp_path: Path) -> None:
    databases = ["sqlite", "postgres"] if os.environ.get("GATEWAY_TEST_POSTGRES_URL") else ["sqlite"]
    command = [
        sys.executable,
        "-m",
        "bench",
        "--smoke",
        "--out",
        str(tmp_path),
        "--databases",
        ",".join(databases),
    ]
    if "postgres" in databases:
        command.append("--require-postgres")
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr

    written = sorted(p.name for p in tmp_path.glob("*.json"))
    assert len(written) == 2 and "latest.json" in written, written
    printed = next(line for line in done.stdout.splitlines() if line.startswith("results: "))
    result = Path(printed.removeprefix("results: "))
    assert result.parent == tmp_path and result.exists()
    payload = json.loads(result.read_text())
    assert payload == json.loads((tmp_path / "latest.json").read_text())

    rows = payload["rows"]
    for database in databases:
        assert {r["workload"] for r in rows if r["database"] == database} == WORKLOADS, database
    for row in rows:
        assert row["value"] > 0, row
        assert row["baseline"] is None or row["baseline"] > 0, row
        assert row["ok"] in (True, False, None), row
    assert payload["errors"] == []
    assert payload["summary"].startswith("summary: ")
    assert done.stdout.splitlines()[-1] == payload["summary"]  # the last line sums up the ratios
    for database in databases:  # every headline ratio is on the summary line
        for workload in HEADLINES:
            assert f"{workload} {database} " in payload["summary"], (workload, database)
    for workload in WORKLOADS:
        assert workload in done.stdout  # the table shows them too
