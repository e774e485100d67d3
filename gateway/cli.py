"""`billing-gateway`: serve, migrate, bill, export-schema, create-api-key, seed-demo,
rotate-signing-key."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError

from gateway import demo
from gateway.demo_portal import demo_portal_link
from gateway.logging import configure_logging
from gateway.preflight import DatabaseUnreachable, check_database, shown_url
from gateway.providers import ProviderNotConfigured, build_provider
from gateway.settings import Settings
from models.api_keys import service as api_keys
from models.api_keys.inputs import ApiKeyCreate
from models.entitlements import keys as signing_keys
from models.kernel.errors import DomainError
from models.metering import ingest as usage
from models.payments import tasks as provider_tasks
from models.platform import outbox
from models.platform.access import operator
from models.platform.deps import Deps
from models.platform.migrate import upgrade
from models.platform.store import Store
from models.subscriptions import timeline

log = logging.getLogger("gateway.cli")


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"GATEWAY_{str(e['loc'][0]).upper()}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise SystemExit(f"billing-gateway: bad settings: {problems}") from None


def _with_store(settings: Settings, work: Callable[[Deps], Awaitable[Any]]) -> Any:
    """Check that the database answers (one line and exit 1 when it does not), migrate
    it, then run ``work``."""

    async def run() -> Any:
        store = Store(settings.database_url)
        try:
            provider = build_provider(settings)
        except ProviderNotConfigured as exc:
            raise SystemExit(f"billing-gateway: {exc}") from None
        try:
            await check_database(store)
            await upgrade(store)
            # With the settings' provider, so what `bill` or `seed-demo` issues is queued
            # for collection; `serve`'s workers then collect it.
            return await work(Deps(store=store, provider=provider, policy=settings.billing_policy()))
        finally:
            await provider.aclose()
            await store.dispose()

    try:
        return asyncio.run(run())
    except DatabaseUnreachable as exc:
        raise SystemExit(f"billing-gateway: {exc}") from None


async def _migrated_only(_: Deps) -> None:
    """Nothing beyond the migration `_with_store` always applies."""


async def _before_serving(deps: Deps) -> None:
    """The provider's key is read at start: calls it refused for good are queued again,
    so fixing GATEWAY_STRIPE_API_KEY and restarting sends what was owed."""
    requeued = await provider_tasks.requeue_key_refused(deps)
    if requeued:
        log.info("%d provider task(s) refused for the API key queued again with this key", requeued)


def _seed_and_key(address: str) -> Callable[[Deps], Awaitable[tuple[int, str, str | None]]]:
    """Seed, then this address's demo key and a portal link for the first demo tenant."""

    async def work(deps: Deps) -> tuple[int, str, str | None]:
        created = await demo.seed_demo(deps)
        await _before_serving(deps)
        secret = await demo.rotate_demo_admin_key(deps, address)
        return len(created), secret, await demo_portal_link(deps, f"http://{address}")

    return work


def _port_free(host: str, port: int) -> bool:
    """Whether uvicorn could listen on host:port now (SO_REUSEADDR, as uvicorn binds, so
    a port left in TIME_WAIT by a stopped server counts as free)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
        with socket.create_server((host, port), family=family):
            return True
    except OSError:
        return False


def _refuse_busy_port(host: str, port: int, demo_run: bool) -> None:
    """Say so in one line before anything touches the database: a second `make demo` must
    neither migrate, seed nor revoke the running demo's key."""
    if _port_free(host, port):
        return
    free = next((p for p in range(port + 1, min(port + 100, 65536)) if _port_free(host, p)), port + 1)
    if demo_run:
        raise SystemExit(f"billing-gateway: port {port} is in use (another demo?); run make demo PORT={free}")
    raise SystemExit(
        f"billing-gateway: port {port} on {host} is in use; serve on another one (--port {free})"
    )


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    if args.log_level:  # workers read their settings from the environment
        os.environ["GATEWAY_LOG_LEVEL"] = args.log_level
    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    try:  # refuse a provider that cannot start before serving anything
        build_provider(settings)
    except ProviderNotConfigured as exc:
        raise SystemExit(f"billing-gateway: {exc}") from None
    if args.workers > 1 and settings.database_url.startswith("sqlite"):
        log.warning(
            "%d workers on SQLite: a live subscription hears only of what commits in its own worker "
            "process (PostgreSQL's LISTEN/NOTIFY carries events across workers), and an API key revoked "
            "through one worker is refused by the others only after GATEWAY_API_KEY_CACHE_SECONDS; use one "
            "worker, or PostgreSQL",
            args.workers,
        )
    _refuse_busy_port(args.host, args.port, args.demo)
    if args.demo:
        os.environ.setdefault("GATEWAY_PORTAL_ALLOW_LOOPBACK_RETURN", "true")  # links back to the demo
        created, secret, portal_url = _with_store(settings, _seed_and_key(f"{args.host}:{args.port}"))
        url = f"http://{args.host}:{args.port}/graphql"
        print(
            f"\n  Billing gateway demo: {created} demo tenants added "
            f"({shown_url(settings.database_url)})\n"
            f"  GraphiQL:      {url}\n"
            f"  Admin API key: {secret}   (shown once; the next demo on this port revokes it)\n"
            "  In GraphiQL, paste it into the API key field above the editor\n"
            f"  Console:       http://{args.host}:{args.port}/console   (sign in with the admin key)\n"
            f"  Billing portal: {portal_url}   (the first demo tenant's; opens once, within an hour)\n",
            flush=True,
        )
    else:
        _with_store(settings, _before_serving)
    uvicorn.run(
        "gateway.app:serve_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,
        access_log=False,
        lifespan="on",
        # A websocket frame larger than a request body may be is refused as it arrives
        # (close 1009), before it is buffered whole; the middleware checks messages too.
        ws_max_size=settings.max_request_bytes,
    )


