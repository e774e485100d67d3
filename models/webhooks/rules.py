"""Pure rules of outbound webhooks: which URLs a key may register, which event types
exist, the signing secret's form and the retry schedule."""

from __future__ import annotations

import base64
import ipaddress
import secrets
import socket
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from models.kernel.enums import EventType
from models.kernel.errors import ValidationFailed

EVENT_TYPES = tuple(t.value for t in EventType)
SECRET_PREFIX = "whsec_"


SECRET_BYTES = 32  # Standard Webhooks: 24 to 64 random bytes


MAX_TEXT = 1000  # what an attempt keeps of an error or a response body


def event_types(value: list[str]) -> list[str]:
    valid = ", ".join(EVENT_TYPES)
    if not value:
        raise ValueError(f"must list at least one event type; use some of {valid}")
    unknown = [v for v in value if v not in EVENT_TYPES]
    if unknown:
        raise ValueError(f"{', '.join(map(repr, unknown))} is not an event type; use some of {valid}")
    return list(dict.fromkeys(value))


def check_url(url: str, *, strict: bool, field: str = "input.url") -> str:
    """An absolute http(s) URL. ``strict`` (keys of a tenant, who must not make the
    gateway call into its own network): https only, and no loopback, private,
    link-local or otherwise non-public address literal, nor ``localhost``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ValidationFailed(field, f"{url!r} is not a URL; use an absolute https:// URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ValidationFailed(
            field, f"{url!r} is not an absolute http(s) URL; use e.g. https://example.com/hooks"
        )
    if parts.username is not None or parts.password is not None:
        raise ValidationFailed(
            field, "must not carry credentials (user:password@); receivers authenticate by the signature"
        )
    if not strict:
        return url
    if parts.scheme != "https":
        raise ValidationFailed(field, "must use https:// (plain http is for ADMIN keys only)")
    name = host.rstrip(".")
    if name == "localhost" or name.endswith(".localhost") or not public_literal(name):
        raise ValidationFailed(field, f"{host!r} is not a public address; use a public host name")
    return url


def public_literal(host: str) -> bool:
    """False for an address literal that is not globally routable (True for names)."""
    try:
        address: Any = ipaddress.ip_address(host)
    except ValueError:
        try:  # legacy IPv4 spellings resolvers accept: 2130706433, 0x7f.1, 127.1
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return True
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


# Webhook deliveries (the Standard Webhooks schedule): when each attempt is due,
# counted from the failure of the one before; after the last, the delivery FAILED.
WEBHOOK_SCHEDULE = (
    timedelta(0),
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
)


def webhook_retry_delay(attempts: int) -> timedelta | None:
    """The wait after the ``attempts``-th failed attempt; None once the schedule is spent."""
    return WEBHOOK_SCHEDULE[attempts] if attempts < len(WEBHOOK_SCHEDULE) else None
