// Seats by type with their members: invite and remove; a full seat type offers the way to add seats.

import { html, useState } from "/assets/vendor/htm@3.1.1/preact/standalone.module.js";
import { typedError } from "/assets/shared/graphql.js";
import { Button, ErrorNotice, Field, Notice, Section, Select, Table } from "/assets/shared/ui.js";
import { INVITE, REMOVE } from "../queries.js";

export function Seats({ t, tenant, tenantId, client, reload, config }) {
  const [email, setEmail] = useState("");
  const [seatType, setSeatType] = useState("FULL");
  const [error, setError] = useState(null);
  const [done, setDone] = useState(null);
  const members = tenant.members.filter((m) => m.status === "ACTIVE");
  const types = tenant.seats.byType.filter((s) => s.total > 0 || s.used > 0);

  async function run(document, variables, field, message, after) {
    setError(null);
    setDone(null);
    try {
      const result = (await client.request(document, variables))[field];
      const problem = typedError(result);
      if (problem) setError(problem);
      else {
        if (after) after();
        setDone(message(result));
        await reload();
      }
      return !problem;
    } catch (e) {
      setError(e);
      return false;
    }
  }

  async function invite(e) {
    e.preventDefault();
    await run(
      INVITE,
      { input: { tenantId, email, seatType } },
      "inviteMember",
      (m) => t("seats.invited", { email: m.email }),
      () => setEmail(""),
    );
  }

  const typeColumns = [
    { key: "seatType", label: t("seats.type"), render: (s) => t(`seatType.${s.seatType}`) },
    { key: "total", label: t("seats.total"), numeric: true },
    { key: "used", label: t("seats.used"), numeric: true },
    { key: "available", label: t("seats.available"), numeric: true },
  ];
  const memberColumns = [
    { key: "email", label: t("seats.email") },
    { key: "seatType", label: t("seats.type"), render: (m) => t(`seatType.${m.seatType}`) },
  ];
  if (config.manageMembers) {
    memberColumns.push({
      key: "actions",
      label: "",
      render: (m) => html`<${Button} label=${t("seats.removeLabel", { email: m.email })}
        onClick=${() => run(REMOVE, { memberId: m.id }, "removeMember", () => t("seats.removed"))}>${t("seats.remove")}<//>`,
    });
  }
  const full = error && error.code === "NO_SEATS_AVAILABLE";
  return html`<${Section} id="seats" title=${t("seats.title")}>
    <${Table} columns=${typeColumns} rows=${types} rowKey=${(s) => s.seatType} empty="—" />
    <h3>${t("seats.members")}</h3>
    <${Table} columns=${memberColumns} rows=${members} empty=${t("seats.none")} />
    ${config.manageMembers
      ? html`<form class="inline-form" onSubmit=${invite} aria-label=${t("seats.inviteTitle")}>
          <${Field} label=${t("seats.email")} name="invite-email" type="email" value=${email} onInput=${setEmail} required />
          <${Select} label=${t("seats.type")} name="invite-seat-type" value=${seatType} onChange=${setSeatType}
            options=${["FULL", "VIEWER", "GUEST"].map((s) => ({ value: s, label: t(`seatType.${s}`) }))} />
          <${Button} type="submit" kind="primary">${t("seats.invite")}<//>
        </form>`
      : ""}
    <${ErrorNotice} error=${error} />
    ${full ? html`<p class="upgrade">${t("seats.noSeats")} <a class="btn btn-primary" href="#change">${t("seats.addSeats")}</a></p>` : ""}
    ${done ? html`<${Notice}>${done}<//>` : ""}
  <//>`;
}
