"""What the webhook-endpoint use cases take: validated input models."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints, field_validator

from models.kernel.validation import Input
from models.webhooks.rules import event_types

Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class WebhookEndpointCreate(Input):
    url: Url
    events: list[str]
    tenant_id: str | None = None
    description: Description | None = None

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str]) -> list[str]:
        return event_types(value)


class WebhookEndpointUpdate(Input):
    url: Url | None = None
    events: list[str] | None = None
    description: Description | None = None
    enabled: bool | None = None

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else event_types(value)
