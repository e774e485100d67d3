"""The team: inviting members (each takes a seat of its type, or is refused) and removing
them (freeing it)."""
