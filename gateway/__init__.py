"""Composition root and I/O edges: the Starlette app, settings, auth, schema
assembly, logging and the `billing-gateway` command line."""

# What the domains do about events before a transaction commits (entitlements.changed when
# a plan change moves them): registered here, so every process the gateway runs (serve,
# bill, the workers, the tests' app) has them.
import models.entitlements.reactions  # noqa: E402, F401
