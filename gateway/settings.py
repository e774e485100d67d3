"""Settings from the environment (names fixed by API.md), via pydantic-settings."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gateway.middleware import check_origins
from gateway.persisted import load_documents
from models.entitlements.keys import decode_secret
from models.platform.deps import BillingPolicy, PortalPolicy, TokenPolicy, WebhookPolicy
from models.platform.store import check_url


class Settings(BaseSettings):
    # Errors name the variable, never the value given (it may be a secret).
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", hide_input_in_errors=True)

    database_url: str = Field(
        default="sqlite+aiosqlite:///./gateway.db",
        description="sqlite+aiosqlite:///path.db (embedded default) or postgresql+asyncpg://user@host/db",
    )
    admin_api_key: SecretStr | None = Field(
        default=None, description="When set, this secret is accepted as an ADMIN key (bootstrap)."
    )
    provider: Literal["local", "stripe"] = "local"
    stripe_api_key: SecretStr | None = None
    stripe_api_base: str | None = None
    stripe_webhook_secret: SecretStr | None = None

    billing_interval_seconds: float = Field(
        default=60,
        ge=0,
        description="How often `serve` renews what is due (0: never; run `billing-gateway bill` from cron "
        "instead).",
    )

    usage_grace_seconds: int = Field(
        default=3600,
        ge=0,
        le=7 * 86400,
        description="How long after a period ends its usage is billed: usage reported within it still lands "
        "on the period's renewal invoice (a draft until then); later usage goes on the next invoice.",
    )
    past_due_grace_days: int = Field(
        default=14,
        ge=0,
        le=365,
        description="How long a PAST_DUE subscription keeps its entitlements before it becomes UNPAID.",
    )
    dunning_retry_days: Annotated[tuple[int, ...], NoDecode] = Field(
        default=(3, 5, 7),
        description="Days between a failed automatic charge and each retry, comma-separated (`3,5,7`: "
        "three retries, 3, 5 and 7 days after the failure before); empty: no retries.",
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"

    max_request_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    max_query_depth: int = Field(default=15, ge=2)
    max_aliases: int = Field(default=100, ge=1)
    max_tokens: int = Field(default=20_000, ge=100)
    max_query_cost: int = Field(
        default=1_000_000,
        ge=100,
        description="The most an operation may cost before it runs: every field counts once for each object "
        "it is selected on, list fields by their page size or bound (see the README's cost rules).",
    )
    max_response_bytes: int = Field(default=8 * 1024 * 1024, ge=64 * 1024)
    anonymous_introspection: bool = Field(
        default=False, description="Let callers without an API key introspect the schema."
    )
    fast_entitlements: bool = Field(
        default=True,
        description="Answer `entitlement` checks on their fast path (gateway/fast_entitlements.py): the same "
        "answers in one or two SQL statements; false sends them through the general GraphQL path.",
    )

    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Origins whose pages may call /graphql from a browser, comma-separated "
        "(`https://app.example.com,https://admin.example.com`); `*` alone: any origin. Default: none.",
    )
    persisted_queries_cache_size: int = Field(
        default=1000,
        ge=0,
        le=100_000,
        description="How many documents Apollo's automatic persisted queries keep per process (least "
        "recently used go first; 0: none kept, every hash-only request answers PERSISTED_QUERY_NOT_FOUND).",
    )
    persisted_documents: str | None = Field(
        default=None,
        description="A JSON file of trusted documents loaded at start: a map {id: document} (GraphQL Code "
        "Generator's persisted-documents.json) or Apollo's persisted query manifest.",
    )
    persisted_only: bool = Field(
        default=False,
        description="Run only the documents of GATEWAY_PERSISTED_DOCUMENTS; any other document, and "
        "registering one through automatic persisted queries, is PERSISTED_QUERY_NOT_ALLOWED.",
    )

    webhooks_allow_private: bool = Field(
        default=False,
        description="Let ADMIN keys register webhook URLs on loopback or private addresses (tests, "
        "on-premise receivers). TENANT keys never may.",
    )
    max_webhook_endpoints_per_tenant: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="How many webhook endpoints one tenant may have; createWebhookEndpoint beyond it "
        "answers VALIDATION_FAILED.",
    )

    entitlement_token_seconds: int = Field(
        default=300,
        ge=10,
        le=3600,
        description="How long an entitlement token is valid; a retired signing key stays published this "
        "long after it stops signing.",
    )
    entitlement_token_issuer: str = Field(
        default="billing-gateway", min_length=1, max_length=200, description="Entitlement tokens' `iss`."
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="The key-encryption key that seals the signing keys in the database: 32 random bytes, "
        "base64 (`openssl rand -base64 32`); the same for every process.",
    )
    secret_key_file: str | None = Field(
        default=None,
        description="Without GATEWAY_SECRET_KEY, the file holding it, made (mode 0600) when missing; "
        "default: gateway-secret.key beside the SQLite database, or in the working directory.",
    )

    api_key_cache_seconds: float = Field(
        default=5,
        ge=0,
        le=60,
        description="How long a worker remembers a stored API key's lookup (0: look it up on every request); "
        "revocation still bites on the next request in every worker.",
    )
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^/?#\s]+/?$",
        description="The gateway's public base URL (https://billing.example.com), used in billing portal "
        "links; default: the scheme and host the request came in on.",
    )
    portal_link_seconds: int = Field(
        default=300,
        ge=30,
        le=86400,
        description="How long a createPortalSession link can be opened (once).",
    )
    portal_session_idle_seconds: int = Field(
        default=3600, ge=60, le=86400, description="A portal session ends after this long without a request."
    )
    portal_session_max_seconds: int = Field(
        default=12 * 3600, ge=60, le=7 * 86400, description="A portal session ends this long after it opened."
    )
    portal_allow_loopback_return: bool = Field(
        default=False,
        description="Let createPortalSession's returnUrl be http on a loopback host (development; the demo "
        "turns it on). Otherwise it must be https.",
    )

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        check_url(value)
        return value

    @field_validator("admin_api_key")
    @classmethod
    def _strong_admin_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 24:
            raise ValueError("must be at least 24 characters; generate one with `openssl rand -hex 24`")
        return value

    @field_validator("secret_key")
    @classmethod
    def _key_encryption_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            decode_secret(value.get_secret_value())
        return value

    @field_validator("dunning_retry_days", mode="before")
    @classmethod
    def _retry_days(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            if not all(part.isdigit() and 1 <= int(part) <= 60 for part in parts) or len(parts) > 10:
                raise ValueError(
                    "must be up to 10 whole numbers of days from 1 to 60, comma-separated: 3,5,7"
                )
            return tuple(int(part) for part in parts)
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            return check_origins([str(part) for part in value])
        return value

    @field_validator("persisted_documents")
    @classmethod
    def _trusted_documents(cls, value: str | None) -> str | None:
        if value is not None:
            load_documents(value)  # a file that cannot serve fails start-up, naming why
        return value

    @field_validator("persisted_only")
    @classmethod
    def _documents_for_persisted_only(cls, value: bool, info: ValidationInfo) -> bool:
        if value and not info.data.get("persisted_documents"):
            raise ValueError(
                "true needs GATEWAY_PERSISTED_DOCUMENTS, the JSON file of the documents that may run"
            )
        return value

    def billing_policy(self) -> BillingPolicy:
        return BillingPolicy(
            usage_grace=timedelta(seconds=self.usage_grace_seconds),
            past_due_grace=timedelta(days=self.past_due_grace_days),
            dunning_retry_days=self.dunning_retry_days,
            webhooks=WebhookPolicy(
                allow_private=self.webhooks_allow_private,
                max_endpoints_per_tenant=self.max_webhook_endpoints_per_tenant,
            ),
            tokens=TokenPolicy(
                lifetime=timedelta(seconds=self.entitlement_token_seconds),
                issuer=self.entitlement_token_issuer,
                secret_key=decode_secret(self.secret_key.get_secret_value()) if self.secret_key else None,
                secret_key_file=self.secret_key_file,
            ),
            portal=PortalPolicy(
                link_lifetime=timedelta(seconds=self.portal_link_seconds),
                idle_timeout=timedelta(seconds=self.portal_session_idle_seconds),
                max_lifetime=timedelta(seconds=self.portal_session_max_seconds),
                allow_loopback_return=self.portal_allow_loopback_return,
                public_url=self.public_url.rstrip("/") if self.public_url else None,
            ),
        )
