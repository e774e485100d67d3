"""The statuses and kinds every layer shares: the tables store them, the rules decide
by them, the GraphQL schema exposes them. One place, so nothing imports a table or a
type just for an enum (and GraphQL types never import each other in a circle).

Each is a ``StrEnum``: its members are their own stored and wire values."""

from __future__ import annotations

import enum


class Interval(enum.StrEnum):
    MONTH = "MONTH"
    YEAR = "YEAR"


class SeatType(enum.StrEnum):
    FULL = "FULL"
    VIEWER = "VIEWER"
    GUEST = "GUEST"


class Aggregation(enum.StrEnum):
    SUM = "SUM"
    MAX = "MAX"
    COUNT = "COUNT"
    LATEST = "LATEST"


class UsageMethod(enum.StrEnum):
    ADD = "ADD"
    SUB = "SUB"
    DIRECT = "DIRECT"


class PricingModel(enum.StrEnum):
    PER_UNIT = "PER_UNIT"
    PACKAGE = "PACKAGE"
    GRADUATED = "GRADUATED"
    VOLUME = "VOLUME"


class LineKind(enum.StrEnum):
    BASE = "BASE"
    ADDON = "ADDON"
    USAGE = "USAGE"
    PRORATION = "PRORATION"
    CREDIT = "CREDIT"
    DISCOUNT = "DISCOUNT"  # a coupon's amount off the lines it covers (negative, before tax)


class CouponDuration(enum.StrEnum):
    ONCE = "ONCE"  # the next invoice only
    REPEATING = "REPEATING"  # durationInPeriods periods (the invoices that start them, and changes within)
    FOREVER = "FOREVER"


class Role(enum.StrEnum):
    ADMIN = "ADMIN"
    TENANT = "TENANT"
    PARTNER = "PARTNER"


class SalesMode(enum.StrEnum):
    SELF_SERVE = "SELF_SERVE"
    SALES_LED = "SALES_LED"


class SubscriptionStatus(enum.StrEnum):
    TRIALING = "TRIALING"
    ACTIVE = "ACTIVE"
    PAST_DUE = "PAST_DUE"
    UNPAID = "UNPAID"
    PAUSED = "PAUSED"
    CANCELLED = "CANCELLED"


class CollectionMethod(enum.StrEnum):
    CHARGE_AUTOMATICALLY = "CHARGE_AUTOMATICALLY"  # the provider charges the saved card when issued
    SEND_INVOICE = "SEND_INVOICE"  # the customer pays within daysUntilDue (bank transfer, cheque)


class PaymentMethod(enum.StrEnum):
    """How a payment recorded by hand (recordPayment) was made."""

    BANK_TRANSFER = "BANK_TRANSFER"
    CHECK = "CHECK"
    OTHER = "OTHER"


class MemberStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    REMOVED = "REMOVED"


class InvoiceStatus(enum.StrEnum):
    DRAFT = "DRAFT"
    OPEN = "OPEN"
    PAID = "PAID"
    VOID = "VOID"
    UNCOLLECTIBLE = "UNCOLLECTIBLE"


class InvoiceReason(enum.StrEnum):
    SUBSCRIBE = "SUBSCRIBE"  # the first period, billed in advance
    CHANGE = "CHANGE"  # a plan change billed now
    RENEWAL = "RENEWAL"  # the next period, billed in advance at period end
    FINAL = "FINAL"  # the usage of a subscription's last period, billed when it ends
    EXTERNAL = "EXTERNAL"  # made by people in the provider (SALES_LED), mirrored from its webhooks


class TaskStatus(enum.StrEnum):
    PENDING = "PENDING"  # to run, or running (then next_attempt_at is its lease)
    DONE = "DONE"
    FAILED = "FAILED"  # the provider refused it for good (see last_error); not retried


class ProviderTaskKind(enum.StrEnum):
    SYNC_CUSTOMER = "SYNC_CUSTOMER"  # create or update the tenant's customer
    COLLECT_INVOICE = "COLLECT_INVOICE"  # push an invoice to the provider and charge it
    # An invoice paid by hand (recordPayment): marked paid at the provider too, so it is
    # neither charged nor payable there, and no reminder asks for it again.
    MARK_PAID_OUT_OF_BAND = "MARK_PAID_OUT_OF_BAND"
    # A credit note refunded through the provider: a refund of its invoice's payment.
    REFUND_CREDIT_NOTE = "REFUND_CREDIT_NOTE"
    # An invoice voided in the gateway (voidInvoice): voided at the provider too.
    VOID_INVOICE = "VOID_INVOICE"


