"""Entitlements: features, grants, and what a tenant may do right now."""
