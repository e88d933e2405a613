import type { Actor } from '../auth/actor';
import { Forbidden } from '../common/errors';
import { coversAll, RESERVED_NAMESPACE, scopeCovers } from '../credentials/scope-match';

/** Lets a key revoke another client's key by reporting it leaked: a secret scanner's scope. */
export const LEAK_REPORT_SCOPE = 'admin:leaks:report';

/** Who is granting: the scopes and the kind of the key behind the request. */
export type Granter = Pick<Actor, 'isSystem' | 'scopes'>;

/** Why a scope may not be granted, one reason per scope: the first rule it breaks. */
export interface Refusal {
  scope: string;
  reason: 'not_held' | 'root_only' | 'outside_ceiling';
}

/**
 * Who may grant what. A key of the system client (a root key) may grant any catalogued
 * scope, except admin: scopes it does not hold itself. Any other key may grant only scopes
 * its own scopes cover, and never `admin:leaks:report` (nor a wildcard covering it), which
 * only root hands out. Whoever grants, a client's non-empty ceiling (`allowed_scopes`)
 * must cover every scope of its keys. `null` granter: an internal caller (bootstrap).
 */
export function refusedGrants(
  scopes: readonly string[],
  granter: Granter | null,
  ceiling: readonly string[],
): Refusal[] {
  const refused: Refusal[] = [];
  for (const scope of scopes) {
    const reason = refusal(scope, granter, ceiling);
    if (reason) refused.push({ scope, reason });
  }
  return refused;
}

function refusal(scope: string, granter: Granter | null, ceiling: readonly string[]): Refusal['reason'] | null {
  if (granter) {
    const mustHold = !granter.isSystem || scope.startsWith(RESERVED_NAMESPACE);
    if (mustHold && !coversAll(granter.scopes, [scope])) return 'not_held';
    if (!granter.isSystem && scopeCovers(scope, LEAK_REPORT_SCOPE)) return 'root_only';
  }
  if (ceiling.length > 0 && !coversAll(ceiling, [scope])) return 'outside_ceiling';
  return null;
}

const WHY: Record<Refusal['reason'], string> = {
  not_held: 'your key does not cover it',
  root_only: 'only root keys grant it',
  outside_ceiling: "it is outside the client's allowed_scopes",
};

/** The 403 for `refused` (when any): names each scope and why, never anything about other keys. */
export function assertGrantable(refused: Refusal[], verb: 'grant' | 'change' | 'rotate'): void {
  if (refused.length === 0) return;
  const what = verb === 'grant' ? 'grant' : `${verb} a key holding`;
  throw new Forbidden(`This key may not ${what} ${refused.map((r) => `${r.scope} (${WHY[r.reason]})`).join(', ')}.`, {
    refused_scopes: refused.map((r) => ({ scope: r.scope, reason: r.reason })),
  });
}
