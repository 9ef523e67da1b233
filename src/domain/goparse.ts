/**
 * Go's scalar parsers as faas-provider applies them to query parameters:
 * strconv.Atoi, strconv.ParseBool and time.Parse(time.RFC3339, ...). Each
 * accepts exactly what Go accepts and returns undefined where Go errors.
 */

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

/**
 * strconv.Atoi on a 64-bit platform: an optional sign and decimal digits (no
 * base prefix, underscore, fraction or exponent), within int64.
 */
export function parseGoInt(s: string): bigint | undefined {
  // The longest int64 is 20 characters ("-9223372036854775808"), but leading zeros are allowed.
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const digits = s.replace(/^[+-]/, "").replace(/^0+(?=.)/, "");
  if (digits.length > 19) return undefined;
  const n = BigInt(s.startsWith("-") ? `-${digits}` : digits);
  return n < INT64_MIN || n > INT64_MAX ? undefined : n;
}

/** strconv.ParseBool: 1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False; else undefined. */
export function parseGoBool(s: string): boolean | undefined {
  switch (s) {
    case "1":
    case "t":
    case "T":
    case "TRUE":
    case "true":
    case "True":
      return true;
    case "0":
    case "f":
    case "F":
    case "FALSE":
    case "false":
    case "False":
      return false;
    default:
      return undefined;
  }
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Go's time.Parse(time.RFC3339, s) (its fast path, then the general layout
 * parser it falls back to): `YYYY-MM-DDTHH:MM:SS`, an optional fraction after
 * `.` or `,`, then `Z` or `+hh:mm`/`-hh:mm`. As Go's general parser does, it
 * also takes a one-digit hour and zone offsets up to 24:60. Day, hour, minute
 * and second must be in range (no leap second). Precision beyond milliseconds
 * is dropped (a JavaScript Date).
 */
export function parseGoRfc3339(s: string): Date | undefined {
  // Fixed-width fields separated by literals: every quantifier is bounded or followed by a different class.
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d+))?(?:(Z)|([+-])(\d{2}):(\d{2}))$/
    .exec(s);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, sec, frac, z, sign, oh, om] = m;
  const year = Number(y), month = Number(mo), day = Number(d);
  const hour = Number(h), minute = Number(mi), second = Number(sec);
  if (month < 1 || month > 12) return undefined;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const daysInMonth = month === 2 ? (leap ? 29 : 28) : DAYS_IN_MONTH[month - 1];
  if (day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetMinutes = 0;
  if (z === undefined) {
    const zh = Number(oh), zm = Number(om);
    if (zh > 24 || zm > 60) return undefined;
    offsetMinutes = (sign === "-" ? -1 : 1) * (zh * 60 + zm);
  }
  const ms = frac === undefined ? 0 : Math.floor(Number(`0.${frac.slice(0, 9)}`) * 1000);
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: years 0-99 are not 1900-1999.
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, ms);
  return new Date(date.getTime() - offsetMinutes * 60_000);
}
