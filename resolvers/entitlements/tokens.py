"""issueEntitlementToken: entitlements signed for apps to check offline."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from models.entitlements import tokens
from resolvers.shared.context import Info
from resolvers.shared.errors import NotFoundError


@strawberry.type(
    description="A tenant's (or a member's) entitlements as they stand now, signed: apps verify it offline "
    "against /.well-known/jwks.json until it expires."
)
class EntitlementToken:
    token: str = strawberry.field(
        description="A compact JWS (JWT) signed with Ed25519 (alg EdDSA); claims iss, sub (the tenant id), "
        "member, iat, exp and features: {code: {enabled reason limit remaining resetsAt}}."
    )
    expires_at: datetime = strawberry.field(description="Its `exp`, on the tenant's clock.")
    kid: str = strawberry.field(description="The id of the key that signed it (its header's `kid`).")


IssueEntitlementTokenResult = Annotated[
    EntitlementToken | NotFoundError, strawberry.union("IssueEntitlementTokenResult")
]


@strawberry.type
class EntitlementTokenMutations:
    @strawberry.mutation(
        description="Sign the tenant's (or, with memberId, one of its members') entitlements into a "
        "short-lived token. ADMIN, the tenant's TENANT or PARTNER keys."
    )
    async def issue_entitlement_token(
        self, info: Info, tenant_id: strawberry.ID, member_id: strawberry.ID | None = None
    ) -> IssueEntitlementTokenResult:
        ctx = info.context
        issued = await tokens.issue(ctx.deps, ctx.actor, tenant_id, member_id)
        return EntitlementToken(token=issued.token, expires_at=issued.expires_at, kid=issued.kid)
