"""The customer billing portal at /portal (issue 22): built in gateway/static/portal."""

from __future__ import annotations

from starlette.routing import BaseRoute

from gateway.settings import Settings


def routes(settings: Settings) -> list[BaseRoute]:
    return []
