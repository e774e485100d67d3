"""Entitlement tokens: a tenant's (or a member's) entitlements signed with Ed25519, checked
here with joserfc against the keys the gateway publishes at /.well-known/jwks.json (the
gateway signs with PyJWT, so the check owes nothing to the code that signed)."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import io
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)
from joserfc import jws, jwt
from joserfc.errors import BadSignatureError, ExpiredTokenError, InvalidKeyIdError
from joserfc.jwk import KeySet, OKPKey
from sqlalchemy import select

from gateway.settings import Settings
from models.entitlements import keys, tokens
from models.entitlements.keys import KeyUnreadable
from models.kernel.clock import FixedClock
from models.platform.access import operator
from models.platform.deps import Deps, TokenPolicy
from models.platform.store import Store
from models.tables import SigningKeyRow
from models.tenants.inputs import TenantCreate
from models.tenants.service import create_tenant
from tests.builders.api import START, Api, new_key, new_tenant
from tests.builders.billing import advance, attach, create_addon, create_plan, invite, subscribe
from tests.builders.clocks import new_clock, tenant_on
from tests.builders.entitlements import consume, feature, grant
from tests.builders.metering import new_meter, record

# joserfc warns that RFC 9864 prefers "Ed25519" to "EdDSA" as the alg name; the tokens say
# EdDSA, which every JOSE library (and RFC 8037) knows.
pytestmark = pytest.mark.filterwarnings("ignore:EdDSA is deprecated")

ISSUE = """mutation($t: ID!, $m: ID) { issueEntitlementToken(tenantId: $t, memberId: $m) { __typename
  ... on EntitlementToken { token expiresAt kid } ... on Error { code message } } }"""
SECRET = base64.b64encode(bytes(range(32))).decode()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """The key-encryption key in this test's own file (never the working directory's)."""
    return Settings(
        database_url=db_url, webhooks_allow_private=True, secret_key_file=str(tmp_path / "secret.key")
    )


async def issue(api: Api, tenant: str, member: str | None = None) -> dict[str, Any]:
    return (await api(ISSUE, {"t": tenant, "m": member}))["issueEntitlementToken"]


async def published(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=60"
    return response.json()


def verified(token: str, jwks: dict[str, Any], at: datetime | None = None) -> jwt.Token:
    """The token, its signature checked against the published keys; with ``at``, its
    claims checked as a verifier would at that moment."""
    decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["EdDSA"])
    if at is not None:
        jwt.JWTClaimsRegistry(
            now=int(at.timestamp()),
            iss={"essential": True, "value": "billing-gateway"},
            sub={"essential": True},
            exp={"essential": True},
        ).validate(decoded.claims)
    return decoded


def no_published_key_verifies(token: str, jwks: dict[str, Any]) -> bool:
    """Whether every published key refuses the signature, whatever the token's kid or exp."""
    for jwk in jwks["keys"]:
        try:
            jws.deserialize_compact(token, OKPKey.import_key(jwk), algorithms=["EdDSA"])
        except BadSignatureError:
            continue
        return False
    return True


async def catalog(api: Api) -> tuple[str, str]:
    """A plan granting 3 projects, 100 API calls a period, and editing to FULL seats only,
    and a viewer seat add-on for it."""
    plan = await create_plan(api, "team", 20_00, includedSeats=2)
    viewer = await create_addon(api, "viewer_seat", 0, seatType="VIEWER")
    await attach(api, plan, viewer)
    await new_meter(api, "api_calls")
    for code, kind in (("projects", "LIMIT"), ("sso", "BOOLEAN"), ("editing", "BOOLEAN")):
        await feature(api, code, kind)
    await feature(api, "api", "METERED", meter="api_calls")
    await grant(api, "projects", plan=plan, limit=3)
    await grant(api, "api", plan=plan, limit=100)
    await grant(api, "editing", plan=plan, seatTypes=["FULL"])
    return plan, viewer


