"""Credit notes, batched per request."""

from __future__ import annotations

from models.credit_notes import queries as credit_note_queries
from resolvers.shared.loaders import Loader

# (tenant id, n) -> its n newest credit notes: the first page of Tenant.creditNotes
newest_credit_notes = Loader.of(credit_note_queries.newest_credit_notes)

# credit note id -> its lines (credit note line, invoice line), in the note's order
credit_note_lines = Loader.of(credit_note_queries.lines_of_credit_notes)
