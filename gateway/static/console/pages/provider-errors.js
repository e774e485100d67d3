// Tenants whose payment-provider calls were refused for good (Tenant.providerError), each
// with a retry (retryProviderTasks) once the cause is fixed.

import { html, useState } from "/assets/vendor/htm@3.1.1/preact/standalone.module.js";
import { typedError } from "/assets/shared/graphql.js";
import { ErrorNotice, Loading, Notice, Section, Table } from "/assets/shared/ui.js";
import { href, run, t } from "../context.js";
import { RETRY_PROVIDER_TASKS } from "../operations.js";
import { useTenants } from "./tenants.js";

/** Queue the tenant's failed provider calls again; shows how many, or the typed error. */
export function RetryButton({ tenant, onDone }) {
  const [state, setState] = useState({ busy: false, error: null, done: null });
  async function retry() {
    setState({ busy: true, error: null, done: null });
    try {
      const result = (await run(RETRY_PROVIDER_TASKS, { tenantId: tenant.id })).retryProviderTasks;
      const error = typedError(result);
      if (error) return setState({ busy: false, error, done: null });
      setState({ busy: false, error: null, done: { n: result.retried, name: tenant.name } });
      if (onDone) onDone(result);
    } catch (error) {
      setState({ busy: false, error, done: null });
    }
  }
  return html`<span>
    <button type="button" class="btn btn-secondary" onClick=${retry} disabled=${state.busy}
      aria-label=${t("provider.retryFor", { name: tenant.name })}>${t("provider.retry")}</button>
    ${state.error ? html`<${ErrorNotice} error=${state.error} />` : ""}
    ${state.done ? html`<${Notice}>${t("provider.retried", state.done)}</${Notice}>` : ""}
  </span>`;
}

export function ProviderErrorsPage() {
  const { tenants, error } = useTenants();
  const failing = (tenants || []).filter((tenant) => tenant.providerError);
  return html`<h1>${t("provider.title")}</h1>
    <${Section} title=${t("provider.title")} id="provider-errors">
      <p class="muted">${t("provider.intro")}</p>
      ${error ? html`<${ErrorNotice} error=${error} title=${t("common.failed")} />` : ""}
      ${tenants === null && !error
        ? html`<${Loading} label=${t("common.loading")} />`
        : html`<${Table}
            caption=${t("provider.title")}
            columns=${[
              { label: t("col.tenant"), render: (r) => html`<a href=${href("tenants", r.id)}>${r.name}</a>` },
              { label: t("tenant.providerCustomer"), render: (r) => r.providerCustomerId || t("common.none") },
              { label: t("col.error"), key: "providerError" },
              { label: t("col.actions"), render: (r) => html`<${RetryButton} tenant=${r} />` },
            ]}
            rows=${failing}
            empty=${t("provider.none")}
          />`}
    </${Section}>`;
}
