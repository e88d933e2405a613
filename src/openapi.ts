import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { API_KEY_SCHEME, BASIC_SCHEME, BEARER_SCHEME } from './auth/require-scopes.decorator';
import { EXAMPLE_KEYS } from './credentials/example-keys';
import { introspectionOpenApi } from './hot-path/hot-path.openapi';
import { boundOpenApiDocument } from './openapi-limits';
import { polishOpenApiDocument } from './openapi-polish';

/** Swagger UI shows the groups in this order. */
export const OPENAPI_TAGS: ReadonlyArray<{ name: string; description: string }> = [
  {
    name: 'clients',
    description: 'Who holds keys: services, partners, customers. Suspending a client stops all its keys at once.',
  },
  {
    name: 'keys',
    description:
      'Issue, list, change, rotate (with a grace period) and revoke keys. The full key is sent once, when it is created.',
  },
  {
    name: 'scopes',
    description:
      'The catalog of scopes keys may carry, such as `orders:read`; `orders:*` covers every scope below `orders:`.',
  },
  {
    name: 'introspection',
    description:
      'The hot path: is this key good, right now, for these scopes? For services (RFC 7662) and gateways (forward auth).',
  },
  { name: 'audit', description: 'The append-only, hash-chained trail of every change: who, what, when, from where.' },
  { name: 'usage', description: 'How each key is used: calls per hour and per outcome.' },
  { name: 'operations', description: 'Health and metrics, for load balancers and monitoring. No key needed.' },
];

const DESCRIPTION = `Keyhouse issues API keys to clients, scopes them, rotates them with a grace period, revokes them at once, and tells every service on every request whether a key is good.

**Authentication.** Every \`/v1\` operation takes a Keyhouse key, as \`Authorization: Bearer <key>\`, \`X-API-Key: <key>\`, or the password of HTTP Basic (as RFC 7662 clients send theirs). Each operation names the admin scope it requires (in its description and in \`x-required-scopes\`); \`admin:*\` covers them all. A key of a non-system client that holds admin scopes acts on its own client only: anything else is a 404. Use **Authorize** with a root key to try the operations here.

**Errors** are RFC 9457 problem details (\`application/problem+json\`) with a \`request_id\`; a 400 names each bad field in \`errors\`. Unknown body fields are refused, never stored.

**Lists** are \`{"data": [...], "next_cursor": "..." | null}\`, newest first; pass \`next_cursor\` back as \`cursor\` for the next page.

**Times** are RFC 3339 in UTC. Keys in these examples (such as \`${EXAMPLE_KEYS.live}\`) are well formed but published, and Keyhouse refuses them.`;

/** The document served at /docs-json and committed as openapi/openapi.json (`npm run openapi`). */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const builder = new DocumentBuilder()
    .setTitle('Keyhouse')
    .setDescription(DESCRIPTION)
    .setVersion(packageVersion())
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        // Not a JWT: an opaque Keyhouse key.
        bearerFormat: 'Keyhouse key',
        description: 'A Keyhouse key (`sk_live_…` or `sk_test_…`): paste the key alone, without "Bearer".',
      },
      BEARER_SCHEME,
    )
    .addApiKey(
      { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'A Keyhouse key, instead of a bearer token.' },
      API_KEY_SCHEME,
    )
    .addBasicAuth(
      {
        type: 'http',
        scheme: 'basic',
        description:
          'A Keyhouse key as the password, under any user name (how RFC 7662 clients send client_secret_basic), or as the user name with an empty password.',
      },
      BASIC_SCHEME,
    );
  for (const tag of OPENAPI_TAGS) builder.addTag(tag.name, tag.description);
  const document = SwaggerModule.createDocument(app, builder.build(), { operationIdFactory });
  // Operations that are not Nest routes are added here, before the polish, so they get the shared parts too.
  const hotPath = introspectionOpenApi();
  Object.assign(document.paths, hotPath.paths);
  document.components = { ...document.components, schemas: { ...document.components?.schemas, ...hotPath.schemas } };
  polishOpenApiDocument(document);
  boundOpenApiDocument(document);
  return document;
}

/** The version in package.json, the one source of it, found from here in the sources and in the build. */
export function packageVersion(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  }
  throw new Error('package.json not found above the service');
}

/** Swagger UI at /docs and the document at /docs-json. */
export function setUpOpenApi(app: INestApplication): void {
  SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app), {
    jsonDocumentUrl: 'docs-json',
    customSiteTitle: 'Keyhouse API',
    // The top bar only offers to load another document.
    customCss: '.swagger-ui .topbar { display: none }',
    swaggerOptions: {
      // A root key pasted into Authorize stays in the page only: never in localStorage.
      persistAuthorization: false,
      displayRequestDuration: true,
      tryItOutEnabled: false,
      docExpansion: 'list',
      defaultModelsExpandDepth: 0,
      showExtensions: true,
    },
  });
}

/** The committed form of the document: keys sorted at every level, two-space indent, trailing newline. */
export function serializeOpenApiDocument(document: OpenAPIObject): string {
  return `${JSON.stringify(sortKeys(document), null, 2)}\n`;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
  );
}

const UNCOUNTABLE = new Set(['Audit', 'Health', 'Metrics', 'Usage']);

/** `KeysController.rotate` -> `rotateKey`, `KeysController.list` -> `listKeys`: names generated clients read well. */
function operationIdFactory(controllerKey: string, methodKey: string): string {
  const resource = controllerKey.replace(/Controller$/, '');
  const noun = methodKey === 'list' || UNCOUNTABLE.has(resource) ? resource : resource.replace(/s$/, '');
  return `${methodKey}${noun}`;
}
