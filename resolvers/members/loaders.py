"""Team members, batched per request."""

from __future__ import annotations

from models.seats import queries as seats_queries
from resolvers.shared.loaders import Loader

# tenant id -> active members
members = Loader.of(seats_queries.members_of_tenants)
