"""Billing portal use cases: make a one-time link, open it (once) into a browser session,
authenticate that session, end it; read and change the portal configuration.

The link token and the session secret carry 240 random bits each and are stored only as
SHA-256 hashes (as API keys are). Time comes from the process clock (``deps.clock``), never
a tenant's test clock: a session is real time in a real browser."""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, exists, select, update

from models.kernel.enums import Role
from models.kernel.errors import Forbidden, NotFound, Unauthenticated
from models.kernel.ids import new_id
from models.platform import audit
from models.platform.access import Principal, require_admin, require_tenant
from models.platform.deps import Deps
from models.portal.inputs import PortalConfigurationUpdate
from models.portal.rules import DEFAULT_PERMISSIONS, PortalPermissions, check_return_url
from models.tables import ApiKeyRow, PortalConfigurationRow, PortalSessionRow, TenantRow

CONFIGURATION_ID = "default"
# A session's idle expiry moves at most this often (one write per minute of use, not per request).
TOUCH_EVERY = timedelta(minutes=1)

SESSION_ENDED = "Your billing portal session has ended. Open the billing portal again from your account."
LINK_UNKNOWN = "This billing portal link is not valid. Open the billing portal again from your account."
LINK_USED = (
    "This billing portal link was already used: each link opens once. Open the billing portal again "
    "from your account for a new one."
)


LINK_MAKER_REVOKED = (
    "This billing portal link was made with an API key that has since been revoked. Open the billing "
    "portal again from your account for a new one."
)


def _maker_live() -> ColumnElement[bool]:
    """The API key that made the session, when a stored one did, is not revoked: a link or a
    session stands on the key that made it, so revoking a leaked key ends what it opened."""
    revoked = exists().where(ApiKeyRow.id == PortalSessionRow.created_by, ApiKeyRow.revoked_at.is_not(None))
    return ~revoked


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class PortalLink:
    session: PortalSessionRow
    url: str  # shown once: only the token's hash is kept


@dataclass(frozen=True, slots=True)
class OpenedSession:
    session: PortalSessionRow
    secret: str  # the cookie's value, shown once


async def create_portal_session(
    deps: Deps,
    actor: Principal,
    tenant_id: str,
    return_url: str,
    *,
    base_url: str,
    link_lifetime: timedelta | None = None,
) -> PortalLink:
    """A link to the tenant's billing portal, valid (once) for the policy's minutes.
    ``base_url`` is the gateway's public URL (GATEWAY_PUBLIC_URL or the request's)."""
    require_tenant(actor, tenant_id)
    if actor.portal_session_id is not None:
        raise Forbidden("A billing portal session cannot make portal links; use an API key.")
    policy = deps.policy.portal
    url = check_return_url(return_url, allow_loopback=policy.allow_loopback_return)
    token = secrets.token_urlsafe(30)
    now = deps.clock.now()
    async with deps.store.transaction() as session:
        if await session.get(TenantRow, tenant_id) is None:
            raise NotFound("Tenant", tenant_id)
        row = PortalSessionRow(
            id=new_id("ps"),
            tenant_id=tenant_id,
            return_url=url,
            link_hash=_hash(token),
            link_expires_at=now + (link_lifetime or policy.link_lifetime),
            created_by=actor.api_key_id,
            created_at=now,
        )
        session.add(row)
    base = (policy.public_url or base_url).rstrip("/")
    return PortalLink(session=row, url=f"{base}/portal#token={token}")


async def open_portal_session(deps: Deps, token: str) -> OpenedSession:
    """Exchange a link's token for a session, once. Raises ``Unauthenticated`` saying
    whether the link is unknown, already used or expired."""
    now = deps.clock.now()
    policy = deps.policy.portal
    secret = secrets.token_urlsafe(30)
    link_hash = _hash(token.strip())
    async with deps.store.transaction() as session:
        # One conditional UPDATE: of two browsers opening the same link at once, one wins.
        opened = await session.execute(
            update(PortalSessionRow)
            .where(
                PortalSessionRow.link_hash == link_hash,
                PortalSessionRow.opened_at.is_(None),
                PortalSessionRow.link_expires_at > now,
                _maker_live(),
            )
            .values(
                opened_at=now,
                session_hash=_hash(secret),
                idle_expires_at=now + min(policy.idle_timeout, policy.max_lifetime),
                expires_at=now + policy.max_lifetime,
            )
        )
        found = (
            await session.execute(
                select(PortalSessionRow, _maker_live()).where(PortalSessionRow.link_hash == link_hash)
            )
        ).first()
    row, maker_live = found if found is not None else (None, True)
    if opened.rowcount == 1 and row is not None:  # type: ignore[attr-defined]  # an UPDATE's result has rowcount
        return OpenedSession(session=row, secret=secret)
    if row is None:
        raise Unauthenticated(LINK_UNKNOWN)
    if row.opened_at is not None:
        raise Unauthenticated(LINK_USED)
    if not maker_live:
        raise Unauthenticated(LINK_MAKER_REVOKED)
    minutes = max(1, round((row.link_expires_at - row.created_at).total_seconds() / 60))
    raise Unauthenticated(
        f"This billing portal link expired at {row.link_expires_at:%Y-%m-%d %H:%M} UTC (links are valid for "
        f"{minutes} minutes). Open the billing portal again from your account for a new one."
    )