async def test_a_token_verifies_against_the_published_keys_and_states_each_feature_as_it_was_issued(
    api: Api, client: httpx.AsyncClient
) -> None:
    assert await published(client) == {"keys": []}  # no key until the first token needs one
    plan, _ = await catalog(api)
    tenant = await new_tenant(api, "Acme")
    await subscribe(api, tenant, plan)
    assert (await consume(api, tenant, "projects", "p1", 2))["__typename"] == "EntitlementConsumed"
    await record(api, tenant, "api_calls", 40)
    partner = api.as_key((await new_key(api, "PARTNER", tenant))["secret"])

    issued = await issue(partner, tenant)
    assert issued["__typename"] == "EntitlementToken", issued
    assert issued["expiresAt"] == (START + timedelta(seconds=300)).isoformat()
    jwks = await published(client)
    assert [(k["kty"], k["crv"], k["alg"], k["use"], k["kid"]) for k in jwks["keys"]] == [
        ("OKP", "Ed25519", "EdDSA", "sig", issued["kid"])
    ]
    assert set(jwks["keys"][0]) == {"kty", "crv", "x", "kid", "alg", "use"}  # nothing private

    token = verified(issued["token"], jwks, at=START)
    assert token.header == {"alg": "EdDSA", "kid": issued["kid"], "typ": "JWT"}
    period_end = int(datetime(2026, 2, 15, 12, tzinfo=UTC).timestamp())
    assert token.claims == {
        "iss": "billing-gateway",
        "sub": tenant,
        "iat": int(START.timestamp()),
        "exp": int(START.timestamp()) + 300,
        "features": {
            "api": {"enabled": True, "limit": 100, "remaining": 60, "resetsAt": period_end},
            "editing": {"enabled": True},
            "projects": {"enabled": True, "limit": 3, "remaining": 1},
            "sso": {"enabled": False, "reason": "NOT_IN_PLAN"},
        },
    }

    # What it states is the moment it was issued; a new token states the new moment.
    assert (await consume(api, tenant, "projects", "p2"))["__typename"] == "EntitlementConsumed"
    again = verified((await issue(api, tenant))["token"], await published(client), at=START)
    assert again.claims["features"]["projects"] == {
        "enabled": False,
        "reason": "LIMIT_REACHED",
        "limit": 3,
        "remaining": 0,
    }
    assert token.claims["features"]["projects"]["remaining"] == 1

    # It expires: valid for its last second, refused from its exp on.
    verified(issued["token"], jwks, at=START + timedelta(seconds=299))
    with pytest.raises(ExpiredTokenError):
        verified(issued["token"], jwks, at=START + timedelta(seconds=300))
    # A token edited after signing is refused.
    head, body, signature = issued["token"].split(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB")
    assert no_published_key_verifies(f"{head}.{forged}.{signature}", jwks)


async def test_a_members_token_states_what_its_seat_type_may_do(api: Api, client: httpx.AsyncClient) -> None:
    plan, viewer_seat = await catalog(api)
    tenant = await new_tenant(api, "Acme")
    await subscribe(api, tenant, plan, {viewer_seat: 1})
    editor = (await invite(api, tenant, "ed@acme.example"))["id"]
    viewer = (await invite(api, tenant, "vi@acme.example", "VIEWER"))["id"]
    own = api.as_key((await new_key(api, "TENANT", tenant))["secret"])

    claims = {}
    for member in (editor, viewer):
        issued = await issue(own, tenant, member)
        claims[member] = verified(issued["token"], await published(client), at=START).claims
    assert claims[editor]["member"] == editor
    assert claims[editor]["features"]["editing"] == {"enabled": True}
    assert claims[viewer]["member"] == viewer
    assert claims[viewer]["features"]["editing"] == {"enabled": False, "reason": "SEAT_TYPE_EXCLUDED"}
    assert claims[viewer]["features"]["projects"] == {"enabled": True, "limit": 3, "remaining": 3}

    # A member of another tenant, or one removed, gets no token.
    other = await new_tenant(api, "Other")
    await subscribe(api, other, plan)
    stranger = (await invite(api, other, "st@other.example"))["id"]
    assert (await issue(own, tenant, stranger))["code"] == "NOT_FOUND"
    removed = await api("mutation($id: ID!) { removeMember(memberId: $id) { __typename } }", {"id": viewer})
    assert removed["removeMember"]["__typename"] == "Member"
    assert (await issue(own, tenant, viewer))["code"] == "NOT_FOUND"


async def test_a_tenant_on_a_test_clock_gets_tokens_dated_by_its_clock(
    api: Api, client: httpx.AsyncClient
) -> None:
    clock = await new_clock(api, "2027-06-01T09:00:00Z")
    tenant = await tenant_on(api, "Later", clock)
    issued = await issue(api, tenant)
    later = datetime(2027, 6, 1, 9, tzinfo=UTC)
    assert issued["expiresAt"] == (later + timedelta(minutes=5)).isoformat()
    claims = verified(issued["token"], await published(client), at=later).claims
    assert (claims["iat"], claims["exp"]) == (int(later.timestamp()), int(later.timestamp()) + 300)
    assert claims["features"] == {}  # no feature exists yet

    await advance(api, clock, "2027-06-03T09:00:00Z")
    moved = verified((await issue(api, tenant))["token"], await published(client)).claims
    assert moved["iat"] == int(later.timestamp()) + 2 * 86400


async def test_after_a_rotation_new_tokens_use_the_new_key_and_the_old_is_published_till_its_tokens_expire(
    api: Api, client: httpx.AsyncClient, deps: Deps
) -> None:
    assert isinstance(deps.clock, FixedClock)
    tenant = await new_tenant(api, "Acme")
    old = await issue(api, tenant)

    deps.clock.set(START + timedelta(seconds=100))
    rotation = await keys.rotate(deps)
    unpublish_at = START + timedelta(seconds=400)  # retired at +100, plus the 300 s lifetime
    assert rotation.retired == [(old["kid"], unpublish_at)]
    new = await issue(api, tenant)
    assert new["kid"] == rotation.kid != old["kid"]

    jwks = await published(client)
    assert [k["kid"] for k in jwks["keys"]] == [new["kid"], old["kid"]]
    assert verified(old["token"], jwks).header["kid"] == old["kid"]
    verified(new["token"], jwks)

    deps.clock.set(unpublish_at - timedelta(seconds=1))
    assert [k["kid"] for k in (await published(client))["keys"]] == [new["kid"], old["kid"]]

    deps.clock.set(unpublish_at)
    jwks = await published(client)
    assert [k["kid"] for k in jwks["keys"]] == [new["kid"]]
    with pytest.raises(InvalidKeyIdError):
        verified(old["token"], jwks)
    # Not its expiry: the signature itself no longer checks out against any published key.
    assert no_published_key_verifies(old["token"], jwks)
    verified(new["token"], jwks)


async def test_processes_making_the_first_key_or_rotating_at_once_leave_exactly_one_active_key(
    deps: Deps, db_url: str
) -> None:
    others = [Store(db_url) for _ in range(3)]
    try:
        processes = [deps] + [dataclasses.replace(deps, store=s, bus=None) for s in others]
        first = await asyncio.gather(*(keys.active_key(p) for p in processes))
        assert len({k.kid for k in first}) == 1
        await asyncio.gather(*(keys.rotate(p) for p in processes))
        async with deps.store.read() as session:
            rows = (await session.scalars(select(SigningKeyRow))).all()
        active = [r for r in rows if r.retired_at is None]
        assert len(active) == 1 and len(rows) == 1 + len(processes)
        assert all(r.unpublish_at == r.retired_at + timedelta(seconds=300) for r in rows if r.retired_at)
        assert (await keys.active_key(deps)).kid == active[0].kid
    finally:
        for store in others:
            await store.dispose()


async def tenant_of(deps: Deps) -> str:
    spec = TenantCreate.parse({"name": "Sealed", "email": "s@example.com", "currency": "USD"})
    return (await create_tenant(deps, operator(), spec)).id


def with_tokens(deps: Deps, policy: TokenPolicy) -> Deps:
    return dataclasses.replace(deps, policy=dataclasses.replace(deps.policy, tokens=policy))


async def test_the_private_key_is_stored_sealed_under_the_secret_key_and_never_logged(
    deps: Deps, log_output: io.StringIO
) -> None:
    sealed = with_tokens(deps, TokenPolicy(secret_key=base64.b64decode(SECRET)))
    tenant = await tenant_of(sealed)
    issued = await tokens.issue(sealed, operator(), tenant, None)
    async with deps.store.read() as session:
        row = await session.get(SigningKeyRow, issued.kid)
    assert row is not None
    public = base64.urlsafe_b64decode(row.public_jwk["x"] + "=")

    # What is stored is neither a PEM nor a JWK, and no 32 bytes of it are the key.
    assert row.private_key.startswith("A256GCM.") and "PRIVATE KEY" not in row.private_key
    assert "d" not in row.public_jwk
    with pytest.raises(ValueError):
        load_pem_private_key(row.private_key.encode(), password=None)
    stored = base64.urlsafe_b64decode(row.private_key.removeprefix("A256GCM.") + "==")
    for start in range(len(stored) - 31):
        candidate = Ed25519PrivateKey.from_private_bytes(stored[start : start + 32]).public_key()
        assert candidate.public_bytes(Encoding.Raw, PublicFormat.Raw) != public
    # It opens with the secret key (bound to its kid) and is the published key's private half.
    opened = AESGCM(base64.b64decode(SECRET)).decrypt(stored[:12], stored[12:], issued.kid.encode())
    private = Ed25519PrivateKey.from_private_bytes(opened)
    assert private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw) == public

    # Another secret opens nothing: the gateway says what to do rather than sign.
    other = with_tokens(deps, TokenPolicy(secret_key=os.urandom(32)))
    with pytest.raises(KeyUnreadable, match="GATEWAY_SECRET_KEY.*rotate-signing-key"):
        await tokens.issue(other, operator(), tenant, None)
    # The logs (SQL statements included) hold the sealed key at most: never the secret
    # key or the private key, in any of their usual spellings.
    logged = log_output.getvalue()
    assert issued.kid in logged
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    for secret in (base64.b64decode(SECRET), opened):
        for spelling in (base64.b64encode(secret), base64.urlsafe_b64encode(secret).rstrip(b"=")):
            assert spelling.decode() not in logged
        assert secret.hex() not in logged
    assert pem.splitlines()[1] not in logged


