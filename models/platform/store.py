"""The async engine and the two kinds of session the services use.

``transaction()`` is a write unit of work: one transaction per use case, committed
when the block ends, rolled back on any exception. On SQLite it starts with
``BEGIN IMMEDIATE`` so writers queue on the database lock instead of failing when a
read lock cannot be upgraded; on PostgreSQL services take row locks explicitly.
``read()`` is a read-only session for queries and DataLoaders. While a query operation
runs, ``read()`` hands out the request's one shared session instead (``shared_reads``), so a
request reads on one connection, taken once.

No pre-ping on checkout: a connection the server closed is dropped at checkout when the
driver already knows it (asyncpg notices the closed socket for free), and a read that meets a
dead connection anyway is retried once on a fresh one by the DataLoaders.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")

# How services row-lock on PostgreSQL: FOR NO KEY UPDATE. It queues other writers of
# the row (and FOR SHARE readers) but not inserts whose foreign keys point at it, so
# one transaction holding a tenant while another, holding a subscription, inserts a
# member of that tenant cannot deadlock. (SQLite serializes writers anyway.)
ROW_LOCK: dict[str, Any] = {"key_share": True}


log = logging.getLogger("models.platform.store")

# SQLite: how long a writer waits for this process's other writers (PRAGMA busy_timeout's 30 s),
# and which task holds this process's write transaction (a task it starts is another task).
SQLITE_WRITER_WAIT = 30.0
_writing: ContextVar[asyncio.Task[Any] | None] = ContextVar("sqlite_writing", default=None)

# The session a query operation's reads share (resolvers.shared.loaders.SharedReads sets it
# for the operation): ``Store.read`` hands it out instead of a session of its own.
shared_reads: ContextVar[Callable[[], AbstractAsyncContextManager[AsyncSession]] | None] = ContextVar(
    "shared_reads", default=None
)


def before_commit(session: AsyncSession, hook: Callable[[], Awaitable[None]]) -> None:
    """Run ``hook`` as the last statement(s) of the session's transaction
    (``Store.transaction`` only)."""
    session.info.setdefault("before_commit", []).append(hook)


def after_commit(session: AsyncSession, hook: Callable[[], None]) -> None:
    """Call ``hook`` once the session's transaction has committed; never if it rolls
    back (``Store.transaction`` only)."""
    session.info.setdefault("after_commit", []).append(hook)


class UnsupportedDatabaseUrl(ValueError):
    pass


def check_url(url: str) -> str:
    try:
        driver = make_url(url).drivername
    except Exception as exc:  # sqlalchemy raises ArgumentError with the url in it
        raise UnsupportedDatabaseUrl(
            "the database URL could not be parsed; expected sqlite+aiosqlite:///path.db "
            "or postgresql+asyncpg://user@host:5432/db"
        ) from exc
    if driver not in SUPPORTED_DRIVERS:
        raise UnsupportedDatabaseUrl(
            f"database driver {driver!r} is not supported; use one of {', '.join(SUPPORTED_DRIVERS)}"
        )
    return driver


def _ensure_wal(cursor: Any, attempts: int = 100) -> None:
    """WAL persists in the file, so only a fresh file needs switching. The switch
    wants the file to itself and SQLite does not wait for that, so processes opening
    a fresh file together retry until one of them has switched it."""
    for _ in range(attempts):
        cursor.execute("PRAGMA journal_mode")
        if cursor.fetchone()[0] == "wal":
            return
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except Exception as exc:  # sqlite3.OperationalError, wrapped by the adapter
            if "locked" not in str(exc):
                raise
            time.sleep(0.02)  # once per fresh file, at start-up
    cursor.execute("PRAGMA journal_mode=WAL")


def _drop_closed_on_checkout(engine: AsyncEngine) -> None:
    """Instead of a pre-ping round trip per checkout: a connection asyncpg already knows
    closed (the server ended it) is replaced at checkout, for free."""

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        driver = getattr(dbapi_connection, "driver_connection", None)
        if driver is not None and driver.is_closed():
            raise exc.DisconnectionError("the connection was closed by the server")


def _install_sqlite_pragmas(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself (see below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # Wait for locks first: the other pragmas may need one (another process
        # migrating a fresh file holds it).
        cursor.execute("PRAGMA busy_timeout=30000")
        _ensure_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


class Store:
    """Owns the engine; hands out sessions. One per process (or per test)."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        driver = check_url(url)
        self.url = url
        self.dialect = "sqlite" if driver.startswith("sqlite") else "postgresql"
        options: dict[str, Any] = {"echo": echo}
        if self.dialect == "postgresql":
            options.update(pool_size=pool_size, max_overflow=pool_size)
        else:
            options.update(pool_size=pool_size, max_overflow=pool_size * 2, pool_timeout=60)
        self.engine: AsyncEngine = create_async_engine(url, **options)
        if self.dialect == "sqlite":
            _install_sqlite_pragmas(self.engine)
            write_engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        else:
            write_engine = self.engine
            _drop_closed_on_checkout(self.engine)
        # Writers: BEGIN IMMEDIATE on SQLite (see the module docstring).
        self.write_engine: AsyncEngine = write_engine
        self._reader = async_sessionmaker(self.engine, expire_on_commit=False)
        # A query's snapshot (resolvers.shared.loaders.SharedReads) keeps its connection for
        # the whole operation, and its reads all go there, but a request still needs another
        # connection for its key lookup (on a cache miss) and for whatever reads while every
        # snapshot is taken: were every connection held so, each such request would wait for
        # a second one until pool_timeout. At most ``pool_size`` snapshots are open at once
        # (a half or a third of the pool), so the rest always serves those sessions.
        self.max_snapshots = pool_size
        self.snapshots_open = 0
        self._writer = async_sessionmaker(write_engine, expire_on_commit=False)
        self._writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    @asynccontextmanager
    async def _queue(self) -> AsyncIterator[None]:
        """SQLite: this process's writers one at a time, handed on at once (see
        ``models.platform.locks``); one lock per event loop, as a lock serves one loop. A
        writer waits as long as SQLite's own busy timeout would, then fails as SQLite
        would; a transaction opened inside another of the same task fails at once (it
        could only wait for itself)."""
        if self.dialect != "sqlite":
            yield
            return
        task = asyncio.current_task()
        if task is not None and _writing.get() is task:
            raise RuntimeError("a write transaction was opened inside another: it would wait for itself")
        loop = asyncio.get_running_loop()
        lock = self._writers.get(loop)
        if lock is None:
            lock = self._writers[loop] = asyncio.Lock()
        try:
            if lock.locked():
                await asyncio.wait_for(lock.acquire(), SQLITE_WRITER_WAIT)
            else:
                await lock.acquire()  # free: taken at once, without a timer
        except TimeoutError:
            raise exc.OperationalError(
                "BEGIN IMMEDIATE", None, Exception(f"database is locked (waited {SQLITE_WRITER_WAIT:.0f} s)")
            ) from None
        token = _writing.set(task)
        try:
            yield
        finally:
            _writing.reset(token)
            lock.release()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self._queue(), self._writer() as session:
            async with session.begin():
                yield session
                # A hook may add hooks (a reaction records events, which NOTIFY): run until none is left.
                while hooks := session.info.pop("before_commit", None):
                    for before in hooks:
                        await before()
            for after in session.info.pop("after_commit", ()):
                try:
                    after()
                except Exception:  # the commit stands; a listener's failure is only logged
                    log.exception("after-commit hook failed")

    @asynccontextmanager
    async def read(self, *, own: bool = False) -> AsyncIterator[AsyncSession]:
        """A read session: in a query operation its shared one (see ``shared_reads``),
        else, or with ``own``, one of its own."""
        shared = None if own else shared_reads.get()
        if shared is not None:
            async with shared() as session:
                yield session
            return
        async with self._reader() as session:
            yield session

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncSession]:
        """A read-only session whose reads all see one committed state: REPEATABLE READ
        on PostgreSQL; on SQLite a read transaction already sees one WAL snapshot."""
        self.snapshots_open += 1
        try:
            async with self._reader() as session:
                if self.dialect == "postgresql":
                    await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
                yield session
        finally:
            self.snapshots_open -= 1

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
