"""Credit notes and voided invoices: corrections of an issued invoice."""
