"""The entitlement check without the general GraphQL machinery: apps ask it on every
request of their own, so it must cost about what a bare lookup costs.

A POST to /graphql whose document is one query operation with one root field,
``entitlement``, selecting only Entitlement's own fields (aliases and ``__typename``
allowed, no fragments or directives) is answered here. The document is parsed and
checked once per distinct text (``plan_of``): the schema's validation with the gateway's
rules (token, depth and alias limits included) and its cost limit; a document that
fails any of them, or is any other shape, is remembered as not ours. Then, per request:
the body is read and decoded, the arguments bound from literals or variables, the key
taken from the Authorization header as ``gateway.auth`` takes it, and
``models.entitlements.check`` reads the key (when it is a stored one) and everything the
answer needs in one statement (two for a METERED feature with a live subscription) on a
connection of ``gateway.lane``. The JSON is written here in the shape the general path
writes: the fields in the order selected, under their aliases, and the errors
(UNAUTHENTICATED, NOT_FOUND with its location and path) as Strawberry formats them,
encoded by the view's own ``encode_json`` (so GATEWAY_MAX_RESPONSE_BYTES holds).

Everything else goes to the general path, untouched, with the body replayed: other
documents, GET, batches, other content types, ``extensions``, an operation name that is
not the document's, variables that are absent, not strings or not declared, text no
database can store, a number beyond what ``Long`` carries, and any exception at all
(logged, then answered by the general path, which reports it its own way: a 503 when
the key store does not answer, a masked INTERNAL_SERVER_ERROR with the request id).
GATEWAY_FAST_ENTITLEMENTS=false turns the fast path off.
"""

from __future__ import annotations

import functools
import json
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    ArgumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    NamedTypeNode,
    NonNullTypeNode,
    NullValueNode,
    OperationDefinitionNode,
    OperationType,
    StringValueNode,
    VariableNode,
    parse,
    specified_rules,
)
from starlette.types import Message, Receive, Scope, Send
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule
from strawberry.http.parse_content_type import parse_content_type

from gateway.auth import REJECTED, Authenticator
from gateway.extensions import CACHED_QUERY_CHARS, _unstorable, validate
from gateway.lane import Lane
from gateway.limits import operation_cost
from gateway.logging import request_id_var
from gateway.settings import Settings
from models.entitlements.check import Answer, Reader, check
from models.entitlements.rules import Entitlement
from models.kernel.money import MAX_SAFE_INTEGER
from models.platform.access import operator
from models.platform.deps import Deps

log = logging.getLogger("gateway.entitlements")
graphql_log = logging.getLogger("gateway.graphql")  # where the general path logs GraphQL errors

ARGUMENTS = {"tenantId": "ID", "featureCode": "String", "memberId": "ID"}
FIELDS = frozenset(
    {"featureCode", "kind", "enabled", "reason", "limit", "used", "remaining", "overage", "resetsAt"}
)
PLANS = 256  # distinct documents remembered (a plan is a few hundred bytes)
_NOT_OURS = object()


@dataclass(frozen=True, slots=True)
class Argument:
    value: str | None = None  # a literal (None with no variable: null)
    variable: str | None = None
    nullable: bool = False  # the variable's declared type admits null


@dataclass(frozen=True, slots=True)
class Plan:
    """What a recognised document asks: its operation's name, the root field's response
    key, its arguments, the selected fields (response key, field) in order, the declared
    variables and where the root field is (for errors)."""

    name: str | None
    key: str
    arguments: dict[str, Argument]
    fields: tuple[tuple[str, str], ...]
    variables: frozenset[str]
    locations: list[dict[str, int]]


@dataclass(frozen=True, slots=True)
class Limits:
    max_tokens: int
    max_cost: int
    rules: tuple[Any, ...]

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        rules = (
            *specified_rules,
            max_depth_rule(settings.max_query_depth, None, None),
            max_aliases_rule(settings.max_aliases),
        )
        return cls(settings.max_tokens, settings.max_query_cost, rules)


