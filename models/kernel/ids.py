"""Identifiers: a short type prefix and a time-ordered random part.

``ten_01JD5X...`` is a monotonic ULID in Crockford base32: 48-bit milliseconds then
80 random bits, and within one millisecond each new id is the last one plus one. So
ids from one process sort in creation order, and cursor pagination orders by id alone.
"""

from __future__ import annotations

import secrets
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_lock = threading.Lock()
_last = 0


def _next_value() -> int:
    global _last
    with _lock:
        value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
        _last = value if value > _last else _last + 1
        return _last


def new_id(prefix: str) -> str:
    value = _next_value()
    chars = []
    for _ in range(26):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return f"{prefix}_{''.join(reversed(chars))}"
