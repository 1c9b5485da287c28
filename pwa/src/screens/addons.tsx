import { AddonsInput } from "../../../shared/config/input.ts";
import type { Addons, FaxSender } from "../../../shared/config/schema.ts";
import { ApiError, api } from "../lib/api.ts";
import { deleteEntity, QUEUED_NOTICE, saveEntity, setFlash, useEntity, useFlash } from "../lib/entity.tsx";
import { CheckField, type Form, FormErrors, Notice, TextField, useForm, zodErrors } from "../lib/forms.tsx";
import { markPending, PbxFrame, usePbx } from "../lib/pbx.tsx";
import { href, navigate } from "../lib/router.ts";
import { FormButtons } from "./simple.tsx";

/** Addons: Configure Addons (plugins and their disclaimers), Call Recordings (FTP), Virtual FAX senders. */

export function AddonsMenu({ params }: { params: Record<string, string> }) {
  const pbx = params.pbx ?? "";
  const state = usePbx(pbx);
  const flash = useFlash();
  return (
    <PbxFrame state={state} title="Addons">
      {({ config }) => (
        <>
          {flash ? <Notice>{flash}</Notice> : null}
          <ul class="list">
            <li>
              <a class="row-link" href={href(`/pbx/${pbx}/addons/configure`)}>
                <span class="row-title">Configure Addons</span>
                <span class="row-meta">
                  Call Recording Plugin {config.addons.callRecording.enabled ? "on" : "off"} · encryption{" "}
                  {config.addons.recordingEncryption.enabled ? "on" : "off"} · Virtual FAX Plugin{" "}
                  {config.addons.virtualFax.enabled ? "on" : "off"}
                </span>
              </a>
            </li>
            <li>
              <a class="row-link" href={href(`/pbx/${pbx}/addons/recordings`)}>
                <span class="row-title">Call Recordings</span>
                <span class="row-meta">
                  FTP access{" "}
                  {config.addons.callRecording.ftp ? `as ${config.addons.callRecording.ftp.username}` : "not set up"}
                </span>
              </a>
            </li>
            <li>
              <a class="row-link" href={href(`/pbx/${pbx}/fax-senders`)}>
                <span class="row-title">Virtual FAX</span>
                <span class="row-meta">{config.faxSenders.length} allowed senders</span>
              </a>
            </li>
          </ul>
        </>
      )}
    </PbxFrame>
  );
}

/** PATCH /addons with If-Match; the shared AddonsInput checks it first. */
async function saveAddons(form: Form<never> | Form<unknown>, pbx: string, body: unknown, etag: string | null) {
  const f = form as Form<unknown>;
  const checked = AddonsInput.safeParse(body);
  if (!checked.success) {
    f.setErrors(zodErrors(checked.error.issues), "Some fields need attention.");
    return false;
  }
  try {
    await api("PATCH", `/pbxs/${pbx}/addons`, body, { ifMatch: etag });
  } catch (error) {
    if (error instanceof ApiError && error.offline)
      throw new ApiError(0, { detail: "Add-ons can only be changed online. Your entries are still here." });
    throw error;
  }
  markPending(pbx);
  f.forget();
  return true;
}

function useAddons(pbx: string) {
  return useEntity<Addons>(pbx, "addons", "addons");
}

export function ConfigureAddons({ params }: { params: Record<string, string> }) {
  const pbx = params.pbx ?? "";
  const state = usePbx(pbx);
  const loaded = useAddons(pbx);
  if (loaded.loading) return <p class="loading">Loading…</p>;
  return (
    <PbxFrame state={state} title="Configure Addons" parent={{ label: "Addons", to: `/pbx/${pbx}/addons` }}>
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
      const pem = v.recordingEncryption.publicKeyPem.trim();
      const body = {
        callRecording: v.callRecording,
        recordingEncryption: { enabled: v.recordingEncryption.enabled, publicKeyPem: pem === "" ? null : pem },
        virtualFax: v.virtualFax,
      };
      if (!(await saveAddons(form, pbx, body, etag))) return;
      navigate(`/pbx/${pbx}`);
    });
  };
  return (
    <form onSubmit={onSubmit} noValidate>
      <FormErrors form={form} />
      <fieldset>
        <legend>Call Recording</legend>
        <p class="disclaimer" id="recording-disclaimer">
          Disclaimer: recording calls may require you to tell callers that they are recorded. You are responsible for
          complying with the laws that apply to you and your callers.
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
      </fieldset>
      <fieldset>
        <legend>Call Recording Encryption</legend>
        <CheckField
          form={form}
          path="recordingEncryption.enabled"
          label="Enable call recording encryption"
          hint="Recordings are encrypted to your public key and get a .enc suffix."
        />
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
          Disclaimer: faxes are delivered by email and can be read by anyone with access to that mailbox.
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
      <FormButtons busy={form.busy} list={`/pbx/${pbx}/addons`} forget={form.forget} />
    </form>
  );
}

export function CallRecordings({ params }: { params: Record<string, string> }) {
  const pbx = params.pbx ?? "";
  const state = usePbx(pbx);
  const loaded = useAddons(pbx);
  if (loaded.loading) return <p class="loading">Loading…</p>;
  return (
    <PbxFrame state={state} title="Call Recordings" parent={{ label: "Addons", to: `/pbx/${pbx}/addons` }}>
      {() => (loaded.entity ? <FtpForm pbx={pbx} addons={loaded.entity} etag={loaded.etag} key={loaded.etag} /> : null)}
    </PbxFrame>
  );
}

