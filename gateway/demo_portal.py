"""The demo's billing portal link: printed at start, for the first demo tenant."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from sqlalchemy import select

from gateway.demo import DEMO_TENANTS
from models.platform.access import operator
from models.platform.deps import Deps
from models.portal import service as portal
from models.tables import TenantRow

# Long enough to read the start-up output and open it; it still opens only once.
DEMO_LINK_LIFETIME = timedelta(hours=1)


async def demo_portal_link(deps: Deps, base_url: str) -> str | None:
    """A one-time link to the first demo tenant's portal, returning to the demo's console
    (loopback http: the demo allows it, as development does)."""
    async with deps.store.read() as session:
        tenant_id = await session.scalar(
            select(TenantRow.id).where(TenantRow.email == DEMO_TENANTS[0]["email"])
        )
    if tenant_id is None:
        return None
    development = dataclasses.replace(
        deps,
        policy=dataclasses.replace(
            deps.policy, portal=dataclasses.replace(deps.policy.portal, allow_loopback_return=True)
        ),
    )
    link = await portal.create_portal_session(
        development,
        operator(),
        tenant_id,
        f"{base_url}/console",
        base_url=base_url,
        link_lifetime=DEMO_LINK_LIFETIME,
    )
    return link.url
