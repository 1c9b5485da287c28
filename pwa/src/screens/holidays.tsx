import type { Activity } from "../../../shared/config/activity.ts";
import type { Holiday } from "../../../shared/config/schema.ts";
import { ActivityFields, defaultActivity } from "../lib/entity.tsx";
import { TextField, useForm } from "../lib/forms.tsx";
import { type Editing, EditScreen, EntityForm, ListScreen, RowList } from "../lib/screens.tsx";

/** Holidays: conditions (dates the office is closed, all day and night) and what calls do then. */

export function Holidays({ params }: { params: Record<string, string> }) {
  return (
    <ListScreen params={params} title="Holidays" add={{ label: "Add Condition", path: "holidays/new" }}>
      {({ id, config }) => (
        <RowList
          empty="No holiday conditions yet."
          rows={config.holidays.map((h) => {
            const routes = config.callRoutes.filter((r) => r.holidayId === h.id).map((r) => r.did);
            return {
              key: h.id,
              to: `/pbx/${id}/holidays/${h.id}`,
              title: h.name,
              meta: (
                <>
                  {h.dates.length} {h.dates.length === 1 ? "date" : "dates"} ({h.dates.slice(0, 3).join(", ")}
                  {h.dates.length > 3 ? ", …" : ""}) ·{" "}
                  {routes.length > 0 ? `on ${routes.join(", ")}` : "not on any route"} · View/Edit
                </>
              ),
            };
          })}
        />
      )}
    </ListScreen>
  );
}

interface HolidayValues {
  name: string;
  dates: string[];
  action: Activity;
}

export function HolidayEdit({ params }: { params: Record<string, string> }) {
  return (
    <EditScreen<Holiday>
      params={params}
      collection="holidays"
      list={{ label: "Holidays", path: "holidays" }}
      addTitle="Add Condition"
      title={(h) => `Holiday: ${h?.name ?? ""}`}
    >
      {(editing) => <HolidayForm editing={editing} />}
    </EditScreen>
  );
}

function HolidayForm({ editing }: { editing: Editing<Holiday> }) {
  const { pbx, existing } = editing;
  const config = editing.data.config;
  const form = useForm<HolidayValues>(
    () => ({
      name: existing?.name ?? "",
      dates: existing?.dates ?? [""],
      action: existing?.action ?? defaultActivity(config.announcements.length > 0 ? "announcement" : "hangup", config),
    }),
    `holiday.${pbx}.${existing?.id ?? "new"}`,
  );
  const v = form.values;
  return (
    <EntityForm
      form={form}
      editing={editing}
      collection="holidays"
      body={() => ({ name: v.name, dates: v.dates.map((d) => d.trim()).filter((d) => d !== ""), action: v.action })}
      label={() => `holiday ${v.name}`}
      saved={() => `Holiday condition ${v.name} saved. Assign it to an inbound route under Call Routing.`}
      remove={
        existing && {
          confirm: `Delete the holiday condition ${existing.name}?`,
          label: `holiday ${existing.name}`,
          done: `Holiday condition ${existing.name} deleted.`,
        }
      }
    >
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
    </EntityForm>
  );
}
