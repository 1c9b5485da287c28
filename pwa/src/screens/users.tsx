import {
  type Notifications,
  type Role,
  type ServiceAction,
  UserCreate,
  UserUpdate,
} from "../../../shared/accounts/schema.ts";
import { api } from "../lib/api.ts";
import { setFlash, useFlash } from "../lib/entity.tsx";
import {
  Alert,
  CheckField,
  CheckList,
  checkInput,
  FormView,
  Notice,
  SelectField,
  TextField,
  useForm,
} from "../lib/forms.tsx";
import { href, navigate } from "../lib/router.ts";
import { FormButtons, RowList, useApi } from "../lib/screens.tsx";
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
  const fetched = useApi<{ users: PortalUser[] }>("/users");
  const users = fetched.data?.users ?? null;
  const problem = fetched.error?.message ?? null;
  const flash = useFlash();
  return (
    <>
      <div class="title-row">
        <h1>Portal Users</h1>
        <a class="button primary" href={href("/admin/users/new")}>
          Add Portal User
        </a>
      </div>
      {flash ? <Notice>{flash}</Notice> : null}
      {problem ? <Alert>{problem}</Alert> : null}
      {!users && !problem ? <p class="loading">Loading…</p> : null}
      <RowList
        rows={(users ?? []).map((u) => ({
          key: u.id,
          to: `/admin/users/${u.id}`,
          title: u.email,
          meta: `${u.name} · ${ROLES.find((r) => r.value === u.role)?.label ?? ""} · ${u.status}`,
        }))}
      />
    </>
  );
}

export function PortalUserEdit({ params }: { params: Record<string, string> }) {
  const isNew = params.id === "new";
  const pbxs = useApi<{ pbxs: PbxSummary["pbx"][] }>("/pbxs");
  const fetched = useApi<{ user: PortalUser }>(isNew ? null : `/users/${params.id}`);
  const services = pbxs.data?.pbxs ?? null;
  const user = fetched.data?.user ?? null;
  const problem = (fetched.error ?? pbxs.error)?.message ?? null;
  return (
    <>
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href={href("/admin/users")}>Portal Users</a>
      </nav>
      <h1>{isNew ? "Add Portal User" : (user?.email ?? "Portal User")}</h1>
      {problem ? <Alert>{problem}</Alert> : null}
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
      softphone: { pbxId: user?.softphone?.pbxId ?? "", extension: user?.softphone?.extension ?? "" },
    }),
    `user.${user?.id ?? "new"}`,
  );
  const v = form.values;
  const scoped = v.role === "clientUser" || v.role === "serviceUser";
  const onSubmit = async () => {
    const { password, softphone, ...rest } = v;
    const body = {
      ...rest,
      ...(password ? { password } : {}),
      softphone: softphone.pbxId ? { pbxId: softphone.pbxId, extension: softphone.extension.trim() } : null,
    };
    if (checkInput<unknown>(form, user ? UserUpdate : UserCreate, body) === null) return;
    if (user) await api("PATCH", `/users/${user.id}`, body);
    else await api("POST", "/users", body);
    form.forget();
    setFlash(`Portal user ${v.email} saved.`);
    navigate("/admin/users");
  };
  return (
    <FormView form={form} onSubmit={onSubmit}>
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
          <CheckList form={form} path="services" options={services.map((s) => ({ value: s.id, label: s.name }))} />
          {v.role === "serviceUser" ? (
            <>
              <h3>Allowed actions</h3>
              <CheckList form={form} path="actions" options={ACTIONS} />
            </>
          ) : null}
        </fieldset>
      ) : null}
      <fieldset>
        <legend>Softphone</legend>
        <SelectField
          form={form}
          path="softphone.pbxId"
          label="PBX"
          options={[{ value: "", label: "No softphone" }, ...services.map((s) => ({ value: s.id, label: s.name }))]}
          hint="The user calls from the portal's Phone screen as this extension."
        />
        {v.softphone.pbxId ? (
          <TextField
            form={form}
            path="softphone.extension"
            label="Extension"
            inputMode="numeric"
            required
            hint="An extension number of that PBX, e.g. 100."
          />
        ) : null}
      </fieldset>
      <fieldset>
        <legend>Notifications</legend>
        {(Object.keys(NOTIFICATION_LABELS) as (keyof Notifications)[]).map((key) => (
          <CheckField key={key} form={form} path={`notifications.${key}`} label={NOTIFICATION_LABELS[key].label} />
        ))}
      </fieldset>
      <FormButtons form={form} list="/admin/users" />
    </FormView>
  );
}
