"""The workloads, registered in the order they run (see ``bench.core.workload``).

Each module measures the product's path beside a hand-written baseline; add one here
and it joins the table and JSON. ``dashboard`` registers two (the dashboard query and
the fleet query share its seed); ``dashboard``, ``fleet``, ``seats`` and ``entitlements``
measure the gateway over HTTP against bench.baseline, a bare Starlette app served the
same way.
The import order is the run order, so the imports are not sorted.
"""

# isort: off
from bench.workloads import ingest, month_count  # noqa: F401  (registers them)
from bench.workloads import dashboard, seats  # noqa: F401  (then these)
from bench.workloads import entitlements  # noqa: F401  (and the entitlement check last)
# isort: on
