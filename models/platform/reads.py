"""Queries shared by services and DataLoaders: each answers for many parents in
one statement, lined up with the keys it was given."""

from __future__ import annotations

from collections import defaultdict, namedtuple
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from models.tables.base import table_of

Row = TypeVar("Row", bound=SQLModel)


async def rows_by_ids(session: AsyncSession, table: type[Row], ids: Sequence[str]) -> list[Row | None]:
    """One SELECT for many ids; the result lines up with ``ids`` (None where missing).
    Every table it is given has a string primary key named ``id``."""
    id_column: Any = table_of(table).c.id
    rows = (await session.scalars(select(table).where(id_column.in_(ids)))).all()
    found: dict[str, Row] = {getattr(row, "id"): row for row in rows}  # noqa: B009 - Row is any table with an id
    return [found.get(i) for i in ids]


async def grouped(session: AsyncSession, query: Any, key: Any, keys: Sequence[str]) -> list[list[Any]]:
    """Rows of ``query`` whose ``key`` is in ``keys``, as one list per key."""
    groups: dict[str, list[Any]] = defaultdict(list)
    for row in (await session.execute(query.where(key.in_(keys)).add_columns(key))).all():
        groups[row[-1]].append(row[0])
    return [groups.get(k, []) for k in keys]


# --- Reads on the bare driver -------------------------------------------------------------
#
# ``fetch`` runs a Core SELECT straight on the driver under the session's connection (and
# transaction): the SQL is compiled once per statement shape and dialect (keyed by SQLAlchemy's
# own cache key, which leaves the bound values out), asyncpg prepares it (its statement cache),
# and aiosqlite runs it and fetches every row in one hop to its thread. The rows come back as
# light named tuples whose values went through the very result processors SQLAlchemy applies
# (enums, datetimes, JSON...), so they equal what ``session.execute`` would give, attribute by
# attribute, without the ORM's identity map or its result machinery.


@dataclass(frozen=True)
class _Plan:
    compiled: Any
    row: type[tuple[Any, ...]]
    # (column index, result processor) of the columns that have one
    processed: tuple[tuple[int, Callable[[Any], Any]], ...]
    # A row from a tuple of its values, in C (namedtuple's own constructor is Python code)
    make: Callable[[tuple[Any, ...]], Any]


_PLANS: dict[tuple[str, Any], _Plan] = {}
_MOST_PLANS = 512  # statement shapes are few; the bound only guards against a runaway


def _plan(dialect: Any, statement: Any, key: Any) -> _Plan:
    plan = _PLANS.get((dialect.name, key.key))
    if plan is None:
        # Compiled with its cache key, so later statements of the same shape bring their values.
        compiled = statement.compile(dialect=dialect, cache_key=key)
        columns = compiled._result_columns  # noqa: SLF001 - (keyname, name, objects, type) per column
        names = [column[0] for column in columns]
        processors = [column[3]._cached_result_processor(dialect, None) for column in columns]  # noqa: SLF001
        processed = tuple((i, p) for i, p in enumerate(processors) if p is not None)
        row = namedtuple("Row", names)  # type: ignore[misc]  # names are the statement's
        plan = _Plan(compiled, row, processed, partial(tuple.__new__, row))
        if len(_PLANS) >= _MOST_PLANS:
            _PLANS.clear()
        _PLANS[(dialect.name, key.key)] = plan
    return plan


async def fetch(session: AsyncSession, statement: Any) -> list[Any]:
    """Every row of the Core SELECT ``statement``, read on the bare driver inside the
    session's transaction (pending ORM changes are flushed first, as ``execute`` would)."""
    if session.new or session.dirty or session.deleted:
        await session.flush()
    connection = await session.connection()
    key = statement._generate_cache_key()  # noqa: SLF001 - SQLAlchemy's own statement cache key
    plan = _plan(connection.dialect, statement, key)
    compiled = plan.compiled
    params = compiled.construct_params(
        extracted_parameters=key.bindparams, escape_names=False, _no_postcompile=True
    )
    expanded = compiled._process_parameters_for_postcompile(params)  # noqa: SLF001 - IN lists spelled out
    bind = expanded.processors
    args = [
        (bind[name](value) if name in bind and value is not None else value)
        for name, value in ((name, expanded.parameters[name]) for name in expanded.positiontup)
    ]
    raw = await connection.get_raw_connection()
    dialect = connection.dialect
    sync = connection.sync_connection
    if sync is not None and (sync._has_events or sync.engine._has_events):  # noqa: SLF001
        # Listeners (statement counts, tracing) see these statements as any other.
        sync.dispatch.before_cursor_execute(sync, None, expanded.statement, args, None, False)
    if sync is not None and sync._echo:  # noqa: SLF001 - the engine's SQL log, as for any statement
        sync._log_info("%s", expanded.statement)  # noqa: SLF001
        sync._log_info("[bare driver] %d parameters", len(args))  # noqa: SLF001 - values stay out of the log
    try:
        records = await _run(raw.dbapi_connection, dialect.name, expanded.statement, args)
    except dialect.loaded_dbapi.Error as error:
        # Raised as SQLAlchemy would: a dead connection is invalidated (the pool drops it)
        # and says so, so the DataLoaders retry the read on a fresh one.
        dead = dialect.is_disconnect(error, raw.dbapi_connection, None)
        if dead:
            await connection.invalidate(error)
        raise DBAPIError.instance(
            expanded.statement,
            args,
            error,
            dialect.loaded_dbapi.Error,
            connection_invalidated=dead,
            dialect=dialect,
        ) from error
    if not records:
        return []
    # Column by column, so each column's processor runs in one C-level map over it.
    columns: list[Any] = list(zip(*records, strict=True))
    for i, process in plan.processed:
        columns[i] = map(process, columns[i])
    return list(map(plan.make, zip(*columns, strict=True)))


async def _run(adapted: Any, dialect: str, sql: str, args: list[Any]) -> Sequence[Any]:
    driver = adapted.driver_connection
    if dialect == "sqlite":
        return await driver.execute_fetchall(sql, args)
    # asyncpg: SQLAlchemy's adapter opens its transaction (with the session's isolation
    # level) lazily on the first statement; open it as that would, under its mutex.
    async with adapted._execute_mutex:  # noqa: SLF001 - the adapter's one-statement-at-a-time lock
        if adapted._transaction is None:  # noqa: SLF001
            await adapted._start_transaction()  # noqa: SLF001
        try:
            return await driver.fetch(sql, *args)
        except Exception as error:
            adapted._handle_exception(error)  # noqa: SLF001 - raises it as the DBAPI error SQLAlchemy knows
            raise


async def light_rows_by_ids(session: AsyncSession, table: type[SQLModel], ids: Sequence[str]) -> list[Any]:
    """``rows_by_ids`` for DataLoaders: light rows (``fetch``) instead of ORM objects."""
    columns: Any = table_of(table)
    found = {row.id: row for row in await fetch(session, select(columns).where(columns.c.id.in_(ids)))}
    return [found.get(i) for i in ids]


async def light_grouped(session: AsyncSession, query: Any, key: Any, keys: Sequence[str]) -> list[list[Any]]:
    """``grouped`` for DataLoaders: ``query`` selects a table's columns, ``key`` among
    them, and the groups hold light rows (``fetch``)."""
    groups: dict[str, list[Any]] = defaultdict(list)
    name = key.key
    for row in await fetch(session, query.where(key.in_(keys))):
        groups[getattr(row, name)].append(row)
    return [groups.get(k, []) for k in keys]
