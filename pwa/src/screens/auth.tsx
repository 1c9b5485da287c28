import { useState } from "preact/hooks";
import { LoginInput, RecoverInput, RegisterInput, ResetInput } from "../../../shared/accounts/schema.ts";
import { api } from "../lib/api.ts";
import { checkInput, FormView, Notice, SubmitButton, TextField, useForm } from "../lib/forms.tsx";
import { href, navigate } from "../lib/router.ts";
import { type PortalUser, signedIn } from "../lib/session.ts";

/** Logging into the portal, Register, and "Having trouble signing in" (recovery and reset). */

export function Login({ query, expired }: { query: URLSearchParams; expired?: boolean }) {
  const form = useForm({ email: "", password: "" });
  const next = query.get("next") ?? "/services";
  const onSubmit = async () => {
    const input = checkInput(form, LoginInput, form.values, "Enter your email and password.");
    if (!input) return;
    const { data } = await api<{ user: PortalUser }>("POST", "/auth/login", input);
    signedIn(data.user);
    navigate(next, true);
  };
  return (
    <section class="card auth">
      <h1>Log in to the Management Portal</h1>
      {expired ? <Notice>Your session ended. Log in again to carry on where you were.</Notice> : null}
      <FormView form={form} onSubmit={onSubmit}>
        <TextField form={form} path="email" label="Email (username)" type="email" autoComplete="username" required />
        <TextField
          form={form}
          path="password"
          label="Password"
          type="password"
          autoComplete="current-password"
          required
        />
        <div class="actions">
          <SubmitButton form={form} label="Log in" busyLabel="Logging in…" />
        </div>
      </FormView>
      <div class="auth-links">
        <a class="button secondary" href={href("/register")}>
          Register
        </a>
        <a href={href("/recover")}>Having trouble signing in?</a>
      </div>
    </section>
  );
}

export function Register(_: { query: URLSearchParams }) {
  const form = useForm(
    { name: "", company: "", email: "", phone: "", mobile: "", position: "", password: "" },
    "register",
  );
  const onSubmit = async () => {
    const input = checkInput(form, RegisterInput, form.values);
    if (!input) return;
    const { data } = await api<{ user: PortalUser }>("POST", "/auth/register", input);
    form.forget();
    signedIn(data.user);
    navigate("/services", true);
  };
  return (
    <section class="card auth">
      <h1>Register</h1>
      <p>Create a portal login for your company. You become its Administrator.</p>
      <FormView form={form} onSubmit={onSubmit}>
        <TextField form={form} path="name" label="Your name" autoComplete="name" required />
        <TextField form={form} path="company" label="Company" autoComplete="organization" />
        <TextField form={form} path="email" label="Email" type="email" autoComplete="email" required />
        <TextField form={form} path="phone" label="Phone" type="tel" autoComplete="tel" />
        <TextField form={form} path="mobile" label="Mobile" type="tel" autoComplete="tel" />
        <TextField form={form} path="position" label="Position" autoComplete="organization-title" />
        <TextField
          form={form}
          path="password"
          label="Password"
          type="password"
          autoComplete="new-password"
          hint="At least 10 characters."
          required
        />
        <div class="actions">
          <SubmitButton form={form} label="Register" busyLabel="Registering…" />
          <a href={href("/login")}>I already have a login</a>
        </div>
      </FormView>
    </section>
  );
}

export function Recover(_: { query: URLSearchParams }) {
  const form = useForm({ email: "" });
  const [sent, setSent] = useState<string | null>(null);
  const onSubmit = async () => {
    const input = checkInput(form, RecoverInput, form.values, "Enter the email you log in with.");
    if (!input) return;
    const { data } = await api<{ detail: string }>("POST", "/auth/recover", input);
    setSent(data.detail);
  };
  return (
    <section class="card auth">
      <h1>Having trouble signing in</h1>
      <p>Enter the email you log in with. We send you a link to choose a new password.</p>
      {sent ? <Notice>{sent}</Notice> : null}
      <FormView form={form} onSubmit={onSubmit}>
        <TextField form={form} path="email" label="Email" type="email" autoComplete="email" required />
        <div class="actions">
          <SubmitButton form={form} label="Send me a reset link" />
        </div>
      </FormView>
      <div class="auth-links">
        <a href={href("/reset")}>I have a reset code</a>
        <a href={href("/login")}>Back to Log in</a>
      </div>
    </section>
  );
}

export function Reset({ query }: { query: URLSearchParams }) {
  const form = useForm({ token: query.get("token") ?? "", password: "" });
  const [done, setDone] = useState<string | null>(null);
  const fromLink = Boolean(query.get("token"));
  const onSubmit = async () => {
    const input = checkInput(form, ResetInput, form.values);
    if (!input) return;
    const { data } = await api<{ detail: string }>("POST", "/auth/reset", input);
    form.forget();
    setDone(data.detail);
  };
  return (
    <section class="card auth">
      <h1>Choose a new password</h1>
      {done ? (
        <>
          <Notice>{done}</Notice>
          <a class="button primary" href={href("/login")}>
            Log in
          </a>
        </>
      ) : (
        <FormView form={form} onSubmit={onSubmit}>
          {fromLink ? null : (
            <TextField form={form} path="token" label="Reset code (from the email)" autoComplete="one-time-code" />
          )}
          {fromLink && form.errors.has("token") ? (
            <p class="field-error">
              This link {form.errors.get("token")}. <a href={href("/recover")}>Ask for a new one</a>.
            </p>
          ) : null}
          <TextField
            form={form}
            path="password"
            label="New password"
            type="password"
            autoComplete="new-password"
            hint="At least 10 characters."
            required
          />
          <div class="actions">
            <SubmitButton form={form} label="Set new password" />
          </div>
        </FormView>
      )}
    </section>
  );
}
