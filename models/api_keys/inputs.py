"""What the API-key use cases take: validated input models."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints, model_validator

from models.kernel.enums import Role
from models.kernel.errors import ValidationFailed
from models.kernel.validation import Input, NonBlank


class ApiKeyCreate(Input):
    role: Role
    tenant_id: str | None = None
    name: Annotated[NonBlank, StringConstraints(max_length=200)] = "api key"

    @model_validator(mode="after")
    def _scope_matches_role(self) -> ApiKeyCreate:
        if self.role is Role.ADMIN and self.tenant_id is not None:
            raise ValidationFailed("input.tenantId", "ADMIN keys belong to no tenant; leave tenantId out")
        if self.role is not Role.ADMIN and self.tenant_id is None:
            raise ValidationFailed(
                "input.tenantId", f"{self.role.value} keys belong to one tenant; pass its id"
            )
        return self
