// Money as the ledger keeps it: whole fen, exact. Each fund's sums are at
// most 2^53-1 (SPEC §6), but a total over all funds (the overview, the
// statistics) is not bounded, and past 2^53-1 a JavaScript number is no
// longer exact. So the page reads such integers as BigInt, adds money
// exactly, and prints fen as yuan from their digits, never through a
// floating-point division.

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A BigInt, or the same value as a number when one holds it exactly. */
const narrow = (n) => (n <= MAX_SAFE && n >= -MAX_SAFE ? Number(n) : n);

// The tokens of JSON text that can hold digits: strings first (so digits
// inside them are skipped whole), then numbers.
const TOKENS = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;
const BIG = /^-?\d{16,}$/;
// What a big integer is replaced by before parsing: a string that starts
// with NUL, which no string of the ledger holds (SPEC §1).
const MARKED = /^\u0000-?\d+$/;

/**
 * JSON.parse, except that an integer past ±(2^53-1) becomes a BigInt of
 * its exact value instead of the nearest double. Other values are as
 * JSON.parse gives them, so code that never meets such totals is unchanged.
 */
export function parseJson(text) {
  if (!/\d{16}/.test(text)) return JSON.parse(text);
  let marked = false;
  const safe = text.replace(TOKENS, (token) => {
    if (token[0] === '"' || !BIG.test(token) || typeof narrow(BigInt(token)) === "number") return token;
    marked = true;
    return `"\\u0000${token}"`;
  });
  if (!marked) return JSON.parse(text);
  return JSON.parse(safe, (_, v) => (typeof v === "string" && MARKED.test(v) ? BigInt(v.slice(1)) : v));
}

/** The exact sum of amounts (numbers, BigInts or digit strings). */
export const plus = (...amounts) => narrow(amounts.reduce((sum, x) => sum + BigInt(x), 0n));

/**
 * Fen as yuan with exactly two decimals, the yuan grouped for `locale`:
 * `9007199254740993` → `90,071,992,547,409.93`. Takes a number, BigInt or
 * digit string; the arithmetic is BigInt's, never a float's.
 */
export function yuanText(fen, locale) {
  if (fen == null || fen === "") return "—";
  const n = BigInt(fen);
  const abs = n < 0n ? -n : n;
  const whole = (abs / 100n).toLocaleString(locale);
  return `${n < 0n ? "-" : ""}${whole}.${String(abs % 100n).padStart(2, "0")}`;
}
