/** The environments a key is issued for: the `<env>` of `sk_<env>_...`, stored with the key. */
export const ENVIRONMENTS = ['live', 'test'] as const;
export type KeyEnvironment = (typeof ENVIRONMENTS)[number];
