"""The customer billing portal at /portal (issue 22): a static shell that loads the
portal's ES modules from gateway/static/portal, and the two requests that open and close
its session.

A createPortalSession link reads ``/portal#token=...``: the token travels in the
fragment, which browsers never send to a server or in a Referer, so it stays out of
access logs. The page posts it to ``POST /portal/session``, which exchanges it (once) for
the session cookie (``gateway.portal_session``); the page then calls /graphql with that
cookie and never holds an API key."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway import portal_session
from gateway.pages import invoice_print
from gateway.pages.shell import by_hash, page_shell, security_headers
from gateway.settings import Settings
from models.kernel.errors import DomainError
from models.portal import service as portal

log = logging.getLogger("gateway.portal")
QUERIES = Path(__file__).resolve().parent.parent / "static" / "portal" / "queries.js"

# The page talks to this origin's API, over HTTP and its websocket (live updates).
HEADERS = security_headers("'self' ws: wss:")
SHELL = page_shell("Billing", "portal", needs="The billing portal")


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=HEADERS)


async def portal_page(_: Request) -> Response:
    return HTMLResponse(SHELL, headers=HEADERS)


async def open_session(request: Request) -> Response:
    """``{"token": "..."}`` → the session cookie and ``{tenantId, returnUrl, expiresAt}``;
    401 with the reason for a link that is unknown, used or expired."""
    deps = request.app.state.deps
    problem = portal_session.cross_site_problem(request, deps)
    if problem is not None:
        return _error(403, "FORBIDDEN", problem)
    try:
        body = json.loads(await request.body())
        token = body.get("token") if isinstance(body, dict) else None
    except ValueError:
        token = None
    if not isinstance(token, str) or not token.strip() or len(token) > 200:
        return _error(400, "VALIDATION_FAILED", 'Send {"token": "<the token of the portal link>"}.')
    try:
        opened = await portal.open_portal_session(deps, token)
    except DomainError as exc:
        log.info("portal link refused: %s", exc.message)
        return _error(401, exc.code.value, exc.message)
    row = opened.session
    log.info("portal session %s opened for tenant %s", row.id, row.tenant_id)
    response = JSONResponse(
        {
            "tenantId": row.tenant_id,
            "returnUrl": row.return_url,
            "expiresAt": row.expires_at.isoformat() if row.expires_at else None,
        },
        headers=HEADERS,
    )
    portal_session.set_cookie(response, request, deps, opened)
    return response


async def close_session(request: Request) -> Response:
    """Sign out: the session ends on the server and the cookie is cleared."""
    deps = request.app.state.deps
    problem = portal_session.cross_site_problem(request, deps)
    if problem is not None:
        return _error(403, "FORBIDDEN", problem)
    secret = request.cookies.get(portal_session.COOKIE)
    if secret:
        await portal.end_portal_session(deps, secret)
    response = JSONResponse({"ended": bool(secret)}, headers=HEADERS)
    portal_session.clear_cookie(response, request, deps)
    return response


def documents() -> dict[str, str]:
    """The portal page's GraphQL documents by name (``LIVE.seats`` for the live ones), each
    exactly as the browser builds it from queries.js's template literals."""
    text = QUERIES.read_text(encoding="utf-8")
    parts = dict(re.findall(r"const (\w+) = [`\"](.*?)[`\"];", text, re.S))
    parts |= {f"LIVE.{k}": v for k, v in re.findall(r"^\s+(\w+): `(.*?)`,", text, re.S | re.M)}

    def expand(body: str) -> str:
        return re.sub(r"\$\{(\w+)\}", lambda m: expand(parts[m.group(1)]), body)

    found = {name: expand(body) for name, body in parts.items()}
    return {
        name: body for name, body in found.items() if re.match(r"\s*(query|mutation|subscription)\b", body)
    }


def persisted_documents() -> dict[str, str]:
    """{sha256 hex: document}, the trusted-documents file format: what a gateway run with
    GATEWAY_PERSISTED_ONLY must also trust for the portal to work."""
    return by_hash(documents().values())


def routes(settings: Settings) -> list[BaseRoute]:
    return [
        Route("/portal", portal_page, methods=["GET"]),
        Route("/portal/session", open_session, methods=["POST"]),
        Route("/portal/session/end", close_session, methods=["POST"]),
        Route("/portal/invoices/{invoice_id}", invoice_print.invoice_page, methods=["GET"]),
    ]
