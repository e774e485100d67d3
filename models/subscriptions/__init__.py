"""Subscriptions: subscribing, the lifecycle of a subscription's status, and renewals at each period's end."""
