"""Async engine/session and the queries used by services and DataLoaders."""

from models.store.engine import Store, UnsupportedDatabaseUrl

__all__ = ["Store", "UnsupportedDatabaseUrl"]
