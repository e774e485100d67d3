"""The billing portal's browser session at the HTTP edge: the cookie that carries it and
the checks that keep other sites from riding on it (CSRF).

The cookie is HttpOnly (no script reads it), SameSite=Strict (no other site's page sends
it) and Secure except on plain-http loopback (development): judged by GATEWAY_PUBLIC_URL
when it is set (behind a proxy the request's own scheme and host are the proxy's hop),
else by the request. Over and above SameSite, a
request authenticated by it must come from the gateway's own pages: every HTTP request
sends ``X-Portal-Session: 1`` (a header no cross-site form or image can send, and a
cross-origin script may only send after a CORS preflight the gateway never grants with
credentials), and an ``Origin``, when present (always on websockets), must be the
gateway's own."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import HTTPConnection
from starlette.responses import Response

from models.platform.deps import Deps
from models.portal import rules
from models.portal.service import OpenedSession

COOKIE = "gw_portal_session"
HEADER = "x-portal-session"
FOREIGN_ORIGIN = (
    "A billing portal session is accepted only from the gateway's own pages (this request's Origin differs)."
)
NO_HEADER = "Requests made with a billing portal session must send the header X-Portal-Session: 1."


def own_origins(connection: HTTPConnection, deps: Deps) -> set[str]:
    """The host[:port] values this gateway's own pages have as their origin."""
    hosts = {connection.headers.get("host", "").lower()}
    public = deps.policy.portal.public_url
    if public:
        hosts.add(urlsplit(public).netloc.lower())
    return hosts - {""}


def cross_site_problem(connection: HTTPConnection, deps: Deps) -> str | None:
    """Why a cookie-borne session must not be honoured for this request, or None."""
    origin = connection.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc.lower() not in own_origins(connection, deps):
        return FOREIGN_ORIGIN
    if connection.scope["type"] == "http" and connection.headers.get(HEADER) != "1":
        return NO_HEADER
    return None


def secure_cookie(connection: HTTPConnection, deps: Deps) -> bool:
    """Secure everywhere but plain http on a loopback host (where browsers drop Secure
    cookies): the public URL's, when configured, else the request's."""
    public = deps.policy.portal.public_url
    url = urlsplit(public) if public else urlsplit(str(connection.url))
    return not (url.scheme == "http" and rules.is_loopback(url.hostname or ""))


def set_cookie(response: Response, connection: HTTPConnection, deps: Deps, opened: OpenedSession) -> None:
    assert opened.session.expires_at is not None
    response.set_cookie(
        COOKIE,
        opened.secret,
        max_age=int((opened.session.expires_at - opened.session.opened_at).total_seconds())  # type: ignore[operator]  # opened sessions have opened_at
        if opened.session.opened_at
        else None,
        path="/",
        secure=secure_cookie(connection, deps),
        httponly=True,
        samesite="strict",
    )


def clear_cookie(response: Response, connection: HTTPConnection, deps: Deps) -> None:
    response.delete_cookie(
        COOKIE, path="/", secure=secure_cookie(connection, deps), httponly=True, samesite="strict"
    )
