"""Pure-ASGI middleware: request ids, an access log line, the size limit of request
bodies and websocket messages alike, and CORS on /graphql."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.logging import request_id_var

access_log = logging.getLogger("gateway.access")
error_log = logging.getLogger("gateway.http")
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status: dict[str, Any] = {"code": None}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            if scope["type"] == "http":
                receive = await self._limit_body(scope, headers, receive, send_with_id)
                if receive is None:
                    return
            else:
                receive = self._limit_messages(receive, send)
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            # The client went away mid-request: nothing to answer, and not the server's fault.
            access_log.info("client disconnected before the request was read: %s", scope.get("path"))
        except Exception:
            # Whatever escaped the app still answers with the request id, and the
            # log line that holds the cause carries the same id.
            error_log.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            if scope["type"] != "http" or status["code"] is not None:
                raise
            await _send_json(
                send_with_id,
                500,
                {
                    "errors": [
                        {
                            "message": f"Unexpected error. Quote request id {request_id} when reporting it.",
                            "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
                        }
                    ]
                },
            )
        finally:
            access_log.info(
                "%s %s %s",
                scope.get("method", "WS"),
                scope.get("path"),
                status["code"],
                extra={
                    "status": status["code"],
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            request_id_var.reset(token)

    def _limit_messages(self, receive: Receive, send: Send) -> Receive:
        """A websocket message larger than the request body limit closes the socket (1009,
        "message too big") before anything parses it, as a body that size gets 413."""

        async def limited() -> Message:
            message = await receive()
            if message["type"] == "websocket.receive":
                size = len(message.get("text") or "") + len(message.get("bytes") or b"")
                if size > self.max_body_bytes:
                    await send({"type": "websocket.close", "code": 1009, "reason": "message too big"})
                    return {"type": "websocket.disconnect", "code": 1009}
            return message

        return limited

    async def _limit_body(
        self, scope: Scope, headers: dict[bytes, bytes], receive: Receive, send: Send
    ) -> Receive | None:
        """Refuse bodies over the limit with 413 before anything parses them; a
        Content-Length that is not a number (400) and a compressed body (415), which
        would otherwise reach the JSON parser and be reported as bad UTF-8."""
        encoding = headers.get(b"content-encoding", b"identity").strip().lower()
        if encoding not in (b"", b"identity") and scope.get("method") not in ("GET", "HEAD"):
            await _refuse(
                send,
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                f"Content-Encoding {encoding.decode('latin-1')!r} is not supported; send the body "
                "uncompressed.",
            )
            return None
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await _refuse(
                    send,
                    400,
                    "BAD_REQUEST",
                    f"Content-Length {declared.decode('latin-1')[:40]!r} is not a number of bytes.",
                )
                return None
            if int(declared) > self.max_body_bytes:
                await _too_large(send, self.max_body_bytes)
                return None
            return receive
        if scope.get("method") in ("GET", "HEAD"):
            return receive
        # No length given (chunked): read up to the limit, then replay.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                access_log.info("client disconnected before the request was read: %s", scope.get("path"))
                return None
            if message["type"] != "http.request":
                return receive
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await _too_large(send, self.max_body_bytes)
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay


async def _too_large(send: Send, limit: int) -> None:
    await _refuse(send, 413, "PAYLOAD_TOO_LARGE", f"Request body is larger than {limit} bytes.")


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    await _send_json(send, status, {"errors": [{"message": message, "extensions": {"code": code}}]})


async def _send_json(send: Send, status: int, payload: Any) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def check_origins(entries: list[str]) -> tuple[str, ...]:
    """GATEWAY_CORS_ORIGINS' entries as browsers send them in ``Origin`` (scheme and host
    in lower case, the scheme's default port left out); a ValueError names the first entry
    that is not an origin. ``*`` may only stand alone: any origin, never with cookies."""
    if "*" in entries:
        if len(entries) > 1:
            raise ValueError("`*` (any origin) must stand alone; list origins or give `*`, not both")
        return ("*",)
    origins: list[str] = []
    for entry in entries:
        parts = urlsplit(entry)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if (
            parts.scheme.lower() not in ("http", "https")
            or not parts.hostname
            or parts.path
            or parts.query
            or parts.fragment
            or parts.username is not None
            or port == -1
            or "*" in entry
        ):
            raise ValueError(
                f"{entry[:100]!r} is not an origin: give scheme and host with an optional port, no path "
                "and no trailing slash, such as https://app.example.com or http://localhost:3000"
            )
        scheme = parts.scheme.lower()
        default = {"http": 80, "https": 443}[scheme]
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        origins.append(f"{scheme}://{host}" + (f":{port}" if port not in (None, default) else ""))
    return tuple(dict.fromkeys(origins))


# What browsers may send to /graphql from another origin: the key, JSON, the media types
# of GraphQL over HTTP, a request id to quote, and the headers Apollo Client adds.
CORS_HEADERS = (
    "Authorization",
    "Content-Type",
    "Accept",
    "X-Request-Id",
    "apollographql-client-name",
    "apollographql-client-version",
    "apollo-require-preflight",
    "x-apollo-operation-name",
)


class GraphQLCORS:
    """CORS on /graphql alone (Starlette's CORSMiddleware): a preflight from a listed
    origin is answered for GET and POST with the headers above; a request from any other
    origin gets no Access-Control-Allow-Origin, so the browser keeps the answer from the
    page. No cookies are involved (keys travel in Authorization), so credentials stay off."""

    def __init__(self, app: ASGIApp, *, origins: tuple[str, ...]) -> None:
        self.app = app
        self.cors = (
            CORSMiddleware(
                app,
                allow_origins=list(origins),
                allow_methods=["GET", "POST"],
                allow_headers=list(CORS_HEADERS),
                expose_headers=["X-Request-Id"],
                allow_credentials=False,
                max_age=600,
            )
            if origins
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.cors is not None and scope["type"] == "http" and scope.get("path") == "/graphql":
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
