"""API-key authentication: `Authorization: Bearer <key>` (or the websocket's
connection_init payload) to a Principal."""

from __future__ import annotations

import hmac

from pydantic import SecretStr

from models.api_keys import service as api_keys
from models.platform.access import Principal, operator
from models.platform.deps import Deps

MISSING = "Send an API key: Authorization: Bearer <key>."
MALFORMED = "The Authorization header must read 'Bearer <key>'."
REJECTED = "The API key is not valid or has been revoked."


class Authenticator:
    def __init__(self, deps: Deps, bootstrap_admin_key: SecretStr | None = None) -> None:
        self._deps = deps
        self._bootstrap = bootstrap_admin_key.get_secret_value().encode() if bootstrap_admin_key else None

    async def from_header(self, authorization: str | None) -> tuple[Principal | None, str]:
        """The caller, or None with the reason to tell them."""
        if not authorization:
            return None, MISSING
        scheme, _, secret = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            return None, MALFORMED
        return await self.from_secret(secret.strip())

    async def from_secret(self, secret: str) -> tuple[Principal | None, str]:
        if self._bootstrap is not None and hmac.compare_digest(secret.encode(), self._bootstrap):
            return operator(), ""
        principal = await api_keys.authenticate(self._deps, secret)
        return principal, ("" if principal else REJECTED)
