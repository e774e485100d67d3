"""Entitlement tokens: what a tenant (or one of its members) may do, as it stood at one
moment, signed so that an app checks it offline on each of its own requests.

A token is a compact JWS (a JWT) signed with Ed25519 (``alg: EdDSA``), its key id in
the header (``kid``, ``typ: JWT``). Its claims are ``iss``, ``sub`` (the tenant id),
``member`` (when asked for one), ``iat`` and ``exp`` on the tenant's clock (the lifetime
is GATEWAY_ENTITLEMENT_TOKEN_SECONDS), and ``features``: every feature's code mapped to
``{enabled, reason, limit, remaining, resetsAt}``, leaving out what is null (``resetsAt``
in seconds since the epoch, like ``exp``). The keys, their rotation and where the public
ones are published: ``models.entitlements.keys``.

The same callers as ``entitlement`` may ask: ADMIN, the tenant's TENANT and PARTNER keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt

from models.entitlements import keys, service
from models.entitlements.rules import Entitlement
from models.platform.access import Principal
from models.platform.deps import Deps


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    kid: str
    expires_at: datetime


def feature_claim(entitlement: Entitlement) -> dict[str, Any]:
    """One feature's entitlement, without its nulls."""
    claim: dict[str, Any] = {"enabled": entitlement.enabled}
    if entitlement.reason is not None:
        claim["reason"] = entitlement.reason.value
    if entitlement.limit is not None:
        claim["limit"] = entitlement.limit
    if entitlement.remaining is not None:
        claim["remaining"] = entitlement.remaining
    if entitlement.resets_at is not None:
        claim["resetsAt"] = int(entitlement.resets_at.timestamp())
    return claim


async def issue(deps: Deps, actor: Principal, tenant_id: str, member_id: str | None) -> IssuedToken:
    """A token stating the tenant's (or the member's) entitlements now."""
    state = await service.entitlements(deps, actor, tenant_id, None, member_id)
    key = await keys.active_key(deps)
    policy = deps.policy.tokens
    issued_at = int(state.now.timestamp())
    expires = issued_at + int(policy.lifetime.total_seconds())
    claims: dict[str, Any] = {"iss": policy.issuer, "sub": tenant_id}
    if member_id is not None:
        claims["member"] = member_id
    claims |= {
        "iat": issued_at,
        "exp": expires,
        "features": {e.feature_code: feature_claim(e) for e in state.entitlements},
    }
    token = jwt.encode(claims, key.private, algorithm=keys.ALGORITHM, headers={"kid": key.kid, "typ": "JWT"})
    return IssuedToken(token=token, kid=key.kid, expires_at=datetime.fromtimestamp(expires, UTC))
