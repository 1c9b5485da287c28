import { useEffect, useState } from "preact/hooks";
import { PbxCreate, rolePowers } from "../../../shared/accounts/schema.ts";
import { type ApiError, api } from "../lib/api.ts";
import { Alert, checkInput, FormView, SubmitButton, TextField, useForm } from "../lib/forms.tsx";
import { navigate } from "../lib/router.ts";
import { RowList } from "../lib/screens.tsx";
import { useSession } from "../lib/session.ts";
import { type PbxSummary, store } from "../lib/store.ts";

type Service = PbxSummary["pbx"];

const TYPE_NAMES: Record<string, string> = { voice: "Voice" };

/** My Services: the user's services grouped by type; Voice expands to the PBXs. */
export function MyServices() {
  const { user } = useSession();
  const [services, setServices] = useState<Service[] | null>(null);
  const [offlineSince, setOfflineSince] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api<{ pbxs: Service[] }>("GET", "/pbxs")
      .then(({ data }) => {
        setServices(data.pbxs);
        void store.saveServices(data.pbxs);
      })
      .catch(async (e: ApiError) => {
        const cached = e.offline ? await store.loadServices() : undefined;
        if (cached) {
          setServices(cached.pbxs);
          setOfflineSince(cached.seenAt);
        } else setError(e.message);
      });
  }, []);
  const canCreate = user ? rolePowers(user.role).account.includes("manageServices") : false;
  const groups = new Map<string, Service[]>();
  for (const s of services ?? []) groups.set(s.type, [...(groups.get(s.type) ?? []), s]);
  if (canCreate && !groups.has("voice")) groups.set("voice", []);

  return (
    <>
      <h1>My Services</h1>
      {offlineSince ? (
        <p class="offline" role="status">
          Offline: your services as last seen on {new Date(offlineSince).toLocaleString()}.
        </p>
      ) : null}
      {error ? <Alert>{error}</Alert> : null}
      {services === null && !error ? <p class="loading">Loading…</p> : null}
      {services !== null && groups.size === 0 ? <p>You have no services yet. Ask your administrator.</p> : null}
      {[...groups].map(([type, list]) => (
        <details class="group" open key={type}>
          <summary>
            {TYPE_NAMES[type] ?? type} <span class="count">({list.length})</span>
          </summary>
          {list.length === 0 ? <p class="hint">No PBX yet.</p> : null}
          <RowList
            rows={list.map((s) => ({ key: s.id, to: `/pbx/${s.id}`, title: s.name, meta: `Hosted PBX · ${s.id}` }))}
          />
          {type === "voice" && canCreate ? <CreatePbx /> : null}
        </details>
      ))}
    </>
  );
}

function CreatePbx() {
  const form = useForm({ name: "" }, "create-pbx");
  const onSubmit = async () => {
    const input = checkInput(form, PbxCreate, form.values, "Give the PBX a name.");
    if (!input) return;
    const { data } = await api<{ pbx: Service }>("POST", "/pbxs", input);
    form.forget();
    navigate(`/pbx/${data.pbx.id}`);
  };
  return (
    <FormView
      form={form}
      onSubmit={onSubmit}
      class="inline-form"
      aria-labelledby="create-pbx-title"
      intro={<h2 id="create-pbx-title">Create a PBX</h2>}
    >
      <TextField form={form} path="name" label="PBX name" required />
      <div class="actions">
        <SubmitButton form={form} label="Create PBX" />
      </div>
    </FormView>
  );
}
