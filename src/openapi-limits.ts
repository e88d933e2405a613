import type { OpenAPIObject, ParameterObject, ReferenceObject, ResponseObject, SchemaObject } from '@nestjs/swagger';
import { keyHint, KEY_LENGTH } from './credentials/key-format';
import { EXAMPLE_KEYS } from './credentials/example-keys';

/**
 * The bounds of every string, integer and array in the document, for the fields whose
 * DTO or hand-written schema states none (request DTOs mostly carry their validators'
 * bounds already). Each bound is what the service takes or sends at most, so clients
 * and gateways can size buffers and reject the absurd; a field missing here and in its
 * schema stays unbounded, which `test/docs/spectral.spec.ts` reports.
 *
 * Keys are `Schema.property`, `header.Name` or `query.name`/`path.name`, or the bare
 * property name for a field that means the same everywhere; `[]` is an array's items.
 */
const SCOPE = 128;
const SCOPES = 100;
const SCOPE_LIST = SCOPES * SCOPE + SCOPES - 1;
/** Node.js refuses a request whose head is larger (`maxHeaderSize`), so no header or path is longer. */
const REQUEST_HEAD = 16_384;
/** A page holds at most `limit` items, and `limit` is at most 200. */
const PAGE = 200;

const STRINGS: Record<string, number> = {
  name: 200,
  'ScopeResponse.name': SCOPE,
  'path.name': SCOPE,
  description: 2000,
  'ScopeResponse.description': 500,
  revoked_reason: 500,
  key: KEY_LENGTH,
  hint: keyHint(EXAMPLE_KEYS.live).length,
  key_name: 200,
  scope: SCOPE_LIST,
  'RefusedScopeResponse.scope': SCOPE,
  'scopes[]': SCOPE,
  'allowed_scopes[]': SCOPE,
  'required_scopes[]': SCOPE,
  'scopes_outside[]': SCOPE,
  // An address or CIDR in canonical text: an IPv4-mapped IPv6 address with a prefix is the longest.
  'ip_allowlist[]': 49,
  source_ip: 45,
  next_cursor: 200,
  action: 64,
  target_type: 64,
  target_id: SCOPE,
  'AuditEventResponse.id': 19,
  head_id: 19,
  broken_at: 19,
  'query.anchor_id': 19,
  hash: 64,
  prev_hash: 64,
  head: 64,
  'query.anchor_hash': 64,
  request_id: 128,
  'header.X-Request-Id': 128,
  type: 100,
  title: 100,
  detail: 2000,
  instance: REQUEST_HEAD,
  pointer: 200,
  'header.X-Scopes': SCOPE_LIST,
  'header.X-Required-Scopes': REQUEST_HEAD,
  'query.scope': REQUEST_HEAD,
  'header.X-Forwarded-For': REQUEST_HEAD,
  'header.Cache-Control': 16,
  'header.WWW-Authenticate': 100,
};

/** Identifiers that are UUIDs (the audit trail's own event ids are not: they count up). */
const UUIDS = new Set(['id', 'client_id', 'key_id', 'actor_key_id', 'header.X-Client-Id', 'header.X-Key-Id']);
const NOT_UUIDS = new Set(['AuditEventResponse.id']);

/** Strings whose format bounds them: a UUID, and RFC 3339 with nanoseconds and an offset. */
const FORMATS: Record<string, number> = { uuid: 36, 'date-time': 35 };

const ARRAYS: Record<string, number> = {
  data: PAGE,
  scopes: SCOPES,
  allowed_scopes: SCOPES,
  required_scopes: SCOPES,
  refused_scopes: SCOPES,
  scopes_outside: SCOPES,
  ip_allowlist: 100,
  // Usage ranges span at most 31 days of hours (744) or 366 days of days.
  buckets: 31 * 24,
  conflicting_keys: 20,
};

type Bounds = Pick<SchemaObject, 'format' | 'minimum' | 'maximum'>;
/** Every integer the service sends or takes is a count, a limit, a status or seconds: none is negative. */
const INTEGER: Bounds = { format: 'int64', minimum: 0, maximum: Number.MAX_SAFE_INTEGER };
const INTEGERS: Record<string, Bounds> = {
  'ProblemResponse.status': { format: 'int32', minimum: 100, maximum: 599 },
};

type Schema = SchemaObject | ReferenceObject;

export function boundOpenApiDocument(document: OpenAPIObject): void {
  for (const [name, schema] of Object.entries(document.components?.schemas ?? {})) bound(schema, name, name);
  for (const [name, header] of Object.entries(document.components?.headers ?? {}))
    if (!('$ref' in header)) bound(header.schema, `header.${name}`, name);
  for (const item of Object.values(document.paths)) {
    for (const operation of [item.get, item.put, item.post, item.delete, item.patch]) {
      if (!operation) continue;
      for (const parameter of (operation.parameters ?? []) as ParameterObject[])
        bound(parameter.schema, `${parameter.in}.${parameter.name}`, parameter.name);
      for (const response of Object.values(operation.responses) as ResponseObject[])
        for (const [name, header] of Object.entries(response.headers ?? {}))
          if (!('$ref' in header)) bound(header.schema, `header.${name}`, name);
    }
  }
}

function bound(schema: Schema | undefined, qualified: string, name: string): void {
  if (!schema || '$ref' in schema) return;
  for (const [property, inner] of Object.entries(schema.properties ?? {}))
    bound(inner, `${qualified.split('.')[0]}.${property}`, property);
  if (
    schema.type === 'string' &&
    !schema.format &&
    (UUIDS.has(name) || UUIDS.has(qualified)) &&
    !NOT_UUIDS.has(qualified)
  )
    schema.format = 'uuid';
  if (schema.type === 'string' && schema.maxLength === undefined && !schema.enum) {
    const limit = STRINGS[qualified] ?? STRINGS[name] ?? (schema.format ? FORMATS[schema.format] : undefined);
    if (limit !== undefined) schema.maxLength = limit;
  }
  if (schema.type === 'integer') {
    const bounds = INTEGERS[qualified] ?? INTEGER;
    schema.format ??= bounds.format;
    schema.minimum ??= bounds.minimum;
    schema.maximum ??= bounds.maximum;
  }
  if (schema.type === 'array') {
    if (schema.maxItems === undefined && ARRAYS[name] !== undefined) schema.maxItems = ARRAYS[name];
    bound(schema.items, `${qualified}[]`, `${name}[]`);
  }
  if (typeof schema.additionalProperties === 'object')
    bound(schema.additionalProperties, `${qualified}{}`, `${name}{}`);
}
