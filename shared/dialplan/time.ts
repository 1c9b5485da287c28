/**
 * The calendar date ("YYYY-MM-DD") at instant `now` in an IANA time zone.
 * Holidays are whole local days ("closed the entire day and night"), so a call at
 * 2026-12-24T13:30Z is on 2026-12-25 in Australia/Sydney (UTC+11) but on the 24th in UTC.
 */
export function localDate(now: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    calendar: "gregory",
    numberingSystem: "latn",
  }).formatToParts(now);
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? "";
  return `${part("year").padStart(4, "0")}-${part("month")}-${part("day")}`;
}
