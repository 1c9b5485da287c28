import { MeUpdate, type Notifications, type Role } from "../../../shared/accounts/schema.ts";
import { api } from "../lib/api.ts";
import { CheckField, checkInput, FormView, Notice, SubmitButton, TextField, useForm } from "../lib/forms.tsx";
import { type PortalUser, userChanged, useSession } from "../lib/session.ts";

/** My Account: contact details, notification preferences and the password. */

export const NOTIFICATION_LABELS: Record<keyof Notifications, { label: string; hint: string; roles?: Role[] }> = {
  serviceAlerts: { label: "Service alerts", hint: "Outages and problems with your services." },
  billing: { label: "Billing", hint: "Invoices and payment reminders.", roles: ["administrator"] },
  clientCorrespondence: { label: "Client correspondence", hint: "Messages about your account." },
  newsletters: { label: "Newsletters", hint: "A great way to keep on top of new features." },
  generalUpdates: { label: "General updates", hint: "Product and platform news." },
};

export function MyAccount() {
  const { user } = useSession();
  if (!user) return null;
  return <AccountForm user={user} key={user.id} />;
}

function valuesOf(user: PortalUser) {
  return {
    name: user.name,
    company: user.company,
    phone: user.phone,
    mobile: user.mobile,
    position: user.position,
    notifications: { ...user.notifications },
    currentPassword: "",
    password: "",
  };
}

function AccountForm({ user }: { user: PortalUser }) {
  const form = useForm(() => valuesOf(user), `account.${user.id}`);
  const onSubmit = async () => {
    const { currentPassword, password, ...rest } = form.values;
    const input = checkInput(form, MeUpdate, { ...rest, ...(password ? { password, currentPassword } : {}) });
    if (!input) return;
    const { data } = await api<{ user: PortalUser }>("PATCH", "/me", input);
    form.forget();
    form.replace(valuesOf(data.user));
    userChanged(data.user);
    form.setErrors([]);
    form.setNotice("Your account was saved.");
  };
  return (
    <>
      <h1>My Account</h1>
      <p>Fill this in accurately: we use it to contact you in the event of an issue.</p>
      {form.notice ? <Notice>{form.notice}</Notice> : null}
      <FormView form={form} onSubmit={onSubmit}>
        <fieldset>
          <legend>Contact details</legend>
          <div class="field">
            <label for="account-email">Email (your login)</label>
            <input id="account-email" type="email" value={user.email} readOnly />
          </div>
          <TextField form={form} path="name" label="Name" autoComplete="name" required />
          <TextField form={form} path="company" label="Company" autoComplete="organization" />
          <TextField form={form} path="position" label="Position" autoComplete="organization-title" />
          <TextField form={form} path="phone" label="Phone" type="tel" autoComplete="tel" />
          <TextField form={form} path="mobile" label="Mobile" type="tel" autoComplete="tel" />
        </fieldset>
        <fieldset>
          <legend>Notifications</legend>
          <p class="hint">Choose what we send you. Some depend on your role.</p>
          {(Object.keys(NOTIFICATION_LABELS) as (keyof Notifications)[])
            .filter((key) => !NOTIFICATION_LABELS[key].roles || NOTIFICATION_LABELS[key].roles?.includes(user.role))
            .map((key) => (
              <CheckField
                key={key}
                form={form}
                path={`notifications.${key}`}
                label={NOTIFICATION_LABELS[key].label}
                hint={NOTIFICATION_LABELS[key].hint}
              />
            ))}
        </fieldset>
        <fieldset>
          <legend>Change password</legend>
          <TextField
            form={form}
            path="currentPassword"
            label="Current password"
            type="password"
            autoComplete="current-password"
          />
          <TextField
            form={form}
            path="password"
            label="New password"
            type="password"
            autoComplete="new-password"
            hint="Leave blank to keep your password. At least 10 characters."
          />
        </fieldset>
        <div class="actions sticky">
          <SubmitButton form={form} label="Save" busyLabel="Saving…" />
        </div>
      </FormView>
    </>
  );
}
