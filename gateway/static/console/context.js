// What every console page shares: the API client (persisted queries, the signed-in key),
// the strings, money and dates in the chosen language, and a data-loading hook.

import { useCallback, useEffect, useState } from "/assets/vendor/htm@3.1.1/preact/standalone.module.js";
import { createClient } from "/assets/shared/graphql.js";
import { createI18n, formatDate, formatDateTime } from "/assets/shared/i18n.js";
import { formatMoney } from "/assets/shared/money.js";
import { MESSAGES } from "./messages.js";

// The ADMIN key lives in this tab's sessionStorage only: gone when the tab closes, never
// in localStorage (shared by every tab, kept for ever) and never in a URL.
const KEY_STORAGE = "console.adminKey";

export const session = {
  key() {
    try {
      return sessionStorage.getItem(KEY_STORAGE);
    } catch {
      return null;
    }
  },
  signIn(key) {
    sessionStorage.setItem(KEY_STORAGE, key);
  },
  signOut() {
    sessionStorage.removeItem(KEY_STORAGE);
  },
};

export const i18n = createI18n(MESSAGES, "console.lang");
export const t = (key, params) => i18n.t(key, params);
export const money = (m) => formatMoney(m, i18n.locale());
export const when = (iso, timeZone) => formatDateTime(iso, i18n.locale(), timeZone);
export const day = (iso, timeZone) => formatDate(iso, i18n.locale(), timeZone);

export const api = createClient({ getKey: () => session.key() });

// Pages hear of a key the server stopped accepting (revoked while signed in).
const expiredListeners = new Set();
export function onKeyRefused(listener) {
  expiredListeners.add(listener);
  return () => expiredListeners.delete(listener);
}

/** Run an operation; a key the server no longer accepts signs the console out. */
export async function run(document, variables) {
  try {
    return await api.request(document, variables);
  } catch (err) {
    if (err.code === "UNAUTHENTICATED") expiredListeners.forEach((listener) => listener(err));
    throw err;
  }
}

/** useQuery(document, variables) → {data, error, loading, reload}; reruns when the
 * variables change (compared as JSON). */
export function useQuery(document, variables) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const varsKey = JSON.stringify(variables || {});
  const load = useCallback(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true, error: null }));
    run(document, JSON.parse(varsKey)).then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error) => live && setState({ data: error.data || null, error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [document, varsKey]);
  useEffect(load, [load]);
  return { ...state, reload: load };
}

/** Every tenant, page by page (the API has no search: the console filters what it read). */
export async function allTenants(document) {
  const tenants = [];
  let after = null;
  for (let page = 0; page < 50; page++) {
    const data = await run(document, { first: 100, after });
    tenants.push(...data.tenants.edges.map((e) => e.node));
    if (!data.tenants.pageInfo.hasNextPage) break;
    after = data.tenants.pageInfo.endCursor;
  }
  return tenants;
}

/** The hash route's parts: "#/tenants/ten_1" → ["tenants", "ten_1"]. */
export function routeParts() {
  return (location.hash || "#/tenants").replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
}

export function href(...parts) {
  return `#/${parts.map(encodeURIComponent).join("/")}`;
}

/** The label of an API enum value (ACTIVE → "Active" / "有効"); the value itself when none. */
export function enumLabel(value) {
  if (value === null || value === undefined) return "";
  const key = `enum.${value}`;
  const text = t(key);
  return text === key ? String(value) : text;
}
