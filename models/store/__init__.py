"""Async engine/session and the queries used by services and DataLoaders."""

from models.store.engine import ROW_LOCK, Store, UnsupportedDatabaseUrl

__all__ = ["ROW_LOCK", "Store", "UnsupportedDatabaseUrl"]
