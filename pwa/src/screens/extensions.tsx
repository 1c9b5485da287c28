import { useState } from "preact/hooks";
import type { Extension } from "../../../shared/config/schema.ts";
import { orNull, type Saved } from "../lib/entity.tsx";
import { CheckField, TextField, useForm } from "../lib/forms.tsx";
import { href } from "../lib/router.ts";
import { type Editing, EditScreen, EntityForm, ListScreen, RowList } from "../lib/screens.tsx";

/** Offices & Users: the extensions, grouped by office, and the extension form. */

export function OfficesAndUsers({ params }: { params: Record<string, string> }) {
  return (
    <ListScreen params={params} title="Offices & Users" add={{ label: "Add Extension", path: "extensions/new" }}>
      {({ id, config }) => {
        const offices = new Map<string, Extension[]>();
        for (const e of [...config.extensions].sort((a, b) => a.number.localeCompare(b.number))) {
          const office = e.office ?? "No office";
          offices.set(office, [...(offices.get(office) ?? []), e]);
        }
        return (
          <>
            {config.extensions.length === 0 ? <p>No extensions yet. Add the first one.</p> : null}
            {[...offices].map(([office, list]) => (
              <section key={office}>
                <h2>{office}</h2>
                <RowList
                  rows={list.map((e) => ({
                    key: e.id,
                    to: `/pbx/${id}/extensions/${e.id}`,
                    title: `${e.number} ${e.name}`,
                    meta:
                      [e.email, e.voicemail.enabled ? "voicemail" : null, e.recordOutbound ? "call recording" : null]
                        .filter(Boolean)
                        .join(" · ") || "view/edit",
                  }))}
                />
              </section>
            ))}
          </>
        );
      }}
    </ListScreen>
  );
}

interface ExtensionValues {
  number: string;
  name: string;
  email: string;
  office: string;
  callerId: string;
  sipUsername: string;
  sipPassword: string;
  recordOutbound: boolean;
  voicemail: { enabled: boolean; pin: string; email: string; sendToEmail: boolean; deleteAfterEmail: boolean };
}

function valuesOf(e: Extension | null): ExtensionValues {
  return {
    number: e?.number ?? "",
    name: e?.name ?? "",
    email: e?.email ?? "",
    office: e?.office ?? "",
    callerId: e?.callerId ?? "",
    sipUsername: e?.sip.username ?? "",
    sipPassword: "",
    recordOutbound: e?.recordOutbound ?? false,
    voicemail: {
      enabled: e?.voicemail.enabled ?? false,
      pin: "",
      email: e?.voicemail.email ?? "",
      sendToEmail: e?.voicemail.sendToEmail ?? false,
      deleteAfterEmail: e?.voicemail.deleteAfterEmail ?? false,
    },
  };
}

function bodyOf(v: ExtensionValues, existing: Extension | null): Record<string, unknown> {
  const username = v.sipUsername.trim();
  return {
    number: v.number.trim(),
    name: v.name,
    email: orNull(v.email),
    office: orNull(v.office),
    callerId: orNull(v.callerId),
    recordOutbound: v.recordOutbound,
    ...(username && username !== existing?.sip.username ? { sipUsername: username } : {}),
    ...(v.sipPassword ? { sipPassword: v.sipPassword } : {}),
    voicemail: {
      enabled: v.voicemail.enabled,
      email: orNull(v.voicemail.email),
      sendToEmail: v.voicemail.sendToEmail,
      deleteAfterEmail: v.voicemail.deleteAfterEmail,
      ...(v.voicemail.pin ? { pin: v.voicemail.pin } : {}),
    },
  };
}

export function ExtensionEdit({ params }: { params: Record<string, string> }) {
  return (
    <EditScreen<Extension>
      params={params}
      collection="extensions"
      list={{ label: "Offices & Users", path: "extensions" }}
      addTitle="Add Extension"
      title={(e) => `Extension ${e?.number ?? ""} ${e?.name ?? ""}`}
    >
      {(editing) => <ExtensionForm editing={editing} />}
    </EditScreen>
  );
}

