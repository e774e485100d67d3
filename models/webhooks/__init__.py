"""Outbound webhooks: partner endpoints, deliveries and the retry schedule."""
