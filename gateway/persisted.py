"""Persisted documents: Apollo's automatic persisted queries (APQ) and trusted documents.

APQ: a request carries ``extensions.persistedQuery {version: 1, sha256Hash}``. With the
hash alone, the document stored under it runs, or the answer is the error Apollo
Client's PersistedQueryLink and urql's persistedExchange look for
(``PersistedQueryNotFound``, code ``PERSISTED_QUERY_NOT_FOUND``, HTTP 200), on which they
send the hash again with the document: its SHA-256 is checked, it is stored and run. A
later hash-only GET then runs it too, and is cacheable by URL.

The store is an in-process LRU, bounded in documents (GATEWAY_PERSISTED_QUERIES_CACHE_SIZE)
and in characters (STORED_CHARS), per worker process. That is enough: a document is
content-addressed, so whatever a worker forgets (evicted, restarted, another worker) costs
the client one round trip more, the retry with the document, and never a wrong answer.
Nothing shared (a database table, a cache server) would buy more than that round trip.

Trusted documents (GATEWAY_PERSISTED_ONLY=true): only the documents of the file
GATEWAY_PERSISTED_DOCUMENTS run, asked for by id (``sha256Hash``) or sent in full; any
other document, and registering one through APQ, is ``PERSISTED_QUERY_NOT_ALLOWED``. The
file is a JSON object ``{id: document}`` (GraphQL Code Generator's
``persisted-documents.json``, Relay's persisted queries) or Apollo's persisted query
manifest (``{"format": "apollo-persisted-query-manifest", "version": 1, "operations":
[{"id", "body", ...}]}``); a file that cannot serve fails start-up with one line.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cross_web import HTTPException
from graphql import GraphQLError, GraphQLSchema, parse, validate

NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
NOT_ALLOWED = "PERSISTED_QUERY_NOT_ALLOWED"
HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
INVALID = "PERSISTED_QUERY_INVALID"
STORED_CHARS = 16 * 1024 * 1024  # per process, all APQ documents together
_MAX_ID = 200


class RequestRefused(HTTPException):
    """A request refused before it runs, answered as a GraphQL response: ``{"errors":
    [{"message", "extensions": {"code"}}]}`` with ``status_code``."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(status_code, message)
        self.code = code

    def payload(self) -> dict[str, Any]:
        return {"errors": [{"message": self.reason, "extensions": {"code": self.code}}]}


def sha256_of(document: str) -> str:
    return hashlib.sha256(document.encode("utf-8", "surrogatepass")).hexdigest()


def load_documents(path: str) -> dict[str, str]:
    """The trusted documents of the file at ``path``, by id; a ValueError whose message is
    one line naming what is wrong (the file, its shape, which entry)."""
    try:
        raw = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        content = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"{path} is not JSON: {exc}") from None
    if isinstance(content, dict) and content.get("format") == "apollo-persisted-query-manifest":
        operations = content.get("operations")
        if content.get("version") != 1 or not isinstance(operations, list):
            raise ValueError(f"{path}: an Apollo manifest must have version 1 and a list of operations")
        pairs = [
            (op.get("id"), op.get("body")) if isinstance(op, dict) else (None, None) for op in operations
        ]
    elif isinstance(content, dict):
        pairs = list(content.items())
    else:
        raise ValueError(f"{path} must hold a JSON object {{id: document}} or an Apollo manifest")
    documents: dict[str, str] = {}
    for index, (key, document) in enumerate(pairs):
        where = f"{path}: entry {index + 1} ({str(key)[:70]!r})"
        if not isinstance(key, str) or not 0 < len(key) <= _MAX_ID:
            raise ValueError(f"{where}: the id must be text of 1 to {_MAX_ID} characters")
        if not isinstance(document, str):
            raise ValueError(f"{where}: the document must be text")
        try:
            parse(document)
        except GraphQLError as exc:
            raise ValueError(f"{where}: the document does not parse: {exc.message}") from None
        documents[key] = document
    return documents


