"""What `billing-gateway` checks before it touches anything: that the database at
GATEWAY_DATABASE_URL answers. When it does not, the command ends with one line naming
the variable, the URL (its password hidden) and what was wrong, instead of the driver's
traceback: PostgreSQL not listening or not found, a database or user it does not know,
a SQLite file whose directory does not exist or cannot hold it."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from models.platform.store import Store

# How long PostgreSQL may take to accept a connection at start-up (asyncpg's own
# default is a minute of silence).
CONNECT_SECONDS = 15.0
_RUNNING = "check that it is running and the URL is right"


class DatabaseUnreachable(Exception):
    """The database at GATEWAY_DATABASE_URL did not answer; ``str`` is the one line to show."""


def shown_url(url: str) -> str:
    """The URL as it may be printed: its password, in the netloc or the query, hidden."""
    parsed = make_url(url)
    if "password" not in parsed.query:
        return parsed.render_as_string(hide_password=True)
    hidden = parsed.update_query_dict({"password": "HIDDEN"}).render_as_string(hide_password=True)
    return hidden.replace("password=HIDDEN", "password=***")


async def check_database(store: Store) -> None:
    """Open one connection (the first thing the migration would do); raise
    ``DatabaseUnreachable`` saying why, in one line, when it cannot be opened."""
    database = make_url(store.url).database or ""
    uri = bool(make_url(store.url).query) or database.startswith("file:") or database in ("", ":memory:")
    try:
        if store.dialect == "postgresql":
            await asyncio.wait_for(store.ping(), CONNECT_SECONDS)
        elif uri:
            await store.ping()  # a URI filename or driver options: opened as the gateway will
        else:
            # With sqlite3 itself: aiosqlite, failing to open a file, leaves a thread that
            # reports a traceback of its own once the event loop has closed.
            await asyncio.to_thread(_open_sqlite, database)
    except Exception as exc:
        raise DatabaseUnreachable(describe(store.url, exc)) from exc


def _open_sqlite(database: str) -> None:
    """Open the file (creating it, as the migration would) and read its header."""
    connection = sqlite3.connect(database, timeout=30)  # may wait on another process's migration
    try:
        connection.execute("PRAGMA schema_version")
    finally:
        connection.close()


def describe(url: str, exc: BaseException) -> str:
    """One line: which variable, which URL, what was wrong and what to check."""
    verb, problem, advice = _diagnose(url, _causes(exc))
    password = make_url(url).password
    if password and len(str(password)) >= 4:  # no driver quotes it; should one ever
        problem = problem.replace(str(password), "***")
    return f"cannot {verb} the database at GATEWAY_DATABASE_URL={shown_url(url)} ({problem}); {advice}"


def _causes(exc: BaseException) -> list[BaseException]:
    """The error and what it wraps (SQLAlchemy's ``orig``, then the causes), outermost first."""
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in found:
        found.append(current)
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__ or current.__context__
    return found


def _first(causes: list[BaseException], kind: type[BaseException]) -> BaseException | None:
    return next((c for c in causes if isinstance(c, kind)), None)


def _diagnose(url: str, causes: list[BaseException]) -> tuple[str, str, str]:
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        return _sqlite(parsed.database or "", causes)
    if missing := _first(causes, asyncpg.InvalidCatalogNameError):
        name = parsed.database or "the database"
        return "use", _text(missing), f"create it (CREATE DATABASE {name}) or fix the URL"
    login = _first(causes, asyncpg.InvalidAuthorizationSpecificationError) or _first(
        causes, asyncpg.InvalidPasswordError
    )
    if login:
        return "use", _text(login), "check the user name and password in the URL"
    if _first(causes, ConnectionRefusedError):
        return "reach", "connection refused", _RUNNING
    if _first(causes, socket.gaierror):
        return "reach", f"host {parsed.host!r} not found", _RUNNING
    if _first(causes, TimeoutError):
        return "reach", f"no answer within {CONNECT_SECONDS:g} s", _RUNNING
    if other := _first(causes, asyncpg.PostgresError):
        return "use", _text(other), "check the URL and the server's log"
    if network := _first(causes, OSError):
        return "reach", _text(network), _RUNNING
    return "reach", _text(causes[-1]), _RUNNING


def _sqlite(database: str, causes: list[BaseException]) -> tuple[str, str, str]:
    writable = "create it or point the URL at a writable path"
    path = Path(database)
    parent = path.parent
    if not parent.exists():
        return "open", f"the directory {parent} does not exist", writable
    if not parent.is_dir():
        return "open", f"{parent} is not a directory", writable
    if not path.exists() and not os.access(parent, os.W_OK):
        return "open", f"cannot create {path.name} in {parent}: permission denied", writable
    error = _first(causes, sqlite3.Error)
    if error is not None and "not a database" in str(error):
        return "open", f"{path} is not a SQLite database", "point the URL at the gateway's database file"
    return "open", _text(error or causes[-1]), writable


def _text(exc: BaseException) -> str:
    """The error's own first line (SQLAlchemy's wrappers add the statement and a link)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