function FtpForm({ pbx, addons, etag }: { pbx: string; addons: Addons; etag: string | null }) {
  const ftp = addons.callRecording.ftp;
  const form = useForm(() => ({ username: ftp?.username ?? "", password: "" }), `ftp.${pbx}`);
  const onSubmit = (e: Event) => {
    e.preventDefault();
    void form.submit(async () => {
      const { username, password } = form.values;
      const body = {
        callRecording: { ftp: { username: username.trim(), ...(password ? { password } : {}) } },
      };
      if (!(await saveAddons(form, pbx, body, etag))) return;
      form.setErrors([]);
      setFlash("FTP access saved. It works once you apply your changes.");
      navigate(`/pbx/${pbx}/addons`);
    });
  };
  return (
    <form onSubmit={onSubmit} noValidate>
      <p>Set the login your FTP client uses to download this PBX's call recordings.</p>
      {addons.callRecording.enabled ? null : (
        <Notice>The Call Recording Plugin is off: enable it under Configure Addons to record calls.</Notice>
      )}
      <FormErrors form={form} />
      <TextField
        form={form}
        path="username"
        label="FTP username"
        also={["callRecording.ftp.username", "callRecording.ftp"]}
        autoComplete="off"
        required
      />
      <TextField
        form={form}
        path="password"
        label="FTP password"
        type="password"
        also={["callRecording.ftp.password"]}
        autoComplete="new-password"
        hint={ftp ? "Leave blank to keep the current password." : "At least 10 characters."}
      />
      <FormButtons busy={form.busy} list={`/pbx/${pbx}/addons`} forget={form.forget} />
    </form>
  );
}

export function VirtualFax({ params }: { params: Record<string, string> }) {
  const pbx = params.pbx ?? "";
  const state = usePbx(pbx);
  const flash = useFlash();
  return (
    <PbxFrame
      state={state}
      title="Virtual FAX"
      parent={{ label: "Addons", to: `/pbx/${pbx}/addons` }}
      actions={
        <a class="button primary" href={href(`/pbx/${pbx}/fax-senders/new`)}>
          Add Virtual FAX Sender
        </a>
      }
    >
      {({ config }) => (
        <>
          {flash ? <Notice>{flash}</Notice> : null}
          <p>
            These email addresses may send faxes for your company, each with its caller ID.
            {config.addons.virtualFax.enabled
              ? ""
              : " The Virtual FAX Plugin is off: enable it under Configure Addons."}
          </p>
          {config.faxSenders.length === 0 ? <p>No allowed senders yet.</p> : null}
          <ul class="list">
            {config.faxSenders.map((f) => (
              <li key={f.id}>
                <a class="row-link" href={href(`/pbx/${pbx}/fax-senders/${f.id}`)}>
                  <span class="row-title">{f.email}</span>
                  <span class="row-meta">caller ID {f.callerId} · view/edit</span>
                </a>
              </li>
            ))}
          </ul>
          <a class="button secondary" href={href(`/pbx/${pbx}`)}>
            Return to Service
          </a>
        </>
      )}
    </PbxFrame>
  );
}

export function FaxSenderEdit({ params }: { params: Record<string, string> }) {
  const pbx = params.pbx ?? "";
  const isNew = params.id === "new";
  const state = usePbx(pbx);
  const loaded = useEntity<FaxSender>(pbx, "fax-senders", isNew ? null : (params.id ?? null));
  if (!isNew && loaded.loading) return <p class="loading">Loading…</p>;
  return (
    <PbxFrame
      state={state}
      title={isNew ? "Add Virtual FAX Sender" : (loaded.entity?.email ?? "Virtual FAX Sender")}
      parent={{ label: "Virtual FAX", to: `/pbx/${pbx}/fax-senders` }}
    >
      {() => <FaxSenderForm pbx={pbx} existing={loaded.entity} etag={loaded.etag} key={loaded.etag ?? "new"} />}
    </PbxFrame>
  );
}

function FaxSenderForm({ pbx, existing, etag }: { pbx: string; existing: FaxSender | null; etag: string | null }) {
  const form = useForm(
    { email: existing?.email ?? "", callerId: existing?.callerId ?? "" },
    `fax.${pbx}.${existing?.id ?? "new"}`,
  );
  const list = `/pbx/${pbx}/fax-senders`;
  const onSubmit = (e: Event) => {
    e.preventDefault();
    void form.submit(async () => {
      const body = { email: form.values.email.trim(), callerId: form.values.callerId.trim() };
      const saved = await saveEntity(
        form,
        pbx,
        "fax-senders",
        existing?.id ?? null,
        body,
        etag,
        `sender ${body.email}`,
      );
      if (!saved) return;
      setFlash(saved.queued ? QUEUED_NOTICE : `${body.email} may send faxes once you apply your changes.`);
      navigate(list);
    });
  };
  return (
    <form onSubmit={onSubmit} noValidate>
      <FormErrors form={form} />
      <TextField form={form} path="email" label="Sender email" type="email" required />
      <TextField form={form} path="callerId" label="Caller ID" type="tel" inputMode="tel" required />
      <FormButtons
        busy={form.busy}
        list={list}
        forget={form.forget}
        onDelete={
          existing
            ? () =>
                confirm(`Remove ${existing.email} from the allowed senders?`) &&
                form.submit(async () => {
                  const queued = await deleteEntity(pbx, "fax-senders", existing.id, etag, `sender ${existing.email}`);
                  form.forget();
                  setFlash(queued ? QUEUED_NOTICE : `${existing.email} removed.`);
                  navigate(list);
                })
            : undefined
        }
      />
    </form>
  );
}
