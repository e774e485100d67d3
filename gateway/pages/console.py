"""The operator console at /console (issue 21): a static shell that loads the console's
ES modules from gateway/static/console. The page speaks only the public GraphQL API
(POST /graphql, persisted queries), with the ADMIN key the operator signs in with kept
in the tab's sessionStorage: the server keeps no session and puts no key in a URL."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.settings import Settings

# No inline script or style: everything comes from /assets on this origin, and the page
# may only talk to this origin (the API, and its websocket for live updates).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self' ws: wss:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)

SHELL = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Billing gateway · Operator console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/shared/base.css">
<link rel="stylesheet" href="/assets/console/console.css">
<script type="module" src="/assets/console/app.js"></script>
</head>
<body>
<div id="app"><noscript>The operator console needs JavaScript.</noscript></div>
</body>
</html>
"""


async def console_page(request: Request) -> Response:
    return HTMLResponse(
        SHELL,
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
        },
    )


def routes(settings: Settings) -> list[BaseRoute]:
    return [
        Route("/console", console_page, methods=["GET"]),
        Route("/console/", console_page, methods=["GET"]),
    ]
