from __future__ import annotations

from typing import Annotated

import strawberry

from models.webhooks import service as webhooks
from models.webhooks.inputs import WebhookEndpointCreate, WebhookEndpointUpdate
from resolvers.shared.context import Info
from resolvers.shared.errors import ForbiddenError, NotFoundError, ValidationError
from resolvers.webhooks.inputs import CreateWebhookEndpointInput, UpdateWebhookEndpointInput
from resolvers.webhooks.types import NewWebhookEndpoint, WebhookDelivery, WebhookEndpoint

CreateWebhookEndpointResult = Annotated[
    NewWebhookEndpoint | ValidationError | NotFoundError | ForbiddenError,
    strawberry.union("CreateWebhookEndpointResult"),
]
UpdateWebhookEndpointResult = Annotated[
    WebhookEndpoint | ValidationError | NotFoundError, strawberry.union("UpdateWebhookEndpointResult")
]
DeleteWebhookEndpointResult = Annotated[
    WebhookEndpoint | NotFoundError, strawberry.union("DeleteWebhookEndpointResult")
]
RedeliverWebhookResult = Annotated[
    WebhookDelivery | ValidationError | NotFoundError, strawberry.union("RedeliverWebhookResult")
]


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(
        description="Register a partner endpoint for some event types: one tenant's events (its TENANT "
        "key, or ADMIN) or every tenant's (ADMIN); a tenant may have a limited number (the operator's "
        "setting, 20 by default). Deliveries are signed per Standard Webhooks with the secret returned "
        "here, once."
    )
    async def create_webhook_endpoint(
        self, info: Info, input: CreateWebhookEndpointInput
    ) -> CreateWebhookEndpointResult:
        ctx = info.context
        row, secret = await webhooks.create_endpoint(
            ctx.deps, ctx.actor, WebhookEndpointCreate.parse(strawberry.asdict(input))
        )
        return NewWebhookEndpoint(endpoint=WebhookEndpoint.from_row(row), secret=secret)

    @strawberry.mutation(description="Change an endpoint's URL, events or description; enable or disable it.")
    async def update_webhook_endpoint(
        self, info: Info, id: strawberry.ID, input: UpdateWebhookEndpointInput
    ) -> UpdateWebhookEndpointResult:
        ctx = info.context
        row = await webhooks.update_endpoint(
            ctx.deps, ctx.actor, id, WebhookEndpointUpdate.parse(strawberry.asdict(input))
        )
        return WebhookEndpoint.from_row(row)

    @strawberry.mutation(description="Delete an endpoint, its pending deliveries and its delivery log.")
    async def delete_webhook_endpoint(self, info: Info, id: strawberry.ID) -> DeleteWebhookEndpointResult:
        ctx = info.context
        return WebhookEndpoint.from_row(await webhooks.delete_endpoint(ctx.deps, ctx.actor, id))

    @strawberry.mutation(
        description="Send a delivery again now, succeeded or failed: the same webhook-id, a fresh retry "
        "schedule."
    )
    async def redeliver_webhook(self, info: Info, delivery_id: strawberry.ID) -> RedeliverWebhookResult:
        ctx = info.context
        return WebhookDelivery.from_log(await webhooks.redeliver(ctx.deps, ctx.actor, delivery_id))
