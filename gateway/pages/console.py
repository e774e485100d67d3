"""The operator console at /console (issue 21): built in gateway/static/console."""

from __future__ import annotations

from starlette.routing import BaseRoute

from gateway.settings import Settings


def routes(settings: Settings) -> list[BaseRoute]:
    return []
