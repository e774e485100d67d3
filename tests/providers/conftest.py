"""Fixtures for the Stripe adapter tests: localstripe (a separate process per test,
127.0.0.1 only, its store in the test's tmp dir), the recording proxy in front of it,
and the gateway with GATEWAY_PROVIDER=stripe served on a loopback port, with a
localstripe webhook pointing at its ``/webhooks/stripe``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import stripe

from gateway.app import create_app
from gateway.live import Hub
from gateway.providers import build_provider
from gateway.settings import Settings
from models.api_keys import service as api_keys
from models.api_keys.inputs import ApiKeyCreate
from models.kernel.clock import FixedClock
from models.platform.access import operator
from models.platform.deps import Deps
from models.platform.store import Store
from tests.builders.api import Api
from tests.builders.stripe_harness import LiveGateway, LocalStripe, RecordingProxy
from tests.builders.stripe_world import WEBHOOK_SECRET, StripeWorld, running_proxy

# What the README tells operators to send to /webhooks/stripe.
EVENTS = [
    "invoice.payment_succeeded",
    "invoice.payment_failed",
    "invoice.payment_action_required",
    "invoice.created",
    "invoice.finalized",
    "checkout.session.completed",
    "invoice.voided",
    "invoice.marked_uncollectible",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The SDK's HTTPXClient hands httpx its form body as `data=`; not ours to fix.
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"))


@pytest.fixture
def clock() -> FixedClock:
    """Frozen at the wall-clock time: localstripe signs its webhooks with real time."""
    return FixedClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture(scope="session")
def localstripe_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStripe]:
    """One localstripe per test process (starting one takes most of a second); each
    test has its own customers in it, and its own gateway behind the webhook."""
    where = tmp_path_factory.mktemp("localstripe")
    server = LocalStripe(where / "store.pickle", where / "localstripe.log")
    server.start_now()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
async def localstripe(localstripe_process: LocalStripe) -> AsyncIterator[LocalStripe]:
    """The process's localstripe, running (a test before may have stopped it)."""
    localstripe_process.webhooks.clear()
    if not localstripe_process.running:
        localstripe_process.kill()  # reap it
        await localstripe_process.start()
    yield localstripe_process


@pytest.fixture
async def proxy(localstripe: LocalStripe, request: pytest.FixtureRequest) -> AsyncIterator[RecordingProxy]:
    """The recording proxy in front of localstripe. A test module that needs another
    kind sets ``PROXY`` to its class (the Checkout tests: ``ExpandingProxy``)."""
    proxy_class = getattr(request.module, "PROXY", RecordingProxy)
    async with running_proxy(proxy_class(localstripe.url)) as running:
        yield running


# A key localstripe accepts (it takes any sk_ key).
STRIPE_API_KEY = "sk_test_gateway_under_test"


@pytest.fixture
def stripe_api_key() -> str:
    """The gateway's GATEWAY_STRIPE_API_KEY (a module overrides it to try another)."""
    return STRIPE_API_KEY


def stripe_settings(db_url: str, api_base: str, api_key: str = STRIPE_API_KEY) -> Settings:
    return Settings(
        database_url=db_url,
        provider="stripe",
        stripe_api_key=api_key,
        stripe_api_base=api_base,
        stripe_webhook_secret=WEBHOOK_SECRET,
        billing_interval_seconds=0,
    )


@pytest.fixture
async def world(
    store: Store,
    clock: FixedClock,
    db_url: str,
    localstripe: LocalStripe,
    proxy: RecordingProxy,
    stripe_api_key: str,
) -> AsyncIterator[StripeWorld]:
    settings = stripe_settings(db_url, proxy.url, stripe_api_key)
    provider = build_provider(settings)
    deps = Deps(store=store, clock=clock, provider=provider, bus=Hub(store.dialect))
    gateway = LiveGateway(create_app(settings, deps=deps))
    await gateway.start()
    reader_http = stripe.HTTPXClient()
    try:
        await localstripe.add_webhook("gateway", f"{gateway.url}/webhooks/stripe", WEBHOOK_SECRET, EVENTS)
        _, key = await api_keys.create_api_key(
            deps, operator(), ApiKeyCreate.parse({"role": "ADMIN", "name": "stripe tests"})
        )
        reader = stripe.StripeClient(
            "sk_test_reader",
            base_addresses={"api": localstripe.url},
            http_client=reader_http,
            max_network_retries=0,
        )
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
            yield StripeWorld(Api(http, key), deps, clock, localstripe, proxy, reader, gateway.url)
    finally:
        await gateway.stop()
        await provider.aclose()
        await reader_http.close_async()
