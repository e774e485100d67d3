// Tenants, with a search over name, email and ids: the API filters (tenants(search:)),
// the console asks it a page at a time as the operator pauses typing.

import { html, useEffect, useRef, useState } from "/assets/vendor/htm@3.1.1/preact/standalone.module.js";
import { Button, ErrorNotice, Field, Loading, Table } from "/assets/shared/ui.js";
import { allTenants, enumLabel, href, run, t } from "../context.js";
import { TENANTS } from "../operations.js";

const PAGE = 100;
const DEBOUNCE_MS = 250;

// One search's pages: a new search starts over; "more" reads the next page of the same one.
function useTenantSearch(query) {
  const [search, setSearch] = useState(query.trim());
  const [state, setState] = useState({ tenants: null, error: null, after: null, more: false, busy: true });
  const current = useRef(search); // the search shown: a page read for an older one is dropped
  current.current = search;
  useEffect(() => {
    const timer = setTimeout(() => setSearch(query.trim()), DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [query]);
  const read = (after, kept, isLive) => {
    setState((s) => ({ ...s, busy: true }));
    run(TENANTS, { first: PAGE, after, search: search || null }).then(
      (data) =>
        isLive() &&
        setState({
          tenants: [...kept, ...data.tenants.edges.map((e) => e.node)],
          error: null,
          after: data.tenants.pageInfo.endCursor,
          more: data.tenants.pageInfo.hasNextPage,
          busy: false,
        }),
      (error) => isLive() && setState({ tenants: kept, error, after, more: false, busy: false }),
    );
  };
  useEffect(() => {
    let live = true;
    setState({ tenants: null, error: null, after: null, more: false, busy: true });
    read(null, [], () => live);
    return () => {
      live = false;
    };
  }, [search]);
  const loadMore = () => read(state.after, state.tenants || [], () => current.current === search);
  return { ...state, loadMore };
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
  const [query, setQuery] = useState("");
  const { tenants, error, more, busy, loadMore } = useTenantSearch(query);
  const shown = tenants || [];
  const total = more ? `${shown.length}+` : shown.length;
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
              ${t("tenants.count", { shown: shown.length, total })}
            </p>
            <${Table} columns=${columns} rows=${shown} empty=${t("tenants.empty")} caption=${t("tenants.title")} />
            ${more ? html`<${Button} onClick=${loadMore} disabled=${busy}>${t("common.more")}</${Button}>` : ""}`}
    </div>`;
}
