"""Pure billing rules: money, periods, seat arithmetic, pricing. No I/O here."""
