"""What the tests build through the public API, and the peers they run against:
helpers shared between test modules (test modules import from here, never from one
another; fixtures live in the conftest.py files)."""
