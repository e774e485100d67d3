"""Credit grants and the invoices ledger entries name, batched per request."""

from __future__ import annotations

from models.credits import queries as credit_queries
from models.tables import CreditGrantRow, InvoiceRow
from resolvers.shared.loaders import Loader

# tenant id -> its credit grants, newest first
tenant_grants = Loader.of(credit_queries.tenant_grants)
# grant id -> the grant (a ledger entry's)
grant = Loader.by_id(CreditGrantRow)
# invoice id -> the invoice (a ledger entry's)
invoice = Loader.by_id(InvoiceRow)
