"""What every resolver domain shares: scalars, enums, error types and their one map,
money, pagination, the request context and the DataLoader machinery."""
