"""`GET /healthz`: what a load balancer and an operator's monitor poll.

- 200 ``{"status": "ok", "database": "up"}``: all is well.
- 503 ``{"status": "unavailable", "database": "down"}``: the database does not answer;
  this process can serve nothing, so take it out of rotation.
- 200 ``{"status": "degraded", "database": "up", "provider": "key refused", "detail": ...}``:
  the payment provider refused GATEWAY_STRIPE_API_KEY, so no invoice is collected and
  no customer is synced until an operator sets a valid key and restarts. Still 200: the
  API itself works (tenants, seats, usage, invoices), and a 503 would only get every
  replica taken out of rotation or restarted, which fixes no key; a monitor alerts on
  ``status`` not being ``"ok"``. ``detail`` says what to do; it never holds the key.

The provider's state is read from the provider-task outbox (shared by every worker and
replica), at most every ``PROVIDER_CHECK_SECONDS`` per process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from models.payments.queries import key_refused
from models.platform.deps import Deps
from models.platform.provider import KEY_REFUSED

log = logging.getLogger("gateway.health")

PROVIDER_CHECK_SECONDS = 10.0


def health_endpoint(deps: Deps) -> Callable[[Request], Awaitable[Response]]:
    """The `/healthz` route's endpoint for the app's ``deps``."""
    checked_at = float("-inf")
    refused: str | None = None

    async def provider_refused() -> str | None:
        nonlocal checked_at, refused
        if not deps.mirrors:
            return None
        if time.monotonic() - checked_at >= PROVIDER_CHECK_SECONDS:
            async with deps.store.read() as session:
                task = await key_refused(session)
            refused = (task.last_error or "").removeprefix(KEY_REFUSED) if task else None
            checked_at = time.monotonic()
        return refused

    async def healthz(_: Request) -> Response:
        try:
            await deps.store.ping()
            problem = await provider_refused()
        except Exception:
            log.exception("health check: database does not answer")
            return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
        if problem is not None:
            return JSONResponse(
                {"status": "degraded", "database": "up", "provider": "key refused", "detail": problem}
            )
        return JSONResponse({"status": "ok", "database": "up"})

    return healthz
