"""What each event says: one typed class per event type. Outbound webhooks deliver it
as the event's ``data`` and live subscriptions read it, in camelCase as the GraphQL API
names things. ``emit`` takes one of these, so an event's type and its shape never part.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, PlainSerializer
from pydantic.alias_generators import to_camel

from models.kernel.enums import (
    CreditNoteOutcome,
    EventType,
    InvoiceReason,
    InvoiceStatus,
    ProrationMode,
    SeatType,
    SubscriptionStatus,
)
from models.tables import InvoiceRow, PlanRow, SubscriptionRow

# Instants as ``datetime.isoformat`` writes them (``+00:00``), as partners have always read them.
Instant = Annotated[datetime, PlainSerializer(lambda value: value.isoformat(), return_type=str)]


class EventPayload(BaseModel):
    """An event's data. Fields left unset are left out of it (``scheduled`` on an
    immediate plan change); fields set to None are sent as null."""

    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)

    type: ClassVar[EventType]
    tenant_id: str

    def data(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class _Invoice(EventPayload):
    invoice_id: str
    subscription_id: str | None
    number: str
    status: InvoiceStatus
    reason: InvoiceReason
    currency: str
    total: int
    amount_due: int
    hosted_invoice_url: str | None

    @classmethod
    def of(cls, invoice: InvoiceRow, **extra: Any) -> Any:
        return cls(
            invoice_id=invoice.id,
            tenant_id=invoice.tenant_id,
            subscription_id=invoice.subscription_id,
            number=invoice.number,
            status=invoice.status,
            reason=invoice.reason,
            currency=invoice.currency,
            total=invoice.total,
            amount_due=invoice.amount_due,
            hosted_invoice_url=invoice.hosted_invoice_url,
            **extra,
        )


class InvoiceCreatedPayload(_Invoice):
    type = EventType.INVOICE_CREATED


class InvoicePaidPayload(_Invoice):
    type = EventType.INVOICE_PAID


class InvoicePaymentFailedPayload(_Invoice):
    type = EventType.INVOICE_PAYMENT_FAILED


class InvoiceOverduePayload(_Invoice):
    """An OPEN invoice not paid by its due date (SEND_INVOICE terms)."""

    type = EventType.INVOICE_OVERDUE

    due_date: Instant


class InvoiceVoidedPayload(_Invoice):
    """An invoice voided (voidInvoice, or at the provider): no longer owed."""

    type = EventType.INVOICE_VOIDED


class CreditNoteLinePayload(BaseModel):
    """What a credit note by line credits on one invoice line."""

    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)

    invoice_line_id: str
    amount: int


class CreditNoteCreatedPayload(EventPayload):
    """A credit note issued against an invoice: ``outcome`` says where a PAID invoice's
    credit went; ``loweredDue`` is true when it lowered what an OPEN invoice was due;
    ``lines`` what a note by line credits on each line (empty for a note by amount)."""

    type = EventType.CREDIT_NOTE_CREATED

    credit_note_id: str
    number: str
    invoice_id: str
    invoice_number: str
    amount: int
    currency: str
    outcome: CreditNoteOutcome
    lowered_due: bool
    reason: str
    lines: list[CreditNoteLinePayload] = []


class _Subscription(EventPayload):
    subscription_id: str
    plan_id: str
    plan_code: str
    status: SubscriptionStatus
    current_period_start: Instant
    current_period_end: Instant

    @classmethod
    def of(cls, subscription: SubscriptionRow, plan: PlanRow, **extra: Any) -> Any:
        return cls(
            subscription_id=subscription.id,
            tenant_id=subscription.tenant_id,
            plan_id=plan.id,
            plan_code=plan.code,
            status=subscription.status,
            current_period_start=subscription.current_period_start,
            current_period_end=subscription.current_period_end,
            **extra,
        )


SubscriptionPayload = _Subscription  # what every subscription.* event says, and more


class SubscriptionActivePayload(_Subscription):
    type = EventType.SUBSCRIPTION_ACTIVE


class SubscriptionPlanChangedPayload(_Subscription):
    type = EventType.SUBSCRIPTION_PLAN_CHANGED

    previous_plan_id: str
    # A change applied now: how it was billed and the invoice it issued (null: none).
    proration_billing_mode: ProrationMode | None = None
    invoice_id: str | None = None
    # A change scheduled for the renewal, applied by it.
    scheduled: bool | None = None


class SubscriptionRenewedPayload(_Subscription):
    type = EventType.SUBSCRIPTION_RENEWED

    invoice_id: str


class SubscriptionCancelledPayload(_Subscription):
    type = EventType.SUBSCRIPTION_CANCELLED

    at_period_end: bool
    # Why, as the canceller gave it (null: not said).
    cancellation_reason: str | None = None


class SubscriptionTrialWillEndPayload(_Subscription):
    type = EventType.SUBSCRIPTION_TRIAL_WILL_END

    trial_end: Instant


class SubscriptionPastDuePayload(_Subscription):
    """An invoice of it is overdue or its charge failed; UNPAID at ``grace_ends_at`` if still owed."""

    type = EventType.SUBSCRIPTION_PAST_DUE

    invoice_id: str
    grace_ends_at: Instant


class SubscriptionUnpaidPayload(_Subscription):
    type = EventType.SUBSCRIPTION_UNPAID


class SubscriptionRecoveredPayload(_Subscription):
    """Everything overdue was paid (or given up on): ACTIVE again."""

    type = EventType.SUBSCRIPTION_RECOVERED

    invoice_id: str


class SubscriptionPausedPayload(_Subscription):
    type = EventType.SUBSCRIPTION_PAUSED

    resumes_at: Instant | None


class SubscriptionResumedPayload(_Subscription):
    type = EventType.SUBSCRIPTION_RESUMED

    invoice_id: str | None


class SeatCount(BaseModel):
    model_config = ConfigDict(frozen=True)

    total: int
    used: int


class SeatsChangedPayload(EventPayload):
    type = EventType.SEATS_CHANGED

    reason: str
    member_id: str | None
    seats: dict[str, SeatCount]  # by seat type: FULL, VIEWER, GUEST

    @classmethod
    def of(
        cls,
        tenant_id: str,
        reason: str,
        member_id: str | None,
        totals: Mapping[SeatType, int],
        used: Mapping[SeatType, int],
    ) -> SeatsChangedPayload:
        seats = {t.value: SeatCount(total=totals.get(t, 0), used=used.get(t, 0)) for t in SeatType}
        return cls(tenant_id=tenant_id, reason=reason, member_id=member_id, seats=seats)


class UsageRecordedPayload(EventPayload):
    type = EventType.USAGE_RECORDED

    accepted: int
    meters: dict[str, int]  # events accepted per meter name
