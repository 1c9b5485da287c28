import type { SpeedDialActivity } from "../../../shared/config/activity.ts";
import type { BlacklistEntry, PbxConfig, VirtualExtension } from "../../../shared/config/schema.ts";
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
import { FormErrors, Notice, TextField, useForm } from "../lib/forms.tsx";
import { PbxFrame, usePbx } from "../lib/pbx.tsx";
import { href, navigate } from "../lib/router.ts";

/** Blacklist and Virtual Extensions (speed dials). */

export function FormButtons(props: {
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
