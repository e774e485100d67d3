// The catalog: plans (price per interval in their currency, seats, trial, add-ons
// offered) and add-ons, archived ones included.

import { html } from "/assets/vendor/htm@3.1.1/preact/standalone.module.js";
import { ErrorNotice, Loading, Section, Table } from "/assets/shared/ui.js";
import { day, enumLabel, money, t, useQuery } from "../context.js";
import { CATALOG } from "../operations.js";

function seatRange(plan) {
  const bounds = [plan.minSeats ?? "0", plan.maxSeats ?? "∞"].join("–");
  return `${plan.includedSeats} (${bounds})`;
}

export function CatalogPage() {
  const { data, error, loading } = useQuery(CATALOG, {});
  if (loading && !data) return html`<${Loading} label=${t("common.loading")} />`;
  if (error && !data) return html`<${ErrorNotice} error=${error} title=${t("common.failed")} />`;
  const addonCode = new Map(data.addons.map((a) => [a.id, a.code]));
  return html`<h1>${t("catalog.title")}</h1>
    <${Section} title=${t("catalog.plans")} id="plans">
      <${Table}
        caption=${t("catalog.plans")}
        columns=${[
          { label: t("col.code"), render: (r) => html`<code>${r.code}</code>` },
          { label: t("col.name"), key: "name" },
          { label: t("col.interval"), render: (r) => enumLabel(r.interval) },
          { label: t("col.basePrice"), render: (r) => money(r.basePrice), numeric: true },
          { label: t("col.seats"), render: seatRange, numeric: true },
          { label: t("col.trial"), key: "trialDays", numeric: true },
          { label: t("col.addons"), render: (r) => r.addons.map((a) => addonCode.get(a.id) || a.code).join(", ") },
        ]}
        rows=${data.plans}
        empty=${t("catalog.noPlans")}
      />
    </${Section}>
    <${Section} title=${t("catalog.addons")} id="addons">
      <${Table}
        caption=${t("catalog.addons")}
        columns=${[
          { label: t("col.code"), render: (r) => html`<code>${r.code}</code>` },
          { label: t("col.name"), key: "name" },
          { label: t("col.price"), render: (r) => money(r.price), numeric: true },
          {
            label: t("col.seatType"),
            render: (r) => (r.seatType ? `${enumLabel(r.seatType)} × ${r.seatsPerUnit}` : t("catalog.notSeat")),
          },
          { label: t("col.archived"), render: (r) => (r.archivedAt ? day(r.archivedAt) : "") },
        ]}
        rows=${data.addons}
        empty=${t("catalog.noAddons")}
      />
    </${Section}>`;
}
