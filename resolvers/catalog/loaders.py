"""The catalog's relations, batched per request."""

from __future__ import annotations

from models.catalog import queries as catalog_queries
from models.tables import AddonRow, PlanRow
from resolvers.shared.loaders import Loader

# plan id -> the plan
plan = Loader.by_id(PlanRow)
# add-on id -> the add-on
addon = Loader.by_id(AddonRow)
# plan id -> its attached add-ons
plan_addons = Loader.of(catalog_queries.addons_of_plans)
