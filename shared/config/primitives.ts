import * as z from "zod";

/** Short opaque ids for entities inside one PBX ("ext_3f9a…"). */
export const EntityId = z.string().regex(/^[a-z]{2,8}_[A-Za-z0-9]{6,32}$/, "must be an entity id such as ext_ab12cd34");

/** A dialable internal number: extensions, ring groups, conference rooms. */
export const InternalNumber = z.string().regex(/^[0-9]{2,6}$/, "must be 2 to 6 digits");

/** Virtual extensions (speed dials) are 3 or 4 digits, as the guide says. */
export const SpeedDialNumber = z.string().regex(/^[0-9]{3,4}$/, "must be 3 or 4 digits");

/** A public telephone number: optional leading +, 3 to 16 digits. */
export const PhoneNumber = z
  .string()
  .trim()
  .regex(/^\+?[0-9]{3,16}$/, "must be a phone number: digits with an optional leading +");

export const Email = z.email("must be an email address");

export const Timezone = z.string().refine(isTimezone, "must be an IANA time zone such as Australia/Sydney");

/** A calendar date YYYY-MM-DD that really exists (2027-02-30 does not). */
export const CalendarDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date as YYYY-MM-DD")
  .refine(isRealDate, "is not a date in the calendar");

export const Digits = (min: number, max: number) =>
  z.string().regex(new RegExp(`^[0-9]{${min},${max}}$`), `must be ${min} to ${max} digits`);

export function isTimezone(value: string): boolean {
  if (value.length === 0 || value.length > 64) return false;
  try {
    new Intl.DateTimeFormat("en", { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

export function isRealDate(value: string): boolean {
  const [y, m, d] = value.split("-").map(Number);
  if (!y || !m || !d) return false;
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}