def plan_of(schema: GraphQLSchema, query: str, limits: Limits) -> Plan | None:
    """The plan of a document that only checks an entitlement, else None."""
    try:
        document = parse(query, max_tokens=limits.max_tokens)
    except GraphQLError:
        return None
    if len(document.definitions) != 1 or not isinstance(document.definitions[0], OperationDefinitionNode):
        return None
    operation = document.definitions[0]
    selections = operation.selection_set.selections
    if operation.operation is not OperationType.QUERY or operation.directives or len(selections) != 1:
        return None
    root = selections[0]
    if not isinstance(root, FieldNode) or root.name.value != "entitlement" or root.directives:
        return None
    declared = {d.variable.name.value: d for d in operation.variable_definitions or ()}
    if any(d.default_value is not None or d.directives for d in declared.values()):
        return None
    arguments = {}
    for argument in root.arguments or ():
        bound = _argument(argument, declared)
        if bound is None or (bound.value is not None and _unstorable(bound.value)):
            return None
        arguments[argument.name.value] = bound
    fields: dict[str, str] = {}
    for node in root.selection_set.selections if root.selection_set else ():
        if not isinstance(node, FieldNode) or node.directives or node.arguments or node.selection_set:
            return None
        name = node.name.value
        if name not in FIELDS and name != "__typename":
            return None
        fields.setdefault(node.alias.value if node.alias else name, name)
    if _unstorable(query) or validate(schema, document, limits.rules, limits.max_tokens):
        return None
    if operation_cost(schema, document, None, {}) > limits.max_cost:
        return None
    located = GraphQLError("-", nodes=[root]).locations or []
    return Plan(
        name=operation.name.value if operation.name else None,
        key=root.alias.value if root.alias else "entitlement",
        arguments=arguments,
        fields=tuple(fields.items()),
        variables=frozenset(declared),
        locations=[{"line": at.line, "column": at.column} for at in located],
    )


def _argument(node: ArgumentNode, declared: dict[str, Any]) -> Argument | None:
    value = node.value
    if isinstance(value, StringValueNode):
        return Argument(value=value.value)
    if isinstance(value, NullValueNode):
        return Argument()
    if isinstance(value, VariableNode) and value.name.value in declared:
        kind = declared[value.name.value].type
        named = kind.type if isinstance(kind, NonNullTypeNode) else kind
        if isinstance(named, NamedTypeNode) and named.name.value == ARGUMENTS.get(node.name.value):
            return Argument(variable=value.name.value, nullable=not isinstance(kind, NonNullTypeNode))
    return None


def _bind(plan: Plan, variables: dict[str, Any]) -> dict[str, str | None] | None:
    """The arguments' values, or None where graphql-core would coerce or refuse them."""
    if not plan.variables.issuperset(variables):
        return None
    bound: dict[str, str | None] = {}
    for name, argument in plan.arguments.items():
        if argument.variable is None:
            bound[name] = argument.value
            continue
        value = variables.get(argument.variable)
        if value is None and not argument.nullable:
            return None
        if value is not None and (not isinstance(value, str) or _unstorable(value)):
            return None
        bound[name] = value
    return bound


@functools.lru_cache(maxsize=64)
def _is_json(content_type: str) -> bool:
    return "application/json" in parse_content_type(content_type)[0]


def _shown(entitlement: Entitlement) -> dict[str, Any] | None:
    """Every field of the Entitlement type as the schema serializes it; None when a
    number is beyond what ``Long`` carries (the general path reports that)."""
    e = entitlement
    numbers = (e.limit, e.used, e.remaining)
    if any(n is not None and abs(n) > MAX_SAFE_INTEGER for n in numbers):
        return None
    return {
        "__typename": "Entitlement",
        "featureCode": e.feature_code,
        "kind": e.kind.value,
        "enabled": e.enabled,
        "reason": e.reason.value if e.reason is not None else None,
        "limit": e.limit,
        "used": e.used,
        "remaining": e.remaining,
        "overage": e.overage.value if e.overage is not None else None,
        "resetsAt": e.resets_at.isoformat() if e.resets_at is not None else None,
    }