class DocumentsRefused(ValueError):
    """A trusted document that could never run; ``str`` is the one line to show."""


def check_documents(path: str, documents: Mapping[str, str], schema: GraphQLSchema) -> None:
    """DocumentsRefused naming the first trusted document that does not validate against
    the schema (the settings checked the file's shape; the schema is known here)."""
    for index, (key, document) in enumerate(documents.items()):
        errors = validate(schema, parse(document))
        if errors:
            raise DocumentsRefused(
                f"{path}: entry {index + 1} ({key[:70]!r}) does not validate against the schema: "
                f"{errors[0].message}"
            )


class PersistedQueries:
    """Resolves a request's document from its ``persistedQuery`` extension, and decides
    whether a document may run at all (trusted-documents mode)."""

    def __init__(self, *, cache_size: int, trusted: Mapping[str, str], persisted_only: bool) -> None:
        self.cache_size = cache_size
        self.trusted = dict(trusted)
        self.trusted_texts = frozenset(self.trusted.values())
        self.persisted_only = persisted_only
        self.stored: OrderedDict[str, str] = OrderedDict()
        self.stored_chars = 0

    def admits(self, query: str) -> bool:
        """Whether a document sent in full may run."""
        return not self.persisted_only or query in self.trusted_texts

    def resolve(self, query: str | None, extensions: Mapping[str, Any] | None) -> str | None:
        """The document to run (``query`` unless a hash names one), or RequestRefused."""
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None:
            if query is not None and not self.admits(query):
                raise self.not_allowed()
            return query
        key = _hash_of(persisted)
        if query is None:
            known = self.trusted.get(key) or self._recall(key)
            if known is None:
                raise RequestRefused(200, NOT_FOUND, "PersistedQueryNotFound")
            return known
        if self.persisted_only:
            if key in self.trusted and self.trusted[key] != query:
                raise _mismatch(key)
            if key not in self.trusted:
                raise self.not_allowed()
            return query
        if sha256_of(query).lower() != key.lower():
            raise _mismatch(key)
        self._store(key.lower(), query)
        return query

    def _recall(self, key: str) -> str | None:
        key = key.lower()
        document = self.stored.get(key)
        if document is not None:
            self.stored.move_to_end(key)
        return document

    def _store(self, key: str, document: str) -> None:
        if key in self.stored or len(document) > STORED_CHARS // 16:
            return  # a document bigger than 1 MB still runs, sent in full each time
        self.stored[key] = document
        self.stored_chars += len(document)
        while self.stored and (len(self.stored) > self.cache_size or self.stored_chars > STORED_CHARS):
            _, dropped = self.stored.popitem(last=False)
            self.stored_chars -= len(dropped)

    def not_allowed(self) -> RequestRefused:
        return RequestRefused(
            400,
            NOT_ALLOWED,
            "Only trusted documents run here (GATEWAY_PERSISTED_ONLY): send the id of one listed in "
            "GATEWAY_PERSISTED_DOCUMENTS as extensions.persistedQuery.sha256Hash.",
        )


def _hash_of(persisted: object) -> str:
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise RequestRefused(
            400, INVALID, "extensions.persistedQuery must be {version: 1, sha256Hash}: only version 1 exists."
        )
    key = persisted.get("sha256Hash")
    if not isinstance(key, str) or not 0 < len(key) <= _MAX_ID:
        raise RequestRefused(
            400, INVALID, "extensions.persistedQuery.sha256Hash must be the document's SHA-256 in hex."
        )
    return key


def _mismatch(key: str) -> RequestRefused:
    return RequestRefused(
        400,
        HASH_MISMATCH,
        f"extensions.persistedQuery.sha256Hash {key[:70]!r} is not the SHA-256 of the document sent "
        "(hex of its UTF-8 bytes, exactly as sent).",
    )
