"""The GraphQL shape: one package per domain (types, queries, mutations, dataloaders).

Thin by design: validate, call a service in ``models.services``, map the result or
the domain error. Never imports starlette, stripe or ``gateway``.
"""
