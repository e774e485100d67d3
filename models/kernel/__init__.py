"""The pure core every layer shares: money, periods, ids, the clock, errors, enums and
input validation. No I/O, no database, no web."""
