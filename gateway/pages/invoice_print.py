"""The billing portal's printable invoice: the gateway's own HTML, print-ready, with the
tenant's billing details and every line. Opened from the portal in the same browser
session (its SameSite=Strict cookie); anyone else gets 401, another tenant's invoice 404."""

from __future__ import annotations

from datetime import datetime
from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from gateway import portal_session
from models.kernel.errors import NotFound
from models.kernel.money import Money
from models.portal import service as portal
from models.portal.invoices import PrintableInvoice, printable_invoice

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>"
        '<link rel="stylesheet" href="/assets/portal/invoice.css"></head>'
        f'<body><main class="invoice">{body}</main></body></html>'
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _day(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d}" if value else ""


def _money(amount: int, currency: str) -> str:
    return escape(Money(amount, currency).formatted)


def _address(doc: PrintableInvoice) -> str:
    t = doc.tenant
    parts = [
        t.company_name or t.name,
        t.address_line1,
        t.address_line2,
        " ".join(p for p in (t.address_postal_code, t.address_city, t.address_state) if p),
        t.address_country,
        t.email,
    ]
    return "<br>".join(escape(p) for p in parts if p)


def render(doc: PrintableInvoice) -> str:
    inv, cur = doc.invoice, doc.invoice.currency
    rows = "".join(
        f"<tr><td>{escape(line.description)}</td><td>{escape(str(line.kind))}</td>"
        f"<td>{_day(line.period_start)} – {_day(line.period_end)}</td>"
        f'<td class="num">{line.quantity:,}</td><td class="num">{_money(line.unit_amount, cur)}</td>'
        f'<td class="num">{_money(line.amount, cur)}</td></tr>'
        for line in doc.lines
    )
    totals = [
        ("Subtotal", inv.subtotal),
        ("Tax", inv.tax),
        ("Credits applied", -inv.credits_applied if inv.credits_applied else 0),
        ("Total", inv.total),
        ("Amount due", inv.amount_due),
    ]
    total_rows = "".join(
        f'<tr><th scope="row" colspan="5">{label}</th><td class="num">{_money(amount, cur)}</td></tr>'
        for label, amount in totals
    )
    pay = (
        f'<p class="no-print"><a href="{escape(inv.hosted_invoice_url)}" rel="noopener noreferrer">'
        "Pay this invoice</a></p>"
        if (inv.hosted_invoice_url or "").startswith("https://") and inv.amount_due > 0
        else ""
    )
    return (
        f'<header><h1>Invoice {escape(inv.number)}</h1><p class="status">{escape(str(inv.status))}</p>'
        "</header>"
        f'<section class="parties"><div><h2>Billed to</h2><p>{_address(doc)}</p></div>'
        f"<div><h2>Details</h2><p>Issued {_day(inv.created_at)}<br>Period {_day(inv.period_start)} – "
        f"{_day(inv.period_end)}<br>{'Due ' + _day(inv.due_date) if inv.due_date else ''}</p></div></section>"
        '<table class="lines"><thead><tr><th scope="col">Description</th><th scope="col">Kind</th>'
        '<th scope="col">Period</th><th scope="col" class="num">Qty</th><th scope="col" class="num">Unit</th>'
        f'<th scope="col" class="num">Amount</th></tr></thead><tbody>{rows}</tbody>'
        f"<tfoot>{total_rows}</tfoot></table>{pay}"
    )


async def invoice_page(request: Request) -> Response:
    deps = request.app.state.deps
    secret = request.cookies.get(portal_session.COOKIE)
    principal = (await portal.authenticate(deps, secret))[0] if secret else None
    if principal is None:
        return _page("Session ended", f"<p>{escape(portal.SESSION_ENDED)}</p>", 401)
    invoice_id = request.path_params["invoice_id"]
    try:
        doc = await printable_invoice(deps, principal, invoice_id)
    except NotFound as exc:
        return _page("Not found", f"<p>{escape(exc.message)}</p>", 404)
    return _page(f"Invoice {doc.invoice.number}", render(doc))
