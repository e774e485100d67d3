"""Per-request DataLoaders, one per relation (each domain declares its own in
``resolvers/<domain>/loaders.py``), so nested lists cost a constant number of SQL
statements however many parents there are.

In a query operation they share one read session (`SharedReads`): one connection
and one snapshot for the whole response, taken on first use, instead of a pool
checkout, a BEGIN and a ROLLBACK around each of their statements, which cost more
than the statements themselves. The root fields' services read in it too
(``Store.read`` consults ``models.platform.store.shared_reads``). A load that meets a
dead connection is retried once on a fresh one. Mutations keep a session per load
(and their own write transactions), so a field resolved after a write reads what it
wrote.

They load children of objects a service already scope-checked, so they check no
scope themselves: never hand one an id that came straight from a caller.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from models.platform.deps import Deps
from models.platform.reads import light_rows_by_ids
from models.platform.store import Store, shared_reads

Key = TypeVar("Key")
Value = TypeVar("Value")


class _Reads:
    """Where a request's DataLoaders read: a session of their own for each load, or,
    once ``share`` is called, one session opened on first use and kept, one load at
    a time, until ``close`` (or a load fails in it). While the store's snapshots are
    all taken (``Store.max_snapshots``), loads read in sessions of their own. After
    ``close`` it is back to a session per load, so a late load never leaves a session open."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._sharing = False
        self._lock = asyncio.Lock()
        self._opened: contextlib.AsyncExitStack | None = None
        self._session: AsyncSession | None = None
        # The task using the shared session: a read nested in another in the same task
        # (a service opening ``Store.read`` inside its own) uses it without waiting on itself.
        self._owner: asyncio.Task[Any] | None = None

    def share(self) -> None:
        self._sharing = True

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        if not self._sharing:
            async with self._store.read(own=True) as session:
                yield session
            return
        task = asyncio.current_task()
        if task is not None and self._owner is task:
            async with contextlib.nullcontext(self._session) if self._session else self._own() as session:
                yield session
            return
        async with self._lock:
            self._owner = task
            try:
                async with self._locked() as session:
                    yield session
            finally:
                self._owner = None

    def _own(self) -> contextlib.AbstractAsyncContextManager[AsyncSession]:
        return self._store.read(own=True)

    @contextlib.asynccontextmanager
    async def _locked(self) -> AsyncIterator[AsyncSession]:
        if self._session is None and self._store.snapshots_open < self._store.max_snapshots:
            stack = contextlib.AsyncExitStack()
            self._session = await stack.enter_async_context(self._store.snapshot())
            self._opened = stack
        if self._session is None:  # every snapshot taken: this load reads on its own
            async with self._own() as session:
                yield session
            return
        try:
            yield self._session
        except BaseException:
            # On PostgreSQL a failed statement aborts the transaction: the loads
            # after it start a session afresh instead of failing with it.
            opened, self._opened, self._session = self._opened, None, None
            if opened is not None:
                await opened.aclose()
            raise

    async def close(self) -> None:
        self._sharing = False
        async with self._lock:
            opened, self._opened, self._session = self._opened, None, None
            if opened is not None:
                await opened.aclose()


@dataclass(frozen=True, eq=False)
class Loader(Generic[Key, Value]):
    """A relation read in batches. Each domain declares its loaders once
    (``resolvers/<domain>/loaders.py``); a request makes its own DataLoader of each on
    first use, so nested lists cost one statement per relation however many parents."""

    query: Callable[[AsyncSession, Deps, Sequence[Key]], Awaitable[list[Value]]]
    cache_key: Callable[[Key], Any] | None = None

    @classmethod
    def of(
        cls,
        query: Callable[[AsyncSession, Sequence[Key]], Awaitable[list[Value]]],
        cache_key: Callable[[Key], Any] | None = None,
    ) -> Loader[Key, Value]:
        """A loader whose query needs only the session."""

        async def with_session(session: AsyncSession, _deps: Deps, keys: Sequence[Key]) -> list[Value]:
            return await query(session, keys)

        return cls(with_session, cache_key)

    @classmethod
    def by_id(cls, table: type[Any]) -> Loader[str, Any]:
        """Rows by id, as light rows read on the bare driver (``models.platform.reads.fetch``):
        the table's columns as attributes, typed as the ORM types them."""

        async def query(session: AsyncSession, ids: Sequence[str]) -> list[Any]:
            return await light_rows_by_ids(session, table, ids)

        return Loader.of(query)

    async def load(self, info: Any, key: Key) -> Value:
        return await info.context.loaders.get(self).load(key)

    async def load_many(self, info: Any, keys: Sequence[Key]) -> list[Value]:
        return list(await info.context.loaders.get(self).load_many(keys))


class Loaders:
    """A request's DataLoaders (and a websocket operation's), made on first use."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.reads = _Reads(deps.store)
        self._made: dict[Loader[Any, Any], DataLoader[Any, Any]] = {}

    def get(self, loader: Loader[Key, Value]) -> DataLoader[Key, Value]:
        made = self._made.get(loader)
        if made is None:
            reads, deps = self.reads, self.deps

            async def load(keys: Sequence[Key]) -> list[Value]:
                try:
                    async with reads.session() as session:
                        return await loader.query(session, deps, keys)
                except DBAPIError as error:
                    if not error.connection_invalidated:
                        raise
                # The connection was dead (the server restarted or ended it): nothing was
                # returned yet, so the read runs once more, on a fresh connection.
                async with reads.session() as session:
                    return await loader.query(session, deps, keys)

            made = self._made[loader] = DataLoader(load_fn=load, cache_key_fn=loader.cache_key)
        return made


class SharedReads(SchemaExtension):
    """A query operation's DataLoaders share one read session, closed when it ends."""

    async def on_execute(self) -> AsyncIterator[None]:
        loaders = getattr(self.execution_context.context, "loaders", None)
        if loaders is None:
            yield
            return
        token = None
        if self.execution_context.operation_type is OperationType.QUERY:
            loaders.reads.share()
            token = shared_reads.set(loaders.reads.session)
        try:
            yield
        finally:
            if token is not None:
                shared_reads.reset(token)
            await loaders.reads.close()
