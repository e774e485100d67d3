"""createPaymentSetupSession: the URL of Stripe Checkout in setup mode, where the
tenant types a card that never touches the gateway.

localstripe has no Checkout: the recording proxy answers ``POST /v1/checkout/sessions``
with a Stripe-shaped session (see ``tests.builders.stripe_harness.RecordingProxy``),
so these tests assert what the adapter asked Stripe for, and the URL it hands back."""

from __future__ import annotations

from tests.builders.api import Api, new_key, new_tenant
from tests.builders.checkout import RETURN_URL, SETUP, setup_session
from tests.builders.stripe_world import StripeWorld


async def test_it_returns_the_checkout_url_of_a_setup_mode_session_for_the_tenants_customer(
    world: StripeWorld,
) -> None:
    tenant = await world.tenant("Cardy")  # its customer is made on the spot: no task has run yet

    first = await setup_session(world.api, tenant)

    assert first["__typename"] == "PaymentSetupSession", first
    (sent,) = world.proxy.posts("/v1/checkout/sessions")
    session_id = next(iter(world.proxy.sessions))
    assert first["url"] == f"https://checkout.stripe.com/c/pay/{session_id}"
    customer_id = await world.customer_id(tenant)
    assert customer_id and customer_id.startswith("cus_")
    assert sent.form == {
        "mode": "setup",
        "customer": customer_id,
        "currency": "usd",
        "payment_method_types[0]": "card",
        "success_url": RETURN_URL,
        "cancel_url": RETURN_URL,
        "metadata[gateway_tenant_id]": tenant,  # its completion is acted on only for this tenant
    }
    assert sent.idempotency_key.startswith(f"{tenant}-setup-")

    # Each call is a new page (a fresh key), for the same customer; the queued
    # customer sync then updates the customer instead of making a second one.
    second = await setup_session(world.api, tenant)
    assert second["url"] != first["url"]
    keys = [r.idempotency_key for r in world.proxy.posts("/v1/checkout/sessions")]
    assert len(set(keys)) == 2 and all(
        r.form["customer"] == customer_id for r in world.proxy.posts("/v1/checkout/sessions")
    )
    await world.run_tasks()
    assert len(world.proxy.posts("/v1/customers")) == 1
    assert await world.customer_id(tenant) == customer_id


async def test_the_card_saved_on_checkout_becomes_the_card_invoices_are_charged_to(
    world: StripeWorld,
) -> None:
    """After ``checkout.session.completed`` the adapter makes the session's card the
    customer's default for invoices (Checkout in setup mode only attaches it)."""
    tenant = await world.tenant("Saver")
    await setup_session(world.api, tenant)
    session_id = next(iter(world.proxy.sessions))
    customer_id = await world.customer_id(tenant)

    # The customer types a card on Checkout: a SetupIntent confirmed with it.
    card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2035, "cvc": "123"}
    method = await world.stripe.v1.payment_methods.create_async({"type": "card", "card": card})
    await world.stripe.v1.payment_methods.attach_async(method.id, {"customer": customer_id})
    intent = await world.stripe.v1.setup_intents.create_async({"customer": customer_id})
    await world.stripe.v1.setup_intents.confirm_async(intent.id, {"payment_method": method.id})
    world.proxy.complete_session(session_id, intent.id)

    provider = world.deps.provider
    assert (
        await provider.use_card_from_setup_session(session_id, idempotency_key=f"{session_id}-card")
        == method.id
    )

    customer = await world.stripe.v1.customers.retrieve_async(customer_id)
    assert customer.invoice_settings.default_payment_method == method.id
    (sent,) = world.proxy.posts(f"/v1/customers/{customer_id}")
    assert sent.idempotency_key == f"{session_id}-card"


async def test_a_return_url_that_is_not_an_absolute_web_url_is_refused(world: StripeWorld) -> None:
    tenant = await world.tenant("Typo")
    for url in (
        "app.example.com/billing",
        "/billing",
        "javascript:alert(1)",
        "ftp://example.com/",
        "https:///billing",
        "https://exa mple.com/",
        "https://example.com/" + "x" * 2000,
    ):
        result = await setup_session(world.api, tenant, url)
        assert (result["__typename"], result["code"], result["field"]) == (
            "ValidationError",
            "VALIDATION_FAILED",
            "returnUrl",
        ), (url, result)
        assert "absolute http(s) URL" in result["message"]
    assert world.proxy.requests == []  # nothing reached Stripe


async def test_other_tenants_and_partner_keys_get_not_found(world: StripeWorld) -> None:
    tenant = await world.tenant("Victim")
    other = await world.tenant("Mallory")
    for key in [
        (await new_key(world.api, "TENANT", other))["secret"],
        (await new_key(world.api, "PARTNER", tenant))["secret"],
    ]:
        result = await setup_session(world.api.as_key(key), tenant)
        assert result["code"] == "NOT_FOUND", result
    own = await setup_session(
        world.api.as_key((await new_key(world.api, "TENANT", tenant))["secret"]), tenant
    )
    assert own["__typename"] == "PaymentSetupSession"
    assert len(world.proxy.posts("/v1/checkout/sessions")) == 1


async def test_stripe_down_is_a_provider_error_that_says_to_try_again(world: StripeWorld) -> None:
    tenant = await world.tenant("Offline")
    world.localstripe.kill()

    result = await setup_session(world.api, tenant)

    assert result["code"] == "PROVIDER_ERROR", result
    assert "try again" in result["message"]
    assert "sk_test" not in result["message"]
    assert await world.customer_id(tenant) is None


async def test_without_a_payment_provider_it_is_a_provider_error_naming_the_setting(api: Api) -> None:
    tenant = await new_tenant(api, "Local")

    result = (await api(SETUP, {"id": tenant, "url": RETURN_URL}))["createPaymentSetupSession"]

    assert result["code"] == "PROVIDER_ERROR", result
    assert "GATEWAY_PROVIDER=stripe" in result["message"]
