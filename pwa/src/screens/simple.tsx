import type { SpeedDialActivity } from "../../../shared/config/activity.ts";
import type { BlacklistEntry, VirtualExtension } from "../../../shared/config/schema.ts";
import { ActivityFields, defaultActivity, orNull } from "../lib/entity.tsx";
import { TextField, useForm } from "../lib/forms.tsx";
import { type Editing, EditScreen, EntityForm, ListScreen, RowList } from "../lib/screens.tsx";

/** Blacklist and Virtual Extensions (speed dials). */

// ---- Blacklist ----

export function Blacklist({ params }: { params: Record<string, string> }) {
  return (
    <ListScreen params={params} title="Blacklist" add={{ label: "Add Blacklist", path: "blacklist/new" }}>
      {({ id, config }) => (
        <>
          <p>Calls from these numbers are refused: nobody's phone rings.</p>
          <RowList
            empty="No blocked numbers."
            rows={config.blacklist.map((b) => ({
              key: b.id,
              to: `/pbx/${id}/blacklist/${b.id}`,
              title: b.number,
              meta: b.note ?? "view/edit",
            }))}
          />
        </>
      )}
    </ListScreen>
  );
}

export function BlacklistEdit({ params }: { params: Record<string, string> }) {
  return (
    <EditScreen<BlacklistEntry>
      params={params}
      collection="blacklist"
      list={{ label: "Blacklist", path: "blacklist" }}
      addTitle="Add Blacklist"
      title={(b) => `Blacklist ${b?.number ?? ""}`}
    >
      {(editing) => <BlacklistForm editing={editing} />}
    </EditScreen>
  );
}

function BlacklistForm({ editing }: { editing: Editing<BlacklistEntry> }) {
  const { pbx, existing } = editing;
  const form = useForm(
    { number: existing?.number ?? "", note: existing?.note ?? "" },
    `bl.${pbx}.${existing?.id ?? "new"}`,
  );
  return (
    <EntityForm
      form={form}
      editing={editing}
      collection="blacklist"
      body={() => ({ number: form.values.number.trim(), note: orNull(form.values.note) })}
      label={(body) => `blacklist ${body.number}`}
      saved={(_, body) => `${body.number} is blacklisted once you apply your changes.`}
      remove={
        existing && {
          confirm: `Remove ${existing.number} from the blacklist?`,
          label: `blacklist ${existing.number}`,
          done: `${existing.number} removed from the blacklist.`,
        }
      }
    >
      <TextField form={form} path="number" label="Phone number" type="tel" inputMode="tel" required />
      <TextField form={form} path="note" label="Note" hint="Why it is blocked (optional)." />
    </EntityForm>
  );
}

// ---- Virtual Extensions ----

export function VirtualExtensions({ params }: { params: Record<string, string> }) {
  return (
    <ListScreen
      params={params}
      title="Virtual Extensions"
      add={{ label: "Add Virtual Extension", path: "virtual-extensions/new" }}
    >
      {({ id, config }) => (
        <>
          <p>
            Speed dials for internal use: a 3 or 4 digit number that goes to a phone number, a conference room, a ring
            group or voicemail.
          </p>
          <RowList
            empty="No virtual extensions yet."
            rows={config.virtualExtensions.map((v) => ({
              key: v.id,
              to: `/pbx/${id}/virtual-extensions/${v.id}`,
              title: `${v.number} ${v.name}`,
              meta: `${v.activity.type} · view/edit`,
            }))}
          />
        </>
      )}
    </ListScreen>
  );
}

export function VirtualExtensionEdit({ params }: { params: Record<string, string> }) {
  return (
    <EditScreen<VirtualExtension>
      params={params}
      collection="virtual-extensions"
      list={{ label: "Virtual Extensions", path: "virtual-extensions" }}
      addTitle="Add Virtual Extension"
      title={(v) => `Virtual Extension ${v?.number ?? ""}`}
    >
      {(editing) => <VirtualForm editing={editing} />}
    </EditScreen>
  );
}

function VirtualForm({ editing }: { editing: Editing<VirtualExtension> }) {
  const { pbx, existing } = editing;
  const config = editing.data.config;
  const form = useForm(
    () => ({
      name: existing?.name ?? "",
      number: existing?.number ?? "",
      activity: (existing?.activity ?? defaultActivity("external", config)) as SpeedDialActivity,
    }),
    `vext.${pbx}.${existing?.id ?? "new"}`,
  );
  return (
    <EntityForm
      form={form}
      editing={editing}
      collection="virtual-extensions"
      body={() => ({ ...form.values, number: form.values.number.trim() })}
      label={(body) => `virtual extension ${body.number} ${body.name}`}
      saved={(_, body) => `Virtual extension ${body.number} ${body.name} saved. Your changes are ready to apply.`}
      remove={
        existing && {
          confirm: `Delete virtual extension ${existing.number}?`,
          label: `virtual extension ${existing.number}`,
          done: `Virtual extension ${existing.number} deleted.`,
        }
      }
    >
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
    </EntityForm>
  );
}
