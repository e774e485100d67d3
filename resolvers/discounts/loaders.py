"""Discounts, batched per request."""

from __future__ import annotations

from models.discounts import queries as discount_queries
from resolvers.shared.loaders import Loader

# subscription id -> (DiscountRow, CouponRow) of its live discount, or None
live_discount = Loader.of(discount_queries.live_discounts)
