"""The keys that sign entitlement tokens, and the key that seals them.

A signing key is an Ed25519 key pair. Its public half is published as a JWK at
``/.well-known/jwks.json``; its private half is stored in ``signing_keys`` sealed with
AES-256-GCM under the operator's key-encryption key, bound to its key id, so a copy of
the database alone signs nothing. The key-encryption key is GATEWAY_SECRET_KEY; without
it, a file holds one (GATEWAY_SECRET_KEY_FILE, by default beside the SQLite database or
in the working directory), made on first need with mode 0600.

The newest unretired key signs, and is made on first need. Rotating retires it: it stays
published until ``unpublish_at`` (its retirement plus the token lifetime), when the last
token it signed has expired. A partial unique index admits one active key, so processes
that make the first key at once, or rotate at once, end up agreeing on one.

Keys belong to no tenant: their times are the process clock's.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from sqlalchemy import or_, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models.platform.deps import Deps
from models.tables import SigningKeyRow

log = logging.getLogger("models.entitlements.keys")

ALGORITHM = "EdDSA"
CURVE = "Ed25519"
SEAL = "A256GCM"  # how private keys are sealed: "A256GCM." + base64url(nonce + ciphertext and tag)
KEY_FILE = "gateway-secret.key"
SECRET_BYTES = 32
ROTATION_ATTEMPTS = 10  # each failed attempt means another rotation got in: N at once need N
HOW_TO_MAKE = "generate one with `openssl rand -base64 32`"


class KeyUnreadable(RuntimeError):
    """The key-encryption key is missing or unusable, or does not open a stored key: the
    operator's to fix, so it surfaces as an unexpected error and its message is logged."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    private: Ed25519PrivateKey


@dataclass(frozen=True, slots=True)
class Rotation:
    kid: str  # the key that signs from now on
    retired: list[tuple[str, datetime]]  # (kid, unpublish_at) of the keys it replaced


def decode_secret(text: str) -> bytes:
    """A key-encryption key from its base64 text (standard or URL-safe, padded or not)."""
    normal = text.strip().replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(normal + "=" * (-len(normal) % 4), validate=True)
    except ValueError:
        raise ValueError(f"must be base64; {HOW_TO_MAKE}") from None
    if len(raw) != SECRET_BYTES:
        raise ValueError(f"must be {SECRET_BYTES} bytes once base64-decoded, not {len(raw)}; {HOW_TO_MAKE}")
    return raw


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# -- the key-encryption key --------------------------------------------------------

_read_files: dict[str, bytes] = {}  # a key file's absolute path -> its key, read once per process


def key_file(deps: Deps) -> Path:
    """Where the key-encryption key is kept when GATEWAY_SECRET_KEY is not set."""
    configured = deps.policy.tokens.secret_key_file
    if configured:
        return Path(configured).absolute()
    url = make_url(deps.store.url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).absolute().parent / KEY_FILE
    return Path(KEY_FILE).absolute()


def encryption_key(deps: Deps) -> bytes:
    """The key that seals signing keys: GATEWAY_SECRET_KEY, else the key file's."""
    if deps.policy.tokens.secret_key is not None:
        return deps.policy.tokens.secret_key
    path = key_file(deps)
    key = _read_files.get(str(path))
    if key is None:
        key = _read_or_make(path)
        _read_files[str(path)] = key
    return key


