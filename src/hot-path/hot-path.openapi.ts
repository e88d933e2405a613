import type { OpenAPIObject, OperationObject, PathItemObject, ResponseObject, SchemaObject } from '@nestjs/swagger';
import { EXAMPLE_KEYS } from '../credentials/example-keys';
import { ENVIRONMENTS } from '../credentials/key-format';
import type { InactiveReason } from '../credentials/key-checks';
import { AUTHORIZE_PATH } from './authorize';
import { INTROSPECT_PATH, INTROSPECT_SCOPE } from './introspect';
import { INTROSPECT_BODY_SCHEMA } from './introspect-body';
import { KEY_CHANGES_PATH } from './key-changes';
import { REASONS } from './reasons';

const KEY_ID = '6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11';
const CLIENT_ID = '0b7e7dc4-1b4e-4c53-a7b2-6f2e8f2f4c11';
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const reasonTable = (column: (code: InactiveReason) => string) =>
  (Object.keys(REASONS) as InactiveReason[]).map((code) => `| \`${code}\` | ${column(code)} |`).join('\n');

const SCHEMAS: Record<string, SchemaObject> = {
  IntrospectionRequest: INTROSPECT_BODY_SCHEMA as unknown as SchemaObject,
  IntrospectionRateLimit: {
    type: 'object',
    required: ['limit', 'remaining', 'reset'],
    description: "The key's rate limit after this call (present only for keys that have one).",
    properties: {
      limit: { type: 'integer', description: 'Calls admitted per window.', example: 100 },
      remaining: { type: 'integer', description: 'Calls still admitted now.', example: 99 },
      reset: {
        type: 'integer',
        description:
          'When `remaining` next grows (when refused: when a call is admitted again), in seconds since the epoch.',
        example: 1767225660,
      },
    },
  },
  ActiveIntrospection: {
    type: 'object',
    required: ['active', 'scope', 'client_id', 'sub', 'token_type', 'iat', 'environment', 'key_name', 'metadata'],
    properties: {
      active: { type: 'boolean', enum: [true] },
      scope: { type: 'string', description: "The key's scopes, space-separated.", example: 'orders:read orders:write' },
      client_id: { type: 'string', format: 'uuid', description: 'The client the key belongs to.', example: CLIENT_ID },
      sub: { type: 'string', format: 'uuid', description: "The key's id.", example: KEY_ID },
      token_type: { type: 'string', enum: ['api_key'] },
      exp: {
        type: 'integer',
        description:
          'When the key stops being good, in seconds since the epoch: its expiry, or while a rotated key is in grace, the end of its grace. Absent when it never expires.',
        example: 1774994400,
      },
      iat: {
        type: 'integer',
        description: 'When the key was issued, in seconds since the epoch.',
        example: 1767225600,
      },
      environment: { type: 'string', enum: [...ENVIRONMENTS] },
      key_name: { type: 'string', example: 'checkout production' },
      metadata: {
        type: 'object',
        additionalProperties: true,
        description: "The key's metadata.",
        example: { team: 'payments' },
      },
      rate_limit: ref('IntrospectionRateLimit'),
      usage_limited: {
        type: 'boolean',
        enum: [true],
        description:
          'Present when the key has a usage limit: each good call takes one use, so a consumer must not answer this key from a cache of its own.',
      },
    },
  },
  InactiveIntrospection: {
    type: 'object',
    required: ['active', 'reason'],
    description: 'RFC 7662\'s `{"active": false}` with the reason; clients that want the bare form ignore `reason`.',
    properties: {
      active: { type: 'boolean', enum: [false] },
      reason: {
        type: 'string',
        enum: Object.keys(REASONS),
        description: `Why the key is not good, the first check it failed:\n\n| reason | meaning |\n|---|---|\n${reasonTable((c) => REASONS[c].meaning)}`,
      },
      rate_limit: ref('IntrospectionRateLimit'),
    },
  },
  KeyChangeEvent: {
    type: 'object',
    required: ['key_id', 'client_id', 'change'],
    description:
      'The data of a change stream `key` event: which key changed and how. Never the key, its digest or its hint.',
    properties: {
      key_id: { type: 'string', format: 'uuid', example: KEY_ID },
      client_id: { type: 'string', format: 'uuid', example: CLIENT_ID },
      change: {
        type: 'string',
        description:
          'What changed. A subscriber drops what it cached for the key whatever the value (values may be added).',
        enum: ['created', 'revoked', 'rotated', 'expired', 'updated', 'deleted'],
        example: 'revoked',
      },
    },
  },
  ClientChangeEvent: {
    type: 'object',
    required: ['client_id', 'change'],
    description: 'The data of a change stream `client` event: drop what is cached for every key of the client.',
    properties: {
      client_id: { type: 'string', format: 'uuid', example: CLIENT_ID },
      change: { type: 'string', enum: ['suspended', 'reactivated', 'updated', 'deleted'], example: 'suspended' },
    },
  },
  KeyChangesReady: {
    type: 'object',
    required: ['stream', 'heartbeat_seconds'],
    description: 'The data of the `ready` event each change stream begins with.',
    properties: {
      stream: {
        type: 'string',
        description: "The epoch of this instance's buffer (the part of event ids before the dash).",
        maxLength: 64,
        example: '9f2c4e1a7b30',
      },
      heartbeat_seconds: { type: 'integer', description: 'Seconds between keep-alive comments.', example: 15 },
    },
  },
  KeyChangesReset: {
    type: 'object',
    required: ['reason'],
    description: "The data of a `reset` event: clear everything cached, then go on from this event's id.",
    properties: {
      reason: {
        type: 'string',
        enum: ['unknown_stream', 'buffer_exceeded', 'notifications_lost'],
        description:
          '`unknown_stream`: Last-Event-ID names another epoch (another instance, an earlier run); `buffer_exceeded`: a position the buffer no longer holds (or never reached); `notifications_lost`: the instance lost its database notifications for a while.',
      },
    },
  },
};

