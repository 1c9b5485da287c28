import type { ComponentChildren, JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { ZodType } from "zod";
import { ApiError, type FieldError } from "./api.ts";

/**
 * Forms: values as one object edited by dot paths ("voicemail.pin", "dates[2]"), errors by the
 * same paths the API uses in problem details (`errors[].field`), shown beside their field and
 * listed in a summary. What was typed survives a failed save, a reload and a session that ends
 * (kept in sessionStorage until the save succeeds; secrets are never kept).
 */

type Segment = string | number;

export function parsePath(path: string): Segment[] {
  const out: Segment[] = [];
  for (const part of path.split(".")) {
    const m = part.match(/^([^[]*)((?:\[\d+\])*)$/);
    if (!m) {
      out.push(part);
      continue;
    }
    if (m[1]) out.push(m[1]);
    for (const index of (m[2] ?? "").matchAll(/\[(\d+)\]/g)) out.push(Number(index[1]));
  }
  return out;
}

/** The path as the API writes it: zod issue paths joined like edge/http/problem.ts toFieldPath. */
export function pathOf(segments: readonly PropertyKey[]): string {
  return (
    segments.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join("") ||
    "(body)"
  );
}

export function getPath(value: unknown, path: string): unknown {
  let at: unknown = value;
  for (const key of parsePath(path)) {
    if (at === null || typeof at !== "object") return undefined;
    at = (at as Record<string | number, unknown>)[key];
  }
  return at;
}

export function setPath<T>(value: T, path: string, next: unknown): T {
  const keys = parsePath(path);
  const write = (node: unknown, i: number): unknown => {
    const key = keys[i] as Segment;
    const base: Record<string | number, unknown> | unknown[] = Array.isArray(node)
      ? [...node]
      : node !== null && typeof node === "object"
        ? { ...(node as object) }
        : typeof key === "number"
          ? []
          : {};
    (base as Record<string | number, unknown>)[key] =
      i === keys.length - 1 ? next : write((base as Record<string | number, unknown>)[key], i + 1);
    return base;
  };
  return write(value, 0) as T;
}

/** Fields whose values are never written to sessionStorage. */
const SECRET = /password|pin$/i;

function withoutSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutSecrets);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value as object).flatMap(([k, v]) => (SECRET.test(k) ? [] : [[k, withoutSecrets(v)]])),
  );
}

export interface Form<V> {
  values: V;
  errors: Map<string, string>;
  /** A message for the whole form (the problem's detail), or null. */
  problem: string | null;
  busy: boolean;
  notice: string | null;
  set(path: string, value: unknown): void;
  get(path: string): unknown;
  replace(values: V): void;
  setErrors(errors: FieldError[], problem?: string | null): void;
  setNotice(text: string | null): void;
  /** Runs a save: shows its ApiError beside the fields; keeps the values either way. */
  submit(action: () => Promise<void>): Promise<void>;
  /** Forgets the kept draft (after a successful save). */
  forget(): void;
  id(path: string): string;
}

/**
 * keepAs: the sessionStorage key that keeps what was typed; idPrefix: for the ids of the fields,
 * when a screen holds several forms with the same paths.
 */
export function useForm<V>(initial: V | (() => V), keepAs?: string, idPrefix = "f"): Form<V> {
  const storageKey = keepAs ? `edgepbx.form.${keepAs}` : null;
  const [values, setValues] = useState<V>(() => {
    const start = typeof initial === "function" ? (initial as () => V)() : initial;
    const kept = storageKey ? sessionStorage.getItem(storageKey) : null;
    if (!kept) return start;
    try {
      return { ...start, ...(JSON.parse(kept) as V) };
    } catch {
      return start;
    }
  });
  const [errors, setErrorMap] = useState<Map<string, string>>(new Map());
  const [problem, setProblem] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const dirty = useRef(false);
  useEffect(() => {
    if (storageKey && dirty.current) sessionStorage.setItem(storageKey, JSON.stringify(withoutSecrets(values)));
  }, [values, storageKey]);

  const form: Form<V> = {
    values,
    errors,
    problem,
    busy,
    notice,
    set(path, value) {
      dirty.current = true;
      setValues((v) => setPath(v, path, value));
      if (errors.has(path)) {
        const next = new Map(errors);
        next.delete(path);
        setErrorMap(next);
      }
    },
    get: (path) => getPath(values, path),
    replace(next) {
      dirty.current = false;
      setValues(next);
    },
    setErrors(list, message = null) {
      const map = new Map<string, string>();
      for (const e of list) if (!map.has(e.field)) map.set(e.field, e.message);
      setErrorMap(map);
      setProblem(message);
    },
    setNotice,
    async submit(action) {
      setBusy(true);
      setNotice(null);
      try {
        await action();
      } catch (error) {
        if (error instanceof ApiError) form.setErrors(error.errors, error.problem.detail ?? error.message);
        else form.setErrors([], (error as Error).message);
        // Take the user to the summary so a screen reader hears what went wrong.
        requestAnimationFrame(() => document.getElementById(form.id("form-problem"))?.focus());
      } finally {
        setBusy(false);
      }
    },
    forget() {
      dirty.current = false;
      if (storageKey) sessionStorage.removeItem(storageKey);
    },
    id: (path) => `${idPrefix}-${path.replace(/[^A-Za-z0-9]+/g, "-")}`,
  };
  return form;
}

