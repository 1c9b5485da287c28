import type { SpeedDialActivity } from "../../../shared/config/activity.ts";
import { AddonsInput } from "../../../shared/config/input.ts";
import type { Addons, BlacklistEntry, PbxConfig, VirtualExtension } from "../../../shared/config/schema.ts";
import { api } from "../lib/api.ts";
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
import { CheckField, FormErrors, Notice, TextField, useForm, zodErrors } from "../lib/forms.tsx";
import { markPending, PbxFrame, usePbx } from "../lib/pbx.tsx";
import { href, navigate } from "../lib/router.ts";

/** Blacklist, Virtual Extensions (speed dials) and Configure Addons. */

function FormButtons(props: {
  busy: boolean;
  list: string;
  forget: () => void;
  onDelete?: (() => void) | undefined;
  deleteLabel?: string;
}) {
  return (
    <div class="actions sticky">
      <button type="submit" class="primary" disabled={props.busy}>
        {props.busy ? "Saving…" : "Save"}
      </button>
      <button
        type="button"
        class="secondary"
        onClick={() => {
          props.forget();
          navigate(props.list);
        }}
      >
        Cancel
      </button>
      {props.onDelete ? (
        <button type="button" class="danger" onClick={props.onDelete}>
          {props.deleteLabel ?? "Delete"}
        </button>
      ) : null}
    </div>
  );
}

// ---- Blacklist ----

export function Blacklist({ params }: { params: Record<string, string> }) {
  const state = usePbx(params.pbx ?? "");
  const flash = useFlash();
  return (
    <PbxFrame
      state={state}
      title="Blacklist"
      actions={
        <a class="button primary" href={href(`/pbx/${params.pbx}/blacklist/new`)}>
          Add Blacklist
        </a>
      }
    >
      {({ id, config }) => (
        <>
          {flash ? <Notice>{flash}</Notice> : null}
          <p>Calls from these numbers are refused: nobody's phone rings.</p>
          {config.blacklist.length === 0 ? <p>No blocked numbers.</p> : null}
          <ul class="list">
            {config.blacklist.map((b) => (
              <li key={b.id}>
                <a class="row-link" href={href(`/pbx/${id}/blacklist/${b.id}`)}>
                  <span class="row-title">{b.number}</span>
                  <span class="row-meta">{b.note ?? "view/edit"}</span>
                </a>
              </li>
            ))}
          </ul>
        </>
      )}
    </PbxFrame>
  );
}

export function BlacklistEdit({ params }: { params: Record<string, string> }) {
  const pbx = params.pbx ?? "";
  const isNew = params.id === "new";
  const state = usePbx(pbx);
  const loaded = useEntity<BlacklistEntry>(pbx, "blacklist", isNew ? null : (params.id ?? null));
  if (!isNew && loaded.loading) return <p class="loading">Loading…</p>;
  return (
    <PbxFrame
      state={state}
      title={isNew ? "Add Blacklist" : `Blacklist ${loaded.entity?.number ?? ""}`}
      parent={{ label: "Blacklist", to: `/pbx/${pbx}/blacklist` }}
    >
      {() => <BlacklistForm pbx={pbx} existing={loaded.entity} etag={loaded.etag} key={loaded.etag ?? "new"} />}
    </PbxFrame>
  );
}

function BlacklistForm({ pbx, existing, etag }: { pbx: string; existing: BlacklistEntry | null; etag: string | null }) {
  const form = useForm(
    { number: existing?.number ?? "", note: existing?.note ?? "" },
    `bl.${pbx}.${existing?.id ?? "new"}`,
  );
  const list = `/pbx/${pbx}/blacklist`;
  const onSubmit = (e: Event) => {
    e.preventDefault();
    void form.submit(async () => {
      const body = { number: form.values.number.trim(), note: orNull(form.values.note) };
      const saved = await saveEntity(
        form,
        pbx,
        "blacklist",
        existing?.id ?? null,
        body,
        etag,
        `blacklist ${body.number}`,
      );
      if (!saved) return;
      setFlash(saved.queued ? QUEUED_NOTICE : `${body.number} is blacklisted once you apply your changes.`);
      navigate(list);
    });
  };
  return (
    <form onSubmit={onSubmit} noValidate>
      <FormErrors form={form} />
      <TextField form={form} path="number" label="Phone number" type="tel" inputMode="tel" required />
      <TextField form={form} path="note" label="Note" hint="Why it is blocked (optional)." />
      <FormButtons
        busy={form.busy}
        list={list}
        forget={form.forget}
        onDelete={
          existing
            ? () =>
                confirm(`Remove ${existing.number} from the blacklist?`) &&
                form.submit(async () => {
                  const queued = await deleteEntity(
                    pbx,
                    "blacklist",
                    existing.id,
                    etag,
                    `blacklist ${existing.number}`,
                  );
                  form.forget();
                  setFlash(queued ? QUEUED_NOTICE : `${existing.number} removed from the blacklist.`);
                  navigate(list);
                })
            : undefined
        }
      />
    </form>
  );
}

