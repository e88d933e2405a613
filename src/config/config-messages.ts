import { getMetadataStorage, type ValidationError } from 'class-validator';

/**
 * One message for a variable that fails, whatever number of its constraints it fails:
 * `PORT=abc` is "PORT must be an integer from 0 to 65535", not one line per decorator.
 */
export function oneMessage(target: new () => object, error: ValidationError): string {
  const name = error.property;
  const failed = error.constraints ?? {};
  const declared = getMetadataStorage()
    .getTargetValidationMetadatas(target, '', true, false)
    .filter((m) => m.propertyName === name);
  const bound = (kind: string) => declared.find((m) => m.name === kind)?.constraints?.[0] as number | undefined;
  const isInt = declared.some((m) => m.name === 'isInt');
  if (isInt && ('isInt' in failed || 'min' in failed || 'max' in failed)) {
    const [min, max] = [bound('min'), bound('max')];
    if (min !== undefined && max !== undefined) return `${name} must be an integer from ${min} to ${max}`;
    if (min !== undefined) return `${name} must be an integer of at least ${min}`;
    if (max !== undefined) return `${name} must be an integer of at most ${max}`;
    return `${name} must be an integer`;
  }
  if ('isBoolean' in failed) return `${name} must be true or false (or 1 or 0)`;
  if ('isIn' in failed) {
    const allowed = (declared.find((m) => m.name === 'isIn')?.constraints?.[0] as unknown[] | undefined) ?? [];
    return `${name} must be one of ${allowed.join(', ')}`;
  }
  const first = FIRST.find((kind) => kind in failed) ?? Object.keys(failed)[0];
  return first === undefined ? `${name} is not valid` : failed[first];
}

/** Which of several failed constraints says the most: the kind of value before its details. */
const FIRST = ['isDefined', 'isString', 'minLength', 'maxLength', 'matches', 'rule', 'randomEnough'];

/** Names other programs set that happen to be one edit away from one of Keyhouse's (HOME and HOST). */
const COMMON_VARIABLES = new Set(['HOME', 'HOSTNAME', 'PATH', 'PWD', 'OLDPWD', 'USER', 'SHELL', 'TERM', 'LANG', 'TZ']);

/** Prefixes an operator may put before a variable's name, thinking they are needed. */
const PREFIXES = ['KEYHOUSE_', 'KH_'];

/**
 * Each given name that is not known but is one edit away from a known one (an insertion,
 * deletion, substitution or swap of two neighbours: optimal string alignment distance 1),
 * equal to one but for case, or a known one behind a prefix: the pairs [given, known].
 */
export function nearMisses(given: readonly string[], known: readonly string[]): [string, string][] {
  const knownSet = new Set(known);
  const misses: [string, string][] = [];
  for (const name of given) {
    if (knownSet.has(name) || COMMON_VARIABLES.has(name) || name.length < 3) continue;
    const prefixed = PREFIXES.find((p) => name.startsWith(p) && knownSet.has(name.slice(p.length)));
    const match =
      (prefixed && name.slice(prefixed.length)) ??
      known.find((k) => k.toUpperCase() === name.toUpperCase() || oneEditApart(k, name));
    if (match) misses.push([name, match]);
  }
  return misses;
}

/** Whether a and b (not equal) differ by one insertion, deletion, substitution, or swap of neighbours. */
export function oneEditApart(a: string, b: string): boolean {
  if (a === b || Math.abs(a.length - b.length) > 1) return false;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  if (a.length === b.length) {
    if (a.slice(i + 1) === b.slice(i + 1)) return true; // substitution
    return a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2); // swap
  }
  const [longer, shorter] = a.length > b.length ? [a, b] : [b, a];
  return longer.slice(i + 1) === shorter.slice(i); // insertion or deletion
}
