"""One call to a partner's endpoint, made so it cannot be turned against the gateway's
own network (SSRF):

- the host is resolved for every call (``models.webhooks.addresses``), and every
  address it resolves to must be public, unless an ADMIN registered the endpoint as
  private (``allow_private``);
- the connection goes to the address just checked: the request is sent to that IP,
  with the Host header and the TLS server name (SNI, and so the certificate's
  verification) of the host name, which is never resolved a second time;
- every call has a connection of its own (``connection: close``): a pooled one was
  opened, and its certificate verified, for whichever name first used that address;
- redirects are not followed (a 3xx is the answer), and the whole exchange has one
  deadline, so an endpoint that trickles its answer frees its slot all the same;
- a failure is told in one of four generic texts (``models.webhooks.rules``), never
  the operating system's error, which would tell open ports from closed ones.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass

import httpx

from models.platform.deps import Deps
from models.webhooks import addresses
from models.webhooks import rules as webhook_rules

TIMEOUT_SECONDS = 10.0
USER_AGENT = "billing-gateway-webhooks/1"


@dataclass(frozen=True, slots=True)
class Answer:
    """What came of a call: the endpoint's status and the start of its body, or why
    there was none (``timed_out``: the circuit counts it)."""

    status_code: int | None = None
    body: str | None = None
    error: str | None = None
    timed_out: bool = False


def new_client(max_connections: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=TIMEOUT_SECONDS,
        follow_redirects=False,
        headers={"user-agent": USER_AGENT},
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=0),
    )


async def post(
    deps: Deps,
    http: httpx.AsyncClient,
    url: str,
    *,
    allow_private: bool,
    content: bytes,
    headers: dict[str, str],
) -> Answer:
    """POST ``content`` to ``url`` at an address its host may be called at. When the
    connection to one address fails the next is tried (a host's IPv6 address may be
    unreachable from here); any other outcome is the answer."""
    try:
        target = httpx.URL(url)
        host = target.raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeError):  # checked at registration; never sent if not
        return Answer(error=webhook_rules.CONNECTION_FAILED)
    found = await addresses.callable_addresses(deps, host, allow_private=allow_private)
    if not found:
        return Answer(error=webhook_rules.REFUSED_ADDRESS)
    for address in found:
        try:
            return await _post_to(http, target, address, content, headers)
        except httpx.ConnectError:
            continue
    return Answer(error=webhook_rules.CONNECTION_FAILED)


async def _post_to(
    http: httpx.AsyncClient, target: httpx.URL, address: str, content: bytes, headers: dict[str, str]
) -> Answer:
    """One address. Raises httpx.ConnectError when no connection was made (TLS aside)."""
    seconds = http.timeout.read or TIMEOUT_SECONDS
    try:
        request = http.build_request(
            "POST",
            target.copy_with(host=address),
            content=content,
            headers={**headers, "host": target.netloc.decode("ascii"), "connection": "close"},
            extensions={"sni_hostname": target.raw_host.decode("ascii")},
        )
        async with asyncio.timeout(seconds):
            response = await http.send(request, stream=True, follow_redirects=False)
            try:
                return Answer(status_code=response.status_code, body=await _start_of(response))
            finally:
                await response.aclose()
    except (httpx.TimeoutException, TimeoutError):
        return Answer(error=webhook_rules.timed_out(seconds), timed_out=True)
    except httpx.ConnectError as exc:
        if _tls_failed(exc):
            return Answer(error=webhook_rules.TLS_FAILED)
        raise
    except (httpx.HTTPError, httpx.InvalidURL, OSError):  # reset, closed mid-answer, not HTTP
        return Answer(error=webhook_rules.CONNECTION_FAILED)


def _tls_failed(exc: BaseException) -> bool:
    """Whether the connection failed in its TLS handshake (a certificate not valid for
    the host name, no common protocol, not TLS at all)."""
    seen: BaseException | None = exc
    for _ in range(10):  # the chain is short: httpx's error, httpcore's, ssl's
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLError | ssl.CertificateError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def _start_of(response: httpx.Response, limit: int = webhook_rules.MAX_TEXT) -> str | None:
    """The first ``limit`` bytes of the answer, for the delivery log; the rest is not
    read. None when the body could not be read (the status stands)."""
    data = b""
    try:
        async for chunk in response.aiter_bytes():
            data += chunk
            if len(data) >= limit:
                break
    except httpx.HTTPError:
        return None
    return data[:limit].decode("utf-8", errors="replace")
