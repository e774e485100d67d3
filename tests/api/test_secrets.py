"""No API key secret is stored or logged in clear."""

from __future__ import annotations

import hashlib
import io
import logging

from sqlalchemy import select

from models.api_keys import service as api_keys
from models.api_keys.inputs import ApiKeyCreate
from models.platform.access import operator
from models.platform.deps import Deps
from models.tables import ApiKeyRow, SigningKeyRow, metadata
from tests.builders.api import Api, new_key, new_tenant


async def test_secrets_never_reach_the_database_or_the_logs(
    api: Api, deps: Deps, log_output: io.StringIO
) -> None:
    tenant = await new_tenant(api)
    created = await new_key(api, "TENANT", tenant)
    secret = created["secret"]
    _, cli_secret = await api_keys.create_api_key(deps, operator(), ApiKeyCreate.parse({"role": "ADMIN"}))
    as_tenant = api.as_key(secret)

    await as_tenant("query($id: ID!) { tenant(id: $id) { id } }", {"id": tenant})
    await as_tenant.raw("{ tenants { edges { node { id } } } }")
    await api.as_key(cli_secret)("{ tenants { edges { cursor } } }")
    await api("mutation($id: ID!) { revokeApiKey(id: $id) { __typename } }", {"id": created["apiKey"]["id"]})
    await as_tenant.raw("{ tenants { edges { cursor } } }")  # a revoked key, refused
    await api.as_key(secret + "x").raw("{ tenants { edges { cursor } } }")  # a wrong key

    logged = log_output.getvalue()
    assert "gateway.access" in logged and "SELECT" in logged  # the logs were captured
    for value in (secret, cli_secret, secret[8:], cli_secret[8:]):
        assert value not in logged

    async with deps.store.read() as session:
        stored = [
            str(value)
            for table in metadata.sorted_tables
            for row in (await session.execute(select(table))).all()
            for value in row
        ]
        rows = (await session.scalars(select(ApiKeyRow))).all()
    assert stored
    assert not [v for v in stored if secret[8:] in v or cli_secret[8:] in v]
    hashes = {row.secret_hash for row in rows}
    assert hashlib.sha256(secret.encode()).hexdigest() in hashes
    assert hashlib.sha256(cli_secret.encode()).hexdigest() in hashes


def test_the_log_filter_scrubs_secrets_that_slip_into_messages(log_output: io.StringIO) -> None:
    log = logging.getLogger("gateway.test")
    try:
        raise RuntimeError("auth failed for Bearer gwk_abcdefghijklmnopqrstuvwxyz012345")
    except RuntimeError:
        log.exception("request with key gwk_abcdefghijklmnopqrstuvwxyz012345 and whsec_c2VjcmV0c2VjcmV0")
    logged = log_output.getvalue()
    assert "abcdefghijklmnop" not in logged
    assert "whsec_c2Vj" not in logged
    assert logged.count("[redacted]") >= 3


async def test_a_sealed_signing_key_never_reaches_the_logs(
    api: Api, deps: Deps, log_output: io.StringIO
) -> None:
    tenant = await new_tenant(api)
    issued = await api(
        "mutation($t: ID!) { issueEntitlementToken(tenantId: $t) { ... on EntitlementToken { kid } } }",
        {"t": tenant},
    )
    async with deps.store.read() as session:
        sealed = (await session.scalars(select(SigningKeyRow.private_key))).one()
    logged = log_output.getvalue()
    assert issued["issueEntitlementToken"]["kid"] in logged  # the key's insert was logged…
    assert sealed.split(".", 1)[1][:24] not in logged  # …without what it sealed
