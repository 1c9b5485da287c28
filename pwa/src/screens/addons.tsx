import type { Addons, FaxSender } from "../../../shared/config/schema.ts";
import { saveSection, setFlash } from "../lib/entity.tsx";
import { CheckField, type Form, FormView, Notice, TextField, useForm } from "../lib/forms.tsx";
import { href, navigate } from "../lib/router.ts";
import {
  type Editing,
  EditScreen,
  EntityForm,
  FormButtons,
  ListScreen,
  RowList,
  SectionScreen,
} from "../lib/screens.tsx";

/** Addons: Configure Addons (plugins and their disclaimers), Call Recordings (FTP), Virtual FAX senders. */

export function AddonsMenu({ params }: { params: Record<string, string> }) {
  const pbx = params.pbx ?? "";
  return (
    <ListScreen params={params} title="Addons">
      {({ config }) => (
        <RowList
          rows={[
            {
              key: "configure",
              to: `/pbx/${pbx}/addons/configure`,
              title: "Configure Addons",
              meta: `Call Recording Plugin ${config.addons.callRecording.enabled ? "on" : "off"} · encryption ${
                config.addons.recordingEncryption.enabled ? "on" : "off"
              } · Virtual FAX Plugin ${config.addons.virtualFax.enabled ? "on" : "off"}`,
            },
            {
              key: "recordings",
              to: `/pbx/${pbx}/addons/recordings`,
              title: "Call Recordings",
              meta: `FTP access ${config.addons.callRecording.ftp ? `as ${config.addons.callRecording.ftp.username}` : "not set up"}`,
            },
            {
              key: "fax",
              to: `/pbx/${pbx}/fax-senders`,
              title: "Virtual FAX",
              meta: `${config.faxSenders.length} allowed senders`,
            },
          ]}
        />
      )}
    </ListScreen>
  );
}

