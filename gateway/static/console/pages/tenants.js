// Tenants, with a search over name, email and ids (the API lists tenants; the console
// reads them all, page by page, and filters as the operator types).

import { html, useEffect, useState } from "/assets/vendor/htm@3.1.1/preact/standalone.module.js";
import { ErrorNotice, Field, Loading, Table } from "/assets/shared/ui.js";
import { allTenants, enumLabel, href, t } from "../context.js";
import { TENANTS } from "../operations.js";

export function matches(tenant, query) {
  const q = query.trim().toLowerCase();
  if (!q) return true;
  return [tenant.name, tenant.email, tenant.id, tenant.providerCustomerId]
    .filter(Boolean)
    .some((value) => value.toLowerCase().includes(q));
}

export function useTenants() {
  const [state, setState] = useState({ tenants: null, error: null });
  useEffect(() => {
    let live = true;
    allTenants(TENANTS).then(
      (tenants) => live && setState({ tenants, error: null }),
      (error) => live && setState({ tenants: null, error }),
    );
    return () => {
      live = false;
    };
  }, []);
  return state;
}

function statusBadge(status) {
  const bad = ["PAST_DUE", "UNPAID", "CANCELLED"].includes(status);
  return html`<span class=${`badge ${bad ? "badge-bad" : "badge-good"}`}>${enumLabel(status)}</span>`;
}

export function TenantsPage() {
  const { tenants, error } = useTenants();
  const [query, setQuery] = useState("");
  const shown = (tenants || []).filter((tenant) => matches(tenant, query));
  const columns = [
    { label: t("col.name"), render: (r) => html`<a href=${href("tenants", r.id)}>${r.name}</a>` },
    { label: t("col.email"), key: "email" },
    { label: t("col.currency"), key: "currency" },
    { label: t("col.salesMode"), render: (r) => enumLabel(r.salesMode) },
    { label: t("col.plan"), render: (r) => (r.subscription ? r.subscription.plan.name : t("common.none")) },
    { label: t("col.status"), render: (r) => (r.subscription ? statusBadge(r.subscription.status) : "") },
    {
      label: t("tenant.providerError"),
      render: (r) => (r.providerError ? html`<span class="badge badge-bad">${r.providerError}</span>` : ""),
    },
  ];
  return html`<h1>${t("tenants.title")}</h1>
    <div class="card">
      <div role="search">
        <${Field} label=${t("tenants.search")} name="tenant-search" type="search" value=${query}
          onInput=${setQuery} hint=${t("tenants.searchHint")} />
      </div>
      ${error ? html`<${ErrorNotice} error=${error} title=${t("common.failed")} />` : ""}
      ${tenants === null && !error
        ? html`<${Loading} label=${t("common.loading")} />`
        : tenants &&
          html`<p class="muted" aria-live="polite">
              ${t("tenants.count", { shown: shown.length, total: tenants.length })}
            </p>
            <${Table} columns=${columns} rows=${shown} empty=${t("tenants.empty")} caption=${t("tenants.title")} />`}
    </div>`;
}