const ACTIVE_EXAMPLE = {
  active: true,
  scope: 'orders:read orders:write',
  client_id: CLIENT_ID,
  sub: KEY_ID,
  token_type: 'api_key',
  iat: 1767225600,
  environment: 'live',
  key_name: 'checkout production',
  metadata: { team: 'payments' },
  exp: 1774994400,
};

const INTROSPECT_DESCRIPTION = `Is this key good, right now, for these scopes? RFC 7662 token introspection, for the services that receive keys. The body is JSON or form-encoded (\`application/x-www-form-urlencoded\`, as OAuth libraries send it).

A well-formed call is **always a 200**: \`{"active": true, ...}\` or \`{"active": false, "reason": "<code>"}\`. Only a bad caller gets a 401 or 403, and only an unanswerable question a 503 (the database is down and the key is not cached, or it has a usage limit): never \`active: true\` on a guess.

| reason | meaning |
|---|---|
${reasonTable((c) => REASONS[c].meaning)}

A good call of a key with a usage limit takes one use; a call refused by the rate limit takes none. Answers come from an in-process cache (CACHE_TTL_MS) that the database's change notifications clear on every instance.`;

const AUTHORIZE_DESCRIPTION = `Forward auth for gateways: nginx \`auth_request\`, Envoy \`ext_authz\` (HTTP service) and Traefik \`ForwardAuth\`. The gateway forwards the caller's headers; Keyhouse checks the key they carry exactly as introspection does and answers with a status and headers, **never a body**.

- The key: \`Authorization: Bearer <key>\` or \`X-API-Key: <key>\` of the forwarded request.
- Scopes it must cover: \`X-Required-Scopes\` (space- or comma-separated) and/or \`?scope=\` (for gateways that cannot add headers, such as Traefik).
- Environment: \`X-Required-Environment\` or \`?environment=\`.
- The caller's address, for allowlists: \`X-Forwarded-For\` when the gateway is in \`TRUSTED_PROXIES\`, else the connection's own address.

| reason | status |
|---|---|
${reasonTable((c) => String(REASONS[c].authorize))}

Any method is answered the same, and any path below \`${AUTHORIZE_PATH}/\`: Envoy sends the original method, and the original path after its \`path_prefix\`. Envoy lets a request through on 200 only: send \`X-Keyhouse-Success-Status: 200\` (its \`headers_to_add\`). Expose this endpoint to gateways only, not to the internet.`;

