from __future__ import annotations

from typing import Annotated

import strawberry

from models.members import service as members
from models.members.inputs import MemberInvite
from resolvers.members.inputs import InviteMemberInput
from resolvers.members.types import Member
from resolvers.shared.context import Info
from resolvers.shared.errors import (
    NoSeatsAvailableError,
    NotFoundError,
    PortalActionNotAllowedError,
    SubscriptionNotActiveError,
    ValidationError,
)

InviteMemberResult = Annotated[
    Member
    | NoSeatsAvailableError
    | SubscriptionNotActiveError
    | ValidationError
    | NotFoundError
    | PortalActionNotAllowedError,
    strawberry.union("InviteMemberResult"),
]
RemoveMemberResult = Annotated[
    Member | NotFoundError | PortalActionNotAllowedError, strawberry.union("RemoveMemberResult")
]


@strawberry.type
class MemberMutations:
    @strawberry.mutation(
        description="Add a member, taking a free seat of their type; NO_SEATS_AVAILABLE when there is none."
    )
    async def invite_member(self, info: Info, input: InviteMemberInput) -> InviteMemberResult:
        ctx = info.context
        return Member.from_row(
            await members.invite_member(ctx.deps, ctx.actor, MemberInvite.parse(strawberry.asdict(input)))
        )

    @strawberry.mutation(description="Remove a member and free their seat.")
    async def remove_member(self, info: Info, member_id: strawberry.ID) -> RemoveMemberResult:
        ctx = info.context
        return Member.from_row(await members.remove_member(ctx.deps, ctx.actor, member_id))