// ---- Virtual Extensions ----

export function VirtualExtensions({ params }: { params: Record<string, string> }) {
  const state = usePbx(params.pbx ?? "");
  const flash = useFlash();
  return (
    <PbxFrame
      state={state}
      title="Virtual Extensions"
      actions={
        <a class="button primary" href={href(`/pbx/${params.pbx}/virtual-extensions/new`)}>
          Add Virtual Extension
        </a>
      }
    >
      {({ id, config }) => (
        <>
          {flash ? <Notice>{flash}</Notice> : null}
          <p>
            Speed dials for internal use: a 3 or 4 digit number that goes to a phone number, a conference room, a ring
            group or voicemail.
          </p>
          {config.virtualExtensions.length === 0 ? <p>No virtual extensions yet.</p> : null}
          <ul class="list">
            {config.virtualExtensions.map((v) => (
              <li key={v.id}>
                <a class="row-link" href={href(`/pbx/${id}/virtual-extensions/${v.id}`)}>
                  <span class="row-title">
                    {v.number} {v.name}
                  </span>
                  <span class="row-meta">{v.activity.type} · view/edit</span>
                </a>
              </li>
            ))}
          </ul>
        </>
      )}
    </PbxFrame>
  );
}

export function VirtualExtensionEdit({ params }: { params: Record<string, string> }) {
  const pbx = params.pbx ?? "";
  const isNew = params.id === "new";
  const state = usePbx(pbx);
  const loaded = useEntity<VirtualExtension>(pbx, "virtual-extensions", isNew ? null : (params.id ?? null));
  if (!isNew && loaded.loading) return <p class="loading">Loading…</p>;
  return (
    <PbxFrame
      state={state}
      title={isNew ? "Add Virtual Extension" : `Virtual Extension ${loaded.entity?.number ?? ""}`}
      parent={{ label: "Virtual Extensions", to: `/pbx/${pbx}/virtual-extensions` }}
    >
      {(data) => (
        <VirtualForm
          pbx={pbx}
          config={data.config}
          existing={loaded.entity}
          etag={loaded.etag}
          key={loaded.etag ?? "new"}
        />
      )}
    </PbxFrame>
  );
}

function VirtualForm(props: {
  pbx: string;
  config: PbxConfig;
  existing: VirtualExtension | null;
  etag: string | null;
}) {
  const { pbx, config, existing } = props;
  const form = useForm(
    () => ({
      name: existing?.name ?? "",
      number: existing?.number ?? "",
      activity: (existing?.activity ?? defaultActivity("external", config)) as SpeedDialActivity,
    }),
    `vext.${pbx}.${existing?.id ?? "new"}`,
  );
  const list = `/pbx/${pbx}/virtual-extensions`;
  const onSubmit = (e: Event) => {
    e.preventDefault();
    void form.submit(async () => {
      const body = { ...form.values, number: form.values.number.trim() };
      const label = `virtual extension ${body.number} ${body.name}`;
      const saved = await saveEntity(form, pbx, "virtual-extensions", existing?.id ?? null, body, props.etag, label);
      if (!saved) return;
      setFlash(
        saved.queued
          ? QUEUED_NOTICE
          : `Virtual extension ${body.number} ${body.name} saved. Your changes are ready to apply.`,
      );
      navigate(list);
    });
  };
  return (
    <form onSubmit={onSubmit} noValidate>
      <FormErrors form={form} />
      <TextField form={form} path="name" label="Name" required hint="For your reference." />
      <TextField
        form={form}
        path="number"
        label="Extension Number"
        inputMode="numeric"
        required
        hint="The 3 or 4 digit speed dial number."
      />
      <ActivityFields form={form} path="activity" config={config} kind="speedDial" legend="Activity" />
      <FormButtons
        busy={form.busy}
        list={list}
        forget={form.forget}
        onDelete={
          existing
            ? () =>
                confirm(`Delete virtual extension ${existing.number}?`) &&
                form.submit(async () => {
                  const queued = await deleteEntity(
                    pbx,
                    "virtual-extensions",
                    existing.id,
                    props.etag,
                    `virtual extension ${existing.number}`,
                  );
                  form.forget();
                  setFlash(queued ? QUEUED_NOTICE : `Virtual extension ${existing.number} deleted.`);
                  navigate(list);
                })
            : undefined
        }
      />
    </form>
  );
}