def cmd_migrate(_: argparse.Namespace) -> None:
    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    _with_store(settings, _migrated_only)
    print("database is at the latest migration", file=sys.stderr)


def cmd_export_schema(_: argparse.Namespace) -> None:
    from gateway.schema import build_schema

    sys.stdout.write(build_schema().as_str() + "\n")


def cmd_create_api_key(args: argparse.Namespace) -> None:
    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    if args.admin == bool(args.tenant_id):
        raise SystemExit("billing-gateway: pass either --admin or --tenant-id ID")
    spec = (
        {"role": "ADMIN", "name": args.name}
        if args.admin
        else {"role": args.role, "tenant_id": args.tenant_id, "name": args.name}
    )
    try:
        row, secret = _with_store(
            settings, lambda deps: api_keys.create_api_key(deps, operator(), ApiKeyCreate.parse(spec))
        )
    except DomainError as exc:
        raise SystemExit(f"billing-gateway: {exc.message}") from None
    print(f"created {row.role} key {row.id}; the secret below is shown once", file=sys.stderr)
    print(secret)


def cmd_seed_demo(_: argparse.Namespace) -> None:
    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    created = _with_store(settings, demo.seed_demo)
    print(f"{len(created)} demo tenants added", file=sys.stderr)


def cmd_bill(_: argparse.Namespace) -> None:
    """Renew every subscription whose period has ended; safe to run as often as you like."""
    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    run = _with_store(settings, timeline.renew_due)
    _with_store(settings, usage.purge_expired_keys)  # housekeeping for deployments without the worker
    _with_store(settings, outbox.purge_finished)
    print(
        f"renewed {run.renewed} subscription(s); issued {len(run.invoices)} invoice(s)"
        + (f": {', '.join(run.invoices)}" if run.invoices else ""),
        file=sys.stderr,
    )
    if run.failed:
        raise SystemExit(
            f"billing-gateway: {len(run.failed)} renewal(s) failed and will be retried: "
            f"{', '.join(run.failed)} (see the log)"
        )


def cmd_rotate_signing_key(_: argparse.Namespace) -> None:
    """A new key signs entitlement tokens from now on; the old one stays published until
    the last token it signed has expired."""
    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    try:
        rotation = _with_store(settings, signing_keys.rotate)
    except signing_keys.KeyUnreadable as exc:
        raise SystemExit(f"billing-gateway: {exc}") from None
    print(f"signing key {rotation.kid} signs entitlement tokens from now on", file=sys.stderr)
    for kid, until in rotation.retired:
        print(f"retired key {kid} stays published until {until.isoformat()}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="billing-gateway",
        description="GraphQL billing gateway. Settings come from GATEWAY_* environment variables.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="migrate the database, then serve /graphql and /healthz")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    serve.add_argument("--demo", action="store_true", help="seed demo data and print an admin key")
    serve.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    sub.add_parser("export-schema", help="print the GraphQL SDL").set_defaults(func=cmd_export_schema)
    sub.add_parser("seed-demo", help="add the demo tenants").set_defaults(func=cmd_seed_demo)
    sub.add_parser(
        "bill", help="renew every subscription whose period has ended (serve also does this every minute)"
    ).set_defaults(func=cmd_bill)

    sub.add_parser(
        "rotate-signing-key",
        help="sign entitlement tokens with a new key; the old one stays published until its tokens expire",
    ).set_defaults(func=cmd_rotate_signing_key)

    key = sub.add_parser("create-api-key", help="create an API key and print its secret once")
    key.add_argument("--admin", action="store_true", help="an ADMIN key (bootstrap)")
    key.add_argument("--tenant-id", help="a key scoped to this tenant")
    key.add_argument("--role", choices=["TENANT", "PARTNER"], default="TENANT")
    key.add_argument("--name", default="cli key")
    key.set_defaults(func=cmd_create_api_key)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)
