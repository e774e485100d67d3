// Change seat quantities or the plan: a live preview (line items, the summary sentence, what
// is due today and at renewal) as the customer edits, then an explicit confirmation step.

import { html, useEffect, useRef, useState } from "/assets/vendor/htm@3.1.1/preact/standalone.module.js";
import { typedError } from "/assets/shared/graphql.js";
import { Button, ErrorNotice, Notice, Section, Select, Table } from "/assets/shared/ui.js";
import { CHANGE, PREVIEW } from "../queries.js";

function currentQuantities(sub) {
  return Object.fromEntries(sub.addons.map((a) => [a.addon.id, a.quantity]));
}

function renewalAmount(next) {
  let total = BigInt(next.plan.basePrice.amount);
  for (const item of next.addons) total += BigInt(item.addon.price.amount) * BigInt(item.quantity);
  return { amount: Number(total), currency: next.plan.currency };
}

function newKey() {
  return globalThis.crypto && crypto.randomUUID ? crypto.randomUUID() : `portal-${Date.now()}-${Math.random()}`;
}

function MustRemove({ t, error }) {
  return html`<div class="notice notice-error" role="alert">
    <p>${error.message}</p>
    <p>${t("change.mustRemove", { n: error.membersToRemove })}</p>
    <ul class="must-remove">${error.members.map((m) => html`<li>${m.email}</li>`)}</ul>
  </div>`;
}

export function ChangePlan(props) {
  const { t, tenant, config } = props;
  const sub = tenant.subscription;
  if (!sub || sub.status === "CANCELLED") return null;
  if (!config.changeSeats && !config.changePlan) {
    return html`<${Section} id="change" title=${t("change.title")}><p>${t("change.notAllowed")}</p><//>`;
  }
  return html`<${ChangeForm} ...${props} sub=${sub} />`;
}

function ChangeForm({ t, sub, data, client, reload, config, money }) {
  const [planId, setPlanId] = useState(sub.plan.id);
  const [quantities, setQuantities] = useState(currentQuantities(sub));
  const [preview, setPreview] = useState(null);
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState(null);
  const [done, setDone] = useState(null);
  const timer = useRef(null);
  const subKey = `${sub.id}:${sub.plan.id}:${JSON.stringify(currentQuantities(sub))}`;

  useEffect(() => {
    // A change made elsewhere (or just confirmed) resets the form to what the subscription now is.
    setPlanId(sub.plan.id);
    setQuantities(currentQuantities(sub));
  }, [subKey]);

  const plan = data.plans.find((p) => p.id === planId) || sub.plan;
  const addons = plan.addons.map((a) => ({ ...a, quantity: quantities[a.id] || 0 }));
  const changed = planId !== sub.plan.id || JSON.stringify(
    Object.entries(quantities).filter(([, q]) => q > 0).sort(),
  ) !== JSON.stringify(Object.entries(currentQuantities(sub)).filter(([, q]) => q > 0).sort());
  const input = {
    subscriptionId: sub.id,
    planId,
    prorationBillingMode: config.prorationBillingMode,
    addons: addons.filter((a) => a.quantity > 0).map((a) => ({ addonId: a.id, quantity: a.quantity })),
  };
  const inputKey = JSON.stringify(input);

  useEffect(() => {
    setPreview(null);
    setError(null);
    setConfirming(false);
    if (!changed) return undefined;
    clearTimeout(timer.current);
    timer.current = setTimeout(async () => {
      setBusy(true);
      try {
        const result = (await client.request(PREVIEW, { input })).previewChangePlan;
        if (typedError(result)) setError(result);
        else setPreview(result);
      } catch (e) {
        setError(e);
      } finally {
        setBusy(false);
      }
    }, 300);
    return () => clearTimeout(timer.current);
  }, [inputKey]);

  async function confirm() {
    setBusy(true);
    setError(null);
    try {
      const result = (await client.request(CHANGE, { input: { ...input, idempotencyKey: newKey() } })).changePlan;
      if (typedError(result)) {
        setError(result);
      } else {
        const invoice = result.invoice;
        setDone(invoice ? t("change.done", { number: invoice.number, amount: money(invoice.amountDue) }) : t("change.doneNoInvoice"));
        setPreview(null);
        setConfirming(false);
        await reload();
      }
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  const setQuantity = (id, value) => {
    setDone(null);
    setQuantities({ ...quantities, [id]: Math.max(0, Number.parseInt(value, 10) || 0) });
  };
  const plans = data.plans.filter((p) => p.currency === sub.plan.currency);
  const summary = preview && preview.immediateCharge.summary;
  const lineColumns = [
    { key: "description", label: t("change.line") },
    { key: "amount", label: t("credit.amount"), numeric: true, render: (l) => money(l.amount) },
  ];
  return html`<${Section} id="change" title=${t("change.title")}>
    <form class="change-form" onSubmit=${(e) => e.preventDefault()}>
      ${config.changePlan
        ? html`<${Select} label=${t("change.plan")} name="plan" value=${planId}
            onChange=${(v) => { setDone(null); setPlanId(v); }}
            options=${plans.map((p) => ({ value: p.id, label: `${p.name} · ${money(p.basePrice)}` }))} />`
        : ""}
      ${config.changeSeats
        ? addons.map((a) => html`<div class="field">
            <label for=${`qty-${a.code}`}>${t("change.quantity", { name: a.name, price: money(a.price) })}</label>
            <input id=${`qty-${a.code}`} name=${`qty-${a.code}`} type="number" min="0" step="1" inputmode="numeric"
              value=${a.quantity} onInput=${(e) => setQuantity(a.id, e.currentTarget.value)} />
          </div>`)
        : ""}
    </form>
    ${!changed && !done ? html`<p class="hint">${t("change.unchanged")}</p>` : ""}
    ${busy && !confirming ? html`<p role="status" class="loading">${t("change.previewing")}</p>` : ""}
    ${error && error.code === "SEATS_IN_USE" ? html`<${MustRemove} t=${t} error=${error} />` : html`<${ErrorNotice} error=${error} />`}
    ${summary
      ? html`<div class="preview" aria-live="polite" data-testid="preview">
          <p class="due-today"><strong>${t("change.today", { amount: money(summary.amountDue) })}</strong></p>
          <p class="renewal">${t("change.renewal", { amount: money(renewalAmount(preview.newSubscription)) })}</p>
          ${summary.creditToBalance.amount ? html`<p>${t("change.credit")}: ${money(summary.creditToBalance)}</p>` : ""}
          <p class="summary-text">${summary.text}</p>
          <h3>${t("change.lines")}</h3>
          <${Table} columns=${lineColumns} rows=${preview.immediateCharge.lineItems} rowKey=${(l, i) => i} empty="—" />
          ${confirming
            ? html`<div class="confirm" role="group" aria-label=${t("change.confirmTitle")}>
                <p><strong>${t("change.confirmTitle")}</strong></p>
                <${Button} kind="primary" disabled=${busy} onClick=${confirm}>
                  ${summary.amountDue.amount > 0 ? t("change.confirm", { amount: money(summary.amountDue) }) : t("change.confirmFree")}<//>
                <${Button} onClick=${() => setConfirming(false)}>${t("change.cancel")}<//>
              </div>`
            : html`<${Button} kind="primary" onClick=${() => setConfirming(true)}>${t("change.review")}<//>`}
        </div>`
      : ""}
    ${done ? html`<${Notice}>${done}<//>` : ""}
  <//>`;
}
