"""SQLModel tables, one module per domain. Importing this package registers them all."""

from models.tables.api_keys import ApiKeyRow, Role
from models.tables.audit import AuditEntryRow
from models.tables.base import UTCDateTime, metadata
from models.tables.catalog import AddonRow, PlanAddonRow, PlanRow
from models.tables.idempotency import IdempotencyKeyRow
from models.tables.invoices import CreditEntryRow, InvoiceLineRow, InvoiceReason, InvoiceRow, InvoiceStatus
from models.tables.members import MemberRow, MemberStatus
from models.tables.metering import (
    MeterRow,
    UsageChargeRow,
    UsageDayRow,
    UsageKeyRow,
    UsagePointRow,
)
from models.tables.outbox import EventRow, ProviderEventRow, ProviderTaskKind, ProviderTaskRow, TaskStatus
from models.tables.subscriptions import SubscriptionAddonRow, SubscriptionRow, SubscriptionStatus
from models.tables.tenants import SalesMode, TenantRow
from models.tables.test_clocks import TestClockRow
from models.tables.webhooks import DeliveryStatus, WebhookAttemptRow, WebhookDeliveryRow, WebhookEndpointRow

__all__ = [
    "DeliveryStatus",
    "EventRow",
    "ProviderEventRow",
    "ProviderTaskKind",
    "ProviderTaskRow",
    "TaskStatus",
    "WebhookAttemptRow",
    "WebhookDeliveryRow",
    "WebhookEndpointRow",
    "MeterRow",
    "UsageChargeRow",
    "UsageDayRow",
    "UsageKeyRow",
    "UsagePointRow",
    "AddonRow",
    "ApiKeyRow",
    "AuditEntryRow",
    "CreditEntryRow",
    "IdempotencyKeyRow",
    "InvoiceLineRow",
    "InvoiceReason",
    "InvoiceRow",
    "InvoiceStatus",
    "MemberRow",
    "MemberStatus",
    "PlanAddonRow",
    "PlanRow",
    "Role",
    "SalesMode",
    "SubscriptionAddonRow",
    "SubscriptionRow",
    "SubscriptionStatus",
    "TenantRow",
    "TestClockRow",
    "UTCDateTime",
    "metadata",
]
