"""Composition root and I/O edges: the Starlette app, settings, auth, schema
assembly, logging and the `billing-gateway` command line."""