const requiredHeader = (description: string, example: string) => ({
  required: true,
  description,
  schema: { type: 'string', example },
});
const rateLimitHeaders = {
  'X-RateLimit-Limit': {
    description: "The key's rate limit (calls per window); only for keys with one.",
    schema: { type: 'integer', example: 100 },
  },
  'X-RateLimit-Remaining': { description: 'Calls still admitted now.', schema: { type: 'integer', example: 99 } },
  'X-RateLimit-Reset': {
    description: 'Seconds until `X-RateLimit-Remaining` next grows.',
    schema: { type: 'integer', example: 60 },
  },
};
const identityHeaders = {
  'X-Client-Id': requiredHeader('The client the key belongs to.', CLIENT_ID),
  'X-Key-Id': requiredHeader("The key's id.", KEY_ID),
  'X-Scopes': requiredHeader("The key's scopes, space-separated.", 'orders:read orders:write'),
  ...rateLimitHeaders,
};
/** No body: gateways pass statuses on, and `content: {}` keeps the shared polish from adding a problem body. */
const bare = (description: string, headers: ResponseObject['headers'] = {}): ResponseObject => ({
  description,
  headers,
  content: {},
});
const reasonsFor = (status: number) =>
  (Object.keys(REASONS) as InactiveReason[])
    .filter((c) => REASONS[c].authorize === status)
    .map((c) => `\`${c}\``)
    .join(', ');

/** An operation with vendor extensions (`x-required-scopes`, `x-forward-auth`). */
type Operation = OperationObject & { [extension: `x-${string}`]: unknown };

const INTROSPECT: Operation = {
  tags: ['introspection'],
  operationId: 'introspectKey',
  summary: 'Introspect a key (RFC 7662)',
  description: INTROSPECT_DESCRIPTION,
  security: [{ bearer: [] }, { api_key: [] }, { basic: [] }],
  'x-required-scopes': [INTROSPECT_SCOPE],
  requestBody: {
    required: true,
    content: {
      'application/json': {
        schema: ref('IntrospectionRequest'),
        examples: {
          token: { summary: 'Just the key', value: { token: EXAMPLE_KEYS.live } },
          needs: {
            summary: 'With scopes, address and environment',
            value: {
              token: EXAMPLE_KEYS.live,
              scope: 'orders:read orders:write',
              client_ip: '2001:db8::7',
              environment: 'live',
            },
          },
        },
      },
      'application/x-www-form-urlencoded': {
        schema: ref('IntrospectionRequest'),
        example: { token: EXAMPLE_KEYS.live, token_type_hint: 'api_key', scope: 'orders:read' },
      },
    },
  },
  responses: {
    200: {
      description: 'The answer: `active` true with the key, or false with the reason.',
      headers: {
        'Cache-Control': {
          description: 'Answers are not to be cached by intermediaries.',
          schema: { type: 'string', example: 'no-store' },
        },
      },
      content: {
        'application/json': {
          schema: { oneOf: [ref('ActiveIntrospection'), ref('InactiveIntrospection')] },
          examples: {
            active: { summary: 'Good', value: ACTIVE_EXAMPLE },
            rateLimited: {
              summary: 'Good, with a rate limit',
              value: { ...ACTIVE_EXAMPLE, rate_limit: { limit: 100, remaining: 99, reset: 1767225660 } },
            },
            revoked: { summary: 'Revoked', value: { active: false, reason: 'revoked' } },
            overLimit: {
              summary: 'Over its rate limit',
              value: {
                active: false,
                reason: 'rate_limited',
                rate_limit: { limit: 100, remaining: 0, reset: 1767225660 },
              },
            },
          },
        },
      },
    },
    400: {
      description:
        'The body is not a valid introspection request (no `token`, a field of the wrong type, an unknown `environment`, a `client_ip` that is no address).',
    },
    401: { description: "The caller's own key is missing or not good." },
    403: { description: `The caller's key lacks \`${INTROSPECT_SCOPE}\`.` },
    429: {
      description:
        "Too many requests whose caller's own key was not good from this address (`AUTH_FAILURE_LIMIT` per `AUTH_FAILURE_WINDOW_SECONDS`): they get this instead of a 401 until `Retry-After` seconds have passed. A good caller key still passes; tokens that are not good are ordinary answers (`active: false`) and never count.",
    },
    503: {
      description:
        'The database does not answer and the key is not cached (or has a usage limit to count), or this instance is shutting down; retry after `Retry-After` seconds. Never `active: true` on a guess.',
    },
  },
};

