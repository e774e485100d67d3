"""The GraphQL shape: one package per domain (types, inputs, queries, mutations, loaders)
and ``shared`` (enums, errors, money, pagination, the request context and loaders).

Thin by design: parse the input into the domain's typed model, call one service in
``models.<domain>``, map the result or the domain error. Never imports starlette, stripe
or ``gateway``.
"""
