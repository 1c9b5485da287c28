import type { Activity } from "../../../shared/config/activity.ts";
import type { CallRoute, PbxConfig } from "../../../shared/config/schema.ts";
import { ActivityFields, defaultActivity, describeActivity, orNull, timezones } from "../lib/entity.tsx";
import { CheckField, SelectField, TextField, useForm } from "../lib/forms.tsx";
import { href } from "../lib/router.ts";
import { type Editing, EditScreen, EntityForm, ListScreen, RowList } from "../lib/screens.tsx";

/** Call Routing: the PBX's inbound numbers and the call route form. */

export function CallRouting({ params }: { params: Record<string, string> }) {
  return (
    <ListScreen params={params} title="Call Routing" add={{ label: "Add Call Route", path: "routes/new" }}>
      {({ id, config }) => (
        <>
          <RowList
            empty="No inbound numbers yet. Add a call route for each number."
            rows={config.callRoutes.map((r) => ({
              key: r.id,
              to: `/pbx/${id}/routes/${r.id}`,
              title: `${r.did} ${r.alertName}`,
              meta: `${[
                describeActivity(r.activity, config),
                r.recordInbound ? "recording" : null,
                r.forwardAll.enabled ? `forward all ${r.forwardAll.dialCode ?? ""}` : null,
                r.holidayId ? `holiday ${config.holidays.find((h) => h.id === r.holidayId)?.name ?? ""}` : null,
              ]
                .filter(Boolean)
                .join(" · ")} · view/edit`,
            }))}
          />
          {config.callRoutes.some((r) => r.forwardAll.enabled) ? (
            <a class="button secondary" href={href(`/pbx/${id}/forward-all`)}>
              Call Forward All
            </a>
          ) : null}
        </>
      )}
    </ListScreen>
  );
}

interface RouteValues {
  timezone: string;
  did: string;
  alertName: string;
  passcode: { enabled: boolean; passcode: string };
  activity: Activity;
  recordInbound: boolean;
  forwardAll: { enabled: boolean };
  holidayEnabled: boolean;
  holidayId: string;
  virtualFaxEnabled: boolean;
  virtualFaxEmail: string;
}

function valuesOf(r: CallRoute | null, config: PbxConfig): RouteValues {
  return {
    timezone: r?.timezone ?? config.settings.timezone ?? "UTC",
    did: r?.did ?? "",
    alertName: r?.alertName ?? "",
    passcode: { enabled: r?.passcode.enabled ?? false, passcode: r?.passcode.passcode ?? "" },
    activity: r?.activity ?? defaultActivity(config.extensions.length > 0 ? "extension" : "hangup", config),
    recordInbound: r?.recordInbound ?? false,
    forwardAll: { enabled: r?.forwardAll.enabled ?? false },
    holidayEnabled: r ? r.holidayId !== null : false,
    holidayId: r?.holidayId ?? config.holidays[0]?.id ?? "",
    virtualFaxEnabled: r ? r.virtualFaxEmail !== null : false,
    virtualFaxEmail: r?.virtualFaxEmail ?? "",
  };
}

function bodyOf(v: RouteValues): Record<string, unknown> {
  return {
    timezone: v.timezone,
    did: v.did.trim(),
    alertName: v.alertName,
    passcode: { enabled: v.passcode.enabled, passcode: v.passcode.enabled ? orNull(v.passcode.passcode) : null },
    activity: v.activity,
    recordInbound: v.recordInbound,
    forwardAll: { enabled: v.forwardAll.enabled },
    holidayId: v.holidayEnabled ? orNull(v.holidayId) : null,
    virtualFaxEmail: v.virtualFaxEnabled ? (orNull(v.virtualFaxEmail) ?? "") : null,
  };
}

export function CallRouteEdit({ params }: { params: Record<string, string> }) {
  return (
    <EditScreen<CallRoute>
      params={params}
      collection="call-routes"
      list={{ label: "Call Routing", path: "routes" }}
      addTitle="Add Call Route"
      title={(r) => `Call Route ${r?.did ?? ""}`}
    >
      {(editing) => <RouteForm editing={editing} />}
    </EditScreen>
  );
}