const AUTHORIZE: Operation = {
  tags: ['introspection'],
  operationId: 'authorizeRequest',
  summary: 'Forward auth for gateways',
  description: AUTHORIZE_DESCRIPTION,
  security: [{ bearer: [] }, { api_key: [] }, { basic: [] }],
  'x-forward-auth': true,
  parameters: [
    {
      name: 'X-Required-Scopes',
      in: 'header',
      description: 'Scopes the key must cover, space- or comma-separated.',
      schema: { type: 'string', example: 'orders:read' },
    },
    {
      name: 'scope',
      in: 'query',
      description: 'Scopes the key must cover, as `X-Required-Scopes` (both count).',
      schema: { type: 'string', example: 'orders:read' },
    },
    {
      name: 'X-Required-Environment',
      in: 'header',
      description: 'The environment the key must belong to.',
      schema: { type: 'string', enum: [...ENVIRONMENTS] },
    },
    {
      name: 'environment',
      in: 'query',
      description: 'As `X-Required-Environment`.',
      schema: { type: 'string', enum: [...ENVIRONMENTS] },
    },
    {
      name: 'X-Forwarded-For',
      in: 'header',
      description: "The caller's address, believed only from a proxy in `TRUSTED_PROXIES`.",
      schema: { type: 'string', example: '203.0.113.7' },
    },
    {
      name: 'X-Keyhouse-Success-Status',
      in: 'header',
      description: 'Answer a good key with 200 instead of 204 (Envoy allows only 200).',
      schema: { type: 'string', enum: ['200', '204'] },
    },
  ],
  responses: {
    200: {
      description: 'Good, when asked for with `X-Keyhouse-Success-Status: 200`; the same headers as 204.',
      headers: identityHeaders,
    },
    204: {
      description: 'Good: the gateway lets the request through and may pass these headers upstream.',
      headers: identityHeaders,
    },
    401: bare(`No key, or a key that is not good: ${reasonsFor(401)}.`, {
      'WWW-Authenticate': {
        required: true,
        description: 'RFC 6750: `Bearer realm="keyhouse"`, with `error="invalid_token"` when a key was sent.',
        schema: { type: 'string' },
      },
    }),
    403: bare(`A good key, not good for this request: ${reasonsFor(403)}.`, {
      'WWW-Authenticate': {
        description: 'RFC 6750, for `insufficient_scope`: `Bearer realm="keyhouse", error="insufficient_scope"`.',
        schema: { type: 'string' },
      },
    }),
    429: bare(
      `Over its rate limit: ${reasonsFor(429)}. Also, without the rate-limit headers, a key that is not good from an address that sent too many of them (\`AUTH_FAILURE_LIMIT\` per \`AUTH_FAILURE_WINDOW_SECONDS\`, counted by the client address): good keys from that address still pass.`,
      {
        'Retry-After': {
          required: true,
          description: 'Seconds until a call is admitted again.',
          schema: { type: 'integer', example: 12 },
        },
        ...rateLimitHeaders,
      },
    ),
    500: bare('An unexpected error; the log has it, under the `X-Request-Id`.'),
    503: bare(
      'The database does not answer and the key is not cached (or has a usage limit to count), or this instance is shutting down. The gateway should refuse the request.',
      {
        'Retry-After': { $ref: '#/components/headers/Retry-After' },
      },
    ),
  },
};

