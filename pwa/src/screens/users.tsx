import { useEffect, useState } from "preact/hooks";
import {
  type Notifications,
  type Role,
  type ServiceAction,
  UserCreate,
  UserUpdate,
} from "../../../shared/accounts/schema.ts";
import { type ApiError, api } from "../lib/api.ts";
import { setFlash, useFlash } from "../lib/entity.tsx";
import { CheckField, FormErrors, Notice, SelectField, TextField, useForm, zodErrors } from "../lib/forms.tsx";
import { href, navigate } from "../lib/router.ts";
import type { PortalUser } from "../lib/session.ts";
import type { PbxSummary } from "../lib/store.ts";
import { NOTIFICATION_LABELS } from "./account.tsx";

/** My Admin → Portal Users: the account's users; click an email to edit. */

const ROLES: { value: Role; label: string; hint: string }[] = [
  { value: "administrator", label: "Administrator", hint: "Can access anything." },
  { value: "apiUser", label: "API User", hint: "For computer programs; logs in with an API token." },
  { value: "clientUser", label: "Client User", hint: "Sees only the services granted below." },
  { value: "serviceUser", label: "Service User", hint: "Only the services and actions granted below." },
];
const ACTIONS: { value: ServiceAction; label: string }[] = [
  { value: "view", label: "View" },
  { value: "edit", label: "Edit" },
  { value: "apply", label: "Apply changes" },
];

export function PortalUsers() {
  const [users, setUsers] = useState<PortalUser[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const flash = useFlash();
  useEffect(() => {
    api<{ users: PortalUser[] }>("GET", "/users")
      .then(({ data }) => setUsers(data.users))
      .catch((e: ApiError) => setProblem(e.message));
  }, []);
  return (
    <>
      <div class="title-row">
        <h1>Portal Users</h1>
        <a class="button primary" href={href("/admin/users/new")}>
          Add Portal User
        </a>
      </div>
      {flash ? <Notice>{flash}</Notice> : null}
      {problem ? (
        <p role="alert" class="error-summary">
          {problem}
        </p>
      ) : null}
      {!users && !problem ? <p class="loading">Loading…</p> : null}
      <ul class="list">
        {users?.map((u) => (
          <li key={u.id}>
            <a class="row-link" href={href(`/admin/users/${u.id}`)}>
              <span class="row-title">{u.email}</span>
              <span class="row-meta">
                {u.name} · {ROLES.find((r) => r.value === u.role)?.label} · {u.status}
              </span>
            </a>
          </li>
        ))}
      </ul>
    </>
  );
}

export function PortalUserEdit({ params }: { params: Record<string, string> }) {
  const isNew = params.id === "new";
  const [user, setUser] = useState<PortalUser | null>(null);
  const [services, setServices] = useState<PbxSummary["pbx"][] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    api<{ pbxs: PbxSummary["pbx"][] }>("GET", "/pbxs")
      .then(({ data }) => setServices(data.pbxs))
      .catch((e: ApiError) => setProblem(e.message));
    if (!isNew)
      api<{ user: PortalUser }>("GET", `/users/${params.id}`)
        .then(({ data }) => setUser(data.user))
        .catch((e: ApiError) => setProblem(e.message));
  }, [params.id]);
  return (
    <>
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href={href("/admin/users")}>Portal Users</a>
      </nav>
      <h1>{isNew ? "Add Portal User" : (user?.email ?? "Portal User")}</h1>
      {problem ? (
        <p role="alert" class="error-summary">
          {problem}
        </p>
      ) : null}
      {services && (isNew || user) ? (
        <UserForm user={user} services={services} key={user?.updatedAt ?? "new"} />
      ) : (
        <p class="loading">Loading…</p>
      )}
    </>
  );
}

