from __future__ import annotations

import strawberry

from models.webhooks import service as webhooks
from resolvers.shared.context import Info
from resolvers.shared.enums import WebhookDeliveryStatus
from resolvers.shared.pagination import Connection
from resolvers.webhooks.types import WebhookDelivery, WebhookEndpoint


@strawberry.type
class WebhookQueries:
    @strawberry.field(
        description="Webhook endpoints, oldest first (secrets are never shown). ADMIN: every endpoint, "
        "or one tenant's with `tenantId`; a TENANT key: its own tenant's."
    )
    async def webhook_endpoints(
        self, info: Info, tenant_id: strawberry.ID | None = None
    ) -> list[WebhookEndpoint]:
        ctx = info.context
        rows = await webhooks.list_endpoints(ctx.deps, ctx.actor, tenant_id)
        return [WebhookEndpoint.from_row(row) for row in rows]

    @strawberry.field(description="An endpoint's deliveries, newest first, each with its attempt log.")
    async def webhook_deliveries(
        self,
        info: Info,
        endpoint_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
        status: WebhookDeliveryStatus | None = None,
    ) -> Connection[WebhookDelivery]:
        ctx = info.context
        page = await webhooks.list_deliveries(ctx.deps, ctx.actor, endpoint_id, first, after, status)
        return Connection[WebhookDelivery].from_page(page, WebhookDelivery.from_log)
