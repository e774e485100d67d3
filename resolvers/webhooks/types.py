from __future__ import annotations

from datetime import datetime

import strawberry

from models.kernel.enums import DeliveryStatus as DeliveryStatusValue
from models.tables import WebhookAttemptRow, WebhookEndpointRow
from models.webhooks.service import DeliveryLog
from resolvers.shared.context import Info
from resolvers.shared.enums import WebhookDeliveryStatus


@strawberry.type(description="Where a partner receives events. Its signing secret is never shown again.")
class WebhookEndpoint:
    id: strawberry.ID
    url: str
    events: list[str] = strawberry.field(description="The event types it receives (`seats.changed`, ...).")
    tenant_id: strawberry.ID | None = strawberry.field(description="Its tenant; null: every tenant's events.")
    description: str | None
    enabled: bool = strawberry.field(description="A disabled endpoint receives nothing; its deliveries wait.")
    created_at: datetime

    @classmethod
    def from_row(cls, row: WebhookEndpointRow) -> WebhookEndpoint:
        return cls(
            id=strawberry.ID(row.id),
            url=row.url,
            events=list(row.events),
            tenant_id=strawberry.ID(row.tenant_id) if row.tenant_id else None,
            description=row.description,
            enabled=not row.disabled,
            created_at=row.created_at,
        )


@strawberry.type(description="A new endpoint and its Standard Webhooks signing secret, shown this once only.")
class NewWebhookEndpoint:
    endpoint: WebhookEndpoint
    secret: str = strawberry.field(description="`whsec_...`: verify each delivery's `webhook-signature`.")


@strawberry.type(description="One try at a delivery.")
class WebhookAttempt:
    attempt: int = strawberry.field(description="1 for the first try, counting on across redeliveries.")
    at: datetime
    status_code: int | None = strawberry.field(description="The endpoint's HTTP status; null: no answer.")
    error: str | None = strawberry.field(
        description="Why there was no answer: the connection failed, it timed out, TLS failed, or the "
        "host's address is not allowed."
    )
    duration_ms: int
    body: strawberry.Private[str | None]

    @strawberry.field(
        description="The start of the endpoint's answer: ADMIN keys only (null for other keys), as it "
        "may come from a network the tenant has no business reading."
    )
    def response_body(self, info: Info) -> str | None:
        return self.body if info.context.actor.is_admin else None

    @classmethod
    def from_row(cls, row: WebhookAttemptRow) -> WebhookAttempt:
        return cls(
            attempt=row.attempt,
            at=row.at,
            status_code=row.status_code,
            error=row.error,
            duration_ms=row.duration_ms,
            body=row.response_body,
        )


@strawberry.type(
    description="An event owed to an endpoint. Its id is the `webhook-id` header, the same on every attempt."
)
class WebhookDelivery:
    id: strawberry.ID
    endpoint_id: strawberry.ID
    event_id: strawberry.ID
    event_type: str
    status: WebhookDeliveryStatus
    attempts: int = strawberry.field(description="How many attempts were made (attemptLog's length).")
    next_attempt_at: datetime | None = strawberry.field(description="When it goes next; null unless PENDING.")
    created_at: datetime
    attempt_log: list[WebhookAttempt] = strawberry.field(description="Every attempt, oldest first.")

    @classmethod
    def from_log(cls, log: DeliveryLog) -> WebhookDelivery:
        row = log.delivery
        pending = row.status == DeliveryStatusValue.PENDING
        return cls(
            id=strawberry.ID(row.id),
            endpoint_id=strawberry.ID(row.endpoint_id),
            event_id=strawberry.ID(row.event_id),
            event_type=row.event_type,
            status=DeliveryStatusValue(row.status),
            attempts=len(log.attempts),
            next_attempt_at=row.next_attempt_at if pending else None,
            created_at=row.created_at,
            attempt_log=[WebhookAttempt.from_row(a) for a in log.attempts],
        )