def _read_or_make(path: Path) -> bytes:
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    secret = AESGCM.generate_key(bit_length=8 * SECRET_BYTES)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(base64.b64encode(secret).decode() + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(draft, path)  # appears whole, or not at all when another process made it first
        except FileExistsError:
            return _read(path)
    except OSError as exc:
        raise KeyUnreadable(
            f"cannot create the key-encryption key file {path} ({exc.strerror or exc}): set "
            f"GATEWAY_SECRET_KEY ({HOW_TO_MAKE}) or GATEWAY_SECRET_KEY_FILE to a writable path"
        ) from None
    finally:
        draft.unlink(missing_ok=True)
    log.warning(
        "made a key-encryption key for entitlement signing keys in %s (mode 0600); in production set "
        "GATEWAY_SECRET_KEY instead, the same for every process",
        path,
    )
    return secret


def _read(path: Path) -> bytes:
    try:
        key = decode_secret(path.read_text())
    except ValueError as exc:
        raise KeyUnreadable(f"the key-encryption key file {path} {exc}") from None
    except PermissionError:
        raise KeyUnreadable(f"cannot read the key-encryption key file {path}: permission denied") from None
    if path.stat().st_mode & 0o077:
        log.warning("the key-encryption key file %s can be read by other users: chmod 600 it", path)
    log.info("entitlement signing keys are sealed with the key-encryption key in %s", path)
    return key


def _source(deps: Deps) -> str:
    if deps.policy.tokens.secret_key is not None:
        return "GATEWAY_SECRET_KEY"
    return f"the key file {key_file(deps)}"


# -- sealing -------------------------------------------------------------------------


def _seal(kek: bytes, kid: str, private: Ed25519PrivateKey) -> str:
    raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    nonce = os.urandom(12)
    return f"{SEAL}.{_b64url(nonce + AESGCM(kek).encrypt(nonce, raw, kid.encode()))}"


def _unseal(deps: Deps, row: SigningKeyRow) -> Ed25519PrivateKey:
    scheme, _, body = row.private_key.partition(".")
    try:
        sealed = _unb64url(body) if scheme == SEAL else b""
        raw = AESGCM(encryption_key(deps)).decrypt(sealed[:12], sealed[12:], row.kid.encode())
    except (InvalidTag, ValueError):
        raise KeyUnreadable(
            f"signing key {row.kid} does not open with {_source(deps)}: was the key-encryption key "
            "changed? Set it back, or run `billing-gateway rotate-signing-key` to sign with a new key"
        ) from None
    return Ed25519PrivateKey.from_private_bytes(raw)


def _new_key(deps: Deps, now: datetime) -> SigningKeyRow:
    private = Ed25519PrivateKey.generate()
    x = _b64url(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    # The RFC 7638 thumbprint: the SHA-256 of the key's required members, in order.
    required = json.dumps({"crv": CURVE, "kty": "OKP", "x": x}, separators=(",", ":"))
    kid = _b64url(hashlib.sha256(required.encode()).digest())
    jwk = {"kty": "OKP", "crv": CURVE, "x": x, "kid": kid, "alg": ALGORITHM, "use": "sig"}
    return SigningKeyRow(
        kid=kid,
        algorithm=ALGORITHM,
        public_jwk=jwk,
        private_key=_seal(encryption_key(deps), kid, private),
        created_at=now,
    )


# -- the keys ------------------------------------------------------------------------


async def _active(session: AsyncSession) -> SigningKeyRow | None:
    return await session.scalar(select(SigningKeyRow).where(SigningKeyRow.retired_at.is_(None)))


async def active_key(deps: Deps) -> SigningKey:
    """The key that signs now, made on first need."""
    async with deps.store.read() as session:
        row = await _active(session)
    if row is None:
        row = _new_key(deps, deps.clock.now())
        try:
            async with deps.store.transaction() as session:
                session.add(row)
        except IntegrityError:  # another process made the first key a moment ago: sign with it
            async with deps.store.read() as session:
                row = await _active(session)
            assert row is not None, "the active signing key was retired as it was made"
        else:
            log.info("made signing key %s for entitlement tokens", row.kid)
    return SigningKey(row.kid, _unseal(deps, row))


async def rotate(deps: Deps) -> Rotation:
    """A new key signs from now on; the one it replaces stays published until the last
    token it signed has expired."""
    for attempt in range(ROTATION_ATTEMPTS):
        now = deps.clock.now()
        row = _new_key(deps, now)
        try:
            async with deps.store.transaction() as session:
                active = select(SigningKeyRow).where(SigningKeyRow.retired_at.is_(None))
                retired = list((await session.scalars(active)).all())
                for old in retired:
                    old.retired_at = now
                    old.unpublish_at = now + deps.policy.tokens.lifetime
                # The partial unique index admits the new key only once these are retired.
                await session.flush()
                session.add(row)
        except IntegrityError:  # a concurrent rotation got in first: retire its key too
            if attempt + 1 == ROTATION_ATTEMPTS:
                raise
            continue
        log.info("signing key %s signs entitlement tokens from now on", row.kid)
        return Rotation(row.kid, [(old.kid, old.unpublish_at or now) for old in retired])
    raise AssertionError("unreachable")  # pragma: no cover


async def published_keys(deps: Deps) -> list[dict[str, str]]:
    """The public keys that verify tokens (as JWKs), newest first: every key not yet
    unpublished."""
    now = deps.clock.now()
    async with deps.store.read() as session:
        rows = (
            await session.scalars(
                select(SigningKeyRow)
                .where(or_(SigningKeyRow.unpublish_at.is_(None), SigningKeyRow.unpublish_at > now))
                .order_by(SigningKeyRow.created_at.desc(), SigningKeyRow.kid)
            )
        ).all()
    return [dict(row.public_jwk) for row in rows]
