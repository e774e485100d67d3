"""What an endpoint's host resolves to, and whether the gateway may call it there.

Checked when an endpoint is registered (``service``) and again before every delivery
(``gateway.webhooks.calls``), which then connects to an address checked here and never
resolves the name a second time: a name cannot be pointed somewhere else between the
check and the connection (DNS rebinding). The resolution goes through
``deps.resolver``, so tests decide what a name means; the verdicts are the pure rules
of ``rules``.
"""

from __future__ import annotations

from models.platform.deps import Deps
from models.webhooks import rules


async def resolve(deps: Deps, host: str) -> list[str]:
    """The host's addresses, in the order to try them: an address literal is itself
    (no lookup), a name what the resolver answers; [] when it does not resolve."""
    literal = rules.address_literal(host)
    if literal is not None:
        return [literal]
    try:
        return list(await deps.resolver(host))
    except (OSError, UnicodeError, ValueError, TimeoutError):  # no such name, resolver down, bad IDNA
        return []


async def callable_addresses(deps: Deps, host: str, *, allow_private: bool) -> list[str]:
    """The addresses the gateway may connect to for ``host``, in order; [] when it may
    not call it at all: the host does not resolve, or it resolves to any non-public
    address and the endpoint was not registered as private (``allow_private``)."""
    addresses = await resolve(deps, host)
    if allow_private or rules.all_public(addresses):
        return addresses
    return []
