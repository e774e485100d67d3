// One invoice with its lines, totals and credit notes, amounts in its currency.

import { html } from "/assets/vendor/htm@3.1.1/preact/standalone.module.js";
import { ErrorNotice, Facts, Loading, Section, Table } from "/assets/shared/ui.js";
import { day, enumLabel, href, money, t, useQuery, when } from "../context.js";
import { INVOICE } from "../operations.js";

function Totals({ invoice }) {
  const rows = [
    ["invoice.subtotal", invoice.subtotal],
    ["invoice.tax", invoice.tax],
    ["invoice.total", invoice.total],
    ["invoice.creditsApplied", invoice.creditsApplied],
    ["invoice.amountPaid", invoice.amountPaid],
    ["invoice.credited", invoice.credited],
    ["invoice.amountDue", invoice.amountDue],
  ];
  return html`<table class="totals" aria-label=${t("invoice.total")}>
    <tbody>
      ${rows.map(
        ([key, value]) => html`<tr class=${key === "invoice.amountDue" ? "strong" : ""}>
          <th scope="row">${t(key)}</th>
          <td class="num" data-total=${key.split(".")[1]}>${money(value)}</td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}

export function InvoicePage({ invoiceId, tenantId }) {
  const { data, error, loading } = useQuery(INVOICE, { id: invoiceId });
  if (loading && !data) return html`<${Loading} label=${t("common.loading")} />`;
  if (error && !data) return html`<${ErrorNotice} error=${error} title=${t("common.failed")} />`;
  const invoice = data && data.invoice;
  if (!invoice) return html`<${ErrorNotice} error=${{ code: "NOT_FOUND", message: t("common.notFound") }} />`;
  const facts = [
    [t("col.status"), enumLabel(invoice.status)],
    [t("col.reason"), invoice.reason],
    [t("col.currency"), invoice.currency],
    [t("col.period"), `${day(invoice.periodStart)} – ${day(invoice.periodEnd)}`],
    [t("col.created"), when(invoice.createdAt)],
    ...(invoice.dueDate ? [[t("invoice.dueDate"), when(invoice.dueDate)]] : []),
    ...(invoice.paidAt ? [[t("invoice.paidAt"), when(invoice.paidAt)]] : []),
    [t("invoice.providerInvoice"), invoice.providerInvoiceId || t("common.none")],
  ];
  return html`<p><a href=${tenantId ? href("tenants", tenantId) : href("tenants")}>${t("invoice.tenant")}</a></p>
    <h1>${t("invoice.title", { number: invoice.number })}</h1>
    <${Section} title=${t("tenant.overview")} id="invoice-overview">
      <${Facts} items=${facts} />
      ${invoice.paymentError
        ? html`<div class="notice notice-error" role="alert">${t("invoice.paymentError")}: ${invoice.paymentError}</div>`
        : ""}
      ${invoice.hostedInvoiceUrl
        ? html`<p><a href=${invoice.hostedInvoiceUrl} rel="noreferrer noopener" target="_blank">${t("invoice.hosted")}</a></p>`
        : ""}
    </${Section}>
    <${Section} title=${t("invoice.lines")} id="lines">
      <${Table}
        caption=${t("invoice.lines")}
        columns=${[
          { label: t("col.kind"), key: "kind" },
          { label: t("col.description"), key: "description" },
          { label: t("col.period"), render: (r) => `${day(r.periodStart)} – ${day(r.periodEnd)}` },
          { label: t("col.quantity"), key: "quantity", numeric: true },
          { label: t("col.unitAmount"), render: (r) => money(r.unitAmount), numeric: true },
          { label: t("col.amount"), render: (r) => money(r.amount), numeric: true },
        ]}
        rows=${invoice.lines}
        rowKey=${(r, i) => i}
        empty=${t("invoice.noLines")}
      />
      <${Totals} invoice=${invoice} />
    </${Section}>
    ${invoice.creditNotes.length
      ? html`<${Section} title=${t("invoice.creditNotes")} id="credit-notes">
          <${Table}
            columns=${[
              { label: t("col.number"), key: "number" },
              { label: t("col.reason"), key: "reason" },
              { label: t("col.kind"), key: "outcome" },
              { label: t("col.amount"), render: (r) => money(r.amount), numeric: true },
            ]}
            rows=${invoice.creditNotes}
            empty=""
          />
        </${Section}>`
      : ""}`;
}
