"""The portal page's GraphQL documents (gateway/static/portal/queries.js): each is valid
against the schema, names only root fields a portal session may call, and the page's
main reads answer a real portal session without errors."""

from __future__ import annotations

import pytest
from graphql import OperationDefinitionNode, parse, validate

from gateway.pages import portal as portal_page
from gateway.schema import build_schema
from resolvers.portal.guard import CHANGES, LIVE, READS
from tests.builders.api import Api, new_tenant
from tests.builders.billing import plan_with_seat_addon, subscribe
from tests.builders.portal import portal_for

DOCUMENTS = portal_page.documents()


def test_the_page_has_its_documents_and_trusts_each_by_its_hash() -> None:
    assert {"PORTAL", "PREVIEW", "CHANGE", "INVITE", "USAGE", "LIVE.seats"} <= set(DOCUMENTS)
    trusted = portal_page.persisted_documents()
    assert sorted(trusted.values()) == sorted(DOCUMENTS.values())
    assert all(len(key) == 64 for key in trusted)


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_each_document_is_valid_and_calls_only_what_a_portal_session_may(name: str) -> None:
    schema = build_schema()._schema
    document = parse(DOCUMENTS[name])

    assert validate(schema, document) == []
    allowed = READS | set(CHANGES) | LIVE
    for operation in document.definitions:
        assert isinstance(operation, OperationDefinitionNode)
        roots = {field.name.value for field in operation.selection_set.selections}  # type: ignore[attr-defined]  # root selections are fields here
        assert roots <= allowed, roots - allowed


async def test_the_pages_reads_answer_a_portal_session(api: Api) -> None:
    plan, seat = await plan_with_seat_addon(api, "team", 0, 1000)
    tenant = await new_tenant(api)
    subscription = (await subscribe(api, tenant, plan, {seat: 5}))["id"]
    session = await portal_for(api, tenant)

    page = await session(DOCUMENTS["PORTAL"], {"tenantId": tenant})
    assert page["tenant"]["subscription"]["id"] == subscription
    assert page["portalConfiguration"]["changeSeats"] is True
    meters = await session(DOCUMENTS["METERS"])
    assert isinstance(meters["meters"], list)
    preview = await session(
        DOCUMENTS["PREVIEW"],
        {
            "input": {
                "subscriptionId": subscription,
                "planId": plan,
                "prorationBillingMode": "PRORATED_IMMEDIATELY",
                "addons": [{"addonId": seat, "quantity": 6}],
            }
        },
    )
    assert preview["previewChangePlan"]["__typename"] == "PlanChangePreview"
