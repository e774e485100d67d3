// Small accessible pieces shared by the console and the portal: real <button>s and
// <label>ed inputs, errors announced to screen readers (role="alert"), tables with
// headers. Styling is in shared/base.css.

import { html } from "/assets/vendor/htm@3.1.1/preact/standalone.module.js";

let fieldIds = 0;

/** A labelled text input: <Field label="City" value=${v} onInput=${set} />. */
export function Field({ label, value, onInput, type = "text", name, required, autocomplete, hint, id }) {
  const inputId = id || (name ? `field-${name}` : `field-${++fieldIds}`);
  return html`<div class="field">
    <label for=${inputId}>${label}${required ? html`<span aria-hidden="true"> *</span>` : ""}</label>
    <input
      id=${inputId}
      name=${name || inputId}
      type=${type}
      value=${value ?? ""}
      required=${!!required}
      autocomplete=${autocomplete || "off"}
      aria-describedby=${hint ? `${inputId}-hint` : undefined}
      onInput=${(e) => onInput(e.currentTarget.value)}
    />
    ${hint ? html`<small id=${`${inputId}-hint`} class="hint">${hint}</small>` : ""}
  </div>`;
}

/** A labelled select over [{value, label}]. */
export function Select({ label, value, options, onChange, name }) {
  const inputId = `field-${name}`;
  return html`<div class="field">
    <label for=${inputId}>${label}</label>
    <select id=${inputId} name=${name} value=${value} onChange=${(e) => onChange(e.currentTarget.value)}>
      ${options.map((o) => html`<option value=${o.value} selected=${o.value === value}>${o.label}</option>`)}
    </select>
  </div>`;
}

export function Button({ children, onClick, kind = "secondary", type = "button", disabled, label }) {
  return html`<button type=${type} class=${`btn btn-${kind}`} onClick=${onClick} disabled=${disabled}
    aria-label=${label}>${children}</button>`;
}

/**
 * A typed error of the API (`... on Error {code message}`, a ValidationError's field and
 * problems) or a request's failure, announced as an alert.
 */
export function ErrorNotice({ error, title }) {
  if (!error) return null;
  const code = error.code || (error.errors && error.errors[0] && error.errors[0].extensions?.code);
  const problems = Array.isArray(error.problems) ? error.problems : [];
  return html`<div class="notice notice-error" role="alert">
    ${title ? html`<strong>${title}</strong> ` : ""}
    ${code ? html`<code class="code">${code}</code> ` : ""}<span class="message">${error.message}</span>
    ${error.field ? html` <span class="field-name">(${error.field})</span>` : ""}
    ${problems.length > 1
      ? html`<ul>${problems.map((p) => html`<li><code>${p.field}</code>: ${p.message}</li>`)}</ul>`
      : ""}
  </div>`;
}

export function Notice({ children }) {
  return html`<div class="notice notice-ok" role="status">${children}</div>`;
}

export function Loading({ label }) {
  return html`<p class="loading" role="status" aria-live="polite">${label}</p>`;
}

/** A table: columns [{key, label, render(row), numeric}], rows, a caption for readers. */
export function Table({ columns, rows, caption, empty, rowKey = (row, i) => row.id || i }) {
  if (!rows || rows.length === 0) return html`<p class="empty">${empty}</p>`;
  return html`<table>
    ${caption ? html`<caption>${caption}</caption>` : ""}
    <thead>
      <tr>${columns.map((c) => html`<th scope="col" class=${c.numeric ? "num" : ""}>${c.label}</th>`)}</tr>
    </thead>
    <tbody>
      ${rows.map(
        (row, i) => html`<tr key=${rowKey(row, i)}>
          ${columns.map((c) => html`<td class=${c.numeric ? "num" : ""}>${c.render ? c.render(row) : row[c.key]}</td>`)}
        </tr>`,
      )}
    </tbody>
  </table>`;
}

/** A titled section of a page. */
export function Section({ title, children, id }) {
  const headingId = id ? `${id}-title` : undefined;
  return html`<section class="card" id=${id} aria-labelledby=${headingId}>
    <h2 id=${headingId}>${title}</h2>
    ${children}
  </section>`;
}

/** A definition list of [label, value] pairs. */
export function Facts({ items }) {
  return html`<dl class="facts">
    ${items.map(([label, value]) => html`<div><dt>${label}</dt><dd>${value}</dd></div>`)}
  </dl>`;
}
