"""GraphQL over HTTP's two response media types.

A request whose Accept header prefers ``application/graphql-response+json`` (listed with a
quality at least that of ``application/json``) is answered in it, with the spec's status
codes: a request error, whose response has no ``data`` entry (a body that is not a
GraphQL request, a document that does not parse or validate, variables that do not
coerce, an operation refused before it runs), is 4xx (400; 401 without a valid key; 405
for a mutation over GET) or 500 for an unexpected failure; a response with ``data``, even
``null`` from a field error, is 200. Everything else is answered in ``application/json``
as before: 200 with errors for GraphQL errors, 4xx in plain text for a malformed request
(refusals of this gateway's own, such as BATCHING_NOT_SUPPORTED, in JSON)."""

from __future__ import annotations

from typing import Any

from cross_web import HTTPException
from starlette.responses import PlainTextResponse, Response
from strawberry.types import ExecutionResult

from gateway.persisted import RequestRefused

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
_CODES = {400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


def wants_graphql_response(accept: str) -> bool:
    """Whether ``accept`` asks for application/graphql-response+json over application/json."""
    best = {GRAPHQL_RESPONSE: -1.0, JSON: -1.0}
    for part in accept.split(","):
        media, *params = part.split(";")
        media = media.strip().lower()
        if media not in best:
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        best[media] = max(best[media], quality)
    return best[GRAPHQL_RESPONSE] > 0 and best[GRAPHQL_RESPONSE] >= best[JSON]


def request_error_status(result: ExecutionResult) -> int | None:
    """The status of a result that is a request error (nothing executed: no data and no
    error with a path), else None."""
    errors = result.errors or []
    if result.data is not None or not errors or any(error.path for error in errors):
        return None
    codes = {(error.extensions or {}).get("code") for error in errors}
    if "INTERNAL_SERVER_ERROR" in codes:
        return 500
    if "UNAUTHENTICATED" in codes:
        return 401
    return 400


def graphql_response(response: Response, status: int | None) -> Response:
    """A JSON response of the view as application/graphql-response+json: a request
    error's status, without the ``data`` entry such a response must not carry."""
    response.headers["content-type"] = f"{GRAPHQL_RESPONSE}; charset=utf-8"
    if status is not None:
        response.status_code = status
        if status == 401:
            response.headers["www-authenticate"] = "Bearer"
    return response


def refusal(error: HTTPException, modern: bool, encode: Any) -> Response:
    """The answer to a request refused before it ran: a GraphQL response (in the media
    type asked for) for the gateway's own refusals and under graphql-response+json;
    Strawberry's plain text otherwise, as before."""
    if not modern and not isinstance(error, RequestRefused):
        return PlainTextResponse(error.reason, status_code=error.status_code)
    if isinstance(error, RequestRefused):
        payload = error.payload()
    else:
        code = _CODES.get(error.status_code, "BAD_REQUEST" if error.status_code < 500 else "UNAVAILABLE")
        payload = {"errors": [{"message": error.reason, "extensions": {"code": code}}]}
    body = encode(payload)
    media = f"{GRAPHQL_RESPONSE}; charset=utf-8" if modern else JSON
    headers = {"www-authenticate": "Bearer"} if error.status_code == 401 else {}
    if error.status_code == 405:
        headers["allow"] = "POST"
    return Response(body, status_code=error.status_code, media_type=media, headers=headers)
