import type { Activity } from "../../../shared/config/activity.ts";
import type { Holiday, PbxConfig } from "../../../shared/config/schema.ts";
import {
  ActivityFields,
  defaultActivity,
  deleteEntity,
  QUEUED_NOTICE,
  saveEntity,
  setFlash,
  useEntity,
  useFlash,
} from "../lib/entity.tsx";
import { FormErrors, Notice, TextField, useForm } from "../lib/forms.tsx";
import { PbxFrame, usePbx } from "../lib/pbx.tsx";
import { href, navigate } from "../lib/router.ts";

/** Holidays: conditions (dates the office is closed, all day and night) and what calls do then. */

export function Holidays({ params }: { params: Record<string, string> }) {
  const state = usePbx(params.pbx ?? "");
  const flash = useFlash();
  return (
    <PbxFrame
      state={state}
      title="Holidays"
      actions={
        <a class="button primary" href={href(`/pbx/${params.pbx}/holidays/new`)}>
          Add Condition
        </a>
      }
    >
      {({ id, config }) => (
        <>
          {flash ? <Notice>{flash}</Notice> : null}
          {config.holidays.length === 0 ? <p>No holiday conditions yet.</p> : null}
          <ul class="list">
            {config.holidays.map((h) => {
              const routes = config.callRoutes.filter((r) => r.holidayId === h.id).map((r) => r.did);
              return (
                <li key={h.id}>
                  <a class="row-link" href={href(`/pbx/${id}/holidays/${h.id}`)}>
                    <span class="row-title">{h.name}</span>
                    <span class="row-meta">
                      {h.dates.length} {h.dates.length === 1 ? "date" : "dates"} ({h.dates.slice(0, 3).join(", ")}
                      {h.dates.length > 3 ? ", …" : ""}) ·{" "}
                      {routes.length > 0 ? `on ${routes.join(", ")}` : "not on any route"} · View/Edit
                    </span>
                  </a>
                </li>
              );
            })}
          </ul>
        </>
      )}
    </PbxFrame>
  );
}

interface HolidayValues {
  name: string;
  dates: string[];
  action: Activity;
}

export function HolidayEdit({ params }: { params: Record<string, string> }) {
  const pbx = params.pbx ?? "";
  const isNew = params.id === "new";
  const state = usePbx(pbx);
  const loaded = useEntity<Holiday>(pbx, "holidays", isNew ? null : (params.id ?? null));
  if (!isNew && loaded.loading) return <p class="loading">Loading…</p>;
  return (
    <PbxFrame
      state={state}
      title={isNew ? "Add Condition" : `Holiday: ${loaded.entity?.name ?? ""}`}
      parent={{ label: "Holidays", to: `/pbx/${pbx}/holidays` }}
    >
      {(data) =>
        loaded.error ? (
          <p role="alert" class="error-summary">
            {loaded.error.message}
          </p>
        ) : (
          <HolidayForm
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

function HolidayForm(props: { pbx: string; config: PbxConfig; existing: Holiday | null; etag: string | null }) {
  const { pbx, config, existing } = props;
  const form = useForm<HolidayValues>(
    () => ({
      name: existing?.name ?? "",
      dates: existing?.dates ?? [""],
      action: existing?.action ?? defaultActivity(config.announcements.length > 0 ? "announcement" : "hangup", config),
    }),
    `holiday.${pbx}.${existing?.id ?? "new"}`,
  );
  const v = form.values;
  const list = `/pbx/${pbx}/holidays`;
  const onSubmit = (e: Event) => {
    e.preventDefault();
    void form.submit(async () => {
      const body = { name: v.name, dates: v.dates.map((d) => d.trim()).filter((d) => d !== ""), action: v.action };
      const saved = await saveEntity(
        form,
        pbx,
        "holidays",
        existing?.id ?? null,
        body,
        props.etag,
        `holiday ${v.name}`,
      );
      if (!saved) return;
      setFlash(
        saved.queued
          ? QUEUED_NOTICE
          : `Holiday condition ${v.name} saved. Assign it to an inbound route under Call Routing.`,
      );
      navigate(list);
    });
  };
  return (
    <form onSubmit={onSubmit} noValidate>
      <FormErrors form={form} />
      <TextField form={form} path="name" label="Name" required hint="For your reference later." />
      <fieldset>
        <legend>Dates the office is closed</legend>
        <p class="hint">The office is closed for the entire day and night of each date.</p>
        {form.errors.get("dates") ? <p class="field-error">{form.errors.get("dates")}</p> : null}
        {v.dates.map((_, i) => (
          <div class="date-row" key={i}>
            <TextField form={form} path={`dates[${i}]`} label={`Date ${i + 1}`} type="date" />
            <button
              type="button"
              class="secondary"
              aria-label={`Remove date ${i + 1}`}
              onClick={() =>
                form.set(
                  "dates",
                  v.dates.filter((__, j) => j !== i),
                )
              }
            >
              Remove
            </button>
          </div>
        ))}
        <button type="button" class="secondary" onClick={() => form.set("dates", [...v.dates, ""])}>
          Add date
        </button>
      </fieldset>
      <ActivityFields form={form} path="action" config={config} kind="route" legend="On a holiday, calls go to" />
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
              confirm(`Delete the holiday condition ${existing.name}?`) &&
              form.submit(async () => {
                const queued = await deleteEntity(pbx, "holidays", existing.id, props.etag, `holiday ${existing.name}`);
                form.forget();
                setFlash(queued ? QUEUED_NOTICE : `Holiday condition ${existing.name} deleted.`);
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
