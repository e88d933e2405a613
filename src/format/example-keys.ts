import type { KeyEnvironment } from './key-format';

/**
 * The keys that documentation shows (OpenAPI examples, README): well formed, with a
 * valid checksum, so they look like what Keyhouse really sends, and spelling EXAMPLE
 * in zeros, so nobody mistakes them for secrets. Because they are published, the
 * verifier refuses them and BOOTSTRAP_ROOT_KEY may not be one of them.
 */
export const EXAMPLE_KEYS: Readonly<Record<KeyEnvironment, string>> = {
  live: 'sk_live_000000000000000000EXAMPLE0000000000000000004GGV2H',
  test: 'sk_test_000000000000000000EXAMPLE0000000000000000004QVt05',
};

const EXAMPLES = new Set(Object.values(EXAMPLE_KEYS));

export function isExampleKey(candidate: string): boolean {
  return EXAMPLES.has(candidate);
}
