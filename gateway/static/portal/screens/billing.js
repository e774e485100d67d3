// Invoices (each with a printable page and the hosted payment link), cancellation and pause,
// and coupons: each shown only where the portal configuration allows it.

import { html, useState } from "/assets/vendor/htm@3.1.1/preact/standalone.module.js";
import { typedError } from "/assets/shared/graphql.js";
import { Button, ErrorNotice, Field, Notice, Section, Table } from "/assets/shared/ui.js";
import { CANCEL, COUPON, PAUSE, RESUME } from "../queries.js";

function useAction(client, reload) {
  const [error, setError] = useState(null);
  const [done, setDone] = useState(null);
  async function run(document, variables, field, message) {
    setError(null);
    setDone(null);
    try {
      const result = (await client.request(document, variables))[field];
      if (typedError(result)) {
        setError(result);
        return false;
      }
      setDone(message);
      await reload();
      return true;
    } catch (e) {
      setError(e);
      return false;
    }
  }
  return { error, done, run };
}

export function Invoices({ t, tenant, money, date }) {
  const rows = tenant.invoices.edges.map((e) => e.node);
  const columns = [
    { key: "number", label: t("invoices.number") },
    { key: "createdAt", label: t("invoices.date"), render: (i) => date(i.createdAt) },
    { key: "status", label: t("invoices.status") },
    { key: "total", label: t("invoices.total"), numeric: true, render: (i) => money(i.total) },
    { key: "amountDue", label: t("invoices.due"), numeric: true, render: (i) => money(i.amountDue) },
    {
      key: "links",
      label: "",
      render: (i) => html`<a href=${`/portal/invoices/${encodeURIComponent(i.id)}`} target="_blank" rel="noopener"
          aria-label=${`${t("invoices.print")} ${i.number}`}>${t("invoices.print")}</a>
        ${/^https:\/\//.test(i.hostedInvoiceUrl || "") && i.amountDue.amount > 0
          ? html` · <a href=${i.hostedInvoiceUrl} rel="noopener noreferrer">${t("invoices.pay")}</a>`
          : ""}`,
    },
  ];
  return html`<${Section} id="invoices" title=${t("invoices.title")}>
    <${Table} columns=${columns} rows=${rows} empty=${t("invoices.none")} />
  <//>`;
}

export function Cancel({ t, tenant, client, reload, config, date }) {
  const sub = tenant.subscription;
  const [asking, setAsking] = useState(null); // "end" | "now" | null
  const { error, done, run } = useAction(client, reload);
  if (!sub || sub.status === "CANCELLED") return null;
  const canEnd = config.cancelAtPeriodEnd && !sub.cancelAtPeriodEnd;
  const canNow = config.cancelImmediately;
  const canPause = config.pause && sub.status === "ACTIVE";
  const canResume = config.pause && sub.status === "PAUSED";
  if (!canEnd && !canNow && !canPause && !canResume && !done) return null;
  const cancel = async (atPeriodEnd) => {
    const ok = await run(CANCEL, { subscriptionId: sub.id, atPeriodEnd }, "cancelSubscription",
      t("cancel.done", { date: date(sub.currentPeriodEnd) }));
    if (ok) setAsking(null);
  };
  return html`<${Section} id="cancel" title=${t("cancel.title")}>
    ${asking
      ? html`<div class="confirm" role="group" aria-label=${t("cancel.title")}>
          <p>${asking === "end" ? t("cancel.question", { date: date(sub.currentPeriodEnd) }) : t("cancel.questionNow")}</p>
          <${Button} kind="danger" onClick=${() => cancel(asking === "end")}>
            ${asking === "end" ? t("cancel.confirm") : t("cancel.confirmNow")}<//>
          <${Button} onClick=${() => setAsking(null)}>${t("cancel.keep")}<//>
        </div>`
      : html`<div class="actions">
          ${canEnd ? html`<${Button} onClick=${() => setAsking("end")}>${t("cancel.atEnd")}<//>` : ""}
          ${canNow ? html`<${Button} kind="danger" onClick=${() => setAsking("now")}>${t("cancel.now")}<//>` : ""}
          ${canPause ? html`<${Button} onClick=${() => run(PAUSE, { subscriptionId: sub.id }, "pauseSubscription", "")}>${t("cancel.pause")}<//>` : ""}
          ${canResume ? html`<${Button} onClick=${() => run(RESUME, { subscriptionId: sub.id }, "resumeSubscription", "")}>${t("cancel.resume")}<//>` : ""}
        </div>`}
    <${ErrorNotice} error=${error} />
    ${done ? html`<${Notice}>${done}<//>` : ""}
  <//>`;
}

export function Coupon({ t, tenant, client, reload }) {
  const [code, setCode] = useState("");
  const { error, done, run } = useAction(client, reload);
  const apply = async (e) => {
    e.preventDefault();
    if (await run(COUPON, { subscriptionId: tenant.subscription.id, couponCode: code }, "applyCoupon", t("coupon.applied"))) {
      setCode("");
    }
  };
  return html`<${Section} id="coupon" title=${t("coupon.title")}>
    <form class="inline-form" onSubmit=${apply}>
      <${Field} label=${t("coupon.code")} name="coupon" value=${code} onInput=${setCode} required />
      <${Button} type="submit">${t("coupon.apply")}<//>
    </form>
    <${ErrorNotice} error=${error} />
    ${done ? html`<${Notice}>${done}<//>` : ""}
  <//>`;
}