export function ConfigureAddons({ params }: { params: Record<string, string> }) {
  return (
    <SectionScreen<Addons>
      params={params}
      section="addons"
      title="Configure Addons"
      parent={{ label: "Addons", to: `/pbx/${params.pbx}/addons` }}
    >
      {({ pbx, entity, etag }) => <AddonsForm pbx={pbx} addons={entity} etag={etag} />}
    </SectionScreen>
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
  const onSubmit = async () => {
    const pem = v.recordingEncryption.publicKeyPem.trim();
    const body = {
      callRecording: v.callRecording,
      recordingEncryption: { enabled: v.recordingEncryption.enabled, publicKeyPem: pem === "" ? null : pem },
      virtualFax: v.virtualFax,
    };
    if (!(await saveSection(form, pbx, "addons", body, etag))) return;
    navigate(`/pbx/${pbx}`);
  };
  return (
    <FormView form={form} onSubmit={onSubmit}>
      <PluginGate
        form={form}
        legend="Call Recording"
        path="callRecording"
        disclaimerId="recording-disclaimer"
        disclaimer="Disclaimer: recording calls may require you to tell callers that they are recorded. You are responsible for complying with the laws that apply to you and your callers."
        agreeLabel="I agree to the call recording disclaimer"
        enableLabel="Enable Call Recording Plugin"
      />
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
      <PluginGate
        form={form}
        legend="Virtual FAX"
        path="virtualFax"
        disclaimer="Disclaimer: faxes are delivered by email and can be read by anyone with access to that mailbox."
        agreeLabel="I Agree"
        enableLabel="Enable Virtual FAX Plugin"
      />
      <FormButtons form={form} list={`/pbx/${pbx}/addons`} />
    </FormView>
  );
}

/** A plugin that can be enabled only once its disclaimer is agreed. */
function PluginGate(props: {
  form: Form<unknown> | Form<never>;
  legend: string;
  /** Holds `disclaimerAccepted` and `enabled`. */
  path: string;
  disclaimer: string;
  disclaimerId?: string;
  agreeLabel: string;
  enableLabel: string;
}) {
  const { form, path } = props;
  const agreed = (form as Form<unknown>).get(`${path}.disclaimerAccepted`) === true;
  return (
    <fieldset>
      <legend>{props.legend}</legend>
      <p class="disclaimer" id={props.disclaimerId}>
        {props.disclaimer}
      </p>
      <CheckField form={form} path={`${path}.disclaimerAccepted`} label={props.agreeLabel} />
      <CheckField
        form={form}
        path={`${path}.enabled`}
        label={props.enableLabel}
        disabled={!agreed}
        hint={agreed ? undefined : "Agree to the disclaimer first."}
      />
    </fieldset>
  );
}

export function CallRecordings({ params }: { params: Record<string, string> }) {
  return (
    <SectionScreen<Addons>
      params={params}
      section="addons"
      title="Call Recordings"
      parent={{ label: "Addons", to: `/pbx/${params.pbx}/addons` }}
    >
      {({ pbx, entity, etag }) => <FtpForm pbx={pbx} addons={entity} etag={etag} />}
    </SectionScreen>
  );
}

function FtpForm({ pbx, addons, etag }: { pbx: string; addons: Addons; etag: string | null }) {
  const ftp = addons.callRecording.ftp;
  const form = useForm(() => ({ username: ftp?.username ?? "", password: "" }), `ftp.${pbx}`);
  const onSubmit = async () => {
    const { username, password } = form.values;
    const body = {
      callRecording: { ftp: { username: username.trim(), ...(password ? { password } : {}) } },
    };
    if (!(await saveSection(form, pbx, "addons", body, etag))) return;
    form.setErrors([]);
    setFlash("FTP access saved. It works once you apply your changes.");
    navigate(`/pbx/${pbx}/addons`);
  };
  return (
    <FormView
      form={form}
      onSubmit={onSubmit}
      intro={
        <>
          <p>Set the login your FTP client uses to download this PBX's call recordings.</p>
          {addons.callRecording.enabled ? null : (
            <Notice>The Call Recording Plugin is off: enable it under Configure Addons to record calls.</Notice>
          )}
        </>
      }
    >
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
      <FormButtons form={form} list={`/pbx/${pbx}/addons`} />
    </FormView>
  );
}

export function VirtualFax({ params }: { params: Record<string, string> }) {
  const pbx = params.pbx ?? "";
  return (
    <ListScreen
      params={params}
      title="Virtual FAX"
      parent={{ label: "Addons", to: `/pbx/${pbx}/addons` }}
      add={{ label: "Add Virtual FAX Sender", path: "fax-senders/new" }}
    >
      {({ config }) => (
        <>
          <p>
            These email addresses may send faxes for your company, each with its caller ID.
            {config.addons.virtualFax.enabled
              ? ""
              : " The Virtual FAX Plugin is off: enable it under Configure Addons."}
          </p>
          <RowList
            empty="No allowed senders yet."
            rows={config.faxSenders.map((f) => ({
              key: f.id,
              to: `/pbx/${pbx}/fax-senders/${f.id}`,
              title: f.email,
              meta: `caller ID ${f.callerId} · view/edit`,
            }))}
          />
          <a class="button secondary" href={href(`/pbx/${pbx}`)}>
            Return to Service
          </a>
        </>
      )}
    </ListScreen>
  );
}

export function FaxSenderEdit({ params }: { params: Record<string, string> }) {
  return (
    <EditScreen<FaxSender>
      params={params}
      collection="fax-senders"
      list={{ label: "Virtual FAX", path: "fax-senders" }}
      addTitle="Add Virtual FAX Sender"
      title={(f) => f?.email ?? "Virtual FAX Sender"}
    >
      {(editing) => <FaxSenderForm editing={editing} />}
    </EditScreen>
  );
}

function FaxSenderForm({ editing }: { editing: Editing<FaxSender> }) {
  const { pbx, existing } = editing;
  const form = useForm(
    { email: existing?.email ?? "", callerId: existing?.callerId ?? "" },
    `fax.${pbx}.${existing?.id ?? "new"}`,
  );
  return (
    <EntityForm
      form={form}
      editing={editing}
      collection="fax-senders"
      body={() => ({ email: form.values.email.trim(), callerId: form.values.callerId.trim() })}
      label={(body) => `sender ${body.email}`}
      saved={(_, body) => `${body.email} may send faxes once you apply your changes.`}
      remove={
        existing && {
          confirm: `Remove ${existing.email} from the allowed senders?`,
          label: `sender ${existing.email}`,
          done: `${existing.email} removed.`,
        }
      }
    >
      <TextField form={form} path="email" label="Sender email" type="email" required />
      <TextField form={form} path="callerId" label="Caller ID" type="tel" inputMode="tel" required />
    </EntityForm>
  );
}
