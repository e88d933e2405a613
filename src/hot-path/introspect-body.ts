import Ajv, { type ErrorObject } from 'ajv';
import { BadInput } from '../common/errors';
import { isAddress } from '../credentials/ip-allowlist';
import { EXAMPLE_KEYS } from '../credentials/example-keys';
import { ENVIRONMENTS } from '../credentials/key-format';
import type { Requirements } from '../credentials/key-checks';

/**
 * The introspection request's body, JSON or form-encoded: the one declaration behind its
 * validation (compiled once, below), its type and its OpenAPI entry. Other fields (such as
 * the `client_id` and `client_secret` OAuth clients add, RFC 6749 §2.3) are accepted and ignored.
 */
export const INTROSPECT_BODY_SCHEMA = {
  type: 'object',
  required: ['token'],
  description:
    'Other fields, such as the `client_id` and `client_secret` that OAuth clients add (RFC 6749 §2.3), are accepted and ignored.',
  properties: {
    token: { type: 'string', maxLength: 1024, description: 'The key to check.', example: EXAMPLE_KEYS.live },
    token_type_hint: {
      type: 'string',
      maxLength: 100,
      description: 'Accepted and ignored (RFC 7662).',
      example: 'api_key',
    },
    scope: {
      type: 'string',
      maxLength: 4096,
      description: 'Space-separated scopes the key must cover, e.g. `orders:read orders:write`.',
      example: 'orders:read',
    },
    client_ip: {
      type: 'string',
      maxLength: 100,
      description:
        "The caller's address, IPv4 or IPv6, checked against the key's allowlist. A key with an allowlist is `ip_not_allowed` without it.",
      example: '203.0.113.7',
    },
    environment: {
      type: 'string',
      enum: [...ENVIRONMENTS],
      description: 'The environment the key must belong to.',
      example: 'live',
    },
  },
} as const;

type Schema = typeof INTROSPECT_BODY_SCHEMA;
type Field<P> = P extends { enum: readonly (infer E)[] } ? E : string;
type Required = Schema['required'][number];

/** The body as the schema admits it. */
export type IntrospectBody = { [K in Required]: Field<Schema['properties'][K]> } & {
  [K in Exclude<keyof Schema['properties'], Required>]?: Field<Schema['properties'][K]>;
};

// As Fastify compiles route schemas: JSON as sent (a number is not a string), the first error only.
const ajv = new Ajv({ coerceTypes: false, allErrors: false });
ajv.addVocabulary(['example']);
const validate = ajv.compile<IntrospectBody>(INTROSPECT_BODY_SCHEMA);

/** The body, checked: the schema, then an address that parses. Throws a 400 naming the field. */
export function introspectBody(body: unknown): IntrospectBody {
  if (!validate(body)) throw invalidBody(validate.errors![0]);
  if (body.client_ip !== undefined && !isAddress(body.client_ip)) {
    throw new BadInput('The request is not valid.', {
      errors: [{ pointer: '#/client_ip', detail: 'client_ip must be an IPv4 or IPv6 address' }],
    });
  }
  return body;
}

/** What an introspection body asks of the key besides being good. */
export function requirementsOf(body: IntrospectBody): Requirements {
  return { scopes: scopeList(body.scope), environment: body.environment, clientIp: body.client_ip };
}

/** Splits a space-separated scope list (RFC 6749 §3.3). */
export function scopeList(value: string | undefined): string[] {
  if (!value) return [];
  // Most callers ask for one scope.
  if (!/[\s,]/.test(value)) return [value];
  return value.split(/[\s,]+/).filter((s) => s.length > 0);
}

function invalidBody(error: ErrorObject): BadInput {
  const missing = (error.params as { missingProperty?: string }).missingProperty;
  const field = missing ?? error.instancePath.replace(/^\//, '');
  return new BadInput('The request is not valid.', {
    errors: [{ pointer: `#/${field}`, detail: `${field || 'body'} ${error.message ?? 'is not valid'}` }],
  });
}
