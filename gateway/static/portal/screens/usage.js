// Usage this period: a daily bar chart per meter (SVG, drawn here: no chart library), with
// the limit drawn where a metered entitlement sets one. Counts come from meterUnitPeriodCounts.

import { html, useEffect, useState } from "/assets/vendor/htm@3.1.1/preact/standalone.module.js";
import { ErrorNotice, Section } from "/assets/shared/ui.js";
import { METERS, USAGE } from "../queries.js";

function day(iso, timeZone) {
  // The tenant's calendar day of an instant, as YYYY-MM-DD.
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(iso));
}

function Chart({ t, meter, counts, limit, from, to }) {
  const width = 640;
  const height = 180;
  const pad = 28;
  const max = Math.max(1, limit || 0, ...counts.map((c) => c.count));
  const perDay = counts.length ? (width - pad * 2) / counts.length : 0;
  const y = (v) => height - pad - ((height - pad * 2) * v) / max;
  const total = counts.reduce((sum, c) => sum + c.count, 0);
  const label = t("usage.chart", { meter: meter.displayName, from, to });
  return html`<figure class="usage-chart" data-meter=${meter.name}>
    <figcaption><strong>${meter.displayName}</strong> · ${t("usage.total", { n: total.toLocaleString() })}
      ${limit !== null && limit !== undefined ? html` · <span class="limit-label">${t("usage.limit", { limit: Number(limit).toLocaleString() })}</span>` : ""}</figcaption>
    <svg viewBox=${`0 0 ${width} ${height}`} role="img" aria-label=${label} preserveAspectRatio="none">
      <line x1=${pad} y1=${height - pad} x2=${width - pad} y2=${height - pad} class="axis" />
      ${counts.map((c, i) => html`<rect class="bar" data-date=${c.date} data-count=${c.count}
          x=${pad + i * perDay + 1} width=${Math.max(1, perDay - 2)} y=${y(c.count)} height=${height - pad - y(c.count)}>
          <title>${c.date}: ${c.count}</title></rect>`)}
      ${limit !== null && limit !== undefined
        ? html`<line class="limit" data-limit=${limit} x1=${pad} x2=${width - pad} y1=${y(Number(limit))} y2=${y(Number(limit))} />`
        : ""}
    </svg>
    <table class="visually-hidden"><caption>${label}</caption>
      <tbody>${counts.map((c) => html`<tr><th scope="row">${c.date}</th><td>${c.count}</td></tr>`)}</tbody></table>
  </figure>`;
}

export function Usage({ t, tenant, tenantId, client, data }) {
  const [charts, setCharts] = useState(null);
  const [error, setError] = useState(null);
  const sub = tenant.subscription;
  const from = sub ? day(sub.currentPeriodStart, tenant.timezone) : null;
  const today = day(tenant.now, tenant.timezone);
  const to = sub && today < day(sub.currentPeriodEnd, tenant.timezone) ? today : from;
  const key = `${from}:${to}:${JSON.stringify(tenant.entitlements)}`;

  useEffect(() => {
    if (!sub) return;
    (async () => {
      try {
        const meters = (await client.request(METERS)).meters;
        const limits = new Map();
        for (const feature of data.features.filter((f) => f.kind === "METERED")) {
          const held = tenant.entitlements.find((e) => e.featureCode === feature.code);
          if (held && held.limit !== null && held.limit !== undefined) limits.set(feature.meterName, held.limit);
        }
        const found = await Promise.all(
          meters.map(async (meter) => ({
            meter,
            limit: limits.get(meter.name),
            counts: (await client.request(USAGE, { tenantId, meterName: meter.name, from, to })).meterUnitPeriodCounts,
          })),
        );
        setCharts(found);
      } catch (e) {
        setError(e);
      }
    })();
  }, [key]);

  if (!sub) return null;
  const shown = (charts || []).filter((c) => c.counts.some((d) => d.count) || c.limit !== undefined);
  return html`<${Section} id="usage" title=${t("usage.title")}>
    <${ErrorNotice} error=${error} />
    ${charts && shown.length === 0 ? html`<p class="empty">${t("usage.none")}</p>` : ""}
    ${shown.map((c) => html`<${Chart} t=${t} meter=${c.meter} counts=${c.counts} limit=${c.limit} from=${from} to=${to} />`)}
  <//>`;
}
