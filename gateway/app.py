"""The Starlette application: /graphql (HTTP, GraphiQL, graphql-transport-ws) and /healthz."""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
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
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, GraphQLRequestProtocol
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from gateway.auth import Authenticator
from gateway.fast_entitlements import FastEntitlements, Plan
from gateway.graphql_http import graphql_response, refusal, request_error_status, wants_graphql_response
from gateway.health import health_endpoint
from gateway.jwks import jwks_endpoint
from gateway.live import Hub
from gateway.logging import configure_logging, request_id_var
from gateway.middleware import GraphQLCORS, RequestContextMiddleware
from gateway.pages import graphiql, page_routes, trusted_documents
from gateway.persisted import (
    DocumentsRefused,
    PersistedQueries,
    RequestRefused,
    check_documents,
    load_documents,
)
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
BATCHING = (
    "Batching is not enabled: send one operation per request, as a JSON object (a JSON array is a "
    "batch of operations)."
)


class TrustedFastEntitlements(FastEntitlements):
    """The entitlement fast path under GATEWAY_PERSISTED_ONLY: it answers only documents
    the trusted file holds; any other goes to the general path, which refuses it."""

    def __init__(self, *args: Any, persisted: PersistedQueries) -> None:
        super().__init__(*args)
        self.persisted = persisted

    def plan(self, query: str) -> Plan | None:
        return super().plan(query) if self.persisted.admits(query) else None


