"""Payment provider adapters, chosen by ``GATEWAY_PROVIDER``: ``local`` (default;
invoices live only in the gateway) or ``stripe``."""

from __future__ import annotations

import logging

from gateway.providers.local import LocalProvider
from gateway.providers.stripe import StripeProvider
from gateway.settings import Settings
from models.platform.provider import PaymentProvider

log = logging.getLogger("gateway.providers")


class ProviderNotConfigured(ValueError):
    """The provider chosen cannot start with these settings (raised at start-up)."""


def build_provider(settings: Settings) -> PaymentProvider:
    if settings.provider == "stripe":
        if settings.stripe_api_key is None or not settings.stripe_api_key.get_secret_value().strip():
            raise ProviderNotConfigured(
                "GATEWAY_PROVIDER=stripe needs GATEWAY_STRIPE_API_KEY: a secret key (sk_live_... or "
                "sk_test_...) "
                "or a restricted key (rk_...) from the Stripe dashboard, Developers > API keys."
            )
        if settings.stripe_webhook_secret is None:
            log.warning(
                "GATEWAY_STRIPE_WEBHOOK_SECRET is not set: Stripe's webhooks will be refused, so no "
                "invoice is marked PAID; see README, Use with Stripe"
            )
        return StripeProvider(settings.stripe_api_key.get_secret_value(), settings.stripe_api_base)
    return LocalProvider()


__all__ = ["LocalProvider", "ProviderNotConfigured", "StripeProvider", "build_provider"]
