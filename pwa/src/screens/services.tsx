import { useEffect, useState } from "preact/hooks";
import { PbxCreate, rolePowers } from "../../../shared/accounts/schema.ts";
import { type ApiError, api } from "../lib/api.ts";
import { FormErrors, TextField, useForm, zodErrors } from "../lib/forms.tsx";
import { href, navigate } from "../lib/router.ts";
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
      {error ? (
        <p role="alert" class="error-summary">
          {error}
        </p>
      ) : null}
      {services === null && !error ? <p class="loading">Loading…</p> : null}
      {services !== null && groups.size === 0 ? <p>You have no services yet. Ask your administrator.</p> : null}
      {[...groups].map(([type, list]) => (
        <details class="group" open key={type}>
          <summary>
            {TYPE_NAMES[type] ?? type} <span class="count">({list.length})</span>
          </summary>
          {list.length === 0 ? <p class="hint">No PBX yet.</p> : null}
          <ul class="list">
            {list.map((s) => (
              <li key={s.id}>
                <a class="row-link" href={href(`/pbx/${s.id}`)}>
                  <span class="row-title">{s.name}</span>
                  <span class="row-meta">Hosted PBX · {s.id}</span>
                </a>
              </li>
            ))}
          </ul>
          {type === "voice" && canCreate ? <CreatePbx /> : null}
        </details>
      ))}
    </>
  );
}

function CreatePbx() {
  const form = useForm({ name: "" }, "create-pbx");
  const onSubmit = (e: Event) => {
    e.preventDefault();
    void form.submit(async () => {
      const parsed = PbxCreate.safeParse(form.values);
      if (!parsed.success) return form.setErrors(zodErrors(parsed.error.issues), "Give the PBX a name.");
      const { data } = await api<{ pbx: Service }>("POST", "/pbxs", parsed.data);
      form.forget();
      navigate(`/pbx/${data.pbx.id}`);
    });
  };
  return (
    <form class="inline-form" onSubmit={onSubmit} noValidate aria-labelledby="create-pbx-title">
      <h2 id="create-pbx-title">Create a PBX</h2>
      <FormErrors form={form} />
      <TextField form={form} path="name" label="PBX name" required />
      <div class="actions">
        <button type="submit" class="primary" disabled={form.busy}>
          Create PBX
        </button>
      </div>
    </form>
  );
}
