"""API-key authentication: `Authorization: Bearer <key>` (or the websocket's
connection_init payload) to a Principal.

A stored key is looked up by the secret's SHA-256 (one indexed SELECT) and remembered for
GATEWAY_API_KEY_CACHE_SECONDS (``models.api_keys.cache``); a revoked key still fails on
the very next request, in every worker. The entitlement check's fast path
(``gateway.fast_entitlements``) reads the key in the same statement as the entitlement
(always afresh: remembering it would save that statement nothing), using ``credentials``
and ``stored_key_hash`` below to decide what to look up."""

from __future__ import annotations

import hmac

from pydantic import SecretStr
from starlette.requests import HTTPConnection

from gateway import portal_session
from gateway.live import Hub
from models.api_keys import service as api_keys
from models.api_keys.cache import KeyCache
from models.platform.access import Principal, operator
from models.platform.deps import Deps
from models.portal import service as portal

MISSING = "Send an API key: Authorization: Bearer <key>."
MALFORMED = "The Authorization header must read 'Bearer <key>'."
REJECTED = "The API key is not valid or has been revoked."


class Authenticator:
    def __init__(
        self, deps: Deps, bootstrap_admin_key: SecretStr | None = None, cache_seconds: float = 0
    ) -> None:
        self._deps = deps
        self._bootstrap = bootstrap_admin_key.get_secret_value().encode() if bootstrap_admin_key else None
        # Remembered keys need the hub's word that no revocation is pending (its LISTEN
        # connection on PostgreSQL); without a hub, every request looks its key up.
        hub = deps.bus if isinstance(deps.bus, Hub) else None
        self.keys = KeyCache(cache_seconds if hub else 0, freshness=hub)

    @staticmethod
    def credentials(authorization: str | None) -> tuple[str | None, str]:
        """The secret a header carries, or None with the reason to tell the caller."""
        if not authorization:
            return None, MISSING
        scheme, _, secret = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            return None, MALFORMED
        return secret.strip(), ""

    def is_bootstrap(self, secret: str) -> bool:
        """Whether ``secret`` is GATEWAY_ADMIN_API_KEY (an ADMIN with no stored key)."""
        return self._bootstrap is not None and hmac.compare_digest(secret.encode(), self._bootstrap)

    @staticmethod
    def stored_key_hash(secret: str) -> str | None:
        """What to look the secret up by, or None when no stored key can have it."""
        if not secret.startswith(api_keys.SECRET_PREFIX):
            return None
        return api_keys.hash_secret(secret)

    async def from_header(self, authorization: str | None) -> tuple[Principal | None, str]:
        """The caller, or None with the reason to tell them."""
        secret, problem = self.credentials(authorization)
        if secret is None:
            return None, problem
        return await self.from_secret(secret)

    async def from_request(
        self, connection: HTTPConnection, authorization: str | None
    ) -> tuple[Principal | None, str]:
        """The caller: by its API key, or without one by a billing portal session's cookie
        (checked against cross-site use, see ``gateway.portal_session``)."""
        secret = connection.cookies.get(portal_session.COOKIE) if authorization is None else None
        if not secret:
            return await self.from_header(authorization)
        problem = portal_session.cross_site_problem(connection, self._deps)
        if problem is not None:
            return None, problem
        principal, _ = await portal.authenticate(self._deps, secret)
        return principal, ("" if principal else portal.SESSION_ENDED)

    async def from_secret(self, secret: str) -> tuple[Principal | None, str]:
        if self.is_bootstrap(secret):
            return operator(), ""
        principal = await api_keys.authenticate(self._deps, secret, self.keys)
        return principal, ("" if principal else REJECTED)
