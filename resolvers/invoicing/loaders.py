"""Invoices, their lines and the credit ledger, batched per request."""

from __future__ import annotations

from models.credit_notes import queries as credit_note_queries
from models.invoicing import queries as invoicing_queries
from resolvers.shared.loaders import Loader

# subscription id -> its newest invoice
latest_invoice = Loader.of(invoicing_queries.latest_invoices)
# (tenant id, n) -> its n newest invoices: the first page of Tenant.invoices
newest_invoices = Loader.of(invoicing_queries.newest_invoices)
# tenant id -> its credit balance
credit_balance = Loader.of(invoicing_queries.credit_balances)
# invoice id -> its lines in order
invoice_lines = Loader.of(invoicing_queries.invoice_lines)
# invoice id -> its credit notes, oldest first
credit_notes = Loader.of(credit_note_queries.credit_notes_of_invoices)
# invoice line id -> what credit notes by line credited on it
line_credited = Loader.of(credit_note_queries.credited_on_lines)
