// The customer billing portal: what a tenant's admins see. One page of sections (plan and
// status, seats and members, changes with a live preview, usage, invoices, credit,
// entitlements, cancellation), over the public GraphQL API with the portal session's cookie.

import { html, render, useCallback, useEffect, useRef, useState } from "/assets/vendor/htm@3.1.1/preact/standalone.module.js";
import { LANGUAGES, createI18n, formatDate } from "/assets/shared/i18n.js";
import { formatMoney } from "/assets/shared/money.js";
import { ErrorNotice, Loading } from "/assets/shared/ui.js";
import { MESSAGES } from "./messages.js";
import { LIVE, PORTAL, PORTAL_SESSION } from "./queries.js";
import { Cancel, Coupon, Invoices } from "./screens/billing.js";
import { ChangePlan } from "./screens/change.js";
import { Credit, Entitlements, PlanStatus } from "./screens/overview.js";
import { Seats } from "./screens/seats.js";
import { Usage } from "./screens/usage.js";
import { client, live, openFromLink, signOut } from "./session.js";

const i18n = createI18n(MESSAGES, "portal.lang");

function Header({ t, session, tenant, onSignOut }) {
  const back = session && session.returnUrl;
  return html`<header class="portal-header">
    <div class="brand"><h1>${t("app.title")}</h1>${tenant ? html`<span class="tenant">${tenant.name}</span>` : ""}</div>
    <div class="tools">
      <label class="lang">${t("app.language")}
        <select onChange=${(e) => i18n.setLang(e.currentTarget.value)}>
          ${LANGUAGES.map((l) => html`<option value=${l.code} selected=${l.code === i18n.lang()}>${l.label}</option>`)}
        </select>
      </label>
      ${back ? html`<a class="btn btn-secondary" href=${back} rel="noopener">${t("app.back.plain")}</a>` : ""}
      ${session ? html`<button type="button" class="btn btn-secondary" onClick=${onSignOut}>${t("app.signOut")}</button>` : ""}
    </div>
  </header>`;
}

const SECTIONS = ["plan", "seats", "change", "usage", "invoices", "credit", "entitlements", "cancel"];
const TITLES = {
  plan: "plan.title", seats: "seats.title", change: "change.title", usage: "usage.title",
  invoices: "invoices.title", credit: "credit.title", entitlements: "ent.title", cancel: "cancel.title",
};

function Portal({ t, session, data, reload }) {
  const locale = i18n.locale();
  const tenant = data.tenant;
  const ctx = {
    t,
    locale,
    client,
    reload,
    data,
    tenant,
    tenantId: session.tenantId,
    config: data.portalConfiguration,
    money: (m) => formatMoney(m, locale),
    date: (iso) => formatDate(iso, locale, tenant.timezone),
  };
  return html`<div class="layout">
    <nav aria-label=${t("app.nav")} class="portal-nav">
      <ul>${SECTIONS.map((s) => html`<li><a href=${`#${s}`}>${t(TITLES[s])}</a></li>`)}</ul>
    </nav>
    <main id="main" class="portal-main">
      <p class="live-note">${t("app.live")}</p>
      <${PlanStatus} ...${ctx} />
      <${Seats} ...${ctx} />
      <${ChangePlan} ...${ctx} />
      <${Usage} ...${ctx} />
      <${Invoices} ...${ctx} />
      <${Credit} ...${ctx} />
      <${Entitlements} ...${ctx} />
      <${Cancel} ...${ctx} />
      ${ctx.config.applyCoupons && tenant.subscription ? html`<${Coupon} ...${ctx} />` : ""}
    </main>
  </div>`;
}

function App() {
  const [, setLang] = useState(i18n.lang());
  const [phase, setPhase] = useState({ name: "opening" });
  const [session, setSession] = useState(null);
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const pending = useRef(null);
  const t = i18n.t;
  useEffect(() => i18n.subscribe(setLang), []);

  const load = useCallback(async (tenantId) => {
    try {
      setData(await client.request(PORTAL, { tenantId }));
      setError(null);
    } catch (e) {
      if (e.code === "UNAUTHENTICATED") setPhase({ name: "ended" });
      else setError(e);
    }
  }, []);

  useEffect(() => {
    (async () => {
      try {
        await openFromLink();
      } catch (e) {
        setPhase({ name: "refused", error: e });
        return;
      }
      try {
        const found = (await client.request(PORTAL_SESSION)).portalSession;
        if (!found) throw new Error("no session");
        setSession(found);
        setPhase({ name: "ready" });
        await load(found.tenantId);
      } catch {
        setPhase({ name: "ended" });
      }
    })();
  }, [load]);

  useEffect(() => {
    if (!session) return undefined;
    // Events come in bursts (a change moves seats, invoices and entitlements): reload once.
    return live(Object.values(LIVE), { tenantId: session.tenantId }, () => {
      clearTimeout(pending.current);
      pending.current = setTimeout(() => load(session.tenantId), 250);
    });
  }, [session, load]);

  const onSignOut = async () => {
    await signOut();
    setSession(null);
    setData(null);
    setPhase({ name: "signedOut" });
  };
  const reload = () => load(session.tenantId);

  let body;
  if (phase.name === "refused") {
    body = html`<main class="portal-main single"><${ErrorNotice} title=${t("session.refused")} error=${phase.error} /></main>`;
  } else if (phase.name === "ended") {
    body = html`<main class="portal-main single"><div class="notice notice-error" role="alert">${t("session.ended")}</div></main>`;
  } else if (phase.name === "signedOut") {
    body = html`<main class="portal-main single"><div class="notice notice-ok" role="status">${t("session.signedOut")}</div></main>`;
  } else if (!data) {
    body = html`<main class="portal-main single">${error ? html`<${ErrorNotice} error=${error} />` : html`<${Loading} label=${t("app.loading")} />`}</main>`;
  } else {
    body = html`${error ? html`<${ErrorNotice} error=${error} />` : ""}<${Portal} t=${t} session=${session} data=${data} reload=${reload} />`;
  }
  return html`<a class="skip-link" href="#main">Skip to content</a>
    <${Header} t=${t} session=${session} tenant=${data && data.tenant} onSignOut=${onSignOut} />
    ${body}`;
}

render(html`<${App} />`, document.getElementById("app"));
