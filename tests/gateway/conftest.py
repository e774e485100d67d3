"""Fixtures for the gateway tests."""

from __future__ import annotations

import pytest

from gateway.settings import Settings
from tests.builders.stripe_webhooks import SECRET


@pytest.fixture
def settings(db_url: str) -> Settings:
    """The settings, with the Stripe webhook secret ``SECRET`` (only
    ``POST /webhooks/stripe`` reads it); ADMIN keys may register webhook endpoints on
    loopback, as in ``tests/conftest.py``."""
    return Settings(database_url=db_url, stripe_webhook_secret=SECRET, webhooks_allow_private=True)
