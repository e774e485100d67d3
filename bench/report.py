"""The table on stdout, the summary line of ratios, and the JSON file."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.core import Row, fmt

HEADERS = ("workload", "db", "metric", "value", "unit", "baseline", "ratio", "target", "ok", "note")


def _ok(row: Row) -> str:
    return "-" if row.ok is None else ("yes" if row.ok else "NO")


def table(rows: Sequence[Row]) -> str:
    cells = [
        (
            r.workload,
            r.database,
            r.metric,
            fmt(r.value),
            r.unit,
            fmt(r.baseline),
            "-" if r.ratio is None else f"{r.ratio:.2f}",
            r.target or "-",
            _ok(r),
            r.note,
        )
        for r in rows
    ]
    widths = [max(len(str(c)) for c in column) for column in zip(HEADERS, *cells, strict=True)]
    numeric = {3, 5, 6}

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            (v.rjust(w) if i in numeric else v.ljust(w))
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(HEADERS), rule, *(line(c) for c in cells)])


def summary(rows: Sequence[Row]) -> str:
    """One line: each headline figure's ratio to its baseline, and the targets met."""
    ratios = [f"{r.workload} {r.database} {r.ratio:.2f}x" for r in rows if r.headline and r.ratio is not None]
    checked = [r for r in rows if r.ok is not None]
    met = sum(1 for r in checked if r.ok)
    return (
        "summary: ratio to baseline (rates: higher is better; times: lower is better): "
        + (", ".join(ratios) or "none")
        + f" | targets met: {met}/{len(checked)}"
    )


def write(out: Path, started: datetime, payload: dict[str, Any]) -> Path:
    """``out/<UTC timestamp>.json`` and ``out/latest.json``; returns the first."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{started:%Y%m%dT%H%M%SZ}.json"
    text = json.dumps(payload, indent=2, default=str) + "\n"
    path.write_text(text)
    (out / "latest.json").write_text(text)
    return path
