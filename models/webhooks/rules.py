"""Pure rules of outbound webhooks: which URLs a key may register, which addresses the
gateway may call, which event types exist, the signing secret's form, the retry
schedule, the circuit that pauses an endpoint that keeps timing out, and what an
attempt's log may say."""

from __future__ import annotations

import base64
import ipaddress
import secrets
import socket
from datetime import timedelta
from urllib.parse import urlsplit

from models.kernel.enums import EventType
from models.kernel.errors import ValidationFailed

EVENT_TYPES = tuple(t.value for t in EventType)
SECRET_PREFIX = "whsec_"


SECRET_BYTES = 32  # Standard Webhooks: 24 to 64 random bytes


MAX_TEXT = 1000  # what an attempt keeps of an error or a response body

# What an attempt's log says when no answer came: one text per kind of failure, never
# the address, the port or the operating system's error, which would map the network
# behind the gateway for whoever reads the log (a tenant's key reads its endpoints').
REFUSED_ADDRESS = "address not allowed: the host does not resolve to an address the gateway may call"
CONNECTION_FAILED = "Connection failed: refused, unreachable or reset"
TLS_FAILED = "TLS failed: no trusted certificate for the host name, or no common protocol"


def timed_out(seconds: float) -> str:
    return f"no answer within {seconds:g} s"


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
    gateway call into its own network): https only, and no non-public address literal,
    nor ``localhost``. Names are resolved and judged by the service (``addresses``):
    what a name resolves to is I/O, and changes."""
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
    literal = address_literal(name)
    if name == "localhost" or name.endswith(".localhost") or (literal and not public_address(literal)):
        raise ValidationFailed(field, not_public(host))
    return url


def url_host(url: str) -> str:
    """The host name or address literal of a URL ``check_url`` accepted."""
    return (urlsplit(url).hostname or "").rstrip(".")


def not_public(host: str) -> str:
    """One message for a host that resolves to a non-public address and for one that
    does not resolve at all: which internal names exist is not the caller's to learn."""
    return f"{host!r} does not resolve to a public address; use a public host name"


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def address_literal(host: str) -> str | None:
    """The address ``host`` spells, canonical (``127.0.0.1``, ``::1``), or None for a
    name. Legacy IPv4 spellings resolvers accept count too: 2130706433, 0x7f.1, 127.1."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        pass
    if not host or not all(c.isalnum() or c == "." for c in host):
        return None  # C's inet_aton ignores whatever follows a space: "127.0.0.1 x"
    try:
        return str(ipaddress.IPv4Address(socket.inet_aton(host)))
    except OSError:
        return None


# IPv6 ranges whose packets really reach the IPv4 address they embed: an address there
# is as public as that IPv4 address (a NAT64 gateway, the 6to4 relay or a Teredo
# server forwards to it), e.g. 64:ff9b::7f00:1 is 127.0.0.1.
MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
TEREDO = ipaddress.IPv6Network("2001::/32")
# Never public: IPv4-compatible addresses (deprecated, ::a.b.c.d, :: and ::1 among
# them) and the local-use NAT64 prefix (the network's own translator, RFC 8215).
NEVER_PUBLIC = (ipaddress.IPv6Network("::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address] | None:
    """The IPv4 addresses an IPv6 address carries (Teredo: its server and its client),
    or None when it carries none."""
    if address in MAPPED:
        return [address.ipv4_mapped] if address.ipv4_mapped else None
    if address in NAT64:
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    if address in SIX_TO_FOUR and address.sixtofour is not None:
        return [address.sixtofour]
    if address in TEREDO and address.teredo is not None:
        return list(address.teredo)
    return None


def public_address(text: str) -> bool:
    """Whether the gateway may connect to this address for a tenant: globally routable
    unicast only (no private, loopback, link-local, unique-local, site-local, shared,
    multicast, reserved or unspecified address), judged by the IPv4 address an IPv6
    form embeds. False for anything that is not an address."""
    try:
        address: Address = ipaddress.ip_address(text)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        address = ipaddress.IPv6Address(address.packed)  # without a %scope: fe80::1%eth0
        if any(address in network for network in NEVER_PUBLIC):
            return False
        embedded = embedded_ipv4(address)
        if embedded is not None:
            return all(_routable(v4) for v4 in embedded)
    return _routable(address)


def _routable(address: Address) -> bool:
    flags = (
        address.is_private,
        address.is_loopback,
        address.is_link_local,
        address.is_multicast,
        address.is_reserved,
        address.is_unspecified,
        getattr(address, "is_site_local", False),
    )
    return address.is_global and not any(flags)


def all_public(addresses: list[str]) -> bool:
    """A host may be called for a tenant when it resolves and every address it resolves
    to is public: with one private answer among public ones, any connection could go
    there (DNS rebinding picks its moment)."""
    return bool(addresses) and all(public_address(a) for a in addresses)


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


# The circuit. An endpoint that never answers holds one of its tenant's delivery slots
# for the whole timeout on every attempt of every delivery. After CIRCUIT_THRESHOLD
# timeouts in a row none of its deliveries is tried for CIRCUIT_PAUSE after the last
# one; each further CIRCUIT_THRESHOLD timeouts in a row (the deliveries tried once the
# pause is over, which time out together) double the pause, up to CIRCUIT_MAX_PAUSE.
# Any answer, whatever its status, closes the circuit. The deliveries keep their own
# retry schedule meanwhile: a pause does not spend their attempts.
CIRCUIT_THRESHOLD = 5
CIRCUIT_PAUSE = timedelta(minutes=1)
CIRCUIT_MAX_PAUSE = timedelta(hours=1)


def circuit_pause(timeouts: int) -> timedelta | None:
    """How long an endpoint with ``timeouts`` timeouts in a row waits; None: it does not."""
    if timeouts < CIRCUIT_THRESHOLD:
        return None
    doublings: int = min(timeouts // CIRCUIT_THRESHOLD - 1, 12)
    pause: timedelta = CIRCUIT_PAUSE * (1 << doublings)
    return min(pause, CIRCUIT_MAX_PAUSE)


def webhook_retry_delay(attempts: int) -> timedelta | None:
    """The wait after the ``attempts``-th failed attempt; None once the schedule is spent."""
    return WEBHOOK_SCHEDULE[attempts] if attempts < len(WEBHOOK_SCHEDULE) else None
