"""The typed per-request context every resolver receives."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import strawberry

from models.kernel.errors import Unauthenticated
from models.platform.access import Principal
from models.platform.deps import Deps
from resolvers.shared.loaders import Loaders


@dataclass
class Context:
    """One per HTTP request. A websocket keeps one for its whole connection, so the
    gateway sets ``refresh``, which runs before each operation on it: the key is
    checked again (revocation bites at once) and the DataLoaders start empty."""

    deps: Deps
    principal: Principal | None
    request_id: str
    # Why there is no principal, for the UNAUTHENTICATED message.
    auth_problem: str
    loaders: Loaders = field(init=False)
    request: Any = None
    response: Any = None
    # The Authorization value this context was authenticated with.
    credentials: str | None = None
    # Filled from the graphql-transport-ws connection_init payload.
    connection_params: dict[str, Any] | None = None
    refresh: Callable[[Context], Awaitable[None]] | None = None

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.deps)

    @property
    def actor(self) -> Principal:
        """The authenticated caller; the schema's gate has already refused anonymous ones."""
        if self.principal is None:
            raise Unauthenticated(self.auth_problem)
        return self.principal


Info = strawberry.Info[Context, None]
