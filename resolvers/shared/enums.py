"""Every enum the schema exposes, in one place: GraphQL types of different domains
share them without importing each other."""

from __future__ import annotations

import strawberry

from models.kernel.enums import Aggregation as AggregationValue
from models.kernel.enums import CollectionMethod as CollectionMethodValue
from models.kernel.enums import CouponDuration as CouponDurationValue
from models.kernel.enums import CreditNoteOutcome as CreditNoteOutcomeValue
from models.kernel.enums import DeliveryStatus as DeliveryStatusValue
from models.kernel.enums import EffectiveAt as EffectiveAtValue
from models.kernel.enums import EntitlementReason as EntitlementReasonValue
from models.kernel.enums import FeatureKind as FeatureKindValue
from models.kernel.enums import Interval as IntervalValue
from models.kernel.enums import InvoiceReason as InvoiceReasonValue
from models.kernel.enums import InvoiceStatus as InvoiceStatusValue
from models.kernel.enums import LineKind as LineKindValue
from models.kernel.enums import MemberStatus as MemberStatusValue
from models.kernel.enums import Overage as OverageValue
from models.kernel.enums import PaymentMethod as PaymentMethodValue
from models.kernel.enums import PricingModel as PricingModelValue
from models.kernel.enums import ProrationMode as ProrationModeValue
from models.kernel.enums import Role as RoleValue
from models.kernel.enums import SalesMode as SalesModeValue
from models.kernel.enums import SeatType as SeatTypeValue
from models.kernel.enums import SubscriptionStatus as SubscriptionStatusValue
from models.kernel.enums import UsageMethod as UsageMethodValue
from models.kernel.errors import ErrorCode as ErrorCodeValue

ErrorCode = strawberry.enum(
    ErrorCodeValue, name="ErrorCode", description="Stable, machine-readable error codes."
)


Interval = strawberry.enum(IntervalValue, name="Interval", description="How often a plan bills.")


SeatType = strawberry.enum(
    SeatTypeValue,
    name="SeatType",
    description="FULL: every feature; VIEWER: read-only; GUEST: limited outside collaborators.",
)


MemberStatus = strawberry.enum(
    MemberStatusValue, name="MemberStatus", description="ACTIVE members hold a seat; REMOVED ones do not."
)


InvoiceStatus = strawberry.enum(InvoiceStatusValue, name="InvoiceStatus")


LineKind = strawberry.enum(LineKindValue, name="LineKind")


CouponDuration = strawberry.enum(
    CouponDurationValue,
    name="CouponDuration",
    description="ONCE: the next invoice it takes something off; REPEATING: durationInPeriods billing periods "
    "(and the changes within them); FOREVER: every invoice.",
)


InvoiceReason = strawberry.enum(
    InvoiceReasonValue,
    name="InvoiceReason",
    description="SUBSCRIBE: the first period; CHANGE: a plan change billed now; RENEWAL: the next period; "
    "FINAL: a cancelled subscription's last usage; EXTERNAL: made by people in the payment provider "
    "(SALES_LED).",
)


Aggregation = strawberry.enum(
    AggregationValue,
    name="Aggregation",
    description="How a day's or month's points combine: their SUM, their MAX, how many there are (COUNT), "
    "or the LATEST one's value.",
)


UsageMethod = strawberry.enum(
    UsageMethodValue,
    name="UsageMethod",
    description="ADD to the point at the timestamp, SUB(tract) from it, or overwrite it (DIRECT).",
)


PricingModel = strawberry.enum(
    PricingModelValue,
    name="PricingModel",
    description="PER_UNIT: each unit; PACKAGE: each started package of packageSize units; GRADUATED: each "
    "tier prices the units within it; VOLUME: the tier the total falls in prices every unit.",
)


Role = strawberry.enum(
    RoleValue,
    name="Role",
    description="ADMIN: everything; TENANT: its own tenant; PARTNER: its tenant's usage only.",
)


ProrationBillingMode = strawberry.enum(
    ProrationModeValue,
    name="ProrationBillingMode",
    description=(
        "PRORATED_IMMEDIATELY: bill the difference for the days left now (the day of the change counts); "
        "DIFFERENCE_IMMEDIATELY: bill a whole period's difference now, a downgrade's goes to the credit "
        "balance; "
        "FULL_IMMEDIATELY: bill the new items in full now and start a new period today; "
        "DO_NOT_BILL: apply without charge or credit."
    ),
)


EffectiveAt = strawberry.enum(
    EffectiveAtValue,
    name="EffectiveAt",
    description="IMMEDIATELY, or NEXT_BILLING_DATE: scheduled for the renewal, which bills it in full.",
)


SalesMode = strawberry.enum(
    SalesModeValue,
    name="SalesMode",
    description="SELF_SERVE: the gateway bills; SALES_LED: invoices are made by people in the provider.",
)


CollectionMethod = strawberry.enum(
    CollectionMethodValue,
    name="CollectionMethod",
    description="CHARGE_AUTOMATICALLY: invoices are charged to the saved card as they are issued; "
    "SEND_INVOICE: they are sent with payment terms, due daysUntilDue days later (paid by transfer).",
)

PaymentMethod = strawberry.enum(
    PaymentMethodValue, name="PaymentMethod", description="How a payment recorded by hand was made."
)


CreditNoteOutcome = strawberry.enum(
    CreditNoteOutcomeValue,
    name="CreditNoteOutcome",
    description="Where a credit note on a PAID invoice goes: the tenant's credit balance, or back to the "
    "customer through the payment provider. On an OPEN invoice it lowers what is due (CREDIT_BALANCE).",
)


WebhookDeliveryStatus = strawberry.enum(
    DeliveryStatusValue,
    name="WebhookDeliveryStatus",
    description="PENDING: to be attempted (again) at nextAttemptAt; SUCCEEDED: the endpoint answered "
    "2xx; FAILED: every scheduled attempt failed (redeliverWebhook tries again).",
)


SubscriptionStatus = strawberry.enum(SubscriptionStatusValue, name="SubscriptionStatus")


FeatureKind = strawberry.enum(
    FeatureKindValue,
    name="FeatureKind",
    description="BOOLEAN: on or off; LIMIT: up to a number the app counts (projects), through "
    "consumeEntitlement; METERED: up to a meter's usage in the current billing period.",
)


Overage = strawberry.enum(
    OverageValue,
    name="Overage",
    description="Past the limit: BLOCK turns the feature off and refuses consumption; ALLOW keeps it on "
    "(the plan's usage charge bills the usage).",
)


EntitlementReason = strawberry.enum(
    EntitlementReasonValue,
    name="EntitlementReason",
    description="Why a feature is off: NOT_IN_PLAN (neither the plan nor an add-on grants it), "
    "LIMIT_REACHED (a BLOCK limit is used up), SUBSCRIPTION_INACTIVE (no live subscription, or one "
    "that grants nothing: only TRIALING, ACTIVE and PAST_DUE within its grace do), SEAT_TYPE_EXCLUDED (the "
    "member's seat type is outside every grant).",
)
