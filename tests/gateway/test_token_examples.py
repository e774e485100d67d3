"""The README's two examples of checking an entitlement token offline, run as they are
printed there against the gateway served on loopback: the Python one with PyJWT, the
JavaScript one with nothing but Node's own `crypto` and `fetch`."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway.settings import Settings
from models.kernel.clock import SystemClock
from models.platform.deps import Deps
from tests.builders.api import new_tenant
from tests.builders.billing import create_plan, subscribe
from tests.builders.entitlements import consume, feature, grant
from tests.builders.live_subscriptions import http_api, serve

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PYTHON_EXAMPLE = ROOT / "docs" / "examples" / "verify_token.py"
NODE_EXAMPLE = ROOT / "docs" / "examples" / "verify-token.mjs"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

ISSUE = """mutation($t: ID!) { issueEntitlementToken(tenantId: $t) { ... on EntitlementToken { token } } }"""


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=db_url, secret_key_file=str(tmp_path / "secret.key"))


def test_the_readme_prints_both_examples_exactly() -> None:
    readme = README.read_text()
    for example in (PYTHON_EXAMPLE, NODE_EXAMPLE):
        assert example.read_text() in readme, f"paste {example.relative_to(ROOT)} into the README as it is"


def node() -> str:
    """Node.js 18+ (fetch), which every machine of this project has; skipped only off CI."""
    found = shutil.which("node")
    if found is None:
        if IN_CI:
            pytest.fail("node is not on PATH: the README's JavaScript example cannot be checked")
        pytest.skip("node is not on PATH")
    return found


async def run(*command: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.parametrize("language", ["python", "javascript"])
async def test_the_readme_examples_check_a_served_gateways_token(
    language: str, settings: Settings, deps: Deps, admin_key: str
) -> None:
    command = [sys.executable, str(PYTHON_EXAMPLE)] if language == "python" else [node(), str(NODE_EXAMPLE)]
    # Real time: the examples check `exp` against the machine's clock, as apps do.
    live = dataclasses.replace(deps, clock=SystemClock())
    async with serve(settings, live) as address, http_api(address, admin_key) as api:
        plan = await create_plan(api, "team", 20_00)
        await feature(api, "projects", "LIMIT")
        await grant(api, "projects", plan=plan, limit=3)
        tenant = await new_tenant(api, "Acme")
        await subscribe(api, tenant, plan)
        assert (await consume(api, tenant, "projects", "p1"))["__typename"] == "EntitlementConsumed"
        token = (await api(ISSUE, {"t": tenant}))["issueEntitlementToken"]["token"]

        code, out, err = await run(*command, f"http://{address}", token, "projects")
        assert code == 0, err
        answer: dict[str, Any] = json.loads(out)
        assert answer == {"tenant": tenant, "projects": {"enabled": True, "limit": 3, "remaining": 2}}

        # The same token claiming more than was granted is refused.
        head, body, signature = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        claims["features"]["projects"]["remaining"] = 1000
        forged_body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        forged = f"{head}.{forged_body}.{signature}"
        code, out, err = await run(*command, f"http://{address}", forged, "projects")
        assert code != 0 and out == "", out
