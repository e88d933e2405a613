import { readFileSync, writeFileSync } from 'node:fs';
import type { KeyRecord } from '../src/credentials/key-record';

/** A key's stored facts, without what the service derives from them as it reads the row. */
export type StoredRecord = Omit<KeyRecord, 'ipRanges' | 'goodUntil' | 'activeAnswer'>;

/** A key the bench made, with what the service knows about it: the baselines answer from this. */
export interface SeededKey {
  token: string;
  record: StoredRecord;
}

/** What a baseline server loads: the callers it authenticates and the keys it answers for. */
export interface Fixture {
  callers: SeededKey[];
  keys: SeededKey[];
}

export function writeFixture(file: string, fixture: Fixture): void {
  writeFileSync(file, JSON.stringify(fixture));
}

export function readFixture(file: string): Fixture {
  return JSON.parse(readFileSync(file, 'utf8')) as Fixture;
}

/** Writes one token per line: what the load generator picks from. */
export function writeTokens(file: string, tokens: readonly string[]): void {
  writeFileSync(file, tokens.join('\n'));
}
