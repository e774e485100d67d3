"""Subscriptions' relations, batched per request."""

from __future__ import annotations

from models.subscriptions import queries as subscriptions_queries
from resolvers.shared.loaders import Loader

# tenant id -> its live subscription or None
live_subscription = Loader.of(subscriptions_queries.live_subscription_rows)
# subscription id -> [SubscriptionAddonRow]
subscription_addons = Loader.of(subscriptions_queries.subscription_addon_rows)
