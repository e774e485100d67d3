"""Input types shared by the use cases, and the bridge from pydantic errors to
``ValidationFailed`` messages that name the field (as the API spells it) and the fix."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from importlib import resources
from typing import Annotated, Any

import pycountry
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from pydantic.alias_generators import to_camel

from models.kernel.errors import ValidationFailed
from models.kernel.money import MAX_SAFE_INTEGER

# Not time zones, though the tzdata package or a system's zoneinfo directory holds
# them: ``Factory`` is the database's placeholder for "no zone set" (abbreviated -00);
# ``localtime`` (the host's own zone) and ``posixrules`` are files of the directory.
_NOT_ZONES = frozenset({"Factory", "localtime", "posixrules"})


@functools.cache
def _timezones() -> frozenset[str]:
    """The IANA time zone database's names as the tzdata package (a dependency, kept
    current with each IANA release) lists them: every Zone and Link (UTC, Etc/GMT+5,
    Asia/Tokyo, US/Eastern), and nothing else of what ``zoneinfo.available_timezones()``
    finds on the host (``localtime``). Each loads with ``ZoneInfo``: the package is its
    fallback when the host lacks a zone."""
    listed = resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8")
    return frozenset(listed.split()) - _NOT_ZONES


def _iso_code(database: Any, key: str, what: str) -> Any:
    """A validator that upper-cases a code and looks it up in a pycountry database."""
    length = int(key[-1])

    def check(value: str) -> str:
        code = value.strip().upper()
        if len(code) != length or database.get(**{key: code}) is None:
            raise ValueError(f"{value!r} is not {what}")
        return code

    return check


def _timezone(value: str) -> str:
    if value not in _timezones():
        raise ValueError(
            f"{value!r} is not an IANA timezone; use a name such as UTC, Europe/Berlin or Asia/Tokyo"
        )
    return value


def _not_blank(value: str) -> str:
    stripped = value.strip()
    if not stripped:
        raise ValueError("must not be blank")
    return stripped


_currency = _iso_code(
    pycountry.currencies,
    "alpha_3",
    "an ISO 4217 currency code; use a three-letter code such as USD, EUR or JPY",
)
_country = _iso_code(
    pycountry.countries,
    "alpha_2",
    "an ISO 3166-1 alpha-2 country code; use two letters such as US, JP or DE",
)
CurrencyCode = Annotated[str, AfterValidator(_currency)]
TimezoneName = Annotated[str, AfterValidator(_timezone)]
CountryCode = Annotated[str, AfterValidator(_country)]
NonBlank = Annotated[str, AfterValidator(_not_blank)]


def _instant(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# An instant given without an offset is UTC, as test clocks take it (never compared naive).
Instant = Annotated[datetime, AfterValidator(_instant)]


class Input(BaseModel):
    """Base of every use-case input: strict about unknown fields, camelCase in errors."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    @classmethod
    def parse(cls, data: Any, *, path: str = "input") -> Any:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise validation_failed(exc, path) from None


def validation_failed(exc: ValidationError, path: str) -> ValidationFailed:
    problems = []
    for error in exc.errors(include_url=False):
        loc = ".".join(
            to_camel(part) if isinstance(part, str) else f"[{part}]" for part in error["loc"]
        ).replace(".[", "[")
        field = ".".join(part for part in (path, loc) if part)
        message = error["msg"].removeprefix("Value error, ")
        problems.append((field, message))
    first_field, first_message = problems[0]
    return ValidationFailed(first_field, first_message, problems=problems)


Name = Annotated[NonBlank, StringConstraints(max_length=200)]


# Prices are MinorUnits: at most 2^53 - 1 minor units, what every JSON reader keeps exact.
Price = Annotated[int, Field(ge=0, le=MAX_SAFE_INTEGER)]
# Quantities that can pass 2^31 (tier bounds, free units, package sizes): the Long scalar.
Long = Annotated[int, Field(ge=0, le=MAX_SAFE_INTEGER)]
