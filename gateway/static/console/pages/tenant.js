// One tenant: overview (with its provider error and a retry), billing info, subscription,
// seats and members, invoices, credit and the audit log.

import { html, useEffect, useState } from "/assets/vendor/htm@3.1.1/preact/standalone.module.js";
import { Button, ErrorNotice, Facts, Loading, Section, Table } from "/assets/shared/ui.js";
import { day, enumLabel, href, money, run, t, useQuery, when } from "../context.js";
import { AUDIT_LOG, TENANT } from "../operations.js";
import { BillingInfoForm } from "./billing.js";
import { RetryButton } from "./provider-errors.js";

function Overview({ tenant, reload }) {
  return html`<${Section} title=${t("tenant.overview")} id="overview">
    <${Facts}
      items=${[
        [t("col.email"), tenant.email],
        [t("col.currency"), tenant.currency],
        [t("tenant.timezone"), tenant.timezone],
        [t("col.salesMode"), enumLabel(tenant.salesMode)],
        [t("tenant.collection"), enumLabel(tenant.collectionMethod)],
        [t("tenant.taxRate"), `${tenant.taxRate}%`],
        [t("tenant.providerCustomer"), tenant.providerCustomerId || t("common.none")],
        [t("tenant.now"), when(tenant.now, tenant.timezone)],
      ]}
    />
    ${tenant.providerError
      ? html`<div class="notice notice-error" role="alert">
          <strong>${t("tenant.providerError")}:</strong> ${tenant.providerError}
          <div><${RetryButton} tenant=${tenant} onDone=${reload} /></div>
        </div>`
      : ""}
  </${Section}>`;
}

function SubscriptionCard({ tenant }) {
  const sub = tenant.subscription;
  const tz = tenant.timezone;
  return html`<${Section} title=${t("sub.title")} id="subscription">
    ${!sub
      ? html`<p class="empty">${t("sub.none")}</p>`
      : html`<${Facts}
            items=${[
              [t("col.plan"), `${sub.plan.name} (${sub.plan.code})`],
              [t("col.status"), enumLabel(sub.status)],
              [t("sub.period"), `${day(sub.currentPeriodStart, tz)} – ${day(sub.currentPeriodEnd, tz)}`],
              [t("col.basePrice"), `${money(sub.plan.basePrice)} / ${enumLabel(sub.plan.interval)}`],
              [t("sub.cancelAtPeriodEnd"), sub.cancelAtPeriodEnd ? t("common.yes") : t("common.no")],
              ...(sub.trialEnd ? [[t("sub.trialEnd"), when(sub.trialEnd, tz)]] : []),
              ...(sub.renewalError ? [[t("sub.renewalError"), sub.renewalError]] : []),
            ]}
          />
          <${Table}
            caption=${t("col.addons")}
            columns=${[
              { label: t("col.code"), render: (r) => r.addon.code },
              { label: t("col.name"), render: (r) => r.addon.name },
              { label: t("col.quantity"), key: "quantity", numeric: true },
            ]}
            rows=${sub.addons}
            rowKey=${(r) => r.addon.id}
            empty=""
          />`}
  </${Section}>`;
}

function SeatsCard({ tenant }) {
  const seats = tenant.seats;
  return html`<${Section} title=${t("seats.title")} id="seats">
    <${Facts}
      items=${["included", "purchased", "total", "used", "available"].map((k) => [t(`seats.${k}`), seats[k]])}
    />
    <${Table}
      caption=${t("seats.title")}
      columns=${[
        { label: t("col.email"), key: "email" },
        { label: t("col.seatType"), render: (r) => enumLabel(r.seatType) },
        { label: t("col.status"), render: (r) => enumLabel(r.status) },
        { label: t("col.created"), render: (r) => day(r.createdAt, tenant.timezone) },
      ]}
      rows=${tenant.members}
      empty=${t("members.empty")}
    />
  </${Section}>`;
}

