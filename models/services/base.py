"""What every use case is given: the store and the process clock."""

from __future__ import annotations

from dataclasses import dataclass, field

from models.clock import Clock, SystemClock
from models.store import Store


@dataclass(frozen=True, slots=True)
class Deps:
    store: Store
    clock: Clock = field(default_factory=SystemClock)