function UserForm({ user, services }: { user: PortalUser | null; services: PbxSummary["pbx"][] }) {
  const form = useForm(
    () => ({
      email: user?.email ?? "",
      name: user?.name ?? "",
      company: user?.company ?? "",
      phone: user?.phone ?? "",
      mobile: user?.mobile ?? "",
      position: user?.position ?? "",
      role: (user?.role ?? "clientUser") as Role,
      status: user?.status ?? "active",
      password: "",
      notifications: {
        ...(user?.notifications ?? {
          serviceAlerts: true,
          billing: false,
          clientCorrespondence: true,
          newsletters: false,
          generalUpdates: false,
        }),
      },
      services: user?.services ?? [],
      actions: user?.actions ?? ["view"],
    }),
    `user.${user?.id ?? "new"}`,
  );
  const v = form.values;
  const scoped = v.role === "clientUser" || v.role === "serviceUser";
  const onSubmit = (e: Event) => {
    e.preventDefault();
    void form.submit(async () => {
      const { password, ...rest } = v;
      const body = { ...rest, ...(password ? { password } : {}) };
      const parsed = (user ? UserUpdate : UserCreate).safeParse(body);
      if (!parsed.success) return form.setErrors(zodErrors(parsed.error.issues), "Some fields need attention.");
      if (user) await api("PATCH", `/users/${user.id}`, body);
      else await api("POST", "/users", body);
      form.forget();
      setFlash(`Portal user ${v.email} saved.`);
      navigate("/admin/users");
    });
  };
  const toggle = (path: "services" | "actions", value: string, on: boolean) => {
    const list = v[path] as string[];
    form.set(path, on ? [...list, value] : list.filter((x) => x !== value));
  };
  return (
    <form onSubmit={onSubmit} noValidate>
      <FormErrors form={form} />
      <fieldset>
        <legend>Contact information</legend>
        <TextField form={form} path="email" label="Email" type="email" required autoComplete="off" />
        <TextField form={form} path="name" label="Name" required autoComplete="off" />
        <TextField form={form} path="company" label="Company" />
        <TextField form={form} path="position" label="Position" />
        <TextField form={form} path="phone" label="Phone" type="tel" />
        <TextField form={form} path="mobile" label="Mobile" type="tel" />
      </fieldset>
      <fieldset>
        <legend>Access</legend>
        <SelectField
          form={form}
          path="role"
          label="Role"
          options={ROLES.map((r) => ({ value: r.value, label: r.label }))}
          hint={ROLES.find((r) => r.value === v.role)?.hint}
        />
        <SelectField
          form={form}
          path="status"
          label="Status"
          options={[
            { value: "active", label: "active" },
            { value: "inactive", label: "inactive" },
          ]}
          hint="Inactive users cannot log in."
        />
        <TextField
          form={form}
          path="password"
          label="Password"
          type="password"
          autoComplete="new-password"
          hint={user ? "Leave blank to keep the password." : "At least 10 characters (not needed for API users)."}
        />
      </fieldset>
      {scoped ? (
        <fieldset>
          <legend>Services this user can access</legend>
          {form.errors.get("services") ? <p class="field-error">{form.errors.get("services")}</p> : null}
          {services.map((s) => (
            <div class="field check" key={s.id}>
              <input
                type="checkbox"
                id={`svc-${s.id}`}
                checked={v.services.includes(s.id)}
                onChange={(e) => toggle("services", s.id, (e.currentTarget as HTMLInputElement).checked)}
              />
              <label for={`svc-${s.id}`}>{s.name}</label>
            </div>
          ))}
          {v.role === "serviceUser" ? (
            <>
              <h3>Allowed actions</h3>
              {ACTIONS.map((a) => (
                <div class="field check" key={a.value}>
                  <input
                    type="checkbox"
                    id={`act-${a.value}`}
                    checked={v.actions.includes(a.value)}
                    onChange={(e) => toggle("actions", a.value, (e.currentTarget as HTMLInputElement).checked)}
                  />
                  <label for={`act-${a.value}`}>{a.label}</label>
                </div>
              ))}
            </>
          ) : null}
        </fieldset>
      ) : null}
      <fieldset>
        <legend>Notifications</legend>
        {(Object.keys(NOTIFICATION_LABELS) as (keyof Notifications)[]).map((key) => (
          <CheckField key={key} form={form} path={`notifications.${key}`} label={NOTIFICATION_LABELS[key].label} />
        ))}
      </fieldset>
      <div class="actions sticky">
        <button type="submit" class="primary" disabled={form.busy}>
          {form.busy ? "Saving…" : "Save"}
        </button>
        <button
          type="button"
          class="secondary"
          onClick={() => {
            form.forget();
            navigate("/admin/users");
          }}
        >
          Cancel
        </button>
      </div>
    </form>
  );
}
