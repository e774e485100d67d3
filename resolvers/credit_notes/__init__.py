"""Credit notes and voided invoices."""
