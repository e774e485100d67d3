"""What every domain runs on: the store and its sessions, the one lock order, events and
the outbox, the audit trail, idempotency, pagination and a tenant's clock."""
