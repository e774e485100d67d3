"""The workloads, registered in the order they run (see ``bench.core.workload``).

Each module measures the product's path beside a hand-written baseline; add one here
(dashboard query, fleet query, seat contention...) and it joins the table and JSON.
"""

from bench.workloads import ingest, month_count  # noqa: F401  (registers them)
