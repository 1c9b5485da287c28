import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import type { CollectionName } from "../../../shared/config/input.ts";
import { type ApiError, api } from "./api.ts";
import {
  deleteEntity,
  type Loaded,
  QUEUED_NOTICE,
  type Saved,
  type Singleton,
  saveEntity,
  setFlash,
  useEntity,
  useFlash,
} from "./entity.tsx";
import { Alert, type Form, FormView, Notice, SubmitButton } from "./forms.tsx";
import { PbxFrame, usePbx } from "./pbx.tsx";
import { href, navigate } from "./router.ts";
import type { CachedPbx } from "./store.ts";

/**
 * The scaffolding every PBX screen shares: a list of entities with its "Add …" button, the
 * screen that loads one entity for its form, and the form that saves or deletes it.
 */

type Params = Record<string, string>;

export interface Fetched<T> {
  /** null until the first answer. */
  data: T | null;
  error: ApiError | null;
  reload: () => Promise<void>;
}

/** GET of a path when the screen opens (none while path is null), and again on reload(). */
export function useApi<T>(path: string | null): Fetched<T> {
  const [state, setState] = useState<{ data: T | null; error: ApiError | null }>({ data: null, error: null });
  const reload = useCallback(async () => {
    if (path === null) return;
    try {
      const { data } = await api<T>("GET", path);
      setState({ data, error: null });
    } catch (error) {
      setState((s) => ({ ...s, error: error as ApiError }));
    }
  }, [path]);
  useEffect(() => {
    void reload();
  }, [reload]);
  return { ...state, reload };
}

/** Save, Cancel (back to the list, forgetting the kept draft) and, for an existing entity, Delete. */
export function FormButtons(props: {
  form: Form<unknown> | Form<never>;
  /** Where Cancel goes; no Cancel without it. */
  list?: string;
  onDelete?: (() => void) | undefined;
  saveLabel?: string;
  deleteLabel?: string;
}) {
  const form = props.form as Form<unknown>;
  const list = props.list;
  return (
    <div class="actions sticky">
      <SubmitButton form={form} label={props.saveLabel ?? "Save"} busyLabel="Saving…" />
      {list ? (
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
      ) : null}
      {props.onDelete ? (
        <button type="button" class="danger" onClick={props.onDelete}>
          {props.deleteLabel ?? "Delete"}
        </button>
      ) : null}
    </div>
  );
}

export interface Row {
  key: string;
  to: string;
  title: ComponentChildren;
  meta: ComponentChildren;
}

/** Rows that each open something; `empty` is said above the list when there are none. */
export function RowList({ rows, empty }: { rows: Row[]; empty?: string }) {
  return (
    <>
      {empty && rows.length === 0 ? <p>{empty}</p> : null}
      <ul class="list">
        {rows.map((r) => (
          <li key={r.key}>
            <a class="row-link" href={href(r.to)}>
              <span class="row-title">{r.title}</span>
              <span class="row-meta">{r.meta}</span>
            </a>
          </li>
        ))}
      </ul>
    </>
  );
}

/** A PBX screen that lists things: its "Add …" button, the message left by the last save, its content. */
export function ListScreen(props: {
  params: Params;
  title: string;
  /** The "Add …" button: its label and the path under the PBX it opens. */
  add?: { label: string; path: string };
  parent?: { label: string; to: string };
  children: (data: CachedPbx) => ComponentChildren;
}) {
  const pbx = props.params.pbx ?? "";
  const state = usePbx(pbx);
  const flash = useFlash();
  return (
    <PbxFrame
      state={state}
      title={props.title}
      parent={props.parent}
      actions={
        props.add ? (
          <a class="button primary" href={href(`/pbx/${pbx}/${props.add.path}`)}>
            {props.add.label}
          </a>
        ) : undefined
      }
    >
      {(data) => (
        <>
          {flash ? <Notice>{flash}</Notice> : null}
          {props.children(data)}
        </>
      )}
    </PbxFrame>
  );
}

export interface Editing<T> {
  pbx: string;
  data: CachedPbx;
  /** The entity being edited; null when adding one. */
  existing: T | null;
  etag: string | null;
  /** The list screen, where saving, deleting and Cancel go. */
  list: string;
}

/**
 * The screen of one entity of a collection (":id", or "new" to add one): loads it with its ETag
 * (offline, from the last-seen config), then renders its form, remounted when that ETag changes.
 */
