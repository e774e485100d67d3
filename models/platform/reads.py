"""Queries shared by services and DataLoaders: each answers for many parents in
one statement, lined up with the keys it was given."""

from __future__ import annotations

import enum
import json
from collections import defaultdict, namedtuple
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Boolean, bindparam, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import NullType
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
    statement: Any  # kept: a plan is found by the statement's id, and checked to be its own
    compiled: Any
    names: tuple[str, ...]  # the statement's parameters, in their order in its SQL
    literals: dict[str, Any]  # the values the statement carries itself
    bind: dict[str, Callable[[Any], Any]]  # bind processors of the parameters that have one
    row: type[tuple[Any, ...]]
    # (column index, result processor) of the columns that have one
    processed: tuple[tuple[int, Callable[[Any], Any]], ...]
    # A row from a tuple of its values, in C (namedtuple's own constructor is Python code)
    make: Callable[[tuple[Any, ...]], Any]


class _AnyOf(ColumnElement[bool]):
    """``column`` is one of the values of a list parameter: ``column = ANY($n)`` on
    PostgreSQL (an array), ``column IN (SELECT value FROM json_each(?))`` on SQLite (a JSON
    array), so one SQL text serves any number of values and is compiled once."""

    inherit_cache = True
    type = Boolean()
    # A comparison already: without this SQLite (no native booleans) would get
    # ``(... IN (...)) = 1`` in a WHERE clause, which no index can serve (a full scan).
    _is_implicitly_boolean = True
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("param", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: Any, param: BindParameter[Any]) -> None:
        self.column = column
        self.param = param


@compiles(_AnyOf)
def _any_of_array(element: _AnyOf, compiler: Any, **kw: Any) -> str:
    return f"{compiler.process(element.column, **kw)} = ANY({compiler.process(element.param, **kw)})"


@compiles(_AnyOf, "sqlite")
def _any_of_json(element: _AnyOf, compiler: Any, **kw: Any) -> str:
    column, values = compiler.process(element.column, **kw), compiler.process(element.param, **kw)
    return f"{column} IN (SELECT value FROM json_each({values}))"


def any_of(column: Any, name: str) -> ColumnElement[bool]:
    """``column`` in the list passed to ``fetch`` as ``name`` (for statements built once)."""
    return _AnyOf(column, bindparam(name, type_=NullType()))


_PLANS: dict[tuple[str, Any], _Plan] = {}
_MOST_PLANS = 512  # statement shapes are few; the bound only guards against a runaway


def _plan(dialect: Any, statement: Any, key: Any, cache_key: Any = None) -> _Plan:
    plan = _PLANS.get((dialect.name, key))
    if plan is not None and (cache_key is not None or plan.statement is statement):
        return plan
    # With its cache key, later statements of the same shape bring their own values.
    compiled = statement.compile(dialect=dialect, cache_key=cache_key)
    columns = compiled._result_columns  # noqa: SLF001 - (keyname, name, objects, type) per column
    processors = [column[3]._cached_result_processor(dialect, None) for column in columns]  # noqa: SLF001
    row = namedtuple("Row", [column[0] for column in columns])  # type: ignore[misc]  # the statement's names
    plan = _Plan(
        statement=None if cache_key is not None else statement,
        compiled=compiled,
        names=tuple(compiled.positiontup or ()),
        literals={
            name: param.effective_value for param, name in compiled.bind_names.items() if not param.required
        },
        bind=dict(compiled._bind_processors),  # noqa: SLF001 - per parameter, as SQLAlchemy applies them
        row=row,
        processed=tuple((i, p) for i, p in enumerate(processors) if p is not None),
        make=partial(tuple.__new__, row),
    )
    if len(_PLANS) >= _MOST_PLANS:
        _PLANS.clear()
    _PLANS[(dialect.name, key)] = plan
    return plan


def _json_item(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, date):
        return value.isoformat()  # as SQLite's DATE columns hold it (datetimes are not lists' items)
    return value


def _argument(dialect: str, value: Any, process: Callable[[Any], Any] | None) -> Any:
    if type(value) is list or type(value) is tuple:
        if dialect == "sqlite":
            return json.dumps([_json_item(item) for item in value])
        return [item.value if isinstance(item, enum.Enum) else item for item in value]
    return process(value) if process is not None and value is not None else value


async def _bare(session: AsyncSession) -> tuple[Any, Any]:
    """The session's connection and its driver connection, asked of the session once per
    transaction (``session.connection()`` is a greenlet hop each time)."""
    transaction = session.sync_session.get_transaction()
    cached = session.info.get("bare")
    if (
        cached is not None
        and transaction is not None
        and cached[0] is transaction
        and transaction.is_active
        and not cached[1].invalidated
    ):
        return cached[1], cached[2]
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    session.info["bare"] = (session.sync_session.get_transaction(), connection, raw)
    return connection, raw