async def test_without_a_secret_key_one_is_made_beside_the_sqlite_database_readable_by_its_owner_only(
    sqlite_template: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = tmp_path / "data" / "gateway.db"
    database.parent.mkdir()
    database.write_bytes(sqlite_template.read_bytes())
    store = Store(f"sqlite+aiosqlite:///{database}")
    try:
        deps = Deps(store=store, clock=FixedClock(START))
        tenant = await tenant_of(deps)
        with caplog.at_level("INFO", logger="models.entitlements.keys"):
            first = await tokens.issue(deps, operator(), tenant, None)
        made = database.parent / "gateway-secret.key"
        assert made.stat().st_mode & 0o777 == 0o600
        secret = made.read_text().strip()
        assert len(base64.b64decode(secret)) == 32
        assert str(made) in caplog.text and "GATEWAY_SECRET_KEY" in caplog.text and secret not in caplog.text

        # Another process (no cached key) finds the file and signs with the same key.
        keys._read_files.clear()
        again = await tokens.issue(deps, operator(), tenant, None)
        assert again.kid == first.kid and made.read_text().strip() == secret
    finally:
        await store.dispose()


def cli(db_url: str, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        env={**os.environ, "GATEWAY_DATABASE_URL": db_url, **env},
    )


async def test_rotate_signing_key_from_the_command_line_hands_signing_to_a_new_key(
    api: Api, client: httpx.AsyncClient, deps: Deps, db_url: str, settings: Settings, tmp_path: Path
) -> None:
    tenant = await new_tenant(api, "Acme")
    old = await issue(api, tenant)
    assert settings.secret_key_file is not None
    env = {"GATEWAY_SECRET_KEY_FILE": settings.secret_key_file, "GATEWAY_ENTITLEMENT_TOKEN_SECONDS": "120"}

    rotated = cli(db_url, tmp_path, "rotate-signing-key", **env)
    assert rotated.returncode == 0, rotated.stderr
    async with deps.store.read() as session:
        rows = {r.kid: r for r in (await session.scalars(select(SigningKeyRow))).all()}
    (new_kid,) = set(rows) - {old["kid"]}
    retired = rows[old["kid"]]
    assert retired.retired_at is not None and rows[new_kid].retired_at is None
    assert retired.unpublish_at == retired.retired_at + timedelta(seconds=120)
    assert f"signing key {new_kid} signs entitlement tokens from now on" in rotated.stderr
    assert (
        f"retired key {old['kid']} stays published until {retired.unpublish_at.isoformat()}" in rotated.stderr
    )

    # The server signs with the key the command made (sealed with the same key file).
    new = await issue(api, tenant)
    assert new["kid"] == new_kid
    jwks = await published(client)
    assert [k["kid"] for k in jwks["keys"]] == [new_kid, old["kid"]]
    verified(new["token"], jwks)
    verified(old["token"], jwks)

    refused = cli(db_url, tmp_path, "rotate-signing-key", GATEWAY_SECRET_KEY="not a key")
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "GATEWAY_SECRET_KEY: must be base64" in refused.stderr and "not a key" not in refused.stderr
