"""localstripe for the tests: ``tests/providers/localstripe_server.py`` (same arguments,
same store, same patches) plus Stripe's payment terms, which localstripe 1.15.10 lacks.

Each is patched in as Stripe documents it, and only for requests that use it:

- ``POST /v1/invoices`` takes ``collection_method`` (``charge_automatically``, the
  default, or ``send_invoice``) and, for ``send_invoice`` only, ``days_until_due`` or
  ``due_date`` (localstripe answers "Unexpected collection_method", and its invoices are
  always ``charge_automatically``);
- ``POST /v1/invoices/{id}/finalize`` (``auto_advance``): a draft becomes ``open``
  without being paid (localstripe finalizes only inside ``pay``, which charges), and a
  ``send_invoice`` invoice gets its ``due_date`` from ``days_until_due``; sends
  ``invoice.finalized``;
- ``POST /v1/invoices/{id}/send``: only for ``send_invoice`` invoices; finalizes a
  draft first; charges nothing; sends ``invoice.sent`` (test mode emails nobody);
- ``POST /v1/invoices/{id}/pay`` with ``paid_out_of_band=true`` (localstripe's pay takes
  no parameter): marks an ``open`` invoice paid outside Stripe, charging nothing (no
  PaymentIntent is made); it is ``paid`` with ``paid_out_of_band`` true and sends
  ``invoice.paid`` (which Stripe sends for an out-of-band payment, unlike
  ``invoice.payment_succeeded``). Refused, as by Stripe, for an invoice already paid
  ("Invoice is already paid") or void, and for a draft (Stripe's transitions pay only
  ``open`` and ``uncollectible`` invoices: finalize it first). Without it, ``pay`` is
  localstripe's own. Every invoice reads ``paid_out_of_band`` false until then.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

from localstripe import resources, server
from localstripe.errors import UserError

_WRAPPER = Path(__file__).parents[1] / "providers" / "localstripe_server.py"
_spec = importlib.util.spec_from_file_location("localstripe_server", _WRAPPER)
localstripe_server = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(localstripe_server)

DAY = 86_400
_create_without_terms = localstripe_server._create_invoice


def _create_invoice(cls, collection_method=None, days_until_due=None, due_date=None, **data):  # noqa: ANN001, ANN202
    """``POST /v1/invoices`` with Stripe's payment terms (see the module's docstring)."""
    if collection_method not in (None, "charge_automatically", "send_invoice"):
        raise UserError(400, f"Invalid collection_method: {collection_method}")
    terms = days_until_due is not None or due_date is not None
    if terms and collection_method != "send_invoice":
        raise UserError(
            400, "days_until_due and due_date are only valid for invoices with collection_method=send_invoice"
        )
    if days_until_due is not None and due_date is not None:
        raise UserError(400, "Pass days_until_due or due_date, not both")
    days = resources.try_convert_to_int(days_until_due)
    due = resources.try_convert_to_int(due_date)
    if days is not None and (type(days) is not int or days < 0):
        raise UserError(400, "Invalid days_until_due")
    if due is not None and type(due) is not int:
        raise UserError(400, "Invalid due_date")
    invoice = _create_without_terms(cls, **data)
    invoice.collection_method = collection_method or "charge_automatically"
    invoice.days_until_due = days
    invoice.due_date = due
    invoice.auto_advance = False  # Stripe's default for invoices made through the API
    return invoice


def _finalize(invoice: resources.Invoice, auto_advance: object) -> None:
    if invoice.status != "draft":
        raise UserError(400, "This invoice is already finalized, you can't re-finalize a non-draft invoice.")
    invoice._finalize()
    if auto_advance is not None:
        invoice.auto_advance = resources.try_convert_to_bool(auto_advance)
    if (
        getattr(invoice, "collection_method", None) == "send_invoice"
        and getattr(invoice, "due_date", None) is None
    ):
        days = getattr(invoice, "days_until_due", None) or 0
        invoice.due_date = invoice.status_transitions["finalized_at"] + days * DAY
    resources.schedule_webhook(resources.Event("invoice.finalized", invoice))


def _api_finalize_invoice(id, auto_advance=None, **kwargs):  # noqa: ANN001, ANN202
    """Stripe's ``POST /v1/invoices/{id}/finalize``: open, not paid."""
    if kwargs:
        raise UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
    invoice = resources.Invoice._api_retrieve(id)
    _finalize(invoice, auto_advance)
    return invoice


def _api_send_invoice(id, **kwargs):  # noqa: ANN001, ANN202
    """Stripe's ``POST /v1/invoices/{id}/send``: for manual payment; charges nothing."""
    if kwargs:
        raise UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
    invoice = resources.Invoice._api_retrieve(id)
    if getattr(invoice, "collection_method", None) != "send_invoice":
        raise UserError(
            400, "You can only manually send an invoice if its collection method is 'send_invoice'."
        )
    if invoice.status == "draft":
        _finalize(invoice, None)
    if invoice.status not in ("open", "paid"):
        raise UserError(400, f"You can't send an invoice that is {invoice.status}.")
    invoice._sent_at = [*getattr(invoice, "_sent_at", []), int(time.time())]
    resources.schedule_webhook(resources.Event("invoice.sent", invoice))
    return invoice


_pay_by_charge = resources.Invoice._api_pay_invoice
_status_without_out_of_band = resources.Invoice.status


def _status(invoice: resources.Invoice) -> str:
    if invoice.paid_out_of_band and not invoice._draft:
        return "paid"
    return _status_without_out_of_band.fget(invoice)


def _api_pay_invoice(id, paid_out_of_band=None, **kwargs):  # noqa: ANN001, ANN202
    """Stripe's ``POST /v1/invoices/{id}/pay``, with ``paid_out_of_band`` (see above)."""
    if paid_out_of_band is None or resources.try_convert_to_bool(paid_out_of_band) is False:
        if kwargs:
            raise UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
        return _pay_by_charge(id)
    if resources.try_convert_to_bool(paid_out_of_band) is not True or kwargs:
        raise UserError(400, "Invalid paid_out_of_band" if not kwargs else "Unexpected " + ", ".join(kwargs))
    invoice = resources.Invoice._api_retrieve(id)
    if invoice.status == "paid":
        raise UserError(400, "Invoice is already paid")
    if invoice.status != "open":
        raise UserError(400, f"You can only pay an open invoice; this one is {invoice.status}.")
    invoice.paid_out_of_band = True
    invoice.status_transitions["paid_at"] = int(time.time())
    resources.schedule_webhook(resources.Event("invoice.paid", invoice))
    return invoice


def _replace_pay_route() -> None:
    """localstripe routed ``/pay`` to its own handler when it was imported."""
    url = "/v1/invoices/{id}/pay"
    (route,) = [r for r in server.app.router.routes() if r.method == "POST" and r.resource.canonical == url]
    route._handler = server.api_extra(_api_pay_invoice, url)


def main() -> None:
    localstripe_server._create_invoice = _create_invoice  # what its main() installs
    for verb, handler in (("finalize", _api_finalize_invoice), ("send", _api_send_invoice)):
        url = f"/v1/invoices/{{id}}/{verb}"
        server.app.router.add_route("POST", url, server.api_extra(handler, url))
    resources.Invoice.paid_out_of_band = False  # what every invoice says until it is
    resources.Invoice.status = property(_status)
    _replace_pay_route()
    localstripe_server.main()


if __name__ == "__main__":
    main()