function InvoicesCard({ tenant }) {
  const rows = tenant.invoices.edges.map((e) => e.node);
  const tz = tenant.timezone;
  return html`<${Section} title=${t("invoices.title")} id="invoices">
    <${Table}
      caption=${t("invoices.title")}
      columns=${[
        { label: t("col.number"), render: (r) => html`<a href=${href("tenants", tenant.id, "invoices", r.id)}>${r.number}</a>` },
        { label: t("col.status"), render: (r) => enumLabel(r.status) },
        { label: t("col.period"), render: (r) => `${day(r.periodStart, tz)} – ${day(r.periodEnd, tz)}` },
        { label: t("col.total"), render: (r) => money(r.total), numeric: true },
        { label: t("col.amountDue"), render: (r) => money(r.amountDue), numeric: true },
      ]}
      rows=${rows}
      empty=${t("invoices.empty")}
    />
  </${Section}>`;
}

function CreditCard({ tenant }) {
  const rows = tenant.creditLedger.edges.map((e) => e.node);
  return html`<${Section} title=${t("credit.title")} id="credit">
    <${Facts} items=${[[t("credit.balance"), money(tenant.creditBalance)]]} />
    <${Table}
      caption=${t("credit.title")}
      columns=${[
        { label: t("col.at"), render: (r) => when(r.at, tenant.timezone) },
        { label: t("col.reason"), key: "reason" },
        { label: t("col.description"), key: "description" },
        { label: t("col.amount"), render: (r) => money(r.amount), numeric: true },
        { label: t("col.balanceAfter"), render: (r) => money(r.balanceAfter), numeric: true },
      ]}
      rows=${rows}
      empty=${t("credit.empty")}
    />
  </${Section}>`;
}

const json = (value) => (value ? html`<pre class="json">${JSON.stringify(value)}</pre>` : "");

function AuditCard({ tenant }) {
  const [pages, setPages] = useState({ entries: null, pageInfo: null, error: null });
  async function load(after) {
    try {
      const data = await run(AUDIT_LOG, { tenantId: tenant.id, first: 25, after });
      const entries = data.auditLog.edges.map((e) => e.node);
      setPages((p) => ({ ...p, entries: [...(after ? p.entries : []), ...entries], pageInfo: data.auditLog.pageInfo }));
    } catch (error) {
      setPages((p) => ({ ...p, error }));
    }
  }
  useEffect(() => {
    load(null);
  }, [tenant.id]);
  return html`<${Section} title=${t("audit.title")} id="audit">
    ${pages.error ? html`<${ErrorNotice} error=${pages.error} />` : ""}
    ${pages.entries === null
      ? html`<${Loading} label=${t("common.loading")} />`
      : html`<${Table}
          caption=${t("audit.title")}
          columns=${[
            { label: t("col.at"), render: (r) => when(r.at, tenant.timezone) },
            { label: t("col.actor"), key: "actor" },
            { label: t("col.action"), key: "action" },
            { label: t("col.before"), render: (r) => json(r.before) },
            { label: t("col.after"), render: (r) => json(r.after) },
          ]}
          rows=${pages.entries}
          empty=${t("audit.empty")}
        />`}
    ${pages.pageInfo && pages.pageInfo.hasNextPage
      ? html`<${Button} onClick=${() => load(pages.pageInfo.endCursor)}>${t("common.more")}</${Button}>`
      : ""}
  </${Section}>`;
}

export function TenantPage({ tenantId }) {
  const { data, error, loading, reload } = useQuery(TENANT, { id: tenantId });
  if (loading && !data) return html`<${Loading} label=${t("common.loading")} />`;
  if (error && !data) return html`<${ErrorNotice} error=${error} title=${t("common.failed")} />`;
  const tenant = data && data.tenant;
  if (!tenant) return html`<${ErrorNotice} error=${{ code: "NOT_FOUND", message: t("common.notFound") }} />`;
  return html`<h1>${tenant.name}</h1>
    <p class="muted"><code>${tenant.id}</code></p>
    ${error ? html`<${ErrorNotice} error=${error} />` : ""}
    <${Overview} tenant=${tenant} reload=${reload} />
    <div class="grid">
      <${BillingInfoForm} tenant=${tenant} />
      <${SubscriptionCard} tenant=${tenant} />
    </div>
    <${SeatsCard} tenant=${tenant} />
    <${InvoicesCard} tenant=${tenant} />
    <${CreditCard} tenant=${tenant} />
    <${AuditCard} tenant=${tenant} />`;
}
