"""What the portal use cases take: validated input models."""

from __future__ import annotations

from models.kernel.enums import ProrationMode
from models.kernel.validation import Input


class PortalConfigurationUpdate(Input):
    """The settings to change; None keeps a setting as it is."""

    change_plan: bool | None = None
    change_seats: bool | None = None
    cancel_at_period_end: bool | None = None
    cancel_immediately: bool | None = None
    pause: bool | None = None
    apply_coupons: bool | None = None
    manage_members: bool | None = None
    proration_billing_mode: ProrationMode | None = None
