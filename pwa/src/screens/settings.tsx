import type { ForwardAllEntry } from "../../../shared/runtime/forward-all.ts";
import { ForwardAllUpdate } from "../../../shared/runtime/forward-all.ts";
import { ApiError, api } from "../lib/api.ts";
import { saveSection, timezones } from "../lib/entity.tsx";
import { Alert, checkInput, FormView, Notice, SelectField, SubmitButton, TextField, useForm } from "../lib/forms.tsx";
import { PbxFrame, usePbx } from "../lib/pbx.tsx";
import { href, navigate } from "../lib/router.ts";
import { FormButtons, SectionScreen, useApi } from "../lib/screens.tsx";

/** PBX Settings (what a customer may change of them) and Call Forward All per call route. */

type Params = { params: Record<string, string> };

// ---- Settings ----

export function PbxSettings({ params }: Params) {
  return (
    <SectionScreen<{ timezone: string; channels: number }> params={params} section="settings" title="Settings">
      {({ pbx, data, entity, etag }) => (
        <SettingsForm pbx={pbx} sipDomain={data.summary.sipDomain} settings={entity} etag={etag} />
      )}
    </SectionScreen>
  );
}

function SettingsForm(props: {
  pbx: string;
  sipDomain: string;
  settings: { timezone: string; channels: number };
  etag: string | null;
}) {
  const { pbx, settings } = props;
  const form = useForm(() => ({ timezone: settings.timezone }), `settings.${pbx}`);
  const onSubmit = async () => {
    // Only the timezone: the channel count is the provider's, and the SIP domain is fixed.
    if (!(await saveSection(form, pbx, "settings", { timezone: form.values.timezone }, props.etag))) return;
    navigate(`/pbx/${pbx}`);
  };
  return (
    <FormView form={form} onSubmit={onSubmit}>
      <SelectField
        form={form}
        path="timezone"
        label="Timezone"
        options={timezones(form.values.timezone)}
        hint="The PBX's own timezone; new call routes start with it."
      />
      <dl class="credentials">
        <dt>Channels</dt>
        <dd>
          {settings.channels} simultaneous external calls. Your provider sets this: contact your administrator to change
          it.
        </dd>
        <dt>SIP domain</dt>
        <dd>
          <code>{props.sipDomain}</code> (fixed when the PBX was created)
        </dd>
      </dl>
      <FormButtons form={form} list={`/pbx/${pbx}`} />
    </FormView>
  );
}

// ---- Call Forward All ----

export function ForwardAll({ params }: Params) {
  const pbx = params.pbx ?? "";
  const state = usePbx(pbx);
  const fetched = useApi<{ items: ForwardAllEntry[] }>(`/pbxs/${pbx}/forward-all`);
  return (
    <PbxFrame state={state} title="Call Forward All" parent={{ label: "Call Routing", to: `/pbx/${pbx}/routes` }}>
      {() => (
        <>
          <p>
            Forward every call to a number straight away, without Apply. A phone can do the same by dialling the route's
            dial code followed by the destination.
          </p>
          {fetched.error ? (
            <Alert>
              {fetched.error.offline ? "Call Forward All needs a connection to the PBX." : fetched.error.message}
            </Alert>
          ) : null}
          {!fetched.data && !fetched.error ? <p class="loading">Loading…</p> : null}
          {fetched.data && fetched.data.items.length === 0 ? (
            <p>There are no call routes in the applied configuration yet.</p>
          ) : null}
          <ul class="list">
            {fetched.data?.items.map((entry) => (
              <li key={entry.routeId}>
                <ForwardRow pbx={pbx} entry={entry} onChange={fetched.reload} />
              </li>
            ))}
          </ul>
        </>
      )}
    </PbxFrame>
  );
}

function ForwardRow({ pbx, entry, onChange }: { pbx: string; entry: ForwardAllEntry; onChange: () => Promise<void> }) {
  const form = useForm({ destination: "" }, `fwd.${pbx}.${entry.routeId}`, `fwd-${entry.routeId}`);
  const titleId = `fwd-${entry.routeId}-title`;
  const put = async (destination: string | null) => {
    const body = checkInput(form, ForwardAllUpdate, { destination });
    if (!body) return;
    try {
      await api("PUT", `/pbxs/${pbx}/forward-all/${entry.routeId}`, body);
    } catch (error) {
      if (error instanceof ApiError && error.offline)
        throw new ApiError(0, { detail: "Call Forward All can only be changed online. Your entry is still here." });
      throw error;
    }
    form.forget();
    form.replace({ destination: "" });
    form.setErrors([]);
    form.setNotice(destination ? `Calls to ${entry.did} now go to ${destination}.` : "Forwarding stopped.");
    await onChange();
  };
  return (
    <section class="change-row" aria-labelledby={titleId}>
      <h2 class="row-title" id={titleId}>
        {entry.did} {entry.alertName}
      </h2>
      <p class="row-meta" data-testid="forward-state">
        {entry.destination
          ? `Forwarding to ${entry.destination}${entry.setBy ? ` (set by ${entry.setBy}` : ""}${entry.setAt ? `, ${new Date(entry.setAt).toLocaleString()})` : entry.setBy ? ")" : ""}`
          : "Not forwarding"}
        {entry.dialCode ? ` · dial code ${entry.dialCode}` : ""}
      </p>
      {form.notice ? <Notice>{form.notice}</Notice> : null}
      {entry.enabled ? null : (
        <p class="hint">
          Enable Forward All is not ticked on this route in the applied configuration:{" "}
          <a href={href(`/pbx/${pbx}/routes/${entry.routeId}`)}>tick it on the call route</a>, then Apply.
        </p>
      )}
      {entry.enabled || entry.destination ? (
        <FormView form={form} onSubmit={() => put(form.values.destination.trim())}>
          {entry.enabled ? (
            <TextField
              form={form}
              path="destination"
              label={`Forward ${entry.did} to`}
              type="tel"
              inputMode="tel"
              autoComplete="off"
              hint="A phone number, e.g. 0412345678."
            />
          ) : null}
          <div class="actions">
            {entry.enabled ? (
              <SubmitButton
                form={form}
                label={entry.destination ? "Change forwarding" : "Forward"}
                busyLabel="Saving…"
              />
            ) : null}
            {entry.destination ? (
              <button type="button" class="danger" disabled={form.busy} onClick={() => form.submit(() => put(null))}>
                Stop forwarding
              </button>
            ) : null}
          </div>
        </FormView>
      ) : null}
    </section>
  );
}
