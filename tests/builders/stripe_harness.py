"""The real peers of the Stripe tests: localstripe in its own process, a recording
proxy in front of it, and the gateway served over real HTTP so localstripe's signed
webhooks reach ``POST /webhooks/stripe``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import uvicorn

# localstripe_server.py (tests/providers), plus payment terms: see stripe_server.py.
SERVER_SCRIPT = Path(__file__).parent / "stripe_server.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalStripe:
    """localstripe as a separate process on 127.0.0.1, its store in ``store``; it can
    be killed and started again on the same port with the same store. Webhook
    endpoints live in its memory only, so ``start`` registers them again."""

    def __init__(self, store: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.store = store
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.webhooks: dict[str, dict[str, Any]] = {}

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _spawn(self) -> None:
        assert self.process is None, "already running"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(SERVER_SCRIPT), "--port", str(self.port), "--store", str(self.store)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )

    def _listening(self) -> bool:
        assert self.running, f"localstripe exited: {self.log.read_text()[-3000:]}"
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        return True

    def start_now(self) -> None:
        """Start it, blocking until it listens (for a fixture outside any event loop)."""
        self._spawn()
        deadline = time.monotonic() + 20
        while not self._listening():
            assert time.monotonic() < deadline, "localstripe did not start"
            time.sleep(0.02)

    async def start(self) -> None:
        """Start it again (same port, same store) and register its webhooks again."""
        self._spawn()
        deadline = time.monotonic() + 20
        while not self._listening():
            assert time.monotonic() < deadline, "localstripe did not start"
            await asyncio.sleep(0.02)
        for name, spec in self.webhooks.items():
            await self._register(name, spec)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Stop it at once (SIGKILL: no goodbye), keeping its store on disk."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(sig)
        self.process.wait(timeout=10)
        self.process = None

    async def add_webhook(self, name: str, url: str, secret: str, events: list[str] | None) -> None:
        self.webhooks[name] = {"url": url, "secret": secret, "events": events}
        await self._register(name, self.webhooks[name])

    async def _register(self, name: str, spec: dict[str, Any]) -> None:
        async with httpx.AsyncClient() as http:
            response = await http.post(f"{self.url}/_config/webhooks/{name}", json=spec)
        assert response.status_code == 200, response.text


@dataclass
class Recorded:
    method: str
    path: str
    idempotency_key: str | None
    form: dict[str, str]
    answered: bool = True


@dataclass
class _Loss:
    method: str
    path: str
    what: str  # "answer": Stripe did it, the answer never came back; "request": it never got there
    then: Callable[[], Any]


@dataclass
class RecordingProxy:
    """An HTTP/1.1 proxy between the adapter and localstripe that records each request
    (method, path, Idempotency-Key, form body).

    It stands in for what localstripe lacks: ``POST /v1/checkout/sessions`` is answered
    here with a Stripe-shaped setup-mode Checkout Session (``cs_test_...``, its ``url``
    on checkout.stripe.com), and ``GET`` of one returns it, with whatever
    ``complete_session`` recorded as the card the customer entered.

    ``lose_next`` makes one request fail as an outage would: the answer is dropped
    after localstripe did the work, or the request is dropped before it got there; then
    the connection closes without an answer and ``then`` runs (stop the server). Its
    path may hold ``*`` for an id not known yet (``/v1/invoices/*/pay``).
    """

    upstream: str
    requests: list[Recorded] = field(default_factory=list)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    _losses: list[_Loss] = field(default_factory=list)

    async def start(self) -> None:
        self._http = httpx.AsyncClient(base_url=self.upstream, timeout=30)
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)
        await self._http.aclose()

    def lose_next(self, method: str, path: str, what: str, then: Callable[[], Any]) -> None:
        self._losses.append(_Loss(method, path, what, then))

    def posts(self, path: str | None = None) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and (path is None or r.path == path)]

    def complete_session(self, session_id: str, setup_intent_id: str) -> None:
        """What Checkout does when the customer submits a card: the session is complete
        and its SetupIntent holds the card."""
        self.sessions[session_id].update(status="complete", setup_intent=setup_intent_id)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                method, target, _ = request_line.split(" ", 2)
                headers = {}
                for line in header_lines:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                answer = await self._handle(method, target, headers, body)
                if answer is None:
                    return  # dropped: close without a word
                status, payload = answer
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(payload)}\r\nRequest-Id: req_proxy\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes] | None:
        path = urlsplit(target).path
        record = Recorded(method, path, headers.get("idempotency-key"), dict(parse_qsl(body.decode(), True)))
        self.requests.append(record)
        if path == "/v1/checkout/sessions" and method == "POST":
            return 200, json.dumps(self._new_session(record.form)).encode()
        if path.startswith("/v1/checkout/sessions/") and method == "GET":
            session = self.sessions.get(path.rsplit("/", 1)[1])
            if session is None:
                return (
                    404,
                    b'{"error": {"type": "invalid_request_error", "message": "No such checkout session"}}',
                )
            return 200, json.dumps(session).encode()
        loss = next((x for x in self._losses if x.method == method and fnmatchcase(path, x.path)), None)
        if loss is not None:
            self._losses.remove(loss)
        if loss is not None and loss.what == "request":
            record.answered = False
            await _maybe_await(loss.then())
            return None
        try:
            response = await self._http.request(
                method,
                target,
                content=body,
                headers={
                    k: v for k, v in headers.items() if k not in ("host", "content-length", "connection")
                },
            )
        except httpx.TransportError:
            record.answered = False
            return None  # localstripe is down: the client sees the connection drop
        if loss is not None:
            record.answered = False
            await _maybe_await(loss.then())
            return None
        return response.status_code, response.content

    def _new_session(self, form: dict[str, str]) -> dict[str, Any]:
        session_id = f"cs_test_{secrets.token_hex(12)}"
        self.sessions[session_id] = {
            "id": session_id,
            "object": "checkout.session",
            "mode": "setup",
            "status": "open",
            "customer": form.get("customer"),
            "currency": form.get("currency"),
            "success_url": form.get("success_url"),
            "cancel_url": form.get("cancel_url"),
            "setup_intent": None,
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
            "metadata": {k[len("metadata[") : -1]: v for k, v in form.items() if k.startswith("metadata[")},
        }
        return self.sessions[session_id]


async def _maybe_await(value: Any) -> None:
    if asyncio.iscoroutine(value):
        await value


class LiveGateway:
    """The gateway app under uvicorn on a free loopback port, in this event loop.
    No lifespan: its worker loops stay off, so a test runs provider tasks itself."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            lifespan="off",
            log_config=None,
            access_log=False,
            log_level="warning",
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            assert not self.task.done(), self.task.exception()
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task
