"""Browser tests: Debian's Chromium (or GATEWAY_TEST_CHROMIUM) driven by Playwright
against `billing-gateway serve --demo` in its own process, on SQLite and PostgreSQL.

Playwright never downloads a browser here: it launches the system's. Without one the
tests are skipped locally; under CI=true a missing browser fails them (`.ci/run`
installs Debian's `chromium` when it is missing).

Screenshots go to test-artifacts/screenshots/ (ignored by git), the run's artifacts.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Route, async_playwright

from tests.builders.served import Server

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def chromium_path() -> str | None:
    explicit = os.environ.get("GATEWAY_TEST_CHROMIUM")
    if explicit:
        return explicit
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    """A headless Chromium for this test (Playwright's async API: the tests run in
    pytest-asyncio's loop, beside fixtures that run their own)."""
    path = chromium_path()
    if path is None:
        reason = "no Chromium found (install Debian's chromium, or set GATEWAY_TEST_CHROMIUM)"
        if IN_CI:
            pytest.fail(f"{reason}: under CI=true browser tests must run", pytrace=False)
        pytest.skip(reason)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=path, args=["--no-sandbox"])
        yield browser
        await browser.close()


class Offline:
    """What a page tried to fetch from anywhere but 127.0.0.1: every such request is
    aborted, as on a machine with no internet, and recorded so a test can assert none."""

    def __init__(self) -> None:
        self.blocked: list[str] = []

    async def route(self, route: Route) -> None:
        url = route.request.url
        host = urlsplit(url).hostname
        if url.startswith(("data:", "blob:", "about:")) or host in ("127.0.0.1", "localhost"):
            await route.continue_()
        else:
            self.blocked.append(url)
            await route.abort("internetdisconnected")


@pytest.fixture
async def browser_context(chromium: Browser) -> AsyncIterator[tuple[BrowserContext, Offline]]:
    """A fresh browser context (its own storage) whose network stops at loopback."""
    context = await chromium.new_context(viewport={"width": 1280, "height": 900})
    offline = Offline()
    await context.route("**/*", offline.route)
    yield context, offline
    await context.close()


@pytest.fixture
async def page(browser_context: tuple[BrowserContext, Offline]) -> Page:
    return await browser_context[0].new_page()


@pytest.fixture
def offline(browser_context: tuple[BrowserContext, Offline]) -> Offline:
    return browser_context[1]


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[[Page, str], Awaitable[Path]]:
    """await screenshot(page, "console-tenant") saves
    test-artifacts/screenshots/console-tenant-<backend>.png."""

    async def take(page: Page, name: str) -> Path:
        callspec = getattr(request.node, "callspec", None)
        suffix = f"-{callspec.params['backend']}" if callspec and "backend" in callspec.params else ""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}{suffix}.png"
        await page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def serve(db_url: str, tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """serve(**env) starts `billing-gateway serve --demo` on this test's database with
    extra environment (GATEWAY_CORS_ORIGINS=..., say); stopped at the test's end."""
    servers: list[Server] = []

    def start(**env: str) -> Server:
        server = Server(db_url, tmp_path, env=env)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
