"""The schema's 64-bit integers. GraphQL's ``Int`` is 32-bit; money and the quantities
that can pass 2^31 travel as ``MinorUnits`` and ``Long``: JSON integers within
±(2^53 − 1), so every client, JavaScript included, reads them exactly.

Parsing takes any whole number: the use case that receives it refuses one outside that
range with VALIDATION_FAILED naming the field (``models.kernel.validation``), as it does
every other bad input. Serializing an integer outside the range is a bug (every amount is
checked before it is stored), so it fails loudly instead of sending a rounded number.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NewType

import strawberry
from graphql import GraphQLError

from models.kernel.money import MAX_SAFE_INTEGER


def _serialize(value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    if abs(value) > MAX_SAFE_INTEGER:
        raise ValueError(
            f"{value} is outside ±{MAX_SAFE_INTEGER}, the integers every JSON reader keeps exact"
        )
    return value


def _parser(name: str) -> Callable[[Any], int]:
    """The scalar's input parser. A value that is not a whole number is the caller's
    mistake: a GraphQLError (graphql-core reports it as it is), never a ValueError, which it
    would keep as the cause and our error masking would take for a bug."""

    def parse(value: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise GraphQLError(f"{name} must be a whole number (a JSON integer), not {value!r}")
        return value

    return parse


MinorUnits = NewType("MinorUnits", int)
Long = NewType("Long", int)

# The schema maps each to its scalar (gateway/schema.py passes this to StrawberryConfig).
SCALARS = {
    MinorUnits: strawberry.scalar(
        name="MinorUnits",
        description="An amount of money in its currency's minor unit (cents for USD, yen for JPY): "
        "a JSON integer within ±(2^53 − 1), exact in every client.",
        serialize=_serialize,
        parse_value=_parser("MinorUnits"),
    ),
    Long: strawberry.scalar(
        name="Long",
        description="A whole quantity that can pass 2^31 (usage units, tier bounds, free units, invoice line "
        "quantities): a JSON integer within ±(2^53 − 1).",
        serialize=_serialize,
        parse_value=_parser("Long"),
    ),
}
