"""The benchmark suite: `python -m bench [--quick]` from the repository root.

Each workload measures one path of the product on SQLite and on PostgreSQL beside a
hand-written baseline that does the same work with the bare driver, and reports rows
{workload, database, metric, value, unit, baseline, ratio, target, ok}: a table on
stdout and the same figures as JSON under bench/results/. A benchmark, never a timed
test: nothing here fails because something is slow; a missed target shows ``no``.

Layout: ``core`` (rows, targets, profiles, the workload registry), ``databases``
(scratch databases and bare-driver connections), ``server`` (a real `billing-gateway
serve` process), ``workloads/`` (one module per workload), ``report`` (table, JSON),
``cli`` (the command). A new workload is a new module in ``workloads/`` registered
with ``@workload``.
"""
