"""Scratch databases, migrated, and bare-driver connections to them.

SQLite: a file in a temporary folder, removed at the end. PostgreSQL: a database
``bench_<pid>`` created through the server's ``postgres`` database (as tests/conftest.py
does) and dropped at the end. The server comes from GATEWAY_BENCH_POSTGRES_URL, else
GATEWAY_TEST_POSTGRES_URL, else postgresql+asyncpg://postgres@127.0.0.1:5432/test.

``Raw`` is the hand-written baseline's connection: aiosqlite (the driver the product
uses on SQLite) or asyncpg, one SQL dialect with ``?`` placeholders for both.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg
from sqlalchemy.engine import make_url

from models.platform.migrate import upgrade_url

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


class Unavailable(RuntimeError):
    """The database server cannot be reached."""


def postgres_url() -> str:
    return (
        os.environ.get("GATEWAY_BENCH_POSTGRES_URL")
        or os.environ.get("GATEWAY_TEST_POSTGRES_URL")
        or DEFAULT_POSTGRES_URL
    )


def redacted(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _dsn(url: str, database: str | None = None) -> str:
    """An asyncpg DSN from a SQLAlchemy URL (to another database of that server if named)."""
    parsed = make_url(url)
    if database:
        parsed = parsed.set(database=database)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass(frozen=True, slots=True)
class Database:
    kind: str  # "sqlite" or "postgres"
    url: str  # SQLAlchemy URL, as GATEWAY_DATABASE_URL takes it

    async def connect(self) -> Raw:
        if self.kind == "sqlite":
            conn = await aiosqlite.connect(make_url(self.url).database or "", isolation_level=None)
            # What the product's connections set (models/platform/store.py), so both write alike.
            for pragma in ("busy_timeout=30000", "foreign_keys=ON", "synchronous=NORMAL"):
                await conn.execute(f"PRAGMA {pragma}")
            return SqliteRaw(conn)
        return PostgresRaw(await asyncpg.connect(_dsn(self.url), timeout=10))


class Raw:
    """A bare-driver connection. SQL uses ``?`` placeholders on both databases."""

    kind: str

    async def execute(self, sql: str, *args: Any) -> None:
        raise NotImplementedError

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        raise NotImplementedError

    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    async def fetchval(self, sql: str, *args: Any) -> Any:
        rows = await self.fetch(sql, *args)
        return rows[0][0] if rows else None

    def transaction(self) -> Any:
        raise NotImplementedError

    async def bulk_load(
        self, table: str, columns: Sequence[str], chunks: Iterable[Sequence[Sequence[Any]]]
    ) -> None:
        """Load rows the fastest way the driver has, foreign keys unchecked while loading
        (the caller vouches for them; PostgreSQL re-validates them at the end). Setup for
        a measurement, never measured itself."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


def _sqlite_arg(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value  # how SQLAlchemy stores a DATE


class SqliteRaw(Raw):
    kind = "sqlite"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def execute(self, sql: str, *args: Any) -> None:
        await self.conn.execute(sql, [_sqlite_arg(a) for a in args])

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self.conn.executemany(sql, rows)

    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        async with self.conn.execute(sql, [_sqlite_arg(a) for a in args]) as cursor:
            return [tuple(row) for row in await cursor.fetchall()]

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        await self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            await self.conn.execute("ROLLBACK")
            raise
        await self.conn.execute("COMMIT")

    async def bulk_load(
        self, table: str, columns: Sequence[str], chunks: Iterable[Sequence[Sequence[Any]]]
    ) -> None:
        """executemany, one transaction per chunk, with this connection's foreign-key
        checks off (a PRAGMA that only holds outside a transaction)."""
        insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
        await self.conn.execute("PRAGMA foreign_keys=OFF")
        try:
            for chunk in chunks:
                async with self.transaction():
                    await self.conn.executemany(insert, chunk)
        finally:
            await self.conn.execute("PRAGMA foreign_keys=ON")

    async def close(self) -> None:
        await self.conn.close()


_MARK = re.compile(r"\?")


def _numbered(sql: str) -> str:
    counter = iter(range(1, 10_000))
    return _MARK.sub(lambda _: f"${next(counter)}", sql)


class PostgresRaw(Raw):
    kind = "postgres"

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def execute(self, sql: str, *args: Any) -> None:
        await self.conn.execute(_numbered(sql), *args)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self.conn.executemany(_numbered(sql), rows)

    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in await self.conn.fetch(_numbered(sql), *args)]

    def transaction(self) -> Any:
        return self.conn.transaction()

    async def bulk_load(
        self, table: str, columns: Sequence[str], chunks: Iterable[Sequence[Sequence[Any]]]
    ) -> None:
        """copy_records_to_table in one transaction. PostgreSQL checks a foreign key by a
        trigger per row, ten times the cost of the copy, so the table's foreign keys are
        dropped for the copy and added back, as they were, before it commits (which
        validates every row in one pass)."""
        async with self.conn.transaction():
            keys = await self.conn.fetch(
                "SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint "
                "WHERE conrelid = $1::regclass AND contype = 'f' ORDER BY conname",
                table,
            )
            for key in keys:
                await self.conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{key["conname"]}"')
            for chunk in chunks:
                await self.conn.copy_records_to_table(table, records=chunk, columns=list(columns))
            for key in keys:
                await self.conn.execute(
                    f'ALTER TABLE {table} ADD CONSTRAINT "{key["conname"]}" {key["definition"]}'
                )

    async def close(self) -> None:
        await self.conn.close()


@asynccontextmanager
async def sqlite_database() -> AsyncIterator[Database]:
    folder = Path(tempfile.mkdtemp(prefix="bench_sqlite_"))
    try:
        db = Database("sqlite", f"sqlite+aiosqlite:///{folder / 'bench.db'}")
        await upgrade_url(db.url)
        yield db
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(_dsn(url, "postgres"), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def probe_postgres(url: str | None = None) -> str | None:
    """Why the PostgreSQL server cannot be used, or None."""
    server = url or postgres_url()
    try:
        await _admin(server, "SELECT 1")
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"PostgreSQL at {redacted(server)} is unreachable: {exc!r}"
    return None


@asynccontextmanager
async def postgres_database(url: str | None = None) -> AsyncIterator[Database]:
    """Raises Unavailable when the server cannot be reached."""
    server = url or postgres_url()
    name = f"bench_{os.getpid()}"
    try:
        await _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await _admin(server, f'CREATE DATABASE "{name}"')
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise Unavailable(f"PostgreSQL at {redacted(server)} is unreachable: {exc!r}") from exc
    try:
        db = Database("postgres", make_url(server).set(database=name).render_as_string(hide_password=False))
        await upgrade_url(db.url)
        yield db
    finally:
        await _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