class FastEntitlements:
    """Answers recognised entitlement checks; ``serve`` returns None when it answered,
    else the ``receive`` the general path must read the request from."""

    def __init__(
        self,
        schema: GraphQLSchema,
        settings: Settings,
        deps: Deps,
        auth: Authenticator,
        encode_json: Callable[[object], str | bytes],
        has_stream_transport: Callable[[str], bool],
    ) -> None:
        self.schema = schema
        self.limits = Limits.of(settings)
        self.deps = deps
        self.auth = auth
        self.encode_json = encode_json
        self.has_stream_transport = has_stream_transport
        self.lane = Lane(deps.store)
        self.plans: OrderedDict[str, Plan | object] = OrderedDict()

    def plan(self, query: str) -> Plan | None:
        found = self.plans.get(query)
        if found is None:
            if len(query) > CACHED_QUERY_CHARS:
                return None
            found = plan_of(self.schema, query, self.limits) or _NOT_OURS
            self.plans[query] = found
            if len(self.plans) > PLANS:
                self.plans.popitem(last=False)
        else:
            self.plans.move_to_end(query)
        return found if isinstance(found, Plan) else None

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        content_type = authorization = accept = None
        for name, value in scope["headers"]:
            if name == b"content-type" and content_type is None:
                content_type = value.decode("latin-1")
            elif name == b"authorization" and authorization is None:
                authorization = value.decode("latin-1")
            elif name == b"accept" and accept is None:
                accept = value.decode("latin-1")
            elif name == b"cookie" and authorization is None:
                authorization = ""  # maybe a billing portal session: the general path reads cookies
        if authorization == "":
            return receive
        if not content_type or not _is_json(content_type) or self.has_stream_transport(accept or ""):
            return receive
        messages: list[Message] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        replay = _replay(messages, receive)
        if messages[-1]["type"] != "http.request":
            return replay
        try:
            request = json.loads(b"".join(m.get("body", b"") for m in messages))
        except (ValueError, RecursionError):
            return replay
        if not isinstance(request, dict) or not isinstance(request.get("query"), str):
            return replay
        extensions, variables = request.get("extensions"), request.get("variables")
        if not (extensions is None or extensions == {}) or not (
            variables is None or isinstance(variables, dict)
        ):
            return replay
        plan = self.plan(request["query"])
        name = request.get("operationName")
        if plan is None or (name is not None and name != plan.name):
            return replay
        variables = variables or {}
        bound = _bind(plan, variables)
        if bound is None or bound.get("tenantId") is None or bound.get("featureCode") is None:
            return replay
        try:
            body = await self._answer(plan, bound, authorization)
        except Exception:
            log.warning("the entitlement check's fast path failed; the general path answers", exc_info=True)
            return replay
        if body is None:
            return replay
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(len(body)).encode()),
                    (b"content-type", b"application/json"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return None

    async def _answer(
        self, plan: Plan, bound: dict[str, str | None], authorization: str | None
    ) -> bytes | None:
        secret, problem = self.auth.credentials(authorization)
        if secret is None:
            return self._error(problem, "UNAUTHENTICATED")
        principal, key_hash = None, None
        if self.auth.is_bootstrap(secret):
            principal = operator()
        else:
            key_hash = self.auth.stored_key_hash(secret)
            if key_hash is None:
                return self._error(REJECTED, "UNAUTHENTICATED")
        tenant_id, code = bound["tenantId"], bound["featureCode"]
        assert tenant_id is not None and code is not None
        async with self.lane.driver() as driver:
            reader = Reader(driver, self.deps.store.dialect)
            answer: Answer = await check(
                reader,
                self.deps,
                key_hash=key_hash,
                principal=principal,
                tenant_id=tenant_id,
                code=code,
                member_id=bound.get("memberId"),
            )
        log.debug(
            "entitlement checked in %d statement(s)",
            reader.statements,
            extra={"statements": reader.statements},
        )
        if answer.principal is None:
            return self._error(REJECTED, "UNAUTHENTICATED")
        if answer.error is not None:
            return self._error(answer.error.message, answer.error.code.value, plan)
        assert answer.entitlement is not None
        shown = _shown(answer.entitlement)
        if shown is None:
            return None
        return self._encoded({"data": {plan.key: {key: shown[field] for key, field in plan.fields}}})

    def _error(self, message: str, code: str, plan: Plan | None = None) -> bytes:
        """The general path's answer to an error: data null and one error, which it logs."""
        graphql_log.debug("graphql error: %s", message, extra={"request_id": request_id_var.get() or "-"})
        error: dict[str, Any] = {"message": message}
        if plan is not None:  # raised by the field: where it is, and its path
            error["locations"] = plan.locations
            error["path"] = [plan.key]
        error["extensions"] = {"code": code}
        return self._encoded({"data": None, "errors": [error]})

    def _encoded(self, response: dict[str, Any]) -> bytes:
        encoded = self.encode_json(response)
        return encoded.encode() if isinstance(encoded, str) else encoded


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """``receive`` as if nothing had been read from it."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