function ExtensionForm({ editing }: { editing: Editing<Extension> }) {
  const { pbx, existing, list } = editing;
  const form = useForm<ExtensionValues>(() => valuesOf(existing), `ext.${pbx}.${existing?.id ?? "new"}`);
  const [created, setCreated] = useState<Saved | null>(null);
  if (created) {
    const password = created.generatedSecrets?.sipPassword;
    return (
      <section class="card" aria-labelledby="created-title">
        <h2 id="created-title">
          Extension {String(created.number)} {String(created.name)} added
        </h2>
        <p>Set up the phone with these details. The password is shown only now.</p>
        <dl class="credentials">
          <dt>SIP username</dt>
          <dd>
            <code>{(created.sip as { username: string }).username}</code>
          </dd>
          <dt>SIP password</dt>
          <dd>
            <code data-testid="sip-password">{password ?? "(the one you set)"}</code>
          </dd>
          <dt>SIP domain</dt>
          <dd>
            <code>{editing.data.summary.sipDomain}</code>
          </dd>
        </dl>
        <a class="button primary" href={href(list)}>
          Done
        </a>
      </section>
    );
  }
  const v = form.values;
  return (
    <EntityForm
      form={form}
      editing={editing}
      collection="extensions"
      body={() => bodyOf(v, existing)}
      label={() => `extension ${v.number} ${v.name}`}
      saved={(saved) => {
        if (existing) return `Extension ${v.number} ${v.name} saved. Your changes are ready to apply.`;
        setCreated(saved);
        return null;
      }}
      remove={
        existing && {
          confirm: `Delete extension ${existing.number} ${existing.name}?`,
          label: `extension ${existing.number}`,
          done: `Extension ${existing.number} deleted. Your changes are ready to apply.`,
        }
      }
      saveLabel="Save & Close"
      deleteLabel="Delete Extension"
    >
      <fieldset>
        <legend>User Details</legend>
        <TextField
          form={form}
          path="number"
          label="Extension Number"
          inputMode="numeric"
          required
          hint="2 to 6 digits."
        />
        <TextField form={form} path="name" label="Name" autoComplete="off" required />
        <TextField form={form} path="email" label="Email" type="email" autoComplete="off" />
        <TextField form={form} path="office" label="Office" hint="Extensions are grouped by office." />
        <TextField
          form={form}
          path="callerId"
          label="Caller ID"
          type="tel"
          inputMode="tel"
          hint="The number shown on outbound calls."
        />
      </fieldset>
      <fieldset>
        <legend>SIP Login</legend>
        <TextField
          form={form}
          path="sipUsername"
          label="SIP Username"
          autoComplete="off"
          hint={existing ? "Changing it needs a new SIP password." : "Leave blank to use the extension number."}
        />
        <TextField
          form={form}
          path="sipPassword"
          label="SIP Password"
          type="password"
          autoComplete="new-password"
          hint={existing ? "Leave blank to keep the current password." : "Leave blank and one is generated for you."}
        />
      </fieldset>
      <fieldset>
        <legend>Voicemail</legend>
        <CheckField
          form={form}
          path="voicemail.enabled"
          label="Enable Voicemail"
          hint="Callers who dial this extension directly can leave a message. Dial 777 to listen."
        />
        <TextField
          form={form}
          path="voicemail.pin"
          label="Voicemail PIN"
          type="password"
          inputMode="numeric"
          autoComplete="off"
          hint={existing?.voicemail.pinHash ? "Leave blank to keep the current PIN." : "4 to 10 digits."}
        />
        <TextField form={form} path="voicemail.email" label="Voicemail email address" type="email" />
        <CheckField
          form={form}
          path="voicemail.sendToEmail"
          label="Send Messages to my Mailbox"
          hint="Each voicemail is emailed to the address above."
        />
        <CheckField form={form} path="voicemail.deleteAfterEmail" label="Delete messages after emailing them" />
      </fieldset>
      <fieldset>
        <legend>Security and Other Features</legend>
        <CheckField
          form={form}
          path="recordOutbound"
          label="Enable call recording (outbound calls)"
          hint="Needs the Call Recording Plugin under Addons."
        />
      </fieldset>
    </EntityForm>
  );
}
