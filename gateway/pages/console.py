"""The operator console at /console (issue 21): a static shell that loads the console's
ES modules from gateway/static/console. The page speaks only the public GraphQL API
(POST /graphql, persisted queries), with the ADMIN key the operator signs in with kept
in the tab's sessionStorage: the server keeps no session and puts no key in a URL."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.pages.shell import by_hash, page_shell, security_headers
from gateway.settings import Settings

OPERATIONS = Path(__file__).resolve().parent.parent / "static" / "console" / "operations.js"
# A template string with neither `${` interpolation nor a backslash escape: its text in
# the browser is the file's text, so the hash the browser takes is the hash taken here.
_DOCUMENT = re.compile(r"export const (\w+) = `((?:[^`\\$]|\$(?!\{))*)`;")

# The page may only talk to this origin's API (it opens no websocket).
HEADERS = security_headers()
SHELL = page_shell("Billing gateway · Operator console", "console", needs="The operator console")


async def console_page(request: Request) -> Response:
    return HTMLResponse(SHELL, headers=HEADERS)


def routes(settings: Settings) -> list[BaseRoute]:
    return [
        Route("/console", console_page, methods=["GET"]),
        Route("/console/", console_page, methods=["GET"]),
    ]


@cache
def documents() -> dict[str, str]:
    """The console's GraphQL documents by constant name, exactly as the browser sends
    (and hashes) them: each a template string without interpolation or escapes in
    gateway/static/console/operations.js."""
    return dict(_DOCUMENT.findall(OPERATIONS.read_text(encoding="utf-8")))


def persisted_documents() -> dict[str, str]:
    """{sha256 hex: document}, the trusted-documents file format: what a gateway run with
    GATEWAY_PERSISTED_ONLY must also trust for the console to work."""
    return by_hash(documents().values())
