"""The benchmark suite: `python -m bench [--quick]` from the repository root.

Each workload measures one path of the product on SQLite and on PostgreSQL beside a
hand-written baseline that does the same work with the bare driver, and reports rows
{workload, database, metric, value, unit, baseline, ratio, target, ok}: a table on
stdout and the same figures as JSON under bench/results/. A benchmark, never a timed
test: nothing here fails because something is slow; a missed target shows ``no``.

Workloads, in the order they run (each on both databases):

- ``ingest``: recordUsageBatch of 10,000 events, over HTTP and through the service, vs
  executemany of the same rows;
- ``month_count``: meterUnitMonthCount over millions of points vs one SUM over the
  daily rollups;
- ``dashboard``: one tenant's subscription, plan, add-ons, seats, this month's meter
  counts and last 10 invoices with lines, requests/s under 8 concurrent clients;
- ``fleet``: the same fields for ``tenants(first: 100)``: latency, and the SQL
  statements it costs for 10 tenants and for 100 (which must be equal);
- ``seats``: 200 concurrent invites for 50 free seats: exactly 50 admitted, invites/s;
- ``entitlements``: the entitlement check (BOOLEAN, LIMIT and METERED features of 20
  tenants), checks/s and p50/p99 under 8 concurrent clients, and the SQL statements one
  check costs.

The last four measure the gateway over HTTP against ``baseline``, a bare Starlette app
with hand-written SQL served the same way on the same database, after checking that
both answer the same JSON. Sizes per profile (``--smoke``, ``--quick``, full) are in
``core.PROFILES``.

Layout: ``core`` (rows, targets, profiles, the workload registry), ``databases``
(scratch databases and bare-driver connections), ``server`` (the `billing-gateway
serve` and baseline processes, and the kept-alive HTTP client that loads them),
``baseline`` (the hand-written server), ``workloads/`` (one module per workload),
``report`` (table, JSON), ``cli`` (the command). A new workload is a new module in
``workloads/`` registered with ``@workload``.
"""
