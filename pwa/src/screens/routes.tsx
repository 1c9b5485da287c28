import type { Activity } from "../../../shared/config/activity.ts";
import type { CallRoute, PbxConfig } from "../../../shared/config/schema.ts";
import {
  ActivityFields,
  defaultActivity,
  deleteEntity,
  orNull,
  QUEUED_NOTICE,
  saveEntity,
  setFlash,
  useEntity,
  useFlash,
} from "../lib/entity.tsx";
import { CheckField, FormErrors, Notice, SelectField, TextField, useForm } from "../lib/forms.tsx";
import { PbxFrame, usePbx } from "../lib/pbx.tsx";
import { href, navigate } from "../lib/router.ts";

/** Call Routing: the PBX's inbound numbers and the call route form. */

function describe(activity: Activity, config: PbxConfig): string {
  switch (activity.type) {
    case "extension":
      return `Extension ${activity.extension}`;
    case "voicemail":
      return `Voicemail ${activity.extension}`;
    case "external":
      return `External ${activity.number}`;
    case "ringGroup":
      return `Ring group ${config.ringGroups.find((g) => g.id === activity.ringGroupId)?.name ?? "?"}`;
    case "conference":
      return `Conference ${config.conferenceRooms.find((r) => r.id === activity.conferenceRoomId)?.number ?? "?"}`;
    case "announcement":
      return `Announcement ${config.announcements.find((a) => a.id === activity.announcementId)?.name ?? "?"}`;
    case "hangup":
      return "Hang up";
  }
}

export function CallRouting({ params }: { params: Record<string, string> }) {
  const state = usePbx(params.pbx ?? "");
  const flash = useFlash();
  return (
    <PbxFrame
      state={state}
      title="Call Routing"
      actions={
        <a class="button primary" href={href(`/pbx/${params.pbx}/routes/new`)}>
          Add Call Route
        </a>
      }
    >
      {({ id, config }) => (
        <>
          {flash ? <Notice>{flash}</Notice> : null}
          {config.callRoutes.length === 0 ? <p>No inbound numbers yet. Add a call route for each number.</p> : null}
          <ul class="list">
            {config.callRoutes.map((r) => (
              <li key={r.id}>
                <a class="row-link" href={href(`/pbx/${id}/routes/${r.id}`)}>
                  <span class="row-title">
                    {r.did} {r.alertName}
                  </span>
                  <span class="row-meta">
                    {[
                      describe(r.activity, config),
                      r.recordInbound ? "recording" : null,
                      r.forwardAll.enabled ? `forward all ${r.forwardAll.dialCode ?? ""}` : null,
                      r.holidayId ? `holiday ${config.holidays.find((h) => h.id === r.holidayId)?.name ?? ""}` : null,
                    ]
                      .filter(Boolean)
                      .join(" · ")}{" "}
                    · view/edit
                  </span>
                </a>
              </li>
            ))}
          </ul>
        </>
      )}
    </PbxFrame>
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

let zones: string[] | null = null;
function timezones(current: string): { value: string; label: string }[] {
  zones ??= (() => {
    try {
      return Intl.supportedValuesOf("timeZone");
    } catch {
      return ["UTC", "Australia/Sydney"];
    }
  })();
  const list = zones.includes(current) ? zones : [current, ...zones];
  return list.map((z) => ({ value: z, label: z.replace(/_/g, " ") }));
}

export function CallRouteEdit({ params }: { params: Record<string, string> }) {
  const pbx = params.pbx ?? "";
  const isNew = params.id === "new";
  const state = usePbx(pbx);
  const loaded = useEntity<CallRoute>(pbx, "call-routes", isNew ? null : (params.id ?? null));
  if (!isNew && loaded.loading) return <p class="loading">Loading…</p>;
  return (
    <PbxFrame
      state={state}
      title={isNew ? "Add Call Route" : `Call Route ${loaded.entity?.did ?? ""}`}
      parent={{ label: "Call Routing", to: `/pbx/${pbx}/routes` }}
    >
      {(data) =>
        loaded.error ? (
          <p role="alert" class="error-summary">
            {loaded.error.message}
          </p>
        ) : (
          <RouteForm
            pbx={pbx}
            config={data.config}
            existing={loaded.entity}
            etag={loaded.etag}
            key={loaded.etag ?? "new"}
          />
        )
      }
    </PbxFrame>
  );
}

function RouteForm(props: { pbx: string; config: PbxConfig; existing: CallRoute | null; etag: string | null }) {
  const { pbx, config, existing } = props;
  const form = useForm<RouteValues>(() => valuesOf(existing, config), `route.${pbx}.${existing?.id ?? "new"}`);
  const v = form.values;
  const list = `/pbx/${pbx}/routes`;
  const recordingOn = config.addons.callRecording.enabled;
  const faxOn = config.addons.virtualFax.enabled;
  const onSubmit = (e: Event) => {
    e.preventDefault();
    void form.submit(async () => {
      const saved = await saveEntity(
        form,
        pbx,
        "call-routes",
        existing?.id ?? null,
        bodyOf(v),
        props.etag,
        `call route ${v.did}`,
      );
      if (!saved) return;
      if (saved.queued) {
        setFlash(QUEUED_NOTICE);
        return navigate(list);
      }
      const code = (saved.forwardAll as { dialCode: string | null } | undefined)?.dialCode;
      setFlash(
        `Call route ${v.did} saved.${v.forwardAll.enabled && code ? ` Allocated Dial Code: ${code}.` : ""} Your changes are ready to apply.`,
      );
      navigate(list);
    });
  };
  return (
    <form onSubmit={onSubmit} noValidate>
      <FormErrors form={form} />
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
      <div class="actions sticky">
        <button type="submit" class="primary" disabled={form.busy}>
          {form.busy ? "Saving…" : "Save"}
        </button>
        <button
          type="button"
          class="secondary"
          onClick={() => {
            form.forget();
            navigate(list);
          }}
        >
          Cancel
        </button>
        {existing ? (
          <button
            type="button"
            class="danger"
            onClick={() =>
              confirm(`Delete the call route for ${existing.did}?`) &&
              form.submit(async () => {
                const queued = await deleteEntity(
                  pbx,
                  "call-routes",
                  existing.id,
                  props.etag,
                  `call route ${existing.did}`,
                );
                form.forget();
                setFlash(
                  queued ? QUEUED_NOTICE : `Call route ${existing.did} deleted. Your changes are ready to apply.`,
                );
                navigate(list);
              })
            }
          >
            Delete
          </button>
        ) : null}
      </div>
    </form>
  );
}
