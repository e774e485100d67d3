// Webhook endpoints, each with its delivery log (every attempt) and a redeliver button
// (redeliverWebhook: the same webhook-id, sent again now).

import { html, useState } from "/assets/vendor/htm@3.1.1/preact/standalone.module.js";
import { typedError } from "/assets/shared/graphql.js";
import { Button, ErrorNotice, Loading, Notice, Section, Table } from "/assets/shared/ui.js";
import { enumLabel, href, run, t, useQuery, when } from "../context.js";
import { REDELIVER_WEBHOOK, WEBHOOK_DELIVERIES, WEBHOOK_ENDPOINTS } from "../operations.js";

export function WebhooksPage() {
  const { data, error, loading } = useQuery(WEBHOOK_ENDPOINTS, {});
  if (loading && !data) return html`<${Loading} label=${t("common.loading")} />`;
  if (error && !data) return html`<${ErrorNotice} error=${error} title=${t("common.failed")} />`;
  return html`<h1>${t("webhooks.title")}</h1>
    <${Section} title=${t("webhooks.title")} id="endpoints">
      <${Table}
        caption=${t("webhooks.title")}
        columns=${[
          { label: t("col.url"), render: (r) => html`<code>${r.url}</code>` },
          { label: t("col.events"), render: (r) => r.events.join(", ") },
          {
            label: t("col.tenant"),
            render: (r) => (r.tenantId ? html`<a href=${href("tenants", r.tenantId)}>${r.tenantId}</a>` : t("webhooks.allTenants")),
          },
          { label: t("col.enabled"), render: (r) => (r.enabled ? t("common.yes") : t("common.no")) },
          {
            label: t("col.actions"),
            render: (r) => html`<a class="btn btn-secondary" href=${href("webhooks", r.id)}
              aria-label=${t("webhooks.openLabel", { url: r.url })}>${t("webhooks.deliveries")}</a>`,
          },
        ]}
        rows=${data.webhookEndpoints}
        empty=${t("webhooks.none")}
      />
    </${Section}>`;
}

function lastAttempt(delivery) {
  const last = delivery.attemptLog[delivery.attemptLog.length - 1];
  if (!last) return "";
  const outcome = last.statusCode !== null ? `HTTP ${last.statusCode}` : last.error || t("webhooks.noAnswer");
  return `${when(last.at)} · ${outcome} · ${last.durationMs} ms`;
}

function RedeliverButton({ delivery, onDone }) {
  const [state, setState] = useState({ busy: false, error: null });
  async function redeliver() {
    setState({ busy: true, error: null });
    try {
      const result = (await run(REDELIVER_WEBHOOK, { deliveryId: delivery.id })).redeliverWebhook;
      const error = typedError(result);
      setState({ busy: false, error });
      if (!error) onDone(result);
    } catch (error) {
      setState({ busy: false, error });
    }
  }
  return html`<span>
    <button type="button" class="btn btn-secondary" onClick=${redeliver} disabled=${state.busy}
      aria-label=${t("webhooks.redeliverLabel", { event: delivery.eventType, id: delivery.id })}>
      ${t("webhooks.redeliver")}
    </button>
    ${state.error ? html`<${ErrorNotice} error=${state.error} />` : ""}
  </span>`;
}

export function EndpointPage({ endpointId }) {
  const endpoints = useQuery(WEBHOOK_ENDPOINTS, {});
  const { data, error, loading, reload } = useQuery(WEBHOOK_DELIVERIES, { endpointId, first: 50 });
  const [done, setDone] = useState(null);
  const endpoint = endpoints.data && endpoints.data.webhookEndpoints.find((e) => e.id === endpointId);
  function redelivered(result) {
    setDone({ id: result.id }); // a message key's parameters: shown in the language of the moment
    reload();
  }
  return html`<p><a href=${href("webhooks")}>${t("webhooks.back")}</a></p>
    <h1>${t("webhooks.deliveriesOf", { url: endpoint ? endpoint.url : endpointId })}</h1>
    ${done ? html`<${Notice}>${t("webhooks.redelivered", done)}</${Notice}>` : ""}
    <${Section} title=${t("webhooks.deliveries")} id="deliveries">
      <${Button} onClick=${reload}>${t("common.reload")}</${Button}>
      ${error ? html`<${ErrorNotice} error=${error} title=${t("common.failed")} />` : ""}
      ${loading && !data
        ? html`<${Loading} label=${t("common.loading")} />`
        : data &&
          html`<${Table}
            caption=${t("webhooks.deliveries")}
            columns=${[
              { label: t("col.event"), render: (r) => html`<code>${r.eventType}</code>` },
              { label: t("col.created"), render: (r) => when(r.createdAt) },
              { label: t("col.status"), render: (r) => enumLabel(r.status) },
              { label: t("col.attempts"), render: (r) => html`<span data-attempts=${r.id}>${r.attempts}</span>`, numeric: true },
              { label: t("col.lastAttempt"), render: lastAttempt },
              { label: t("col.actions"), render: (r) => html`<${RedeliverButton} delivery=${r} onDone=${redelivered} />` },
            ]}
            rows=${data.webhookDeliveries.edges.map((e) => e.node)}
            empty=${t("webhooks.noDeliveries")}
          />`}
    </${Section}>`;
}