class TrustedSocket(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws under GATEWAY_PERSISTED_ONLY: a `subscribe` whose document is not
    a trusted one gets an `error` message (PERSISTED_QUERY_NOT_ALLOWED) instead of running."""

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        view = self.view
        query = (message.get("payload") or {}).get("query")
        if isinstance(view, GatewayGraphQL) and isinstance(query, str) and not view.persisted.admits(query):
            refused = view.persisted.not_allowed()
            await self.send_message(
                {"id": message["id"], "type": "error", "payload": refused.payload()["errors"]}
            )
            return
        await super().handle_subscribe(message)


class GatewayGraphQL(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = TrustedSocket

    def __init__(self, settings: Settings, deps: Deps) -> None:
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql",
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            allowed_origins=settings.cors_origins,  # pages there may open the websocket too
        )
        self.deps = deps
        self.auth = Authenticator(deps, settings.admin_api_key, settings.api_key_cache_seconds)
        self.max_response_bytes = settings.max_response_bytes
        path = settings.persisted_documents
        trusted = load_documents(path) if path else {}
        if path:
            check_documents(path, trusted, self.schema._schema)
        self.persisted = PersistedQueries(
            cache_size=settings.persisted_queries_cache_size,
            trusted={**trusted_documents(), **trusted},
            persisted_only=settings.persisted_only,
        )
        fast_args = (self.schema._schema, settings, deps, self.auth, self.encode_json, self._not_fast)
        self.fast = (
            None
            if not settings.fast_entitlements
            else TrustedFastEntitlements(*fast_args, persisted=self.persisted)
            if settings.persisted_only
            else FastEntitlements(*fast_args)
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql.render(request, self.graphql_ide_html)

    def _not_fast(self, accept: str) -> bool:
        """Whether the Accept header asks for what the fast path does not write: one of the
        view's streaming transports, or application/graphql-response+json."""
        return wants_graphql_response(accept) or (
            bool(self._stream_transport_map)
            and self._get_stream_transport_from_headers({"accept": accept}) is not None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """An entitlement check over POST is answered by ``gateway.fast_entitlements``
        when it recognises it; everything else (and anything it hands back) by Strawberry,
        in the media type the request accepts (``gateway.graphql_http``)."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        if self.fast is not None and scope.get("method") == "POST":
            handed_back = await self.fast.serve(scope, receive, send)
            if handed_back is None:
                return
            receive = handed_back
        request = Request(scope=scope, receive=receive)
        modern = wants_graphql_response(request.headers.get("accept", ""))
        request.state.graphql_response = modern
        try:
            response = await self.run(request)
        except HTTPException as error:
            response = refusal(error, modern, self.encode_json)
        else:
            if modern and response.media_type == "application/json":
                response = graphql_response(response, getattr(request.state, "request_error", None))
        await response(scope, receive, send)

    def should_render_graphql_ide(self, request: Any) -> bool:
        """Not for a hash-only GET of a persisted query (Apollo Client sends it with
        ``Accept: */*``)."""
        return "extensions" not in request.query_params and super().should_render_graphql_ide(request)

    async def parse_http_body(self, request: Any) -> GraphQLRequestData | list[GraphQLRequestData]:
        """The request, its document taken from the persisted ones when it names one by hash
        (``gateway.persisted``)."""
        data = await super().parse_http_body(request)
        assert isinstance(data, GraphQLRequestData)  # batches were refused
        data.query = self.persisted.resolve(data.query, data.extensions)
        return data

    def _validate_batch_request(
        self, request_data: list[GraphQLRequestData], protocol: GraphQLRequestProtocol
    ) -> None:
        raise RequestRefused(400, "BATCHING_NOT_SUPPORTED", BATCHING)

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        """A mutation over GET is 405 (GraphQL over HTTP: MUST), with ``Allow: POST``."""
        try:
            return await super().execute_single(*args, **kwargs)
        except HTTPException as error:
            cause = error.__cause__
            if (
                isinstance(cause, InvalidOperationTypeError)
                and cause.operation_type is OperationType.MUTATION
                and kwargs["request_adapter"].method == "GET"
            ):
                raise RequestRefused(405, "METHOD_NOT_ALLOWED", error.reason) from cause
            raise

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        """Under graphql-response+json, a request error's answer has no ``data`` entry and
        its 4xx status is kept for ``__call__``."""
        processed = await super().process_result(request, result)
        if getattr(request.state, "graphql_response", False):
            status = request_error_status(result)
            if status is not None:
                processed.pop("data", None)
                request.state.request_error = status
        return processed

    def encode_json(self, data: object) -> str | bytes:
        """A response (or a websocket result) larger than GATEWAY_MAX_RESPONSE_BYTES is
        replaced by one error that says so, instead of megabytes a client cannot hold."""
        encoded = dumps(data)
        if len(encoded) <= self.max_response_bytes:
            return encoded.decode()
        log.warning("response of %d bytes refused (limit %d)", len(encoded), self.max_response_bytes)
        return dumps(too_large(data, len(encoded), self.max_response_bytes)).decode()

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


# A 100-tenant fleet query allocates about a million short-lived objects: at Python's default
# thresholds (700, 10, 10) that ran ~1,400 young collections and one full one per query, a
# quarter of its CPU. Nearly all of it is freed by reference counting, not the collector.
GC_THRESHOLDS = (20_000, 50, 100)


def dumps(data: object) -> bytes:
    """A response as UTF-8 JSON, its size in bytes what the limit counts: orjson (a fleet's
    700 kB took a tenth of the request in ``json.dumps``), or the standard library for what
    orjson refuses (an integer past 64 bits, a lone surrogate, which it escapes). Handed on
    as text: a websocket message must be a text frame."""
    try:
        return orjson.dumps(data)
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(data, separators=(",", ":")).encode()


def serve_app() -> Starlette:
    """The factory `billing-gateway serve` hands uvicorn. It runs in every worker
    process, so each one sets up the same structured, scrubbed logging."""
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    return app_or_exit(settings)


def app_or_exit(settings: Settings) -> Starlette:
    """The app, or the one line that says why it cannot start (a trusted document the schema
    refuses: the settings could only check the file's shape)."""
    try:
        return create_app(settings)
    except DocumentsRefused as exc:
        raise SystemExit(f"billing-gateway: bad settings: GATEWAY_PERSISTED_DOCUMENTS: {exc}") from None


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
            gc.set_threshold(*GC_THRESHOLDS)
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
        middleware=[
            Middleware(GraphQLCORS, origins=settings.cors_origins),
            Middleware(RequestContextMiddleware, max_body_bytes=settings.max_request_bytes),
        ],
        lifespan=lifespan,
    )
    app.state.deps = deps
    return app
