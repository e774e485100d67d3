"""Metering: meters, usage ingestion, daily rollups, counts, and what a period's usage costs."""