function RouteForm({ editing }: { editing: Editing<CallRoute> }) {
  const { pbx, existing } = editing;
  const config = editing.data.config;
  const form = useForm<RouteValues>(() => valuesOf(existing, config), `route.${pbx}.${existing?.id ?? "new"}`);
  const v = form.values;
  const recordingOn = config.addons.callRecording.enabled;
  const faxOn = config.addons.virtualFax.enabled;
  return (
    <EntityForm
      form={form}
      editing={editing}
      collection="call-routes"
      body={() => bodyOf(v)}
      label={() => `call route ${v.did}`}
      saved={(saved) => {
        const code = (saved.forwardAll as { dialCode: string | null } | undefined)?.dialCode;
        return `Call route ${v.did} saved.${v.forwardAll.enabled && code ? ` Allocated Dial Code: ${code}.` : ""} Your changes are ready to apply.`;
      }}
      remove={
        existing && {
          confirm: `Delete the call route for ${existing.did}?`,
          label: `call route ${existing.did}`,
          done: `Call route ${existing.did} deleted. Your changes are ready to apply.`,
        }
      }
    >
      <fieldset>
        <legend>Number</legend>
        <SelectField
          form={form}
          path="timezone"
          label="Timezone"
          options={timezones(v.timezone)}
          hint="Used for holidays and timestamps."
        />
        <TextField
          form={form}
          path="did"
          label="Phone Number"
          type="tel"
          inputMode="tel"
          required
          hint="The inbound number, e.g. +61299990000."
        />
        <TextField form={form} path="alertName" label="Call Alert Name" required hint="Mostly for your reference." />
        <CheckField
          form={form}
          path="passcode.enabled"
          label="Caller Passcode"
          hint="Callers must enter a passcode first."
        />
        {v.passcode.enabled ? (
          <TextField
            form={form}
            path="passcode.passcode"
            label="Passcode"
            inputMode="numeric"
            autoComplete="off"
            hint="3 to 10 digits."
          />
        ) : null}
      </fieldset>
      <ActivityFields form={form} path="activity" config={config} kind="route" legend="Activity" />
      <fieldset>
        <legend>Features</legend>
        <CheckField
          form={form}
          path="recordInbound"
          label="Enable Call Recording"
          hint={
            recordingOn
              ? "Records all inbound calls on this number."
              : "Enable the Call Recording Plugin under Addons first."
          }
        />
        <CheckField form={form} path="forwardAll.enabled" label="Enable Forward All" />
        {v.forwardAll.enabled ? (
          <p class="dial-code" id="allocated-dial-code">
            Allocated Dial Code: <strong>{existing?.forwardAll.dialCode ?? "allocated when you save"}</strong>
            <span class="hint">
              {" "}
              Dial it followed by the destination to forward; dial it alone and hang up after the tone to stop.
              {existing?.forwardAll.dialCode ? (
                <>
                  {" "}
                  Or set it here: <a href={href(`/pbx/${pbx}/forward-all`)}>Call Forward All</a>.
                </>
              ) : null}
            </span>
          </p>
        ) : null}
        <CheckField form={form} path="holidayEnabled" label="Enable Holiday" also={["holidayId"]} />
        {v.holidayEnabled ? (
          config.holidays.length > 0 ? (
            <SelectField
              form={form}
              path="holidayId"
              label="Holiday condition"
              options={config.holidays.map((h) => ({ value: h.id, label: h.name }))}
            />
          ) : (
            <p class="hint">
              There are no holiday conditions yet. <a href={href(`/pbx/${pbx}/holidays/new`)}>Add Condition</a>
            </p>
          )
        ) : null}
        <CheckField
          form={form}
          path="virtualFaxEnabled"
          label="Enable Virtual FAX"
          also={["virtualFaxEmail"]}
          hint={faxOn ? undefined : "Enable the Virtual FAX Plugin under Addons first."}
        />
        {v.virtualFaxEnabled ? (
          <TextField form={form} path="virtualFaxEmail" label="FAX to email address" type="email" />
        ) : null}
      </fieldset>
    </EntityForm>
  );
}
