"""Expected failures of the domain, each with a stable error code.

The GraphQL layer maps each class to an error type in one place
(``resolvers/shared/errors.py``); anything that is not a ``DomainError`` is unexpected and
gets masked at the edge.
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar


class ErrorCode(enum.Enum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    VALIDATION_FAILED = "VALIDATION_FAILED"
    NO_SEATS_AVAILABLE = "NO_SEATS_AVAILABLE"
    SEATS_IN_USE = "SEATS_IN_USE"
    BELOW_MINIMUM_SEATS = "BELOW_MINIMUM_SEATS"
    ABOVE_MAXIMUM_SEATS = "ABOVE_MAXIMUM_SEATS"
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
    ADDON_NOT_ATTACHED = "ADDON_NOT_ATTACHED"
    ADDON_ARCHIVED = "ADDON_ARCHIVED"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    SUBSCRIPTION_NOT_ACTIVE = "SUBSCRIPTION_NOT_ACTIVE"
    PROVIDER_ERROR = "PROVIDER_ERROR"
    ALREADY_SUBSCRIBED = "ALREADY_SUBSCRIBED"
    LIMIT_REACHED = "LIMIT_REACHED"
    NOT_ENTITLED = "NOT_ENTITLED"
    COUPON_NOT_APPLICABLE = "COUPON_NOT_APPLICABLE"
    INVOICE_NOT_CREDITABLE = "INVOICE_NOT_CREDITABLE"
    PORTAL_ACTION_NOT_ALLOWED = "PORTAL_ACTION_NOT_ALLOWED"


class DomainError(Exception):
    """An expected failure: shown to the caller with its code and message."""

    code: ClassVar[ErrorCode]

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def extensions(self) -> dict[str, Any]:
        """Read by graphql-core when the error surfaces outside a result union."""
        return {"code": self.code.value}


class Unauthenticated(DomainError):
    code = ErrorCode.UNAUTHENTICATED


class Forbidden(DomainError):
    """The key is valid but its role may not perform this operation at all."""

    code = ErrorCode.FORBIDDEN


class NotFound(DomainError):
    """No such object, or one the caller's key may not see (indistinguishable)."""

    code = ErrorCode.NOT_FOUND

    def __init__(self, kind: str, object_id: str) -> None:
        super().__init__(f"{kind} {object_id!r} was not found.")
        self.kind = kind
        self.object_id = object_id


class ValidationFailed(DomainError):
    """Bad input. ``field`` is the GraphQL path of the first offending value
    (``input.billingInfo.address.country``); ``problems`` lists every one found."""

    code = ErrorCode.VALIDATION_FAILED

    def __init__(self, field: str, message: str, *, problems: list[tuple[str, str]] | None = None):
        self.problems = problems or [(field, message)]
        super().__init__("; ".join(f"{f}: {m}" for f, m in self.problems))
        self.field = field
        self.reason = message

    @property
    def extensions(self) -> dict[str, Any]:
        return {"code": self.code.value, "field": self.field}


class CurrencyMismatch(DomainError):
    code = ErrorCode.CURRENCY_MISMATCH


class AddonArchived(DomainError):
    code = ErrorCode.ADDON_ARCHIVED


class AddonNotAttached(DomainError):
    code = ErrorCode.ADDON_NOT_ATTACHED


class BelowMinimumSeats(DomainError):
    code = ErrorCode.BELOW_MINIMUM_SEATS


class AboveMaximumSeats(DomainError):
    code = ErrorCode.ABOVE_MAXIMUM_SEATS


class NoSeatsAvailable(DomainError):
    code = ErrorCode.NO_SEATS_AVAILABLE
    MESSAGE = "No seats available. Please upgrade your plan."

    def __init__(self, seat_type: str) -> None:
        super().__init__(self.MESSAGE)
        self.seat_type = seat_type


class SeatsInUse(DomainError):
    """Fewer seats than members holding them: ``members_to_remove`` of ``members``
    must be removed first."""

    code = ErrorCode.SEATS_IN_USE

    def __init__(self, message: str, *, members_to_remove: int, members: list[Any]) -> None:
        super().__init__(message)
        self.members_to_remove = members_to_remove
        self.members = members


class SubscriptionNotActive(DomainError):
    code = ErrorCode.SUBSCRIPTION_NOT_ACTIVE


class AlreadySubscribed(DomainError):
    code = ErrorCode.ALREADY_SUBSCRIBED


class IdempotencyConflict(DomainError):
    code = ErrorCode.IDEMPOTENCY_CONFLICT


class ProviderFailed(DomainError):
    """The payment provider could not do it now (down, or it refused the request), or
    no provider is configured (``GATEWAY_PROVIDER=local``)."""

    code = ErrorCode.PROVIDER_ERROR


class LimitReached(DomainError):
    """Consuming would take a BLOCK feature past its limit; nothing was recorded.
    ``entitlement`` is the feature's state as it stands (limit, used, remaining)."""

    code = ErrorCode.LIMIT_REACHED

    def __init__(self, message: str, *, entitlement: Any) -> None:
        super().__init__(message)
        self.entitlement = entitlement


class NotEntitled(DomainError):
    """The tenant (or member) may not use the feature at all: ``entitlement.reason`` says
    why (not in the plan, an inactive subscription, an excluded seat type)."""

    code = ErrorCode.NOT_ENTITLED

    def __init__(self, message: str, *, entitlement: Any) -> None:
        super().__init__(message)
        self.entitlement = entitlement


class CouponNotApplicable(DomainError):
    """The coupon cannot apply here: expired, used up, archived, in another currency, or
    covering nothing the subscription has. The message says which."""

    code = ErrorCode.COUPON_NOT_APPLICABLE


class InvoiceNotCreditable(DomainError):
    """The invoice cannot take this credit note or void: its status, or the amount
    already credited. The message says which and how much is left."""

    code = ErrorCode.INVOICE_NOT_CREDITABLE


class PortalActionNotAllowed(DomainError):
    """A billing portal session asked for something the operator's portal configuration
    does not let customers do (``portalConfiguration``); the message names the setting."""

    code = ErrorCode.PORTAL_ACTION_NOT_ALLOWED
