"""What the test-clock use cases take: validated input models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import StringConstraints

from models.kernel.validation import Input


class TestClockCreate(Input):
    __test__ = False  # not a pytest class, despite the name

    frozen_time: datetime
    name: Annotated[str, StringConstraints(max_length=200)] | None = None
