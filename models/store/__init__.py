"""Async engine/session and the queries used by services and DataLoaders."""

from models.store.engine import ROW_LOCK, Store, UnsupportedDatabaseUrl, after_commit, before_commit

__all__ = ["ROW_LOCK", "Store", "UnsupportedDatabaseUrl", "after_commit", "before_commit"]
