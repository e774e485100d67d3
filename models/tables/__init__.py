"""SQLModel tables, one module per domain. Importing this package registers them all."""

from models.tables.api_keys import ApiKeyRow, Role
from models.tables.base import UTCDateTime, metadata
from models.tables.tenants import SalesMode, TenantRow
from models.tables.test_clocks import TestClockRow

__all__ = [
    "ApiKeyRow",
    "Role",
    "SalesMode",
    "TenantRow",
    "TestClockRow",
    "UTCDateTime",
    "metadata",
]
