"""API keys: roles, secrets shown once, revocation."""
