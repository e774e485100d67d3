"""The Starlette application: /graphql (HTTP, GraphiQL, graphql-transport-ws) and /healthz."""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from gateway.auth import Authenticator
from gateway.fast_entitlements import FastEntitlements
from gateway.health import health_endpoint
from gateway.jwks import jwks_endpoint
from gateway.live import Hub
from gateway.logging import configure_logging, request_id_var
from gateway.middleware import RequestContextMiddleware
from gateway.pages import graphiql, page_routes
from gateway.providers import build_provider
from gateway.schema import build_schema
from gateway.settings import Settings
from gateway.webhooks.stripe import stripe_webhook_endpoint
from gateway.workers import start_workers, stop_workers
from models.platform.deps import Deps
from models.platform.store import Store
from resolvers.shared.context import Context
from resolvers.shared.loaders import Loaders

log = logging.getLogger("gateway.app")


class GatewayGraphQL(GraphQL[Context, None]):
    def __init__(self, settings: Settings, deps: Deps) -> None:
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql",
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )
        self.deps = deps
        self.auth = Authenticator(deps, settings.admin_api_key)
        self.max_response_bytes = settings.max_response_bytes
        self.fast = (
            FastEntitlements(
                self.schema._schema,
                settings,
                deps,
                self.auth,
                self.encode_json,
                self._streams,
            )
            if settings.fast_entitlements
            else None
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql.render(request, self.graphql_ide_html)

    def _streams(self, accept: str) -> bool:
        """Whether the Accept header asks for one of the view's streaming transports."""
        return (
            bool(self._stream_transport_map)
            and self._get_stream_transport_from_headers({"accept": accept}) is not None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """An entitlement check over POST is answered by ``gateway.fast_entitlements``
        when it recognises it; everything else (and anything it hands back) by Strawberry."""
        if self.fast is not None and scope["type"] == "http" and scope.get("method") == "POST":
            handed_back = await self.fast.serve(scope, receive, send)
            if handed_back is None:
                return
            receive = handed_back
        await super().__call__(scope, receive, send)

    def encode_json(self, data: object) -> str | bytes:
        """A response (or a websocket result) larger than GATEWAY_MAX_RESPONSE_BYTES is
        replaced by one error that says so, instead of megabytes a client cannot hold."""
        encoded = json.dumps(data, separators=(",", ":"))
        if len(encoded) <= self.max_response_bytes:
            return encoded
        log.warning("response of %d bytes refused (limit %d)", len(encoded), self.max_response_bytes)
        return json.dumps(too_large(data, len(encoded), self.max_response_bytes), separators=(",", ":"))

    def decode_json(self, data: str | bytes) -> object:
        """Bodies and GET `variables`: anything but a JSON object (or a batch's array)
        is the client's mistake and gets a 400, never a crash further in."""
        try:
            decoded = json.loads(data)
        except UnicodeDecodeError:
            raise HTTPException(400, "Request body is not valid UTF-8") from None
        except (ValueError, RecursionError):  # bad JSON, 4,300+ digit numbers, deep nesting
            raise HTTPException(400, "Unable to parse request body as JSON") from None
        if not isinstance(decoded, dict | list):
            raise HTTPException(400, "Expected a JSON object") from None
        return decoded

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        request_id = request_id_var.get() or "-"
        credentials = request.headers.get("authorization")
        try:
            principal, problem = await self.auth.from_request(request, credentials)
        except Exception:
            # The key store does not answer: an outage, not the caller's fault.
            log.exception("authentication failed: the key store does not answer")
            raise HTTPException(
                503, f"Service unavailable. Quote request id {request_id} when reporting it."
            ) from None
        return Context(
            deps=self.deps,
            principal=principal,
            auth_problem=problem,
            request_id=request_id,
            request=request,
            response=response,
            credentials=credentials,
            refresh=self._refresh_socket if isinstance(request, WebSocket) else None,
        )

    async def _refresh_socket(self, context: Context) -> None:
        context.loaders = Loaders(self.deps)
        context.principal, context.auth_problem = await self.auth.from_request(
            context.request, context.credentials
        )

    async def on_ws_connect(self, context: Context) -> None:
        """A key in connection_init (`{"Authorization": "Bearer ..."}`) authenticates
        the socket; a wrong one closes it with 4403."""
        params = context.connection_params or {}
        header = params.get("Authorization") or params.get("authorization")
        if header is None:
            return
        principal, problem = await self.auth.from_header(str(header))
        if principal is None:
            raise ConnectionRejectionError({"message": problem})
        context.principal, context.credentials = principal, str(header)


def too_large(data: object, size: int, limit: int) -> object:
    refusal = {
        "data": None,
        "errors": [
            {
                "message": f"The response is {size:,} bytes, more than the limit of {limit:,} "
                "(GATEWAY_MAX_RESPONSE_BYTES): ask for smaller pages (first) or fewer fields.",
                "extensions": {"code": "RESPONSE_TOO_LARGE", "size": size, "maxSize": limit},
            }
        ],
    }
    if isinstance(data, dict) and data.get("type") == "next":  # a websocket result keeps its envelope
        return {**data, "payload": refusal}
    if isinstance(data, list):  # a batch: every operation learns why
        return [refusal for _ in data]
    return refusal


def serve_app() -> Starlette:
    """The factory `billing-gateway serve` hands uvicorn. It runs in every worker
    process, so each one sets up the same structured, scrubbed logging."""
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)


def create_app(settings: Settings | None = None, *, deps: Deps | None = None) -> Starlette:
    """Build the app. Tests pass their own `deps`; `serve` lets it own a Store."""
    settings = settings or Settings()
    owns_store = deps is None
    if deps is None:
        store = Store(settings.database_url)
        deps = Deps(
            store=store,
            provider=build_provider(settings),
            bus=Hub(store.dialect),
            policy=settings.billing_policy(),
        )
    elif deps.bus is None:
        deps = dataclasses.replace(deps, bus=Hub(deps.store.dialect))
    hub = deps.bus
    assert isinstance(hub, Hub)
    graphql = GatewayGraphQL(settings, deps)

    async def root(_: Request) -> Response:
        return RedirectResponse("/graphql")

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if owns_store:
            # Everything loaded so far (modules, the schema) lives as long as the
            # process: keep it out of the collector's full passes, which otherwise
            # walked it all (75 ms, in most 10,000-event usage batches; 5 ms after).
            gc.freeze()
        await hub.start(deps.store)
        workers = start_workers(deps, hub, settings.billing_interval_seconds)
        try:
            yield
        finally:
            await stop_workers(workers)
            await hub.stop()
            if owns_store:
                if deps.provider is not None:
                    await deps.provider.aclose()
                await deps.store.dispose()

    app = Starlette(
        routes=[
            Route("/", root),
            Route("/healthz", health_endpoint(deps)),
            Route("/.well-known/jwks.json", jwks_endpoint(deps)),
            Route("/webhooks/stripe", stripe_webhook_endpoint(settings, deps), methods=["POST"]),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            *page_routes(settings),
        ],
        middleware=[Middleware(RequestContextMiddleware, max_body_bytes=settings.max_request_bytes)],
        lifespan=lifespan,
    )
    app.state.deps = deps
    return app