export function EditScreen<T>(props: {
  params: Params;
  collection: CollectionName;
  /** The list screen: its name in the breadcrumb and its path under the PBX. */
  list: { label: string; path: string };
  addTitle: string;
  title: (entity: T | null) => string;
  children: (editing: Editing<T>) => ComponentChildren;
}) {
  const pbx = props.params.pbx ?? "";
  const isNew = props.params.id === "new";
  const state = usePbx(pbx);
  const loaded: Loaded<T> = useEntity<T>(pbx, props.collection, isNew ? null : (props.params.id ?? null));
  if (!isNew && loaded.loading) return <p class="loading">Loading…</p>;
  const list = `/pbx/${pbx}/${props.list.path}`;
  return (
    <PbxFrame
      state={state}
      title={isNew ? props.addTitle : props.title(loaded.entity)}
      parent={{ label: props.list.label, to: list }}
    >
      {(data) =>
        loaded.error ? (
          <Alert>{loaded.error.message}</Alert>
        ) : (
          <Keyed key={loaded.etag ?? "new"}>
            {props.children({ pbx, data, existing: loaded.entity, etag: loaded.etag, list })}
          </Keyed>
        )
      }
    </PbxFrame>
  );
}

/**
 * The screen of the add-ons or the settings: loads them with their ETag (offline, from the
 * last-seen config), then renders their form.
 */
export function SectionScreen<T>(props: {
  params: Params;
  section: Singleton;
  title: string;
  parent?: { label: string; to: string };
  children: (editing: { pbx: string; data: CachedPbx; entity: T; etag: string | null }) => ComponentChildren;
}) {
  const pbx = props.params.pbx ?? "";
  const state = usePbx(pbx);
  const loaded: Loaded<T> = useEntity<T>(pbx, props.section, props.section);
  if (loaded.loading) return <p class="loading">Loading…</p>;
  return (
    <PbxFrame state={state} title={props.title} parent={props.parent}>
      {(data) =>
        loaded.error ? (
          <Alert>{loaded.error.message}</Alert>
        ) : loaded.entity ? (
          <Keyed key={loaded.etag ?? ""}>
            {props.children({ pbx, data, entity: loaded.entity, etag: loaded.etag })}
          </Keyed>
        ) : null
      }
    </PbxFrame>
  );
}

/** A fresh form (and its state) whenever its key changes. */
function Keyed({ children }: { children: ComponentChildren }) {
  return <>{children}</>;
}

/**
 * The form of one entity: checks the body with the collection's shared input schema, saves it
 * (offline: queues it), leaves a message for the list and goes back to it; Delete asks first.
 */
export function EntityForm<V>(props: {
  form: Form<V>;
  editing: Editing<{ id: string }>;
  collection: CollectionName;
  /** What is sent, from the form's values. */
  body: () => Record<string, unknown>;
  /** How the edit is named in the queue of offline edits ("Add …"/"Change …"). */
  label: (body: Record<string, unknown>) => string;
  /** The message for the list after a save; null when the form shows the result itself. */
  saved: (saved: Saved, body: Record<string, unknown>) => string | null;
  /** Delete: the question asked first, the name of the queued edit, the message afterwards. */
  remove?: { confirm: string; label: string; done: string } | null;
  saveLabel?: string;
  deleteLabel?: string;
  children: ComponentChildren;
}) {
  const { form, editing, collection } = props;
  const { pbx, existing, etag, list } = editing;
  const done = (message: string) => {
    setFlash(message);
    navigate(list);
  };
  const onSave = async () => {
    const body = props.body();
    const saved = await saveEntity(form, pbx, collection, existing?.id ?? null, body, etag, props.label(body));
    if (!saved) return;
    if (saved.queued) return done(QUEUED_NOTICE);
    const message = props.saved(saved, body);
    if (message !== null) done(message);
  };
  const remove = props.remove;
  const onDelete =
    existing && remove
      ? () =>
          confirm(remove.confirm) &&
          form.submit(async () => {
            const queued = await deleteEntity(pbx, collection, existing.id, etag, remove.label);
            form.forget();
            done(queued ? QUEUED_NOTICE : remove.done);
          })
      : undefined;
  return (
    <FormView form={form} onSubmit={onSave}>
      {props.children}
      <FormButtons
        form={form}
        list={list}
        onDelete={onDelete}
        saveLabel={props.saveLabel}
        deleteLabel={props.deleteLabel}
      />
    </FormView>
  );
}
