"""API-key authentication: `Authorization: Bearer <key>` (or the websocket's
connection_init payload) to a Principal.

Every request looks its key up afresh (one indexed SELECT by the secret's SHA-256), so a
revoked key fails on the very next request. The entitlement check's fast path
(``gateway.fast_entitlements``) reads the key in the same statement as the entitlement,
using ``credentials`` and ``stored_key_hash`` below to decide what to look up."""

from __future__ import annotations

import hmac

from pydantic import SecretStr
from starlette.requests import HTTPConnection

from gateway import portal_session
from models.api_keys import service as api_keys
from models.platform.access import Principal, operator
from models.platform.deps import Deps
from models.portal import service as portal

MISSING = "Send an API key: Authorization: Bearer <key>."
MALFORMED = "The Authorization header must read 'Bearer <key>'."
REJECTED = "The API key is not valid or has been revoked."


class Authenticator:
    def __init__(self, deps: Deps, bootstrap_admin_key: SecretStr | None = None) -> None:
        self._deps = deps
        self._bootstrap = bootstrap_admin_key.get_secret_value().encode() if bootstrap_admin_key else None

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
        principal = await api_keys.authenticate(self._deps, secret)
        return principal, ("" if principal else REJECTED)
