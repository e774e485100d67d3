"""Shared column types and the metadata every table module registers on."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import TypeAdapter
from sqlalchemy import JSON, DateTime, MetaData, String, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

# Deterministic constraint names: Alembic needs them to alter tables on SQLite
# (batch mode) and to compare the migrated schema with these models.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata: MetaData = SQLModel.metadata


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on SQLite (which keeps no offset) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("refusing to store a naive datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is UTC:  # asyncpg's timestamptz: already what it should be
            return value  # type: ignore[no-any-return]  # a datetime, as the driver typed it
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        """On SQLite, the stored text (SQLAlchemy's ``2026-12-03 19:55:42.123456``, UTC)
        parsed in C and marked UTC in one step: a page of invoices reads thousands of
        these, and the general path (a regular expression, then ``process_result_value``)
        cost a tenth of it. Anything else takes the general path."""
        general = super().result_processor(dialect, coltype)
        if dialect.name != "sqlite" or general is None:
            return general
        parse = datetime.fromisoformat

        def process(value: Any) -> datetime | None:
            if type(value) is str and len(value) in _SQLITE_TEXT:
                try:
                    parsed = parse(value)
                except ValueError:
                    return general(value)  # type: ignore[no-any-return]  # SQLAlchemy's own processor says why
                if parsed.tzinfo is None:
                    return parsed.replace(tzinfo=UTC)
            return general(value)  # type: ignore[no-any-return]  # None, or not the usual text

        return process


# How long SQLAlchemy's SQLite text of a datetime is: without, and with, microseconds.
_SQLITE_TEXT = frozenset({19, 26})


E = TypeVar("E", bound=enum.StrEnum)


class EnumText(TypeDecorator[E]):
    """A status or kind column: the enum's value stored as text (a CHECK constraint
    lists the values), the enum member read back. Text rather than a native ENUM, so
    adding a value is a CHECK change, not a type migration on PostgreSQL."""

    impl = String
    cache_ok = True

    def __init__(self, enum_type: type[E], length: int) -> None:
        super().__init__(length)
        self.enum_type, self.length = enum_type, length

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.enum_type(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> E | None:
        if value is None:
            return None
        # The member by its value, as ``enum_type(value)`` finds it, without the call's cost.
        member = self.enum_type._value2member_map_.get(value)
        return self.enum_type(value) if member is None else member  # type: ignore[return-value]  # a member of enum_type


class ModelJSON(TypeDecorator[Any]):
    """A JSON column holding a typed value: a pydantic model, a list of them, or any type
    pydantic validates (``dict[str, Billed]``). Validated on the way out, so code reads
    typed values, never raw dicts."""

    impl = JSON
    cache_ok = True

    def __init__(self, shape: Any) -> None:
        super().__init__()
        self.shape = shape
        self._adapter: TypeAdapter[Any] = TypeAdapter(shape)

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else self._adapter.dump_python(value, mode="json")

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else self._adapter.validate_python(value)


def table_of(model: type[SQLModel]) -> Table:
    """A table model's Core ``Table``, for statements that want rows, not ORM objects."""
    table: Table = model.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ when the class is built
    return table
