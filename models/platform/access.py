"""Who is calling, and what they may see. Every service checks scope here.

A key that may not see an object gets ``NotFound`` for it, exactly as if it did not
exist; only operations no tenant-scoped key may ever run answer ``Forbidden``.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.kernel.enums import Role
from models.kernel.errors import Forbidden, NotFound


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    tenant_id: str | None = None
    api_key_id: str | None = None  # None: the operator (CLI or GATEWAY_ADMIN_API_KEY)
    # A customer's billing portal session (cookie) rather than an API key: a TENANT scope
    # limited to what the portal may do (models/portal).
    portal_session_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def can_manage(self, tenant_id: str) -> bool:
        """Read and change the tenant's account (ADMIN, or its own TENANT key)."""
        return self.is_admin or (self.role is Role.TENANT and self.tenant_id == tenant_id)

    def can_meter(self, tenant_id: str) -> bool:
        """Record and read the tenant's usage (also its own PARTNER key)."""
        return self.is_admin or (self.role in (Role.TENANT, Role.PARTNER) and self.tenant_id == tenant_id)


def require_admin(principal: Principal, operation: str) -> None:
    if not principal.is_admin:
        raise Forbidden(f"{operation} needs an ADMIN API key; this key's role is {principal.role.value}.")


def require_tenant(principal: Principal, tenant_id: str) -> None:
    require_visible(principal.can_manage(tenant_id), "Tenant", tenant_id)


def require_visible(visible: bool, kind: str, object_id: str) -> None:
    """Hide what the caller may not see behind the same NOT_FOUND a missing object gets."""
    if not visible:
        raise NotFound(kind, object_id)


def operator() -> Principal:
    """The machine's operator (CLI, bootstrap secret): an admin with no stored key."""
    return Principal(role=Role.ADMIN)
