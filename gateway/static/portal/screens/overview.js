// Plan and status, credit balance, and what the plan includes.

import { html } from "/assets/vendor/htm@3.1.1/preact/standalone.module.js";
import { Facts, Section, Table } from "/assets/shared/ui.js";

export function PlanStatus({ t, tenant, money, date }) {
  const sub = tenant.subscription;
  if (!sub) return html`<${Section} id="plan" title=${t("plan.title")}><p>${t("plan.none")}</p><//>`;
  const invoice = sub.latestInvoice;
  const notes = [];
  if (sub.status === "TRIALING" && sub.trialEnd) notes.push(html`<p>${t("plan.trialEnds", { date: date(sub.trialEnd) })}</p>`);
  if (sub.status === "PAST_DUE" || sub.status === "UNPAID") {
    notes.push(html`<div class="notice notice-error" role="alert">${t("plan.pastDue")}
      ${invoice && /^https:\/\//.test(invoice.hostedInvoiceUrl || "")
        ? html` <a href=${invoice.hostedInvoiceUrl} rel="noopener noreferrer">${t("plan.payNow", { number: invoice.number })}</a>`
        : ""}</div>`);
  }
  if (sub.status === "PAUSED") {
    notes.push(html`<p>${t("plan.paused", { date: date(sub.pausedAt) })}${sub.resumesAt ? ` · ${t("plan.resumes", { date: date(sub.resumesAt) })}` : ""}</p>`);
  }
  if (sub.scheduledChange) {
    notes.push(html`<p>${t("plan.scheduled", { plan: sub.scheduledChange.plan.name, date: date(sub.scheduledChange.effectiveAt) })}</p>`);
  }
  const renewal = sub.cancelAtPeriodEnd
    ? t("plan.endsAt", { date: date(sub.currentPeriodEnd) })
    : t("plan.renews", { date: date(sub.currentPeriodEnd) });
  const items = [
    [t("plan.plan"), html`<strong>${sub.plan.name}</strong> · ${money(sub.plan.basePrice)} / ${sub.plan.interval.toLowerCase()}`],
    [t("plan.status"), html`<span class=${`badge status-${sub.status}`}>${t(`status.${sub.status}`)}</span>`],
    [t("plan.period"), html`${date(sub.currentPeriodStart)} – ${date(sub.currentPeriodEnd)}<br /><small>${renewal}</small>`],
  ];
  if (sub.discount) items.push([t("plan.discount"), `${sub.discount.coupon.name} (${sub.discount.coupon.code})`]);
  return html`<${Section} id="plan" title=${t("plan.title")}><${Facts} items=${items} />${notes}<//>`;
}

export function Credit({ t, tenant, money, date }) {
  const entries = tenant.creditLedger.edges.map((e) => e.node).reverse(); // newest first
  const columns = [
    { key: "at", label: t("invoices.date"), render: (e) => date(e.at) },
    { key: "description", label: t("credit.entry") },
    { key: "amount", label: t("credit.amount"), numeric: true, render: (e) => money(e.amount) },
    { key: "balanceAfter", label: t("credit.after"), numeric: true, render: (e) => money(e.balanceAfter) },
  ];
  return html`<${Section} id="credit" title=${t("credit.title")}>
    <p class="big-number" data-testid="credit-balance">${money(tenant.creditBalance)}</p>
    <p class="hint">${t("credit.note")}</p>
    ${entries.length ? html`<${Table} columns=${columns} rows=${entries} caption=${t("credit.ledger")} />` : ""}
  <//>`;
}

export function Entitlements({ t, tenant, data }) {
  const names = new Map(data.features.map((f) => [f.code, f.name]));
  const columns = [
    { key: "featureCode", label: t("ent.feature"), render: (e) => names.get(e.featureCode) || e.featureCode },
    {
      key: "state",
      label: t("ent.state"),
      render: (e) => {
        if (!e.enabled && e.reason !== "LIMIT_REACHED") return t("ent.off");
        if (e.kind === "BOOLEAN") return t("ent.on");
        if (e.limit === null || e.limit === undefined) return t("ent.unlimited");
        return t("ent.limit", { used: e.used ?? 0, limit: e.limit });
      },
    },
  ];
  return html`<${Section} id="entitlements" title=${t("ent.title")}>
    <${Table} columns=${columns} rows=${tenant.entitlements} rowKey=${(e) => e.featureCode} empty="—" />
  <//>`;
}