class DeliveryStatus(enum.StrEnum):
    PENDING = "PENDING"  # to attempt (again) at next_attempt_at
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"  # every scheduled attempt failed; redeliverWebhook tries again


class ProrationMode(enum.StrEnum):
    PRORATED_IMMEDIATELY = "PRORATED_IMMEDIATELY"
    DIFFERENCE_IMMEDIATELY = "DIFFERENCE_IMMEDIATELY"
    FULL_IMMEDIATELY = "FULL_IMMEDIATELY"
    DO_NOT_BILL = "DO_NOT_BILL"


class EffectiveAt(enum.StrEnum):
    IMMEDIATELY = "IMMEDIATELY"
    NEXT_BILLING_DATE = "NEXT_BILLING_DATE"


class CreditNoteOutcome(enum.StrEnum):
    """Where a credit note on a PAID invoice goes (on an OPEN one it lowers what is due)."""

    CREDIT_BALANCE = "CREDIT_BALANCE"  # the tenant's credit balance, used by its next invoices
    REFUND = "REFUND"  # back to the customer through the provider (a refund of the payment)


class CreditReason(enum.StrEnum):
    GRANTED = "GRANTED"  # the balance grows: a change credited more than it charged
    APPLIED = "APPLIED"  # an invoice drew on the balance
    GRANT = "GRANT"  # credits granted by the operator (grantCredits), maybe expiring
    EXPIRED = "EXPIRED"  # what was left of a grant when it expired
    CREDIT_NOTE = "CREDIT_NOTE"  # a credit note on a paid invoice, to the balance


class TestClockStatus(enum.StrEnum):
    __test__ = False  # not a pytest class, despite the name

    READY = "READY"


class EventType(enum.StrEnum):
    SUBSCRIPTION_ACTIVE = "subscription.active"
    SUBSCRIPTION_PLAN_CHANGED = "subscription.plan_changed"
    SUBSCRIPTION_RENEWED = "subscription.renewed"
    SUBSCRIPTION_CANCELLED = "subscription.cancelled"
    SEATS_CHANGED = "seats.changed"
    INVOICE_CREATED = "invoice.created"
    INVOICE_PAID = "invoice.paid"
    INVOICE_PAYMENT_FAILED = "invoice.payment_failed"
    USAGE_RECORDED = "usage.recorded"
    ENTITLEMENTS_CHANGED = "entitlements.changed"
    USAGE_THRESHOLD_REACHED = "usage.threshold_reached"
    SUBSCRIPTION_TRIAL_WILL_END = "subscription.trial_will_end"
    SUBSCRIPTION_PAST_DUE = "subscription.past_due"
    SUBSCRIPTION_UNPAID = "subscription.unpaid"
    SUBSCRIPTION_RECOVERED = "subscription.recovered"
    SUBSCRIPTION_PAUSED = "subscription.paused"
    SUBSCRIPTION_RESUMED = "subscription.resumed"
    INVOICE_OVERDUE = "invoice.overdue"
    INVOICE_VOIDED = "invoice.voided"
    CREDIT_NOTE_CREATED = "credit_note.created"


class FeatureKind(enum.StrEnum):
    BOOLEAN = "BOOLEAN"  # on or off
    LIMIT = "LIMIT"  # a number the tenant's app counts against (projects), through consumeEntitlement
    METERED = "METERED"  # a meter's usage in the current billing period, against a limit


class Overage(enum.StrEnum):
    BLOCK = "BLOCK"  # past the limit the feature is off and consumption refused
    ALLOW = "ALLOW"  # past the limit it stays on (the usage is billed by the plan's usage charge)


class EntitlementReason(enum.StrEnum):
    NOT_IN_PLAN = "NOT_IN_PLAN"
    LIMIT_REACHED = "LIMIT_REACHED"
    SUBSCRIPTION_INACTIVE = "SUBSCRIPTION_INACTIVE"
    SEAT_TYPE_EXCLUDED = "SEAT_TYPE_EXCLUDED"
