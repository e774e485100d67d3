"""Grants and entitlements, batched per request."""

from __future__ import annotations

from models.entitlements import queries as entitlement_queries
from resolvers.shared.loaders import Loader

# plan id -> [(FeatureGrantRow, FeatureRow)]
plan_grants = Loader.of(entitlement_queries.grants_of_plans)
# add-on id -> [(FeatureGrantRow, FeatureRow)]
addon_grants = Loader.of(entitlement_queries.grants_of_addons)
# tenant row -> its entitlements to every feature
tenant_entitlements = Loader(entitlement_queries.entitlements_of_tenants, cache_key=lambda tenant: tenant.id)
