"""The domain and its persistence: tables, pure billing rules, use cases, the store.

Nothing in this package imports the web edge (``gateway``) or the GraphQL shape
(``resolvers``); the import-linter contracts in pyproject.toml enforce that.
"""
