"""SQLModel tables, one module per domain. Importing this package registers them all."""

from models.tables.api_keys import ApiKeyRow
from models.tables.audit import AuditEntryRow
from models.tables.base import UTCDateTime, metadata
from models.tables.catalog import AddonRow, PlanAddonRow, PlanRow
from models.tables.credit_notes import CreditNoteLineRow, CreditNoteRow
from models.tables.credits import CreditGrantRow
from models.tables.discounts import CouponRow, DiscountRow
from models.tables.entitlements import (
    ConsumptionRow,
    FeatureGrantRow,
    FeatureRow,
    FeatureUsageRow,
    SigningKeyRow,
    UsageThresholdRow,
)
from models.tables.idempotency import IdempotencyKeyRow
from models.tables.invoices import CreditEntryRow, InvoiceLineRow, InvoiceRow, PaymentRow
from models.tables.members import MemberRow
from models.tables.metering import (
    MeterRow,
    UsageBillingRow,
    UsageChargeRow,
    UsageDayRow,
    UsageKeyRow,
    UsagePointRow,
)
from models.tables.outbox import EventRow, ProviderEventRow, ProviderTaskRow
from models.tables.portal import PortalConfigurationRow, PortalSessionRow
from models.tables.subscriptions import SubscriptionAddonRow, SubscriptionRow, TrialRow
from models.tables.tenants import TenantRow
from models.tables.test_clocks import TestClockRow
from models.tables.webhooks import WebhookAttemptRow, WebhookDeliveryRow, WebhookEndpointRow

__all__ = [
    "PortalConfigurationRow",
    "PortalSessionRow",
    "CouponRow",
    "DiscountRow",
    "CreditNoteLineRow",
    "CreditNoteRow",
    "PaymentRow",
    "TrialRow",
    "ConsumptionRow",
    "FeatureGrantRow",
    "FeatureRow",
    "FeatureUsageRow",
    "SigningKeyRow",
    "UsageThresholdRow",
    "EventRow",
    "ProviderEventRow",
    "ProviderTaskRow",
    "WebhookAttemptRow",
    "WebhookDeliveryRow",
    "WebhookEndpointRow",
    "MeterRow",
    "UsageBillingRow",
    "UsageChargeRow",
    "UsageDayRow",
    "UsageKeyRow",
    "UsagePointRow",
    "AddonRow",
    "ApiKeyRow",
    "AuditEntryRow",
    "CreditEntryRow",
    "CreditGrantRow",
    "IdempotencyKeyRow",
    "InvoiceLineRow",
    "InvoiceRow",
    "MemberRow",
    "PlanAddonRow",
    "PlanRow",
    "SubscriptionAddonRow",
    "SubscriptionRow",
    "TenantRow",
    "TestClockRow",
    "UTCDateTime",
    "metadata",
]
