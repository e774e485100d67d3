// A tenant's billing info, edited on the customer's behalf (updateBillingInfo): the
// mutation replaces it whole, and with a payment provider the tenant's customer there is
// updated through the outbox. Typed errors (VALIDATION_FAILED naming the field) are shown.

import { html, useState } from "/assets/vendor/htm@3.1.1/preact/standalone.module.js";
import { typedError } from "/assets/shared/graphql.js";
import { ErrorNotice, Field, Notice, Section } from "/assets/shared/ui.js";
import { run, t } from "../context.js";
import { UPDATE_BILLING_INFO } from "../operations.js";

const ADDRESS_FIELDS = ["line1", "line2", "city", "state", "postalCode", "country"];

function formFrom(info) {
  const address = (info && info.address) || {};
  const form = { companyName: (info && info.companyName) || "" };
  for (const name of ADDRESS_FIELDS) form[name] = address[name] || "";
  return form;
}

/** The form as BillingInfoInput: empty optional fields are null, and an address with no
 * field filled is no address (so it can be cleared). */
export function toInput(form) {
  const value = (name) => (form[name].trim() === "" ? null : form[name].trim());
  const anyAddress = ADDRESS_FIELDS.some((name) => value(name) !== null);
  const address = anyAddress
    ? {
        line1: value("line1") || "",
        line2: value("line2"),
        city: value("city") || "",
        state: value("state"),
        postalCode: value("postalCode"),
        country: (value("country") || "").toUpperCase(),
      }
    : null;
  return { companyName: value("companyName"), address };
}

export function BillingInfoForm({ tenant, onSaved }) {
  const [form, setForm] = useState(formFrom(tenant.billingInfo));
  const [state, setState] = useState({ busy: false, error: null, saved: false });
  const set = (name) => (value) => setForm({ ...form, [name]: value });

  async function save(event) {
    event.preventDefault();
    setState({ busy: true, error: null, saved: false });
    try {
      const data = await run(UPDATE_BILLING_INFO, { tenantId: tenant.id, input: toInput(form) });
      const result = data.updateBillingInfo;
      const error = typedError(result);
      if (error) return setState({ busy: false, error, saved: false });
      setForm(formFrom(result.billingInfo));
      setState({ busy: false, error: null, saved: true });
      if (onSaved) onSaved(result);
    } catch (error) {
      setState({ busy: false, error, saved: false });
    }
  }

  const field = (name, extra = {}) =>
    html`<${Field} label=${t(`billing.${name}`)} name=${`billing-${name}`} value=${form[name]}
      onInput=${set(name)} ...${extra} />`;
  return html`<${Section} title=${t("billing.title")} id="billing">
    <p class="muted">${t("billing.intro")}</p>
    <p>
      <span class="badge">${tenant.salesMode === "SALES_LED" ? t("billing.salesLed") : t("billing.selfServe")}</span>
    </p>
    <form onSubmit=${save} aria-describedby="billing-address-hint" novalidate>
      ${field("companyName", { autocomplete: "organization" })}
      <div class="row">${field("line1", { autocomplete: "address-line1" })}${field("line2", { autocomplete: "address-line2" })}</div>
      <div class="row">${field("city", { autocomplete: "address-level2" })}${field("state", { autocomplete: "address-level1" })}</div>
      <div class="row">${field("postalCode", { autocomplete: "postal-code" })}${field("country", { autocomplete: "country" })}</div>
      <p id="billing-address-hint" class="hint">${t("billing.noAddress")}</p>
      ${state.error ? html`<${ErrorNotice} error=${state.error} />` : ""}
      ${state.saved ? html`<${Notice}>${t("billing.saved")}</${Notice}>` : ""}
      <button type="submit" class="btn btn-primary" disabled=${state.busy}>
        ${state.busy ? t("common.saving") : t("common.save")}
      </button>
    </form>
  </${Section}>`;
}
