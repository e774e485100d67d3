"""Stored API keys looked up once per few seconds, not once per request.

A ``KeyCache`` remembers, per process, the principal a stored key stood for, keyed by the
SHA-256 of its secret (the plaintext is never kept), for at most ``seconds`` of
monotonic time and at most ``size`` keys (least recently used dropped first). Unknown
and revoked keys are not remembered: they are looked up every time, as before.

Revocation stays immediate:

- the revoking transaction calls ``announce_revoked``; once it commits, every cache in
  this process drops the keys (``forget``), and on PostgreSQL the transaction also
  NOTIFYs ``CHANNEL`` with the keys' ids, which every worker's LISTEN connection
  (``gateway.live.Hub``) hands to ``forget_notified``;
- on PostgreSQL a remembered key is only used after ``Freshness.synced``: a round trip
  on that LISTEN connection which began after the request arrived. PostgreSQL sends a
  listening session the notifications committed before a statement ahead of that
  statement's answer, so by then every revocation that committed before the request is
  forgotten. While the LISTEN connection is down (or was replaced since a key was
  remembered: notifications in between are lost) nothing remembered is used;
- a lookup that raced a revocation (read before it committed, finished after) is not
  remembered (``epoch``).

On SQLite, several ``serve`` workers do not hear each other's revocations (``serve``
warns about several workers there): a key revoked through one worker is refused by the
others within ``seconds``. Keys never expire, and no use case changes a key's role or
tenant; one that did would call ``announce_revoked`` as revocation does."""

from __future__ import annotations

import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from models.platform.access import Principal
from models.platform.store import after_commit

CHANNEL = "gateway_api_keys"
SIZE = 10_000  # keys remembered per process (a few hundred bytes each)
_CACHES: weakref.WeakSet[KeyCache] = weakref.WeakSet()


class Freshness(Protocol):
    """What says whether a remembered key may be trusted now (``gateway.live.Hub``)."""

    @property
    def generation(self) -> int | None:
        """The generation of the channel revocations arrive by, which changes whenever
        some may have been lost; None while they cannot arrive (remember nothing)."""
        ...

    async def synced(self) -> int | None:
        """``generation``, once every revocation committed before the call has been forgotten."""
        ...


@dataclass(frozen=True, slots=True)
class _Entry:
    principal: Principal
    until: float
    generation: int


class KeyCache:
    def __init__(
        self,
        seconds: float,
        size: int = SIZE,
        freshness: Freshness | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self.size = size
        self.freshness = freshness
        self.monotonic = monotonic
        # Bumped on every forget: a lookup begun before one is not remembered.
        self.epoch = 0
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._by_id: dict[str, str] = {}
        _CACHES.add(self)

    @property
    def enabled(self) -> bool:
        return self.seconds > 0

    def __len__(self) -> int:
        return len(self._entries)

    async def lookup(
        self, key_hash: str, load: Callable[[str], Awaitable[Principal | None]]
    ) -> Principal | None:
        """The key's principal: remembered, or loaded (and remembered when it is a live key)."""
        if not self.enabled:
            return await load(key_hash)
        if key_hash in self._entries:
            generation = 0 if self.freshness is None else await self.freshness.synced()
            if generation is not None:
                found = self.get(key_hash, generation)
                if found is not None:
                    return found
        generation = 0 if self.freshness is None else self.freshness.generation
        epoch = self.epoch
        principal = await load(key_hash)
        if principal is not None and generation is not None:
            self.put(key_hash, principal, generation, epoch)
        return principal

    def get(self, key_hash: str, generation: int) -> Principal | None:
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        if entry.generation != generation or entry.until <= self.monotonic():
            self._drop(key_hash)
            return None
        self._entries.move_to_end(key_hash)
        return entry.principal

    def put(self, key_hash: str, principal: Principal, generation: int, epoch: int) -> None:
        """Remember a lookup that began at ``epoch`` under ``generation``, unless a key
        was forgotten since (it may have been this one)."""
        if not self.enabled or epoch != self.epoch or principal.api_key_id is None:
            return
        self._drop(key_hash)
        self._entries[key_hash] = _Entry(principal, self.monotonic() + self.seconds, generation)
        self._by_id[principal.api_key_id] = key_hash
        while len(self._entries) > self.size:
            self._drop(next(iter(self._entries)))

    def forget(self, key_ids: Iterable[str]) -> None:
        self.epoch += 1
        for key_id in key_ids:
            key_hash = self._by_id.get(key_id)
            if key_hash is not None:
                self._drop(key_hash)

    def clear(self) -> None:
        self.epoch += 1
        self._entries.clear()
        self._by_id.clear()

    def _drop(self, key_hash: str) -> None:
        entry = self._entries.pop(key_hash, None)
        if entry is not None and entry.principal.api_key_id is not None:
            self._by_id.pop(entry.principal.api_key_id, None)


def forget(key_ids: Iterable[str]) -> None:
    """Drop these keys from every cache of this process."""
    ids = tuple(key_ids)
    for cache in list(_CACHES):
        cache.forget(ids)


def forget_notified(payload: str) -> None:
    """A NOTIFY on ``CHANNEL``: the ids of keys revoked, comma-separated (an empty
    payload: forget every key)."""
    if not payload:
        for cache in list(_CACHES):
            cache.clear()
        return
    forget(payload.split(","))


async def announce_revoked(session: AsyncSession, key_ids: Iterable[str]) -> None:
    """In the revoking transaction: every worker forgets the keys once it commits."""
    ids = tuple(key_ids)
    if not ids:
        return
    after_commit(session, lambda: forget(ids))
    if session.bind.dialect.name == "postgresql":
        # Key ids are short (40 characters at most): a NOTIFY's 8,000 bytes carry over a
        # hundred; more than that and every worker forgets every key.
        payload = ",".join(ids) if len(ids) <= 100 else ""
        await session.execute(
            text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": payload}
        )
