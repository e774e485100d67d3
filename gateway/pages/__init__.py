"""The pages the gateway serves to browsers, from assets it ships (gateway/static):
GraphiQL, the operator console and the customer billing portal. None of them loads
anything from another host, so they work on a machine with no internet."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from gateway.settings import Settings

STATIC = Path(__file__).resolve().parent.parent / "static"


def page_routes(settings: Settings) -> list[BaseRoute]:
    """Routes for /assets (vendored libraries and the pages' own modules) and the pages."""
    from gateway.pages import console, portal

    return [
        Mount("/assets", app=StaticFiles(directory=STATIC), name="assets"),
        *console.routes(settings),
        *portal.routes(settings),
    ]


def trusted_documents() -> dict[str, str]:
    """{sha256: document} of every operation the gateway's own pages send, trusted
    beside GATEWAY_PERSISTED_DOCUMENTS, so the console and the portal work under
    GATEWAY_PERSISTED_ONLY."""
    from gateway.pages import console, portal

    return {**console.persisted_documents(), **portal.persisted_documents()}
