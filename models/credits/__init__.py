"""Credit grants and the credit ledger they draw on: which credit an invoice uses
(soonest-expiring first), and what is left of a grant when it expires."""
