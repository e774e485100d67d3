"""API keys: the secret is shown once and only its SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from models.api_keys.cache import KeyCache, announce_revoked
from models.api_keys.inputs import ApiKeyCreate
from models.kernel.errors import NotFound
from models.kernel.ids import new_id
from models.platform import locks
from models.platform.access import Principal, require_admin, require_tenant, require_visible
from models.platform.deps import Deps
from models.platform.pagination import Page, paginate
from models.tables import ApiKeyRow, TenantRow

SECRET_PREFIX = "gwk_"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(30)


async def create_api_key(deps: Deps, actor: Principal, spec: ApiKeyCreate) -> tuple[ApiKeyRow, str]:
    """Returns the stored key and its secret; the secret cannot be read again."""
    if spec.tenant_id is None:
        require_admin(actor, "Creating an ADMIN key")
    else:
        require_tenant(actor, spec.tenant_id)
    async with deps.store.transaction() as session:
        if spec.tenant_id is not None and await session.get(TenantRow, spec.tenant_id) is None:
            raise NotFound("Tenant", spec.tenant_id)
        return insert_api_key(session, deps, actor, spec)


def insert_api_key(
    session: AsyncSession, deps: Deps, actor: Principal, spec: ApiKeyCreate
) -> tuple[ApiKeyRow, str]:
    """The write of ``create_api_key``, inside the caller's transaction."""
    secret = new_secret()
    row = ApiKeyRow(
        id=new_id("key"),
        name=spec.name,
        role=spec.role,
        tenant_id=spec.tenant_id,
        secret_hash=hash_secret(secret),
        secret_hint=secret[: len(SECRET_PREFIX) + 4],
        created_by=actor.api_key_id,
        created_at=deps.clock.now(),
    )
    session.add(row)
    return row, secret


async def revoke_api_key(deps: Deps, actor: Principal, key_id: str) -> ApiKeyRow:
    """Revoke a key; it stops working at once, in every worker (``models.api_keys.cache``).
    Revoking twice keeps the first time."""
    async with deps.store.transaction() as session:
        row = await locks.api_key(session, key_id)
        visible = row is not None and (actor.is_admin or actor.can_manage(row.tenant_id or ""))
        require_visible(visible, "ApiKey", key_id)
        if row.revoked_at is None:
            row.revoked_at = deps.clock.now()
            await announce_revoked(session, [row.id])
    return row


async def revoke_named(session: AsyncSession, deps: Deps, name: str) -> list[str]:
    """In the caller's transaction, revoke every live key called ``name``; their ids."""
    revoked = list(
        (
            await session.scalars(
                update(ApiKeyRow)
                .where(ApiKeyRow.name == name, ApiKeyRow.revoked_at.is_(None))
                .values(revoked_at=deps.clock.now())
                .returning(ApiKeyRow.id)
            )
        ).all()
    )
    await announce_revoked(session, revoked)
    return revoked


async def list_api_keys(
    deps: Deps,
    actor: Principal,
    tenant_id: str | None = None,
    first: int | None = None,
    after: str | None = None,
) -> Page[ApiKeyRow]:
    """Keys, oldest first, revoked ones included. ADMIN: all of them, or one tenant's;
    a TENANT key: its own tenant's."""
    if tenant_id is None and not actor.is_admin:
        tenant_id = actor.tenant_id
    query = select(ApiKeyRow)
    if tenant_id is not None:
        require_tenant(actor, tenant_id)
        query = query.where(ApiKeyRow.tenant_id == tenant_id)
    async with deps.store.read() as session:
        return await paginate(session, query, ApiKeyRow.id, first, after)


async def authenticate(deps: Deps, secret: str, cache: KeyCache | None = None) -> Principal | None:
    """The principal a secret stands for, or None if it is unknown or revoked; through
    ``cache`` when given (a revoked key is refused at once all the same)."""
    if not secret.startswith(SECRET_PREFIX):
        return None
    key_hash = hash_secret(secret)
    if cache is None:
        return await find(deps, key_hash)
    return await cache.lookup(key_hash, lambda found: find(deps, found))


async def find(deps: Deps, key_hash: str) -> Principal | None:
    """The live key whose secret hashes to ``key_hash``, as a principal. Connections are
    not pinged before use: one found dead (the server restarted or ended it) is dropped
    with the rest of the pool, and the lookup runs once more on a fresh one."""
    try:
        return await _find(deps, key_hash)
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
    return await _find(deps, key_hash)


async def _find(deps: Deps, key_hash: str) -> Principal | None:
    async with deps.store.read() as session:
        row = (
            await session.execute(
                select(ApiKeyRow.role, ApiKeyRow.tenant_id, ApiKeyRow.id).where(
                    ApiKeyRow.secret_hash == key_hash, ApiKeyRow.revoked_at.is_(None)
                )
            )
        ).first()
    if row is None:
        return None
    return Principal(role=row.role, tenant_id=row.tenant_id, api_key_id=row.id)
