"""Invoices: lines and totals (tax, credits), issuing them numbered gap-free, and the credit ledger."""
