"""Payments: the PaymentProvider protocol, the provider-task outbox, Stripe collection
and what the provider reports back."""
