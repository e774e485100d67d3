// What customers may do themselves in the billing portal (portalConfiguration): one
// checkbox a permission and the proration mode of portal plan changes, saved together
// with updatePortalConfiguration; a refusal is shown as the API's typed error.

import { html, useEffect, useState } from "/assets/vendor/htm@3.1.1/preact/standalone.module.js";
import { typedError } from "/assets/shared/graphql.js";
import { ErrorNotice, Loading, Notice, Section, Select } from "/assets/shared/ui.js";
import { enumLabel, run, t, useQuery } from "../context.js";
import { PORTAL_CONFIGURATION, UPDATE_PORTAL_CONFIGURATION } from "../operations.js";

const PERMISSIONS = [
  "changePlan", "changeSeats", "cancelAtPeriodEnd", "cancelImmediately", "pause", "applyCoupons", "manageMembers",
];
const MODES = ["PRORATED_IMMEDIATELY", "DIFFERENCE_IMMEDIATELY", "FULL_IMMEDIATELY", "DO_NOT_BILL"];

function Permission({ name, checked, onChange }) {
  const id = `portal-${name}`;
  return html`<div class="field checkbox">
    <input type="checkbox" id=${id} name=${name} checked=${checked}
      onChange=${(e) => onChange(name, e.currentTarget.checked)} />
    <label for=${id}>${t(`portalConfig.${name}`)}</label>
  </div>`;
}

function useSave(setValues) {
  const [state, setState] = useState({ busy: false, error: null, saved: false });
  async function save(values) {
    setState({ busy: true, error: null, saved: false });
    try {
      const result = (await run(UPDATE_PORTAL_CONFIGURATION, { input: values })).updatePortalConfiguration;
      const error = typedError(result);
      if (error) return setState({ busy: false, error, saved: false });
      const { __typename, ...saved } = result;
      setValues(saved);
      setState({ busy: false, error: null, saved: true });
    } catch (error) {
      setState({ busy: false, error, saved: false });
    }
  }
  return { ...state, save };
}

export function PortalConfigurationPage() {
  const { data, error, loading } = useQuery(PORTAL_CONFIGURATION, {});
  const [values, setValues] = useState(null);
  useEffect(() => {
    if (data && data.portalConfiguration) setValues({ ...data.portalConfiguration });
  }, [data]);
  const saving = useSave(setValues);
  if (error && !data) return html`<${ErrorNotice} error=${error} title=${t("common.failed")} />`;
  if ((loading && !data) || !values) return html`<${Loading} label=${t("common.loading")} />`;
  const set = (name, value) => setValues({ ...values, [name]: value });
  function submit(event) {
    event.preventDefault();
    saving.save(values);
  }
  return html`<h1>${t("portalConfig.title")}</h1>
    <${Section} title=${t("portalConfig.section")} id="portal-configuration">
      <p class="muted">${t("portalConfig.intro")}</p>
      <form onSubmit=${submit} aria-label=${t("portalConfig.title")}>
        <fieldset>
          <legend>${t("portalConfig.permissions")}</legend>
          ${PERMISSIONS.map((name) => html`<${Permission} name=${name} checked=${values[name]} onChange=${set} />`)}
        </fieldset>
        <${Select} label=${t("portalConfig.prorationBillingMode")} name="prorationBillingMode"
          value=${values.prorationBillingMode}
          options=${MODES.map((mode) => ({ value: mode, label: enumLabel(mode) }))}
          onChange=${(mode) => set("prorationBillingMode", mode)} />
        <button type="submit" class="btn btn-primary" disabled=${saving.busy}>
          ${saving.busy ? t("common.saving") : t("common.save")}
        </button>
      </form>
      ${saving.error ? html`<${ErrorNotice} error=${saving.error} title=${t("common.failed")} />` : ""}
      ${saving.saved ? html`<${Notice}>${t("portalConfig.saved")}</${Notice}>` : ""}
    </${Section}>`;
}
