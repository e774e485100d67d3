"""GraphiQL at GET /graphql (issue 21): to be served from the vendored assets."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response


def render(request: Request, default_html: str) -> Response:
    return HTMLResponse(default_html)