// ---- Configure Addons ----

export function ConfigureAddons({ params }: { params: Record<string, string> }) {
  const pbx = params.pbx ?? "";
  const state = usePbx(pbx);
  const loaded = useEntity<Addons>(pbx, "addons", "addons");
  if (loaded.loading) return <p class="loading">Loading…</p>;
  return (
    <PbxFrame state={state} title="Configure Addons">
      {() =>
        loaded.entity ? <AddonsForm pbx={pbx} addons={loaded.entity} etag={loaded.etag} key={loaded.etag} /> : null
      }
    </PbxFrame>
  );
}

function AddonsForm({ pbx, addons, etag }: { pbx: string; addons: Addons; etag: string | null }) {
  const form = useForm(
    () => ({
      callRecording: {
        enabled: addons.callRecording.enabled,
        disclaimerAccepted: addons.callRecording.disclaimerAccepted,
      },
      ftp: { username: addons.callRecording.ftp?.username ?? "", password: "" },
      recordingEncryption: {
        enabled: addons.recordingEncryption.enabled,
        publicKeyPem: addons.recordingEncryption.publicKeyPem ?? "",
      },
      virtualFax: { enabled: addons.virtualFax.enabled, disclaimerAccepted: addons.virtualFax.disclaimerAccepted },
    }),
    `addons.${pbx}`,
  );
  const v = form.values;
  const onSubmit = (e: Event) => {
    e.preventDefault();
    void form.submit(async () => {
      const ftpUser = v.ftp.username.trim();
      const body = {
        callRecording: {
          ...v.callRecording,
          ...(ftpUser ? { ftp: { username: ftpUser, ...(v.ftp.password ? { password: v.ftp.password } : {}) } } : {}),
        },
        recordingEncryption: {
          enabled: v.recordingEncryption.enabled,
          publicKeyPem: orNull(v.recordingEncryption.publicKeyPem),
        },
        virtualFax: v.virtualFax,
      };
      const checked = AddonsInput.safeParse(body);
      if (!checked.success) return form.setErrors(zodErrors(checked.error.issues), "Some fields need attention.");
      await api("PATCH", `/pbxs/${pbx}/addons`, body, { ifMatch: etag });
      markPending(pbx);
      form.forget();
      navigate(`/pbx/${pbx}`);
    });
  };
  return (
    <form onSubmit={onSubmit} noValidate>
      <FormErrors form={form} />
      <fieldset>
        <legend>Call Recording</legend>
        <p class="disclaimer">
          Disclaimer: recording calls may require you to tell callers they are recorded. You are responsible for
          complying with the laws that apply to you.
        </p>
        <CheckField
          form={form}
          path="callRecording.disclaimerAccepted"
          label="I agree to the call recording disclaimer"
        />
        <CheckField
          form={form}
          path="callRecording.enabled"
          label="Enable Call Recording Plugin"
          disabled={!v.callRecording.disclaimerAccepted}
          hint={v.callRecording.disclaimerAccepted ? undefined : "Agree to the disclaimer first."}
        />
        <h3>Call Recordings (FTP access)</h3>
        <TextField
          form={form}
          path="ftp.username"
          label="FTP username"
          also={["callRecording.ftp.username", "callRecording.ftp"]}
          autoComplete="off"
        />
        <TextField
          form={form}
          path="ftp.password"
          label="FTP password"
          type="password"
          also={["callRecording.ftp.password"]}
          autoComplete="new-password"
          hint={addons.callRecording.ftp ? "Leave blank to keep the current password." : "At least 10 characters."}
        />
      </fieldset>
      <fieldset>
        <legend>Call Recording Encryption</legend>
        <CheckField form={form} path="recordingEncryption.enabled" label="Enable call recording encryption" />
        <TextField
          form={form}
          path="recordingEncryption.publicKeyPem"
          label="Public key (PEM certificate)"
          multiline
          hint="Paste mypublickey.pem. Keep the private key safe: without it recordings cannot be decrypted."
        />
      </fieldset>
      <fieldset>
        <legend>Virtual FAX</legend>
        <p class="disclaimer">
          Disclaimer: faxes are delivered by email and may be read by anyone with access to that mailbox.
        </p>
        <CheckField form={form} path="virtualFax.disclaimerAccepted" label="I Agree" />
        <CheckField
          form={form}
          path="virtualFax.enabled"
          label="Enable Virtual FAX Plugin"
          disabled={!v.virtualFax.disclaimerAccepted}
          hint={v.virtualFax.disclaimerAccepted ? undefined : "Agree to the disclaimer first."}
        />
      </fieldset>
      <FormButtons busy={form.busy} list={`/pbx/${pbx}`} forget={form.forget} />
    </form>
  );
}