const KEY_CHANGES_DESCRIPTION = `A Server-Sent Events stream (\`text/event-stream\`) of every change that can alter an introspection answer, for services that cache answers: one event per change, naming the key or client, never a secret, digest or hint. Every instance serves the changes made through any instance (they come from the database's notifications). Callers holding \`${INTROSPECT_SCOPE}\` may introspect any key, so they see every change, of every client.

\`\`\`
retry: 2000

id: 9f2c4e1a7b30-41
event: ready
data: {"stream":"9f2c4e1a7b30","heartbeat_seconds":15}

id: 9f2c4e1a7b30-42
event: key
data: {"key_id":"${KEY_ID}","client_id":"${CLIENT_ID}","change":"revoked"}

: keep-alive

id: 9f2c4e1a7b30-43
event: client
data: {"client_id":"${CLIENT_ID}","change":"suspended"}
\`\`\`

- Ids are \`<stream>-<n>\`; \`n\` grows by one per change within a stream (an epoch of one instance's buffer). \`ready\` carries the current id when the request sent no \`Last-Event-ID\`.
- Reconnect with \`Last-Event-ID\` (or \`?last_event_id=\`): the changes after it follow \`ready\`, in order. When the buffer cannot give them (another stream, too old) a \`reset\` event follows instead, with the id to go on from: clear everything cached. Every open stream also gets a \`reset\` when the instance listens to the database again after losing the connection (changes may have been missed).
- \`: keep-alive\` comments every \`KEY_CHANGES_HEARTBEAT_SECONDS\` (15) keep proxies from closing an idle stream.
- A subscriber that does not read is disconnected rather than buffered for (\`KEY_CHANGES_MAX_PENDING_BYTES\`); it reconnects with \`Last-Event-ID\`. At shutdown every stream ends; reconnect to another instance.

Event data: \`ready\` KeyChangesReady, \`key\` KeyChangeEvent, \`client\` ClientChangeEvent, \`reset\` KeyChangesReset (see the schemas).`;

const KEY_CHANGES: Operation = {
  tags: ['introspection'],
  operationId: 'streamKeyChanges',
  summary: 'Stream key and client changes (Server-Sent Events)',
  description: KEY_CHANGES_DESCRIPTION,
  security: [{ bearer: [] }, { api_key: [] }, { basic: [] }],
  'x-required-scopes': [INTROSPECT_SCOPE],
  parameters: [
    {
      name: 'Last-Event-ID',
      in: 'header',
      description: 'The id of the last event received: resume after it.',
      schema: { type: 'string', maxLength: 200, example: '9f2c4e1a7b30-42' },
    },
    {
      name: 'last_event_id',
      in: 'query',
      description: 'As `Last-Event-ID`, for clients that cannot set headers; the header wins.',
      schema: { type: 'string', maxLength: 200, example: '9f2c4e1a7b30-42' },
    },
  ],
  responses: {
    200: {
      description: 'The stream, open until the caller or the instance ends it.',
      headers: {
        'Cache-Control': { description: 'Not to be cached.', schema: { type: 'string', example: 'no-cache' } },
        'X-Accel-Buffering': {
          description: 'Tells nginx not to buffer the stream.',
          schema: { type: 'string', enum: ['no'], example: 'no' },
        },
      },
      content: {
        'text/event-stream': {
          schema: { type: 'string', description: 'Server-Sent Events; see the description.' },
          example: `retry: 2000\n\nid: 9f2c4e1a7b30-41\nevent: ready\ndata: {"stream":"9f2c4e1a7b30","heartbeat_seconds":15}\n\nid: 9f2c4e1a7b30-42\nevent: key\ndata: {"key_id":"${KEY_ID}","client_id":"${CLIENT_ID}","change":"revoked"}\n\n`,
        },
      },
    },
    401: { description: "The caller's own key is missing or not good." },
    403: { description: `The caller's key lacks \`${INTROSPECT_SCOPE}\`.` },
    429: {
      description:
        "Too many requests whose caller's own key was not good from this address (`AUTH_FAILURE_LIMIT` per `AUTH_FAILURE_WINDOW_SECONDS`).",
    },
    503: {
      description:
        "This instance already serves `KEY_CHANGES_MAX_SUBSCRIBERS` streams, the database does not answer and the caller's key is not cached, or the instance is shutting down; retry after `Retry-After` seconds.",
    },
  },
};

const PATHS: Record<string, PathItemObject> = {
  [INTROSPECT_PATH]: { post: INTROSPECT },
  [AUTHORIZE_PATH]: { get: AUTHORIZE },
  [KEY_CHANGES_PATH]: { get: KEY_CHANGES },
};

/** The operations served outside Nest's controllers, for the OpenAPI document (tag `introspection`). */
export function introspectionOpenApi(): { paths: OpenAPIObject['paths']; schemas: Record<string, SchemaObject> } {
  return { paths: structuredClone(PATHS), schemas: structuredClone(SCHEMAS) };
}
