from __future__ import annotations

from typing import Annotated

import strawberry

from models.api_keys import service as api_keys
from models.api_keys.inputs import ApiKeyCreate
from resolvers.api_keys.types import ApiKey, NewApiKey
from resolvers.shared.context import Info
from resolvers.shared.enums import Role
from resolvers.shared.errors import ForbiddenError, NotFoundError, ValidationError


@strawberry.input
class CreateApiKeyInput:
    role: Role
    tenant_id: strawberry.ID | None = strawberry.field(
        default=None, description="Required for TENANT and PARTNER keys; left out for ADMIN keys."
    )
    name: str = "api key"


CreateApiKeyResult = Annotated[
    NewApiKey | ValidationError | ForbiddenError | NotFoundError, strawberry.union("CreateApiKeyResult")
]
RevokeApiKeyResult = Annotated[ApiKey | NotFoundError, strawberry.union("RevokeApiKeyResult")]


@strawberry.type
class ApiKeyMutations:
    @strawberry.mutation(
        description="Create a key. ADMIN keys need an ADMIN caller; a TENANT key may create "
        "TENANT and PARTNER keys for its own tenant."
    )
    async def create_api_key(self, info: Info, input: CreateApiKeyInput) -> CreateApiKeyResult:
        ctx = info.context
        row, secret = await api_keys.create_api_key(
            ctx.deps, ctx.actor, ApiKeyCreate.parse(strawberry.asdict(input))
        )
        return NewApiKey(api_key=ApiKey.from_row(row), secret=secret)

    @strawberry.mutation(description="Revoke a key; requests with it fail from now on.")
    async def revoke_api_key(self, info: Info, id: strawberry.ID) -> RevokeApiKeyResult:
        ctx = info.context
        return ApiKey.from_row(await api_keys.revoke_api_key(ctx.deps, ctx.actor, id))
