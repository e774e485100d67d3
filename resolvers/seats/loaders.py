"""Members and the seats they hold, batched per request."""

from __future__ import annotations

from models.seats import queries as seats_queries
from resolvers.shared.loaders import Loader

# tenant id -> {SeatType: active members}
seats_in_use = Loader.of(seats_queries.seats_in_use)
