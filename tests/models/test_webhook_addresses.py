"""Which addresses the gateway may call for a tenant (``models.webhooks.rules``): only
globally routable unicast, with the IPv4 address an IPv6 form embeds judged as the
address the packets really reach; the circuit's pauses; and how a failed call is told
(``gateway.webhooks.calls``), without a word of the network behind it."""

from __future__ import annotations

import errno
import ssl
from datetime import timedelta

import httpx
import pytest

from gateway.webhooks import calls
from models.kernel.errors import ValidationFailed
from models.webhooks import rules

REFUSED = [
    # IPv4: loopback, private, shared (CGNAT), link-local (cloud metadata), this
    # network, TEST-NET, benchmarking, multicast, reserved, broadcast
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.5",
    "192.168.1.10",
    "100.64.0.1",
    "169.254.169.254",
    "0.0.0.0",
    "192.0.2.1",
    "198.18.0.1",
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    # IPv6: loopback, unspecified, unique-local, link-local (with a scope too),
    # site-local, multicast, documentation
    "::1",
    "::",
    "fd00::1",
    "fe80::1",
    "fe80::1%eth0",
    "fec0::1",
    "ff02::1",
    "2001:db8::1",
    # IPv6 forms that embed a non-public IPv4 address
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:10.0.0.1",
    "::7f00:1",  # IPv4-compatible (deprecated): 127.0.0.1
    "::808:808",  # IPv4-compatible, even of a public address: never public
    "64:ff9b::7f00:1",  # NAT64: 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64: 169.254.169.254
    "64:ff9b:1::808:808",  # local-use NAT64: the network's own translator
    "2002:7f00:1::1",  # 6to4: 127.0.0.1
    "2002:c0a8:10a::1",  # 6to4: 192.168.1.10
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
    "2001:0:a00:1::1",  # Teredo, server 10.0.0.1
    # not an address at all
    "localhost",
    "",
]

ALLOWED = [
    "8.8.8.8",
    "93.184.215.14",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",  # IPv4-mapped public
    "64:ff9b::808:808",  # NAT64 (DNS64 on an IPv6-only network): 8.8.8.8
    "2002:808:808::1",  # 6to4 of 8.8.8.8
    "2001:0:808:808:8000:63bf:f7f7:f7f7",  # Teredo: server 8.8.8.8, client 8.8.8.8
]


@pytest.mark.parametrize("address", REFUSED)
def test_a_non_public_address_is_refused_in_every_ipv6_form_that_embeds_it(address: str) -> None:
    assert rules.public_address(address) is False
    assert rules.all_public([address]) is False


@pytest.mark.parametrize("address", ALLOWED)
def test_a_public_address_is_allowed_in_every_form(address: str) -> None:
    assert rules.public_address(address) is True


def test_a_host_is_public_only_when_it_resolves_and_every_address_is_public() -> None:
    assert rules.all_public(["8.8.8.8", "2606:4700:4700::1111"]) is True
    assert rules.all_public(["8.8.8.8", "127.0.0.1"]) is False  # one private answer is enough
    assert rules.all_public([]) is False  # does not resolve


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("[::7f00:1]", "::7f00:1"),
        ("::FFFF:127.0.0.1", "::ffff:7f00:1"),
        ("hooks.example.com", None),
        ("127.0.0.1 x", None),
    ],
)
def test_address_literals_are_read_in_every_spelling_a_resolver_accepts(
    host: str, address: str | None
) -> None:
    assert rules.address_literal(host) == address


@pytest.mark.parametrize(
    "url",
    [
        "https://[::7f00:1]/",
        "https://[64:ff9b::7f00:1]/",
        "https://[64:ff9b:1::1]/",
        "https://[2002:7f00:1::1]/",
        "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
        "https://[::ffff:a9fe:a9fe]/latest/meta-data",
    ],
)
def test_a_tenants_url_may_not_spell_a_private_address_in_an_embedding_ipv6_form(url: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        rules.check_url(url, strict=True)
    assert refused.value.field == "input.url"
    assert "does not resolve to a public address" in refused.value.reason


def test_the_circuit_pauses_after_five_timeouts_in_a_row_doubling_up_to_an_hour() -> None:
    assert [rules.circuit_pause(n) for n in range(5)] == [None] * 5
    assert {rules.circuit_pause(n) for n in range(5, 10)} == {timedelta(minutes=1)}
    assert [rules.circuit_pause(n) for n in (10, 15, 20)] == [
        timedelta(minutes=2),
        timedelta(minutes=4),
        timedelta(minutes=8),
    ]
    assert rules.circuit_pause(40) == rules.circuit_pause(10_000) == timedelta(hours=1)


def _connect_error(code: int) -> httpx.ConnectError:
    """httpx's error as a failed connect raises it: the OS error is its cause's context."""
    try:
        try:
            raise OSError(code, f"[Errno {code}] {errno.errorcode[code]}")
        except OSError as os_error:
            raise httpx.ConnectError(str(os_error)) from os_error
    except httpx.ConnectError as exc:
        return exc


def test_a_failed_connection_is_told_as_tls_only_when_the_handshake_failed() -> None:
    for code in (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ECONNRESET):
        assert calls._tls_failed(_connect_error(code)) is False
    try:
        try:
            raise ssl.SSLCertVerificationError(1, "certificate verify failed")
        except ssl.SSLError as tls:
            raise httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED]") from tls
    except httpx.ConnectError as exc:
        assert calls._tls_failed(exc) is True