/** The error for a field: its own path first, then any of `also` (e.g. the whole union). */
function errorFor(form: Form<unknown>, path: string, also: string[] = []): string | undefined {
  for (const p of [path, ...also]) {
    const message = form.errors.get(p);
    if (message) return message;
  }
  return undefined;
}

interface FieldProps {
  form: Form<unknown> | Form<never>;
  path: string;
  label: string;
  hint?: ComponentChildren;
  also?: string[];
}

function describedBy(id: string, hint: unknown, error: unknown): string | undefined {
  return [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ") || undefined;
}

function FieldMessages({ id, hint, error }: { id: string; hint?: ComponentChildren; error?: string | undefined }) {
  return (
    <>
      {hint ? (
        <p class="hint" id={`${id}-hint`}>
          {hint}
        </p>
      ) : null}
      {error ? (
        <p class="field-error" id={`${id}-error`}>
          <span aria-hidden="true">⚠ </span>
          {error}
        </p>
      ) : null}
    </>
  );
}

export function TextField(
  props: FieldProps & {
    type?: "text" | "email" | "password" | "tel" | "date" | "number";
    autoComplete?: string;
    required?: boolean;
    inputMode?: "numeric" | "tel" | "email" | "text";
    placeholder?: string;
    readOnly?: boolean;
    multiline?: boolean;
  },
) {
  const form = props.form as Form<unknown>;
  const id = form.id(props.path);
  const error = errorFor(form, props.path, props.also);
  const value = form.get(props.path);
  const common = {
    id,
    name: props.path,
    value: value === null || value === undefined ? "" : String(value),
    "aria-invalid": error ? ("true" as const) : undefined,
    "aria-describedby": describedBy(id, props.hint, error),
    required: props.required,
    readOnly: props.readOnly,
    placeholder: props.placeholder,
    onInput: (e: Event) => form.set(props.path, (e.currentTarget as HTMLInputElement).value),
  };
  return (
    <div class={`field${error ? " has-error" : ""}`}>
      <label for={id}>
        {props.label}
        {props.required ? (
          <span class="req" aria-hidden="true">
            {" "}
            (required)
          </span>
        ) : null}
      </label>
      {props.multiline ? (
        <textarea {...common} rows={6} />
      ) : (
        <input
          {...({
            ...common,
            type: props.type ?? "text",
            autoComplete: props.autoComplete,
            inputMode: props.inputMode,
          } as JSX.IntrinsicElements["input"])}
        />
      )}
      <FieldMessages id={id} hint={props.hint} error={error} />
    </div>
  );
}

export function CheckField(props: FieldProps & { disabled?: boolean }) {
  const form = props.form as Form<unknown>;
  const id = form.id(props.path);
  const error = errorFor(form, props.path, props.also);
  return (
    <div class={`field check${error ? " has-error" : ""}`}>
      <input
        type="checkbox"
        id={id}
        name={props.path}
        checked={form.get(props.path) === true}
        disabled={props.disabled}
        aria-invalid={error ? "true" : undefined}
        aria-describedby={describedBy(id, props.hint, error)}
        onChange={(e) => form.set(props.path, (e.currentTarget as HTMLInputElement).checked)}
      />
      <label for={id}>{props.label}</label>
      <FieldMessages id={id} hint={props.hint} error={error} />
    </div>
  );
}

export interface Option {
  value: string;
  label: string;
}

export function SelectField(
  props: FieldProps & { options: Option[]; required?: boolean; onChange?: (value: string) => void },
) {
  const form = props.form as Form<unknown>;
  const id = form.id(props.path);
  const error = errorFor(form, props.path, props.also);
  const value = form.get(props.path);
  return (
    <div class={`field${error ? " has-error" : ""}`}>
      <label for={id}>{props.label}</label>
      <select
        id={id}
        name={props.path}
        value={value === null || value === undefined ? "" : String(value)}
        aria-invalid={error ? "true" : undefined}
        aria-describedby={describedBy(id, props.hint, error)}
        onChange={(e) => {
          const v = (e.currentTarget as HTMLSelectElement).value;
          if (props.onChange) props.onChange(v);
          else form.set(props.path, v);
        }}
      >
        {props.options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      <FieldMessages id={id} hint={props.hint} error={error} />
    </div>
  );
}

/**
 * Checkboxes that pick several of the options into one list (path holds the chosen values, in
 * the order they were ticked); an error for the whole list shows above them.
 */
export function CheckList(props: { form: Form<unknown> | Form<never>; path: string; options: Option[] }) {
  const form = props.form as Form<unknown>;
  const chosen = (form.get(props.path) as string[] | undefined) ?? [];
  const error = form.errors.get(props.path);
  return (
    <>
      {error ? <p class="field-error">{error}</p> : null}
      {props.options.map((o) => {
        const id = `${form.id(props.path)}-${o.value}`;
        return (
          <div class="field check" key={o.value}>
            <input
              type="checkbox"
              id={id}
              name={props.path}
              checked={chosen.includes(o.value)}
              onChange={(e) => {
                const on = (e.currentTarget as HTMLInputElement).checked;
                form.set(props.path, on ? [...chosen, o.value] : chosen.filter((x) => x !== o.value));
              }}
            />
            <label for={id}>{o.label}</label>
          </div>
        );
      })}
    </>
  );
}

/** The form's problem and every field error, each a button that moves focus to its field. */
export function FormErrors({ form }: { form: Form<unknown> | Form<never> }) {
  const f = form as Form<unknown>;
  if (!f.problem && f.errors.size === 0) return null;
  return (
    <div class="error-summary" id={f.id("form-problem")} tabIndex={-1} role="alert">
      <p class="error-title">{f.problem ?? "Some fields need attention."}</p>
      {f.errors.size > 0 ? (
        <ul>
          {[...f.errors].map(([path, message]) => (
            <li key={path}>
              <button
                type="button"
                class="link"
                onClick={() => {
                  const el = document.getElementById(f.id(path)) ?? document.querySelector(`[name^="${path}"]`);
                  (el as HTMLElement | null)?.focus();
                }}
              >
                {labelOf(f, path)}: {message}
              </button>
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

function labelOf(form: Form<unknown>, path: string): string {
  const label = document.querySelector(`label[for="${form.id(path)}"]`)?.textContent;
  return label ? label.replace(/ \(required\)$/, "") : path;
}

/** A problem that concerns the whole screen (it could not be loaded, or the API refused). */
export function Alert({ children }: { children: ComponentChildren }) {
  return (
    <p role="alert" class="error-summary">
      {children}
    </p>
  );
}

export function Notice({ children }: { children: ComponentChildren }) {
  return (
    <div class="notice" role="status">
      {children}
    </div>
  );
}

/**
 * A form of the portal: no browser validation (the shared schemas and the API speak instead), the
 * error summary first, and its action run by form.submit (busy state, ApiErrors beside fields).
 */
export function FormView({
  form,
  onSubmit,
  intro,
  children,
  ...attributes
}: {
  form: Form<unknown> | Form<never>;
  onSubmit: () => Promise<void>;
  /** Shown above the error summary. */
  intro?: ComponentChildren;
  children: ComponentChildren;
  class?: string;
  "aria-labelledby"?: string;
}) {
  return (
    <form
      {...attributes}
      onSubmit={(e) => {
        e.preventDefault();
        void (form as Form<unknown>).submit(onSubmit);
      }}
      noValidate
    >
      {intro}
      <FormErrors form={form} />
      {children}
    </form>
  );
}

/** The form's submit button, disabled while it is saving. */
export function SubmitButton({
  form,
  label,
  busyLabel = label,
}: {
  form: Form<unknown> | Form<never>;
  label: string;
  busyLabel?: string;
}) {
  return (
    <button type="submit" class="primary" disabled={form.busy}>
      {form.busy ? busyLabel : label}
    </button>
  );
}

/**
 * Checks a value with a shared schema before it is sent: the parsed value, or null with the
 * issues shown beside their fields.
 */
export function checkInput<T>(
  form: Form<unknown> | Form<never>,
  schema: ZodType<T>,
  value: unknown,
  problem = "Some fields need attention.",
): T | null {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  (form as Form<unknown>).setErrors(zodErrors(parsed.error.issues), problem);
  return null;
}

/** zod issues from a shared validator, as field errors with the API's paths. */
export function zodErrors(issues: readonly { path: readonly PropertyKey[]; message: string }[]): FieldError[] {
  return issues.map((issue) => ({ field: pathOf(issue.path), message: issue.message }));
}

export function isApiError(error: unknown): error is ApiError {
  return error instanceof ApiError;
}
