"""Test clocks, batched per request."""

from __future__ import annotations

from models.tables import TestClockRow
from resolvers.shared.loaders import Loader

# clock id -> the test clock
test_clock = Loader.by_id(TestClockRow)
