"""Payment use cases: the provider's card-entry page for a tenant."""

from __future__ import annotations

from urllib.parse import urlsplit

from models.kernel.errors import NotFound, ProviderFailed, ValidationFailed
from models.kernel.ids import new_id
from models.payments.collection import ensure_customer, load_tenant
from models.platform.access import Principal, require_tenant
from models.platform.deps import Deps
from models.platform.provider import (
    NOT_CONFIGURED,
    ProviderError,
)


def _check_return_url(url: str) -> None:
    parts = urlsplit(url.strip()) if len(url) <= 2000 else None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(c.isspace() for c in url)
    ):
        raise ValidationFailed(
            "returnUrl",
            "must be an absolute http(s) URL of at most 2000 characters, where the provider sends "
            "the customer back, e.g. https://app.example.com/billing",
        )


async def create_payment_setup_session(deps: Deps, actor: Principal, tenant_id: str, return_url: str) -> str:
    """The URL of the provider's page where the tenant enters a card (Stripe
    Checkout in setup mode); nothing card-related passes through the gateway."""
    require_tenant(actor, tenant_id)
    tenant = await load_tenant(deps, tenant_id)
    if tenant is None:
        raise NotFound("Tenant", tenant_id)
    _check_return_url(return_url)
    if not deps.mirrors:
        raise ProviderFailed(NOT_CONFIGURED)
    try:
        customer_id = await ensure_customer(deps, tenant)
        return await deps.provider.create_setup_session(
            customer_id,
            tenant.currency,
            return_url.strip(),
            tenant_id=tenant.id,
            idempotency_key=f"{tenant.id}-setup-{new_id('setup')}",
        )
    except ProviderError as exc:
        advice = "try again in a moment" if exc.retryable else "check the provider's settings"
        raise ProviderFailed(
            f"The payment provider could not open a card setup page ({advice}): {exc}"
        ) from None
