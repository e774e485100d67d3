from __future__ import annotations

import strawberry


@strawberry.input
class CreateWebhookEndpointInput:
    url: str = strawberry.field(
        description="An absolute https:// URL whose host resolves to public addresses only (ADMIN keys "
        "may also use http://, and loopback or private addresses where the operator allows it)."
    )
    events: list[str] = strawberry.field(description='Event types to receive, e.g. ["seats.changed"].')
    tenant_id: strawberry.ID | None = strawberry.field(
        default=None, description="The tenant whose events it receives; null (ADMIN only): every tenant's."
    )
    description: str | None = None


@strawberry.input(description="Only the fields given change.")
class UpdateWebhookEndpointInput:
    url: str | None = None
    events: list[str] | None = None
    description: str | None = strawberry.field(default=None, description="An empty string clears it.")
    enabled: bool | None = strawberry.field(
        default=None, description="false: stop sending (deliveries wait); true: send again."
    )