def _live(row: PortalSessionRow | None, now: datetime) -> bool:
    return (
        row is not None
        and row.ended_at is None
        and row.idle_expires_at is not None
        and row.expires_at is not None
        and now < row.idle_expires_at
        and now < row.expires_at
    )


async def authenticate(deps: Deps, secret: str) -> tuple[Principal | None, PortalSessionRow | None]:
    """The principal a session cookie stands for (TENANT scope, marked as a portal
    session), or None once the session has ended or the key that made it was revoked. Each
    use moves its idle expiry."""
    now = deps.clock.now()
    session_hash = _hash(secret)
    async with deps.store.read() as session:
        row = await session.scalar(
            select(PortalSessionRow).where(PortalSessionRow.session_hash == session_hash, _maker_live())
        )
    if row is None or not _live(row, now):
        return None, None
    assert row.idle_expires_at is not None and row.expires_at is not None
    idle = min(now + deps.policy.portal.idle_timeout, row.expires_at)
    if idle - row.idle_expires_at >= TOUCH_EVERY:
        async with deps.store.transaction() as session:
            await session.execute(
                update(PortalSessionRow).where(PortalSessionRow.id == row.id).values(idle_expires_at=idle)
            )
        row.idle_expires_at = idle
    return portal_principal(row), row


def portal_principal(row: PortalSessionRow) -> Principal:
    """Audit entries name the session (``portal:<id>``) as their actor."""
    return Principal(
        role=Role.TENANT, tenant_id=row.tenant_id, api_key_id=f"portal:{row.id}", portal_session_id=row.id
    )


async def end_portal_session(deps: Deps, secret: str) -> bool:
    """Sign out: the cookie stops working at once. False when it had already ended."""
    async with deps.store.transaction() as session:
        ended = await session.execute(
            update(PortalSessionRow)
            .where(PortalSessionRow.session_hash == _hash(secret), PortalSessionRow.ended_at.is_(None))
            .values(ended_at=deps.clock.now())
        )
    return bool(ended.rowcount)  # type: ignore[attr-defined]  # an UPDATE's result has rowcount


async def current_session(deps: Deps, actor: Principal) -> PortalSessionRow | None:
    """The portal session the caller is, or None for an API key."""
    if actor.portal_session_id is None:
        return None
    async with deps.store.read() as session:
        return await session.get(PortalSessionRow, actor.portal_session_id)


async def permissions(deps: Deps) -> PortalPermissions:
    """What customers may change in the portal (the defaults until the operator sets them)."""
    async with deps.store.read() as session:
        row = await session.get(PortalConfigurationRow, CONFIGURATION_ID)
    return DEFAULT_PERMISSIONS if row is None else _permissions(row)


def _permissions(row: PortalConfigurationRow) -> PortalPermissions:
    names = [f.name for f in dataclasses.fields(PortalPermissions)]
    return PortalPermissions(**{name: getattr(row, name) for name in names})


async def update_configuration(
    deps: Deps, actor: Principal, spec: PortalConfigurationUpdate
) -> PortalPermissions:
    """Change what customers may do in the portal (ADMIN); audited."""
    require_admin(actor, "Changing the portal configuration")
    now = deps.clock.now()
    async with deps.store.transaction() as session:
        row = await session.get(PortalConfigurationRow, CONFIGURATION_ID, with_for_update=True)
        before = DEFAULT_PERMISSIONS if row is None else _permissions(row)
        after = dataclasses.replace(before, **spec.model_dump(exclude_none=True))
        if row is None:
            row = PortalConfigurationRow(id=CONFIGURATION_ID, updated_at=now, **dataclasses.asdict(after))
            session.add(row)
        else:
            for name, value in dataclasses.asdict(after).items():
                setattr(row, name, value)
        row.updated_at, row.updated_by = now, actor.api_key_id
        audit.record(
            session,
            actor,
            tenant_id=None,
            action="portal.configuration_updated",
            subject_id=CONFIGURATION_ID,
            before=_jsonable(before),
            after=_jsonable(after),
            at=now,
        )
    return after


def _jsonable(value: PortalPermissions) -> dict[str, object]:
    return {k: (v.value if hasattr(v, "value") else v) for k, v in dataclasses.asdict(value).items()}
