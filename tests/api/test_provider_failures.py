"""A provider call refused for good is not lost: the tenant shows why, and an ADMIN
queues it again once the cause is fixed."""

from __future__ import annotations

import dataclasses

from sqlalchemy import select

from models.payments import tasks as provider_tasks
from models.platform.access import operator
from models.platform.deps import Deps
from models.tables import ProviderTaskRow
from models.tenants import service as tenants
from models.tenants.inputs import TenantCreate
from tests.builders.api import Api, new_key

STATE = "query($id: ID!) { tenant(id: $id) { providerError } }"
RETRY = """mutation($id: ID!) { retryProviderTasks(tenantId: $id) { __typename
  ... on ProviderTasksRetried { retried tenant { providerError } } ... on Error { code } } }"""


class Mirroring:
    """Only what queueing reads of a provider: that it mirrors (no call is made here)."""

    name = "mirroring"
    mirrors = True


async def test_a_refused_call_shows_on_the_tenant_until_an_admin_queues_it_again(
    api: Api, deps: Deps
) -> None:
    mirrored = dataclasses.replace(deps, provider=Mirroring())
    tenant = (
        await tenants.create_tenant(
            mirrored,
            operator(),
            TenantCreate.parse({"name": "Refused", "email": "a@b.example", "currency": "USD"}),
        )
    ).id
    assert (await api(STATE, {"id": tenant}))["tenant"]["providerError"] is None
    (task,) = await provider_tasks.claim_provider_tasks(mirrored)
    await provider_tasks.finish_provider_task(
        mirrored, task, error="No such customer: 'cus_gone'", retryable=False
    )

    shown = (await api(STATE, {"id": tenant}))["tenant"]["providerError"]
    assert shown == "syncing the customer failed after 1 attempt(s): No such customer: 'cus_gone'"
    own_key = await new_key(api, "TENANT", tenant)
    assert (await api.as_key(own_key["secret"])(STATE, {"id": tenant}))["tenant"]["providerError"] == shown
    assert (await api.as_key(own_key["secret"])(RETRY, {"id": tenant}))["retryProviderTasks"] == {
        "__typename": "ForbiddenError",
        "code": "FORBIDDEN",
    }

    assert (await api(RETRY, {"id": tenant}))["retryProviderTasks"] == {
        "__typename": "ProviderTasksRetried",
        "retried": 1,
        "tenant": {"providerError": None},
    }
    async with deps.store.read() as session:
        row = (await session.scalars(select(ProviderTaskRow))).one()
    assert (row.status, row.next_attempt_at) == ("PENDING", deps.clock.now())
    (again,) = await provider_tasks.claim_provider_tasks(mirrored)
    assert (again.id, again.attempts) == (task.id, 2)
    assert (await api(RETRY, {"id": tenant}))["retryProviderTasks"]["retried"] == 0
    assert (await api(RETRY, {"id": "ten_nope"}))["retryProviderTasks"]["code"] == "NOT_FOUND"
