"""GATEWAY_PROVIDER picks the adapter; Stripe without its key stops start-up with a
message naming the variable."""

from __future__ import annotations

import pytest

from gateway.providers import LocalProvider, ProviderNotConfigured, StripeProvider, build_provider
from gateway.settings import Settings


def test_local_is_the_default_and_mirrors_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATEWAY_PROVIDER", raising=False)
    provider = build_provider(Settings())
    assert isinstance(provider, LocalProvider) and provider.mirrors is False


@pytest.mark.parametrize("key", [None, "  "])
def test_stripe_without_an_api_key_refuses_to_start(key: str | None) -> None:
    with pytest.raises(ProviderNotConfigured, match="GATEWAY_PROVIDER=stripe needs GATEWAY_STRIPE_API_KEY"):
        build_provider(Settings(provider="stripe", stripe_api_key=key))


async def test_stripe_with_a_key_mirrors() -> None:
    provider = build_provider(
        Settings(provider="stripe", stripe_api_key="sk_test_x", stripe_webhook_secret="whsec_x")
    )
    try:
        assert isinstance(provider, StripeProvider) and provider.mirrors is True
    finally:
        await provider.aclose()
