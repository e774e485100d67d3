"""Error types of the schema, and the one place domain exceptions map to them.

Every mutation returns a union of its success type and the error types it can
produce; clients select ``... on Error { code message }``. A domain exception raised
under a field whose union holds the matching type becomes that member; anywhere else
it surfaces as a GraphQL error carrying ``extensions.code``. Anything that is not a
``DomainError`` is unexpected and is masked by the gateway.
"""

from __future__ import annotations

from typing import Any

import strawberry

from models import errors as domain

ErrorCode = strawberry.enum(domain.ErrorCode, name="ErrorCode", description="Stable, machine-readable error codes.")


@strawberry.interface(description="Every expected failure: select `... on Error { code message }`.")
class Error:
    code: ErrorCode
    message: str


@strawberry.type(description="The API key's role may never perform this operation.")
class ForbiddenError(Error):
    pass


@strawberry.type(description="No such object, or one this API key may not see.")
class NotFoundError(Error):
    pass


@strawberry.type
class FieldProblem:
    field: str = strawberry.field(description="Path of the value, e.g. `input.billingInfo.address.country`.")
    message: str


@strawberry.type(description="Input that cannot be accepted; `field` names the first offending value.")
class ValidationError(Error):
    field: str
    problems: list[FieldProblem] = strawberry.field(description="Every problem found, not just the first.")


def _base(exc: domain.DomainError) -> dict[str, Any]:
    return {"code": exc.code, "message": exc.message}


def _validation(exc: domain.ValidationFailed) -> ValidationError:
    return ValidationError(
        **_base(exc),
        field=exc.field,
        problems=[FieldProblem(field=f, message=m) for f, m in exc.problems],
    )


# Domain exception -> (GraphQL error type, how to build it). The single mapping.
ERROR_TYPES: dict[type[domain.DomainError], tuple[type, Any]] = {
    domain.Forbidden: (ForbiddenError, lambda e: ForbiddenError(**_base(e))),
    domain.NotFound: (NotFoundError, lambda e: NotFoundError(**_base(e))),
    domain.ValidationFailed: (ValidationError, _validation),
}


class _Handler(strawberry.ExceptionHandler):  # type: ignore[type-arg]
    """Turns one domain exception into its error type under fields whose union has it."""

    def __init__(self, exception_type: type[Exception], error_type: type, build: Any) -> None:
        self.exception_type = exception_type
        self.error_type = error_type
        self.build = build

    def handle(self, exception: Exception, *, field: Any, info: Any) -> Any:
        return self.build(exception)


def exception_handlers() -> list[strawberry.ExceptionHandler]:  # type: ignore[type-arg]
    """Handlers for ``strawberry.Schema(exception_handlers=...)``."""
    return [_Handler(exc, error_type, build) for exc, (error_type, build) in ERROR_TYPES.items()]
