"""Identifiers: a short type prefix and a time-ordered random part.

``ten_01JD5X...`` sorts by creation time (48-bit milliseconds, then 80 random bits,
Crockford base32, like a ULID), so cursor pagination can order by id alone.
"""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(prefix: str) -> str:
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    chars = []
    for _ in range(26):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return f"{prefix}_{''.join(reversed(chars))}"