async def fetch(session: AsyncSession, statement: Any, **values: Any) -> list[Any]:
    """Every row of the Core SELECT ``statement``, read on the bare driver inside the
    session's transaction (pending ORM changes are flushed first, as ``execute`` would).

    Built once (a module constant) with named ``bindparam``s and ``any_of`` lists, a
    statement is compiled once per dialect and each call only binds ``values``; one
    built per call (values inline) is compiled once per shape, keyed by SQLAlchemy's
    cache key, and brings its own values (IN lists spelled out)."""
    if session.new or session.dirty or session.deleted:
        await session.flush()
    connection, raw = await _bare(session)
    dialect = connection.dialect
    if values or getattr(statement, "_compiled_once", False):
        plan = _plan(dialect, statement, id(statement))
        bind, given, sql = plan.bind, {**plan.literals, **values}, plan.compiled.string
        args = [_argument(dialect.name, given[name], bind.get(name)) for name in plan.names]
    else:
        sql, args, plan = _inline(dialect, statement)
    sync = connection.sync_connection
    if sync is not None and (sync._has_events or sync.engine._has_events):  # noqa: SLF001
        # Listeners (statement counts, tracing) see these statements as any other.
        sync.dispatch.before_cursor_execute(sync, None, sql, args, None, False)
    if sync is not None and sync._echo:  # noqa: SLF001 - the engine's SQL log, as for any statement
        sync._log_info("%s", sql)  # noqa: SLF001
        sync._log_info("[bare driver] %d parameters", len(args))  # noqa: SLF001 - values stay out of the log
    try:
        records = await _run(raw.dbapi_connection, dialect.name, sql, args)
    except dialect.loaded_dbapi.Error as error:
        # Raised as SQLAlchemy would: a dead connection is invalidated (the pool drops it)
        # and says so, so the DataLoaders retry the read on a fresh one.
        dead = dialect.is_disconnect(error, raw.dbapi_connection, None)
        if dead:
            session.info.pop("bare", None)
            await connection.invalidate(error)
        raise DBAPIError.instance(
            sql, args, error, dialect.loaded_dbapi.Error, connection_invalidated=dead, dialect=dialect
        ) from error
    if not records:
        return []
    # Column by column, so each column's processor runs in one C-level map over it.
    columns: list[Any] = list(zip(*records, strict=True))
    for i, process in plan.processed:
        columns[i] = map(process, columns[i])
    return list(map(plan.make, zip(*columns, strict=True)))


def _inline(dialect: Any, statement: Any) -> tuple[str, list[Any], _Plan]:
    """A statement built per call: its shape compiled once, its own values bound."""
    key = statement._generate_cache_key()  # noqa: SLF001 - SQLAlchemy's own statement cache key
    plan = _plan(dialect, statement, key.key, key)
    params = plan.compiled.construct_params(
        extracted_parameters=key.bindparams, escape_names=False, _no_postcompile=True
    )
    expanded = plan.compiled._process_parameters_for_postcompile(params)  # noqa: SLF001 - IN lists spelled out
    bind = expanded.processors
    args = [
        (bind[name](value) if name in bind and value is not None else value)
        for name, value in ((name, expanded.parameters[name]) for name in expanded.positiontup)
    ]
    return expanded.statement, args, plan


def compiled_once(statement: Any) -> Any:
    """Mark a module-level statement to be compiled once per dialect by ``fetch``."""
    statement._compiled_once = True  # noqa: SLF001 - read back by fetch
    return statement


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


def keyed(query: Any, key: Any) -> Any:
    """``query`` for the rows whose ``key`` is among the list ``fetch`` is given as
    ``keys``: built once (a module constant), compiled once per dialect."""
    return compiled_once(query.where(any_of(key, "keys")))


_BY_ID: dict[Any, Any] = {}


async def light_rows_by_ids(session: AsyncSession, table: type[SQLModel], ids: Sequence[str]) -> list[Any]:
    """``rows_by_ids`` for DataLoaders: light rows (``fetch``) instead of ORM objects."""
    columns: Any = table_of(table)
    statement = _BY_ID.get(columns)
    if statement is None:
        statement = _BY_ID[columns] = keyed(select(columns), columns.c.id)
    found = {row.id: row for row in await fetch(session, statement, keys=list(ids))}
    return [found.get(i) for i in ids]


async def light_grouped(
    session: AsyncSession, statement: Any, key: str, keys: Sequence[str]
) -> list[list[Any]]:
    """``grouped`` for DataLoaders: ``statement`` (made by ``keyed``) selects a table's
    columns, ``key`` among them, and the groups hold light rows (``fetch``)."""
    groups: dict[str, list[Any]] = defaultdict(list)
    for row in await fetch(session, statement, keys=list(keys)):
        groups[getattr(row, key)].append(row)
    return [groups.get(k, []) for k in keys]
