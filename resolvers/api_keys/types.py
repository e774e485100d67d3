from __future__ import annotations

from datetime import datetime

import strawberry

from models.kernel.enums import Role as RoleValue
from models.tables import ApiKeyRow
from resolvers.shared.enums import Role


@strawberry.type(description="An API key. Its secret is never readable after creation.")
class ApiKey:
    id: strawberry.ID
    name: str
    role: Role
    tenant_id: strawberry.ID | None
    secret_hint: str = strawberry.field(description="The first characters of the secret, to recognise it.")
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def from_row(cls, row: ApiKeyRow) -> ApiKey:
        return cls(
            id=strawberry.ID(row.id),
            name=row.name,
            role=RoleValue(row.role),
            tenant_id=strawberry.ID(row.tenant_id) if row.tenant_id else None,
            secret_hint=row.secret_hint,
            created_at=row.created_at,
            revoked_at=row.revoked_at,
        )


@strawberry.type(description="A new key and its secret. The secret is shown this once only.")
class NewApiKey:
    api_key: ApiKey
    secret: str
