"""localstripe, wrapped for the tests: ``python localstripe_server.py --port P --store PATH``.

Upstream ``localstripe`` listens on every interface and keeps its store in the shared
``/tmp/localstripe.pickle``. This wrapper binds 127.0.0.1 only and keeps the store in
``PATH`` (written on every change, atomically), so a test can kill the server and start
it again on the same port with the same customers and invoices, and parallel test
workers never share one.

Two behaviours of Stripe's that localstripe 1.15.10 lacks are patched in, each as
Stripe documents it: the standalone invoice (``_create_invoice``) and an invoice item
created on a given draft (``_create_invoice_item``).
"""

from __future__ import annotations

import argparse
import os
import pickle

from aiohttp import web
from localstripe import resources, server
from localstripe.errors import UserError


def keep_store_in(path: str) -> None:
    def try_load_from_disk(self: resources.Store) -> None:
        try:
            with open(path, "rb") as f:
                old = pickle.load(f)
        except FileNotFoundError:
            return
        self.clear()
        self.update(old)

    def dump_to_disk(self: resources.Store) -> None:
        # Write aside, then rename: a kill mid-write leaves the last whole store.
        with open(f"{path}.tmp", "wb") as f:
            pickle.dump(dict(self), f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(f"{path}.tmp", path)

    resources.Store.try_load_from_disk = try_load_from_disk
    resources.Store.dump_to_disk = dump_to_disk


_next_invoice = resources.Invoice._api_create.__func__
_new_invoice_item = resources.InvoiceItem._api_create.__func__
# Stands in, for a moment, for the invoice of a pending item kept out of a new invoice.
_KEPT_OUT = "in_kept_out_of_this_invoice"


def _create_invoice(
    cls,
    customer=None,
    subscription=None,
    pending_invoice_items_behavior=None,  # noqa: ANN001, ANN202
    description=None,
    metadata=None,
    currency=None,
    **kwargs,
):
    """Stripe's documented standalone invoice (``POST /v1/invoices`` with a customer and
    no subscription): a draft with its metadata, in ``currency``, holding the customer's
    pending invoice items when ``pending_invoice_items_behavior=include`` and none of
    them when ``exclude`` (they stay pending). localstripe lacks it: its create only
    makes a subscription's next invoice ("No upcoming invoices for customer", 404),
    drops the metadata and takes no currency. ``Invoice.__init__`` checks the customer,
    keeps the metadata and sweeps in every pending item whose ``invoice`` is None, so
    for ``exclude`` those items are marked taken while it runs."""
    if subscription is None and pending_invoice_items_behavior in ("include", "exclude") and not kwargs:
        kept_out = []
        if pending_invoice_items_behavior == "exclude":
            kept_out = resources.InvoiceItem._api_list_all(
                None, customer=customer
            )._list  # 404: no such customer
        for item in kept_out:
            item.invoice = _KEPT_OUT
        try:
            invoice = cls(customer=customer, description=description, metadata=metadata)
        finally:
            for item in kept_out:
                item.invoice = None
        if currency is not None:
            invoice.currency = str(currency).lower()
        return invoice
    if currency is not None:
        kwargs["currency"] = currency
    return _next_invoice(
        cls,
        customer=customer,
        subscription=subscription,
        description=description,
        metadata=metadata,
        pending_invoice_items_behavior=pending_invoice_items_behavior,
        **kwargs,
    )


def _create_invoice_item(cls, invoice=None, **data):  # noqa: ANN001, ANN202
    """Stripe's documented invoice item on a given invoice (``POST /v1/invoiceitems``
    with ``invoice``): it becomes a line of that draft at once (and Stripe refuses it
    for an invoice that is no longer a draft). localstripe stores the invoice id on the
    item but adds no line, so the draft's total never includes it."""
    draft = None
    if isinstance(invoice, str) and invoice.startswith("in_"):
        draft = resources.Invoice._api_retrieve(invoice)  # 404: no such invoice
        if draft.status != "draft":
            raise UserError(
                400, f"Invoice {invoice} is not a draft: invoice items can only be added to drafts."
            )
    item = _new_invoice_item(cls, invoice=invoice, **data)
    if draft is not None:
        draft.lines._list.append(resources.InvoiceLineItem(item))
    return item


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--store", required=True)
    args = parser.parse_args()
    keep_store_in(args.store)
    resources.Invoice._api_create = classmethod(_create_invoice)
    resources.InvoiceItem._api_create = classmethod(_create_invoice_item)
    resources.store.try_load_from_disk()
    web.run_app(server.app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
