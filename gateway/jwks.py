"""`GET /.well-known/jwks.json`: the public keys that verify entitlement tokens.

Every signing key not yet unpublished, as a JWK Set (``{"keys": [{kty, crv, x, kid, alg,
use}]}``), newest first. Clients may cache it for ``MAX_AGE_SECONDS``; a token whose
``kid`` is not in their copy means a rotation: fetch it again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from models.entitlements.keys import published_keys
from models.platform.deps import Deps

MAX_AGE_SECONDS = 60


def jwks_endpoint(deps: Deps) -> Callable[[Request], Awaitable[Response]]:
    """The `/.well-known/jwks.json` route's endpoint for the app's ``deps``."""

    async def jwks(_: Request) -> Response:
        return JSONResponse(
            {"keys": await published_keys(deps)},
            headers={"Cache-Control": f"public, max-age={MAX_AGE_SECONDS}"},
        )

    return jwks
