"""A database that cannot be used stops every command with one line on stderr that
names GATEWAY_DATABASE_URL (its password hidden) and what was wrong, exit status 1, and
no traceback; `serve` says so before uvicorn starts anything."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import PG_URL

COMMANDS = [["serve"], ["migrate"], ["bill"], ["seed-demo"], ["create-api-key", "--admin"]]
RUNNING = "check that it is running and the URL is right"
WRITABLE = "create it or point the URL at a writable path"


def run(db_url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        env={**os.environ, "GATEWAY_DATABASE_URL": db_url, "GATEWAY_LOG_LEVEL": "INFO"},
    )


def the_line(result: subprocess.CompletedProcess[str]) -> str:
    """What the user reads: exactly one line on stderr, nothing on stdout, exit 1."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again: nothing listens there


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_every_command_says_in_one_line_that_the_database_cannot_be_used(
    backend: str, command: list[str], tmp_path: Path
) -> None:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/missing/gateway.db"
        expected = (
            f"billing-gateway: cannot open the database at GATEWAY_DATABASE_URL={url} "
            f"(the directory {tmp_path}/missing does not exist); {WRITABLE}"
        )
    else:  # PostgreSQL stopped: nothing listens on its port
        port = closed_port()
        url = f"postgresql+asyncpg://postgres:hunter2-secret@127.0.0.1:{port}/gateway"
        expected = (
            "billing-gateway: cannot reach the database at GATEWAY_DATABASE_URL="
            f"postgresql+asyncpg://postgres:***@127.0.0.1:{port}/gateway (connection refused); {RUNNING}"
        )
    result = run(url, tmp_path, *command)
    assert the_line(result) == expected
    assert "hunter2" not in result.stderr
    assert not (tmp_path / "missing").exists()  # nothing made on the way


def sqlite_problems(tmp_path: Path) -> list[tuple[str, str]]:
    (tmp_path / "a-file").write_text("not a directory")
    (tmp_path / "notes.db").write_text("not a SQLite database either, though named like one")
    return [
        (
            f"sqlite+aiosqlite:///{tmp_path}/no/such/dir/gateway.db",
            f"cannot open the database at GATEWAY_DATABASE_URL=sqlite+aiosqlite:///{tmp_path}/no/such/dir/"
            f"gateway.db (the directory {tmp_path}/no/such/dir does not exist); {WRITABLE}",
        ),
        (
            f"sqlite+aiosqlite:///{tmp_path}/a-file/gateway.db",
            f"cannot open the database at GATEWAY_DATABASE_URL=sqlite+aiosqlite:///{tmp_path}/a-file/"
            f"gateway.db ({tmp_path}/a-file is not a directory); {WRITABLE}",
        ),
        (
            f"sqlite+aiosqlite:///{tmp_path}/notes.db",
            f"cannot open the database at GATEWAY_DATABASE_URL=sqlite+aiosqlite:///{tmp_path}/notes.db "
            f"({tmp_path}/notes.db is not a SQLite database); point the URL at the gateway's database file",
        ),
    ]


def postgres_problems() -> list[tuple[str, str]]:
    """Against the test server: a database it does not have, a user it does not know."""
    database = f"gw_missing_{uuid.uuid4().hex[:8]}"
    no_database = make_url(PG_URL).set(database=database)
    user = f"gw_nobody_{uuid.uuid4().hex[:8]}"
    no_user = make_url(PG_URL).set(username=user, password="not-the-password")
    return [
        (
            no_database.render_as_string(hide_password=False),
            "cannot use the database at GATEWAY_DATABASE_URL="
            f"{no_database.render_as_string(hide_password=True)} "
            f'(database "{database}" does not exist); create it (CREATE DATABASE {database}) or fix the URL',
        ),
        (
            no_user.render_as_string(hide_password=False),
            "cannot use the database at GATEWAY_DATABASE_URL="
            f"{no_user.render_as_string(hide_password=True)} (",  # the server's own words follow
        ),
    ]


def test_serve_names_what_was_wrong(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if backend == "sqlite":
        problems = sqlite_problems(tmp_path)
    else:
        request.getfixturevalue("pg_template")  # skips, or fails under CI, like every PostgreSQL test
        problems = postgres_problems()
    for url, expected in problems:
        line = the_line(run(url, tmp_path, "serve"))
        assert line.startswith(f"billing-gateway: {expected}"), line
        assert "not-the-password" not in line
    if backend == "postgres":
        assert "gw_nobody_" in line and line.endswith("; check the user name and password in the URL")
