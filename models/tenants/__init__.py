"""Tenants: the customers billed, their billing info (mirrored to the payment provider) and tax rate."""
