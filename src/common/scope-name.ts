/**
 * Scope names: lower-case segments separated by `:`, optionally ending in a `*`
 * wildcard segment. `orders:*` covers `orders:read` and `orders:items:write`,
 * never `orders` itself nor `ordersx:read`.
 */
export const SCOPE_NAME_PATTERN = /^[a-z][a-z0-9_-]*(?::[a-z0-9_-]+)*(?::\*)?$/;
