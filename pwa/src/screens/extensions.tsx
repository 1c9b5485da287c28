import { useState } from "preact/hooks";
import type { Extension } from "../../../shared/config/schema.ts";
import {
  deleteEntity,
  orNull,
  QUEUED_NOTICE,
  type Saved,
  saveEntity,
  setFlash,
  useEntity,
  useFlash,
} from "../lib/entity.tsx";
import { CheckField, FormErrors, Notice, TextField, useForm } from "../lib/forms.tsx";
import { PbxFrame, usePbx } from "../lib/pbx.tsx";
import { href, navigate } from "../lib/router.ts";

/** Offices & Users: the extensions, grouped by office, and the extension form. */

export function OfficesAndUsers({ params }: { params: Record<string, string> }) {
  const state = usePbx(params.pbx ?? "");
  const flash = useFlash();
  return (
    <PbxFrame
      state={state}
      title="Offices & Users"
      actions={
        <a class="button primary" href={href(`/pbx/${params.pbx}/extensions/new`)}>
          Add Extension
        </a>
      }
    >
      {({ id, config }) => {
        const offices = new Map<string, Extension[]>();
        for (const e of [...config.extensions].sort((a, b) => a.number.localeCompare(b.number))) {
          const office = e.office ?? "No office";
          offices.set(office, [...(offices.get(office) ?? []), e]);
        }
        return (
          <>
            {flash ? <Notice>{flash}</Notice> : null}
            {config.extensions.length === 0 ? <p>No extensions yet. Add the first one.</p> : null}
            {[...offices].map(([office, list]) => (
              <section key={office}>
                <h2>{office}</h2>
                <ul class="list">
                  {list.map((e) => (
                    <li key={e.id}>
                      <a class="row-link" href={href(`/pbx/${id}/extensions/${e.id}`)}>
                        <span class="row-title">
                          {e.number} {e.name}
                        </span>
                        <span class="row-meta">
                          {[
                            e.email,
                            e.voicemail.enabled ? "voicemail" : null,
                            e.recordOutbound ? "call recording" : null,
                          ]
                            .filter(Boolean)
                            .join(" · ") || "view/edit"}
                        </span>
                      </a>
                    </li>
                  ))}
                </ul>
              </section>
            ))}
          </>
        );
      }}
    </PbxFrame>
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
  const pbx = params.pbx ?? "";
  const isNew = params.id === "new";
  const state = usePbx(pbx);
  const loaded = useEntity<Extension>(pbx, "extensions", isNew ? null : (params.id ?? null));
  if (!isNew && loaded.loading) return <p class="loading">Loading…</p>;
  return (
    <PbxFrame
      state={state}
      title={isNew ? "Add Extension" : `Extension ${loaded.entity?.number ?? ""} ${loaded.entity?.name ?? ""}`}
      parent={{ label: "Offices & Users", to: `/pbx/${pbx}/extensions` }}
    >
      {(data) =>
        loaded.error ? (
          <p role="alert" class="error-summary">
            {loaded.error.message}
          </p>
        ) : (
          <ExtensionForm
            pbx={pbx}
            sipDomain={data.summary.sipDomain}
            existing={loaded.entity}
            etag={loaded.etag}
            key={loaded.etag ?? "new"}
          />
        )
      }
    </PbxFrame>
  );
}

function ExtensionForm(props: { pbx: string; sipDomain: string; existing: Extension | null; etag: string | null }) {
  const { pbx, existing } = props;
  const form = useForm<ExtensionValues>(() => valuesOf(existing), `ext.${pbx}.${existing?.id ?? "new"}`);
  const [created, setCreated] = useState<Saved | null>(null);
  const list = `/pbx/${pbx}/extensions`;
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
            <code>{props.sipDomain}</code>
          </dd>
        </dl>
        <a class="button primary" href={href(list)}>
          Done
        </a>
      </section>
    );
  }
  const v = form.values;
  const onSubmit = (e: Event) => {
    e.preventDefault();
    void form.submit(async () => {
      const label = `extension ${v.number} ${v.name}`;
      const saved = await saveEntity(
        form,
        pbx,
        "extensions",
        existing?.id ?? null,
        bodyOf(v, existing),
        props.etag,
        label,
      );
      if (!saved) return;
      if (saved.queued) {
        setFlash(QUEUED_NOTICE);
        navigate(list);
      } else if (existing) {
        setFlash(`Extension ${v.number} ${v.name} saved. Your changes are ready to apply.`);
        navigate(list);
      } else setCreated(saved);
    });
  };
  return (
    <form onSubmit={onSubmit} noValidate>
      <FormErrors form={form} />
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
      <div class="actions sticky">
        <button type="submit" class="primary" disabled={form.busy}>
          {form.busy ? "Saving…" : "Save & Close"}
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
              confirm(`Delete extension ${existing.number} ${existing.name}?`) &&
              form.submit(async () => {
                const queued = await deleteEntity(
                  pbx,
                  "extensions",
                  existing.id,
                  props.etag,
                  `extension ${existing.number}`,
                );
                form.forget();
                setFlash(
                  queued ? QUEUED_NOTICE : `Extension ${existing.number} deleted. Your changes are ready to apply.`,
                );
                navigate(list);
              })
            }
          >
            Delete Extension
          </button>
        ) : null}
      </div>
    </form>
  );
}
