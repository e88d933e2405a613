import { createHash } from 'node:crypto';
import { canonicalJson } from '../common/canonical-json';

/** The hash before the first event. */
export const GENESIS_HASH = '0'.repeat(64);

/** What an event's hash covers, besides the previous event's hash. */
export interface ChainedContent {
  occurredAt: string;
  actorKeyId: string | null;
  action: string;
  targetType: string;
  targetId: string;
  clientId: string | null;
  requestId: string | null;
  sourceIp: string | null;
  changes: unknown;
}

/** SHA-256 over the previous hash and the event's canonical JSON (keys sorted at every depth). */
export function chainHash(prevHash: string, content: ChainedContent): string {
  return createHash('sha256').update(prevHash).update('\n').update(canonicalJson(content)).digest('hex');
}
