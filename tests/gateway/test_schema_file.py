"""schema.graphql is the committed truth: it matches the code and keeps API.md's names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from graphql import GraphQLSchema, build_schema, print_type

from models.kernel.errors import ErrorCode

ROOT = Path(__file__).resolve().parents[2]


def committed() -> GraphQLSchema:
    return build_schema((ROOT / "schema.graphql").read_text())


def test_schema_graphql_matches_export_schema() -> None:
    exported = subprocess.run(
        [sys.executable, "-m", "gateway", "export-schema"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    assert exported == (ROOT / "schema.graphql").read_text(), (
        "schema.graphql is stale: run `make schema` and commit it"
    )


def signature(schema: GraphQLSchema, type_name: str, field: str) -> str:
    definition = schema.get_type(type_name).fields[field]  # type: ignore[union-attr]
    args = ", ".join(f"{name}: {arg.type}" for name, arg in definition.args.items())
    return f"{field}({args}): {definition.type}" if args else f"{field}: {definition.type}"


def test_api_md_operations_keep_their_names_and_types() -> None:
    schema = committed()
    expected = {
        (
            "Mutation",
            "createTestClock",
        ): "createTestClock(frozenTime: DateTime!, name: String): TestClockResult!",
        (
            "Mutation",
            "advanceTestClock",
        ): "advanceTestClock(id: ID!, frozenTime: DateTime!): TestClockResult!",
        ("Mutation", "createTenant"): "createTenant(input: CreateTenantInput!): CreateTenantResult!",
        (
            "Mutation",
            "updateBillingInfo",
        ): "updateBillingInfo(tenantId: ID!, input: BillingInfoInput!): UpdateBillingInfoResult!",
        ("Mutation", "createApiKey"): "createApiKey(input: CreateApiKeyInput!): CreateApiKeyResult!",
        ("Mutation", "revokeApiKey"): "revokeApiKey(id: ID!): RevokeApiKeyResult!",
        ("Query", "tenant"): "tenant(id: ID!): Tenant",
        # API.md's arguments unchanged, plus an optional search (server-side tenant search).
        ("Query", "tenants"): "tenants(first: Int, after: String, search: String): TenantConnection!",
        ("Mutation", "createPlan"): "createPlan(input: CreatePlanInput!): CreatePlanResult!",
        ("Mutation", "createAddon"): "createAddon(input: CreateAddonInput!): CreateAddonResult!",
        ("Mutation", "attachAddon"): "attachAddon(planId: ID!, addonId: ID!): AttachAddonResult!",
        ("Mutation", "archiveAddon"): "archiveAddon(addonId: ID!): ArchiveAddonResult!",
        ("Mutation", "subscribe"): "subscribe(input: SubscribeInput!): SubscribeResult!",
        ("Mutation", "inviteMember"): "inviteMember(input: InviteMemberInput!): InviteMemberResult!",
        ("Mutation", "removeMember"): "removeMember(memberId: ID!): RemoveMemberResult!",
        ("Query", "plans"): "plans: [Plan!]!",
        ("Query", "subscription"): "subscription(id: ID!): Subscription",
        ("Query", "auditLog"): "auditLog(tenantId: ID!, first: Int, after: String): AuditEntryConnection!",
        ("Tenant", "seats"): "seats: SeatSummary!",
        ("Tenant", "members"): "members: [Member!]!",
        ("Subscription", "plan"): "plan: Plan!",
        ("Subscription", "addons"): "addons: [SubscriptionAddon!]!",
        ("Subscription", "seats"): "seats: SeatSummary!",
        ("SeatSummary", "byType"): "byType: [SeatTypeSummary!]!",
        ("SeatsInUseError", "membersToRemove"): "membersToRemove: Int!",
        ("SeatsInUseError", "members"): "members: [Member!]!",
        ("Money", "amount"): "amount: MinorUnits!",
        (
            "Mutation",
            "previewChangePlan",
        ): "previewChangePlan(input: ChangePlanInput!): PreviewChangePlanResult!",
        ("Mutation", "changePlan"): "changePlan(input: ChangePlanInput!): ChangePlanResult!",
        # API.md's arguments unchanged, plus an optional reason (issue 22): existing calls still valid.
        ("Mutation", "cancelSubscription"): (
            "cancelSubscription(subscriptionId: ID!, atPeriodEnd: Boolean!, reason: String): "
            "CancelSubscriptionResult!"
        ),
        ("Query", "invoice"): "invoice(id: ID!): Invoice",
        ("Tenant", "creditBalance"): "creditBalance: Money!",
        ("Tenant", "invoices"): "invoices(first: Int, after: String): InvoiceConnection!",
        ("Subscription", "scheduledChange"): "scheduledChange: ScheduledChange",
        ("PlanChangePreview", "effectiveAt"): "effectiveAt: DateTime!",
        ("ImmediateCharge", "lineItems"): "lineItems: [ChargeLineItem!]!",
        ("ChargeLineItem", "prorationFactor"): "prorationFactor: Float!",
        ("ChargeSummary", "customerCredits"): "customerCredits: Money!",
        ("ChargeSummary", "totalAmount"): "totalAmount: Money!",
        ("ChargeSummary", "text"): "text: String!",
        ("PlanChange", "invoice"): "invoice: Invoice",
        ("Invoice", "creditsApplied"): "creditsApplied: Money!",
        ("InvoiceLine", "periodStart"): "periodStart: DateTime!",
    }
    for (type_name, field), sig in expected.items():
        assert signature(schema, type_name, field) == sig


def test_result_unions_lead_with_the_fixed_success_types() -> None:
    schema = committed()
    success = {
        "TestClockResult": "TestClock",
        "CreateTenantResult": "Tenant",
        "UpdateBillingInfoResult": "Tenant",
        "CreateApiKeyResult": "NewApiKey",
        "RevokeApiKeyResult": "ApiKey",
        "CreatePlanResult": "Plan",
        "AttachAddonResult": "Plan",
        "CreateAddonResult": "Addon",
        "ArchiveAddonResult": "Addon",
        "SubscribeResult": "Subscription",
        "InviteMemberResult": "Member",
        "RemoveMemberResult": "Member",
        "PreviewChangePlanResult": "PlanChangePreview",
        "ChangePlanResult": "PlanChange",
        "CancelSubscriptionResult": "Subscription",
    }
    for union, member in success.items():
        members = [t.name for t in schema.get_type(union).types]  # type: ignore[union-attr]
        assert member in members
        assert all(schema.get_type(m).interfaces[0].name == "Error" for m in members if m != member)


def test_types_carry_the_fields_api_md_names() -> None:
    schema = committed()
    fields = {
        "Error": {"code", "message"},
        "TestClock": {"id", "frozenTime"},
        "NewApiKey": {"apiKey", "secret"},
        "ApiKey": {"id", "role", "name"},
        "Tenant": {
            "id",
            "name",
            "currency",
            "timezone",
            "salesMode",
            "billingInfo",
            "providerCustomerId",
            "subscription",
            "seats",
            "members",
            "creditBalance",
            "invoices",
        },
        "BillingInfo": {"companyName", "address"},
        "Address": {"line1", "line2", "city", "state", "postalCode", "country"},
        "TenantConnection": {"edges", "pageInfo"},
        "TenantEdge": {"cursor", "node"},
        "PageInfo": {"hasNextPage", "endCursor"},
        "CreateTenantInput": {
            "name",
            "email",
            "currency",
            "timezone",
            "salesMode",
            "billingInfo",
            "testClockId",
        },
        "CreateApiKeyInput": {"role", "tenantId", "name"},
        "Money": {"amount", "currency", "formatted"},
        "Plan": {
            "id",
            "code",
            "name",
            "currency",
            "interval",
            "basePrice",
            "includedSeats",
            "minSeats",
            "maxSeats",
        },
        "Addon": {
            "id",
            "code",
            "name",
            "description",
            "currency",
            "price",
            "seatType",
            "seatsPerUnit",
            "taxCategory",
        },
        "CreatePlanInput": {
            "code",
            "name",
            "currency",
            "interval",
            "basePrice",
            "includedSeats",
            "minSeats",
            "maxSeats",
        },
        "CreateAddonInput": {
            "code",
            "name",
            "description",
            "currency",
            "price",
            "seatType",
            "seatsPerUnit",
            "taxCategory",
        },
        "SubscribeInput": {"tenantId", "planId", "addons", "idempotencyKey"},
        "AddonQuantityInput": {"addonId", "quantity"},
        "InviteMemberInput": {"tenantId", "email", "seatType"},
        "Subscription": {
            "id",
            "status",
            "plan",
            "addons",
            "currentPeriodStart",
            "currentPeriodEnd",
            "seats",
            "scheduledChange",
        },
        "SubscriptionAddon": {"addon", "quantity"},
        "SeatSummary": {"included", "purchased", "total", "used", "available", "byType"},
        "SeatTypeSummary": {"seatType", "total", "used", "available"},
        "Member": {"id", "email", "seatType", "status"},
        "SeatsInUseError": {"code", "message", "membersToRemove", "members"},
        "AuditEntryConnection": {"edges", "pageInfo"},
        "AuditEntry": {"at", "actor", "action", "before", "after"},
        "Invoice": {
            "id",
            "number",
            "status",
            "currency",
            "periodStart",
            "periodEnd",
            "lines",
            "subtotal",
            "tax",
            "creditsApplied",
            "total",
            "amountDue",
        },
        "InvoiceLine": {
            "kind",
            "description",
            "quantity",
            "unitAmount",
            "amount",
            "periodStart",
            "periodEnd",
        },
        "ChangePlanInput": {
            "subscriptionId",
            "planId",
            "prorationBillingMode",
            "addons",
            "effectiveAt",
            "idempotencyKey",
        },
        "PlanChangePreview": {"effectiveAt", "immediateCharge", "newSubscription"},
        "ImmediateCharge": {"lineItems", "summary"},
        "ChargeLineItem": {"kind", "description", "quantity", "unitAmount", "prorationFactor", "amount"},
        "ChargeSummary": {
            "currency",
            "subtotal",
            "tax",
            "customerCredits",
            "totalAmount",
            "amountDue",
            "text",
        },
        "SubscriptionPreview": {"plan", "addons", "seats", "currentPeriodStart", "currentPeriodEnd"},
        "PlanChange": {"subscription", "invoice"},
    }
    for type_name, names in fields.items():
        assert names <= set(schema.get_type(type_name).fields), print_type(schema.get_type(type_name))  # type: ignore[union-attr]
    assert str(schema.get_type("Error").fields["code"].type) == "ErrorCode!"  # type: ignore[union-attr]
    assert set(schema.get_type("ErrorCode").values) == {c.value for c in ErrorCode}  # type: ignore[union-attr]
    assert set(schema.get_type("Role").values) == {"ADMIN", "TENANT", "PARTNER"}  # type: ignore[union-attr]
    assert set(schema.get_type("SalesMode").values) == {"SELF_SERVE", "SALES_LED"}  # type: ignore[union-attr]
    api_md_codes = {
        "UNAUTHENTICATED",
        "NOT_FOUND",
        "VALIDATION_FAILED",
        "NO_SEATS_AVAILABLE",
        "SEATS_IN_USE",
        "BELOW_MINIMUM_SEATS",
        "ABOVE_MAXIMUM_SEATS",
        "CURRENCY_MISMATCH",
        "ADDON_NOT_ATTACHED",
        "ADDON_ARCHIVED",
        "IDEMPOTENCY_CONFLICT",
        "SUBSCRIPTION_NOT_ACTIVE",
        "PROVIDER_ERROR",
    }
    assert api_md_codes <= set(schema.get_type("ErrorCode").values)  # type: ignore[union-attr]
    assert set(schema.get_type("SeatType").values) == {"FULL", "VIEWER", "GUEST"}  # type: ignore[union-attr]
    assert set(schema.get_type("Interval").values) == {"MONTH", "YEAR"}  # type: ignore[union-attr]
    assert set(schema.get_type("ProrationBillingMode").values) == {  # type: ignore[union-attr]
        "PRORATED_IMMEDIATELY",
        "DIFFERENCE_IMMEDIATELY",
        "FULL_IMMEDIATELY",
        "DO_NOT_BILL",
    }
    assert set(schema.get_type("EffectiveAt").values) == {"IMMEDIATELY", "NEXT_BILLING_DATE"}  # type: ignore[union-attr]
    assert set(schema.get_type("InvoiceStatus").values) == {  # type: ignore[union-attr]
        "DRAFT",
        "OPEN",
        "PAID",
        "VOID",
        "UNCOLLECTIBLE",
    }
    assert set(schema.get_type("LineKind").values) == {  # type: ignore[union-attr]
        "BASE",
        "ADDON",
        "USAGE",
        "PRORATION",
        "CREDIT",
        "DISCOUNT",  # API.md: "invoice and preview lines of kind DISCOUNT"
    }
