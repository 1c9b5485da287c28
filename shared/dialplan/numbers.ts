/**
 * Phone number comparison for the dial plan, deliberately simple:
 *
 * - `normaliseNumber` keeps digits only ("+61 2-9000 0000" → "61290000000").
 * - `sameNumber` matches when the digit strings are equal, or when, after dropping leading
 *   zeros (national trunk prefix "0", international prefix "00"/"0011"), one ends with the
 *   other and that shorter one still has at least 8 digits. So "+61 2 9000 0000",
 *   "61290000000", "0011 61 2 9000 0000" and "(02) 9000-0000" are one number, while numbers
 *   shorter than 8 significant digits ("1234", "13 13 13") only ever match exactly.
 *
 * No country knowledge, no libphonenumber: a false positive needs the same last 8+ digits.
 */

/** Digits only; "" for an empty, withheld or non-numeric caller ID ("anonymous"). */
export function normaliseNumber(value: string): string {
  return value.replace(/[^0-9]/g, "");
}

/** The minimum length of the shorter number for a suffix match. */
export const SUFFIX_MATCH_DIGITS = 8;

export function sameNumber(a: string, b: string): boolean {
  const x = normaliseNumber(a);
  const y = normaliseNumber(b);
  if (x === "" || y === "") return false;
  if (x === y) return true;
  const xs = x.replace(/^0+/, "");
  const ys = y.replace(/^0+/, "");
  const [shorter, longer] = xs.length <= ys.length ? [xs, ys] : [ys, xs];
  return shorter.length >= SUFFIX_MATCH_DIGITS && longer.endsWith(shorter);
}
