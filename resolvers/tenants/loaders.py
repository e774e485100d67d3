"""Tenants' relations, batched per request."""

from __future__ import annotations

from models.payments import queries as payments_queries
from resolvers.shared.loaders import Loader

# tenant id -> why the payment provider refused a call owed for it, or None
provider_failure = Loader.of(payments_queries.provider_failures)
