/** The least a secret's estimated entropy may be (see estimatedBits); random secrets of 32 characters or more clear it. */
export const MIN_SECRET_BITS = 80;

/**
 * A cautious estimate of a secret's entropy in bits, from the text alone: its shortest
 * repeating unit (`abcabcabc` counts as `abc`), times the Shannon entropy per
 * character of either its characters or the steps between neighbours, whichever is
 * lower (so `aaaa…`, `abab…` and runs such as `abcdef…` or `0123…` score near zero).
 * It cannot see that a secret was chosen by a person; it refuses what is plainly not random.
 */
export function estimatedBits(secret: string): number {
  const chars = [...secret];
  if (chars.length < 2) return 0;
  const unit = shortestPeriod(chars);
  const steps = chars.slice(1, unit + 1).map((c, i) => c.codePointAt(0)! - chars[i].codePointAt(0)!);
  return unit * Math.min(shannon(chars.slice(0, unit)), shannon(steps));
}

function shortestPeriod<T>(xs: T[]): number {
  for (let p = 1; p <= xs.length / 2; p++) {
    let repeats = true;
    for (let i = p; i < xs.length && repeats; i++) repeats = xs[i] === xs[i - p];
    if (repeats) return p;
  }
  return xs.length;
}

/** Bits per symbol of the symbols' own frequencies. */
function shannon<T>(xs: T[]): number {
  const counts = new Map<T, number>();
  for (const x of xs) counts.set(x, (counts.get(x) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) bits -= (n / xs.length) * Math.log2(n / xs.length);
  return bits;
}
