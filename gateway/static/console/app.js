// The operator console: sign-in with an ADMIN key, a top bar with the sections and the
// language, and hash routes (#/tenants, #/tenants/<id>, #/tenants/<id>/invoices/<id>, #/catalog,
// #/provider-errors, #/webhooks, #/webhooks/<endpoint id>, #/portal-configuration).

import { html, render, useEffect, useState } from "/assets/vendor/htm@3.1.1/preact/standalone.module.js";
import { LANGUAGES } from "/assets/shared/i18n.js";
import { Button, ErrorNotice, Field, Notice } from "/assets/shared/ui.js";
import { api, href, i18n, onKeyRefused, routeParts, session, t } from "./context.js";
import { SIGN_IN_CHECK } from "./operations.js";
import { CatalogPage } from "./pages/catalog.js";
import { InvoicePage } from "./pages/invoice.js";
import { PortalConfigurationPage } from "./pages/portal-configuration.js";
import { ProviderErrorsPage } from "./pages/provider-errors.js";
import { TenantPage } from "./pages/tenant.js";
import { TenantsPage } from "./pages/tenants.js";
import { EndpointPage, WebhooksPage } from "./pages/webhooks.js";

const SECTIONS = [
  ["tenants", "nav.tenants"],
  ["catalog", "nav.catalog"],
  ["provider-errors", "nav.providerErrors"],
  ["webhooks", "nav.webhooks"],
  ["portal-configuration", "nav.portalConfiguration"],
];

/** Ask for something only ADMIN keys may read: FORBIDDEN means a TENANT or PARTNER key. */
async function checkAdminKey(key) {
  session.signIn(key); // the client reads the key from the session; removed again on refusal
  try {
    await api.request(SIGN_IN_CHECK);
    return null;
  } catch (err) {
    session.signOut();
    if (err.code === "FORBIDDEN") return { key: "signin.notAdmin" };
    if (err.code === "UNAUTHENTICATED") return { key: "signin.invalid" };
    return { key: "signin.failed", params: { message: err.message } };
  }
}

function focusKeyField() {
  const field = document.getElementById("field-admin-key");
  if (field) field.focus();
}

function SignIn({ onSignedIn, notice }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  async function submit(event) {
    event.preventDefault();
    const trimmed = key.trim();
    if (!trimmed) {
      setError({ key: "signin.empty" });
      focusKeyField();
      return;
    }
    setBusy(true);
    const refusal = await checkAdminKey(trimmed);
    setBusy(false);
    if (refusal) {
      setError(refusal);
      focusKeyField(); // the button was disabled while checking: give the field the focus back
      return;
    }
    setKey("");
    onSignedIn();
  }
  return html`<main id="main" class="signin">
    <form class="card" onSubmit=${submit} aria-labelledby="signin-title" novalidate>
      <h1 id="signin-title">${t("signin.title")}</h1>
      <p>${t("signin.intro")}</p>
      ${notice ? html`<${ErrorNotice} error=${{ message: t(notice) }} />` : ""}
      <${Field} label=${t("signin.key")} name="admin-key" type="password" value=${key} onInput=${setKey}
        autocomplete="off" required />
      ${error ? html`<${ErrorNotice} error=${{ message: t(error.key, error.params) }} />` : ""}
      <button type="submit" class="btn btn-primary" disabled=${busy}>
        ${busy ? t("signin.checking") : t("signin.submit")}
      </button>
    </form>
  </main>`;
}

function LanguageSwitch() {
  return html`<label class="lang">
    <span>${t("lang.label")}</span>
    <select name="language" value=${i18n.lang()} onChange=${(e) => i18n.setLang(e.currentTarget.value)}>
      ${LANGUAGES.map((l) => html`<option value=${l.code} selected=${l.code === i18n.lang()}>${l.label}</option>`)}
    </select>
  </label>`;
}

function TopBar({ section, onSignOut, signedIn }) {
  return html`<header class="top">
    <a class="skip-link" href="#main" onClick=${skipToMain}>${t("app.skip")}</a>
    <strong class="brand">${t("app.title")}</strong>
    ${signedIn
      ? html`<nav aria-label=${t("nav.label")}>
          <ul>
            ${SECTIONS.map(
              ([id, label]) => html`<li>
                <a href=${href(id)} aria-current=${section === id ? "page" : undefined}>${t(label)}</a>
              </li>`,
            )}
          </ul>
        </nav>`
      : ""}
    <span class="spacer"></span>
    <${LanguageSwitch} />
    ${signedIn ? html`<${Button} onClick=${onSignOut}>${t("signout")}</${Button}>` : ""}
  </header>`;
}

function skipToMain(event) {
  event.preventDefault(); // the hash is the router's: move focus instead of navigating
  const main = document.getElementById("main");
  if (main) main.focus();
}

function Page({ parts }) {
  const [section, id, sub, subId] = parts;
  if (section === "tenants" && sub === "invoices" && subId) {
    return html`<${InvoicePage} invoiceId=${subId} tenantId=${id} />`;
  }
  if (section === "tenants" && id) return html`<${TenantPage} tenantId=${id} />`;
  if (section === "invoices" && id) return html`<${InvoicePage} invoiceId=${id} />`;
  if (section === "catalog") return html`<${CatalogPage} />`;
  if (section === "provider-errors") return html`<${ProviderErrorsPage} />`;
  if (section === "webhooks" && id) return html`<${EndpointPage} endpointId=${id} />`;
  if (section === "webhooks") return html`<${WebhooksPage} />`;
  if (section === "portal-configuration") return html`<${PortalConfigurationPage} />`;
  return html`<${TenantsPage} />`;
}

function App() {
  const [, setLang] = useState(i18n.lang());
  const [signedIn, setSignedIn] = useState(!!session.key());
  const [notice, setNotice] = useState(null);
  const [parts, setParts] = useState(routeParts());
  useEffect(() => i18n.subscribe(setLang), []);
  useEffect(() => {
    const onHash = () => setParts(routeParts());
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);
  useEffect(
    () =>
      onKeyRefused(() => {
        session.signOut();
        setNotice("signin.expired");
        setSignedIn(false);
      }),
    [],
  );
  useEffect(() => {
    document.title = `${t("app.title")} · Billing gateway`;
  });
  function signOut() {
    session.signOut();
    setNotice(null);
    setSignedIn(false);
  }
  if (!signedIn) {
    return html`<${TopBar} signedIn=${false} />
      <${SignIn} notice=${notice} onSignedIn=${() => (setNotice(null), setSignedIn(true))} />`;
  }
  return html`<${TopBar} section=${parts[0] || "tenants"} signedIn=${true} onSignOut=${signOut} />
    <main id="main" tabindex="-1">
      ${notice ? html`<${Notice}>${t(notice)}</${Notice}>` : ""}
      <${Page} key=${parts.join("/")} parts=${parts} />
    </main>`;
}

render(html`<${App} />`, document.getElementById("app"));
