"""Error types of the schema, and the one place domain exceptions map to them.

Every mutation returns a union of its success type and the error types it can
produce; clients select ``... on Error { code message }``. A domain exception raised
under a field whose union holds the matching type becomes that member; anywhere else
it surfaces as a GraphQL error carrying ``extensions.code``. Anything that is not a
``DomainError`` is unexpected and is masked by the gateway.
"""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types.lazy_type import LazyType

from models.kernel import errors as domain
from resolvers.shared.enums import ErrorCode


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


@strawberry.type(description="The add-on's currency differs from the plan's or the tenant's.")
class CurrencyMismatchError(Error):
    pass


@strawberry.type(description="The add-on is archived and can no longer be bought or offered.")
class AddonArchivedError(Error):
    pass


@strawberry.type(description="The add-on is not offered with this plan; attach it first.")
class AddonNotAttachedError(Error):
    pass


@strawberry.type(description="Fewer seats than the plan's minimum.")
class BelowMinimumSeatsError(Error):
    pass


@strawberry.type(description="More seats than the plan's maximum.")
class AboveMaximumSeatsError(Error):
    pass


@strawberry.type(description="Every seat of the member's type is taken.")
class NoSeatsAvailableError(Error):
    seat_type: str = strawberry.field(description="The seat type that is full.")


# ``Member`` is the seats domain's type; lazily referenced so this shared module imports no domain.
MemberType = Annotated["Member", strawberry.lazy("resolvers.members.types")]  # noqa: F821 - resolved lazily


@strawberry.type(description="Members hold more seats than the change would leave; remove some first.")
class SeatsInUseError(Error):
    members_to_remove: int
    members: list[MemberType] = strawberry.field(description="The members holding seats of the types short.")


@strawberry.type(description="The tenant has no active subscription.")
class SubscriptionNotActiveError(Error):
    pass


@strawberry.type(description="The tenant already has a live subscription; change it instead.")
class AlreadySubscribedError(Error):
    pass


@strawberry.type(description="This idempotency key was used for a different request.")
class IdempotencyConflictError(Error):
    pass


@strawberry.type(
    description="The payment provider could not do it now (retry later), refused it, or none is configured."
)
class ProviderError(Error):
    pass


# ``Entitlement`` is the entitlements domain's type; lazily referenced like ``Member``.
EntitlementType = Annotated["Entitlement", strawberry.lazy("resolvers.entitlements.types")]  # noqa: F821


@strawberry.type(description="Consuming would pass a BLOCK limit; nothing was recorded.")
class LimitReachedError(Error):
    entitlement: EntitlementType = strawberry.field(
        description="The feature as it stands: limit, used, remaining."
    )


@strawberry.type(
    description="The tenant or member may not use the feature at all; `entitlement.reason` says why."
)
class NotEntitledError(Error):
    entitlement: EntitlementType


@strawberry.type(
    description="The coupon cannot apply: expired, used up, archived, in another currency, or covering "
    "nothing the subscription has."
)
class CouponNotApplicableError(Error):
    pass


@strawberry.type(
    description="The invoice cannot take this credit note or be voided (its status, or what is already "
    "credited)."
)
class InvoiceNotCreditableError(Error):
    pass


@strawberry.type(
    description="A billing portal session asked for a change the operator's portalConfiguration does not "
    "allow customers to make; the message names the setting."
)
class PortalActionNotAllowedError(Error):
    pass


# What buying a plan with add-on quantities can fail with (subscribe, changePlan).
PurchaseErrors = (
    ValidationError
    | NotFoundError
    | CurrencyMismatchError
    | AddonNotAttachedError
    | AddonArchivedError
    | BelowMinimumSeatsError
    | AboveMaximumSeatsError
    | SeatsInUseError
)


def _member_type() -> Any:
    """The seats domain's ``Member``, resolved when an error is built (after the schema is)."""
    return LazyType("Member", "resolvers.members.types").resolve_type()


def _entitlement(value: Any) -> Any:
    """The entitlements domain's ``Entitlement`` of a rules value, resolved when an error is built."""
    return LazyType("Entitlement", "resolvers.entitlements.types").resolve_type().of(value)


def _base(exc: domain.DomainError) -> dict[str, Any]:
    return {"code": exc.code, "message": exc.message}


def _validation(exc: domain.ValidationFailed) -> ValidationError:
    return ValidationError(
        **_base(exc),
        field=exc.field,
        problems=[FieldProblem(field=f, message=m) for f, m in exc.problems],
    )


def _plain(error_type: type) -> tuple[type, Any]:
    return error_type, lambda e: error_type(**_base(e))


# Domain exception -> (GraphQL error type, how to build it). The single mapping.
ERROR_TYPES: dict[type[domain.DomainError], tuple[type, Any]] = {
    domain.Forbidden: _plain(ForbiddenError),
    domain.NotFound: _plain(NotFoundError),
    domain.ValidationFailed: (ValidationError, _validation),
    domain.CurrencyMismatch: _plain(CurrencyMismatchError),
    domain.AddonArchived: _plain(AddonArchivedError),
    domain.AddonNotAttached: _plain(AddonNotAttachedError),
    domain.BelowMinimumSeats: _plain(BelowMinimumSeatsError),
    domain.AboveMaximumSeats: _plain(AboveMaximumSeatsError),
    domain.NoSeatsAvailable: (
        NoSeatsAvailableError,
        lambda e: NoSeatsAvailableError(**_base(e), seat_type=e.seat_type),
    ),
    domain.SeatsInUse: (
        SeatsInUseError,
        lambda e: SeatsInUseError(
            **_base(e),
            members_to_remove=e.members_to_remove,
            members=[_member_type().from_row(m) for m in e.members],
        ),
    ),
    domain.SubscriptionNotActive: _plain(SubscriptionNotActiveError),
    domain.AlreadySubscribed: _plain(AlreadySubscribedError),
    domain.IdempotencyConflict: _plain(IdempotencyConflictError),
    domain.ProviderFailed: _plain(ProviderError),
    domain.LimitReached: (
        LimitReachedError,
        lambda e: LimitReachedError(**_base(e), entitlement=_entitlement(e.entitlement)),
    ),
    domain.NotEntitled: (
        NotEntitledError,
        lambda e: NotEntitledError(**_base(e), entitlement=_entitlement(e.entitlement)),
    ),
    domain.CouponNotApplicable: _plain(CouponNotApplicableError),
    domain.InvoiceNotCreditable: _plain(InvoiceNotCreditableError),
    domain.PortalActionNotAllowed: _plain(PortalActionNotAllowedError),
}


class _Handler(strawberry.ExceptionHandler):  # type: ignore[type-arg]  # Strawberry's generic takes no useful arguments here
    """Turns one domain exception into its error type under fields whose union has it."""

    def __init__(self, exception_type: type[Exception], error_type: type, build: Any) -> None:
        self.exception_type = exception_type
        self.error_type = error_type
        self.build = build

    def handle(self, exception: Exception, *, field: Any, info: Any) -> Any:
        return self.build(exception)


def exception_handlers() -> list[strawberry.ExceptionHandler]:  # type: ignore[type-arg]  # as above
    """Handlers for ``strawberry.Schema(exception_handlers=...)``."""
    return [_Handler(exc, error_type, build) for exc, (error_type, build) in ERROR_TYPES.items()]
