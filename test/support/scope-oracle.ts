import fc from 'fast-check';

/**
 * Scope coverage by sets, written without the matcher under test: a scope denotes the concrete
 * names it allows within a finite universe, and a set of scopes covers another when the names
 * it denotes include the other's. The universe has one segment (`c`) that the generators never
 * use, so a wildcard always denotes a name that no list of concrete scopes reaches.
 */
const FIRST = ['admin', 'p', 'c'];
const LATER = ['leaks', 'report', 'x', 'c'];
const DEPTH = 4;

const UNIVERSE: string[] = (() => {
  const names: string[] = [];
  let level = FIRST.map((s) => [s]);
  for (let depth = 1; depth <= DEPTH; depth++) {
    names.push(...level.map((segments) => segments.join(':')));
    level = level.flatMap((segments) => LATER.map((s) => [...segments, s]));
  }
  return names;
})();

function denotes(scope: string): Set<string> {
  if (!scope.endsWith(':*')) return new Set(UNIVERSE.includes(scope) ? [scope] : []);
  const stem = scope.slice(0, -1);
  return new Set(UNIVERSE.filter((name) => name.startsWith(stem)));
}

/** Whether `held` covers `wanted`, by the names they denote. */
export function covers(held: readonly string[], wanted: string): boolean {
  const reach = new Set(held.flatMap((h) => [...denotes(h)]));
  return [...denotes(wanted)].every((name) => reach.has(name));
}

/** Scope names over the oracle's segments (never `c`), concrete or wildcard, at most three segments. */
export const scopeName = fc
  .tuple(
    fc.constantFrom('admin', 'p'),
    fc.array(fc.constantFrom('leaks', 'report', 'x'), { maxLength: 2 }),
    fc.boolean(),
  )
  .map(([first, rest, wildcard]) => [first, ...rest, ...(wildcard ? ['*'] : [])].join(':'))
  .filter((name) => name.split(':').length <= 3);

export const scopeSet = (maxLength = 4) => fc.uniqueArray(scopeName, { maxLength });
