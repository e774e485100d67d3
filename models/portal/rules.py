"""Pure rules of the billing portal: which return URLs a link may send customers back to,
and which changes the operator's portal configuration lets a portal session make."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from models.kernel.enums import ProrationMode
from models.kernel.errors import ValidationFailed

MAX_URL = 2000


@dataclass(frozen=True, slots=True)
class PortalPermissions:
    """What a customer may change in the portal (``portalConfiguration``). Reads are always
    allowed; each flag allows one kind of change."""

    change_plan: bool = True  # switch to another plan
    change_seats: bool = True  # add-on (seat) quantities, within the plan's min/max
    cancel_at_period_end: bool = True
    cancel_immediately: bool = False
    pause: bool = False  # pause and resume
    apply_coupons: bool = True
    manage_members: bool = True  # invite and remove members
    # The only mode a portal plan change (or its preview) may bill with.
    proration_billing_mode: ProrationMode = ProrationMode.PRORATED_IMMEDIATELY


DEFAULT_PERMISSIONS = PortalPermissions()


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_return_url(url: str, *, allow_loopback: bool, field: str = "returnUrl") -> str:
    """``url`` when customers may be sent back to it: an absolute https URL, or http on a
    loopback host where the operator allows it (development)."""
    text = url.strip()
    if not text or len(text) > MAX_URL:
        raise ValidationFailed(field, f"must be an absolute https URL of at most {MAX_URL} characters")
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ValidationFailed(field, "is not a valid URL; use https://your-app.example/billing") from None
    if parts.username is not None or parts.password is not None:
        raise ValidationFailed(field, "must not carry a user name or password")
    if not host or parts.scheme not in ("https", "http"):
        raise ValidationFailed(
            field, "must be an absolute https URL such as https://your-app.example/billing"
        )
    if parts.scheme == "http":
        if not is_loopback(host):
            raise ValidationFailed(
                field, "must use https (http is allowed only on a loopback host in development)"
            )
        if not allow_loopback:
            raise ValidationFailed(
                field,
                "must use https; http on a loopback host needs GATEWAY_PORTAL_ALLOW_LOOPBACK_RETURN=true "
                "(development only)",
            )
    return text


def _not_allowed(what: str, setting: str) -> str:
    return f"{what} is not allowed in the billing portal (portalConfiguration.{setting} is false)."


def plan_change_refusal(
    permissions: PortalPermissions,
    *,
    current_plan_id: str,
    plan_id: str,
    current_addons: Mapping[str, int],
    addons: Mapping[str, int] | None,
    mode: ProrationMode,
) -> str | None:
    """Why a portal session may not make (or preview) this plan change, or None.
    ``addons`` None keeps the current quantities."""
    if mode is not permissions.proration_billing_mode:
        return (
            f"The billing portal bills plan changes with prorationBillingMode "
            f"{permissions.proration_billing_mode.value} only (portalConfiguration.prorationBillingMode)."
        )
    if plan_id != current_plan_id and not permissions.change_plan:
        return _not_allowed("Changing the plan", "changePlan")
    wanted = {k: v for k, v in (current_addons if addons is None else addons).items() if v}
    if wanted != {k: v for k, v in current_addons.items() if v} and not permissions.change_seats:
        return _not_allowed("Changing seat quantities", "changeSeats")
    return None


def cancel_refusal(permissions: PortalPermissions, *, at_period_end: bool) -> str | None:
    if at_period_end:
        return None if permissions.cancel_at_period_end else _not_allowed("Cancelling", "cancelAtPeriodEnd")
    return None if permissions.cancel_immediately else _not_allowed("Cancelling now", "cancelImmediately")


def pause_refusal(permissions: PortalPermissions) -> str | None:
    return None if permissions.pause else _not_allowed("Pausing or resuming", "pause")


def coupon_refusal(permissions: PortalPermissions) -> str | None:
    return None if permissions.apply_coupons else _not_allowed("Applying a coupon", "applyCoupons")


def members_refusal(permissions: PortalPermissions) -> str | None:
    return (
        None if permissions.manage_members else _not_allowed("Inviting or removing members", "manageMembers")
    )
