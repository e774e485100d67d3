"""Usage charges and month counts, batched per request."""

from __future__ import annotations

from models.metering import counts as metering_counts
from models.metering import queries as metering_queries
from resolvers.shared.loaders import Loader

# plan id -> [(UsageChargeRow, MeterRow)]
plan_usage_charges = Loader.of(metering_queries.usage_charges_of_plans)
# (tenant row, a month's first day or None: this month) -> every meter's count in it
month_counts = Loader(metering_counts.month_counts_of, cache_key=lambda key: (key[0].id, key[1]))
