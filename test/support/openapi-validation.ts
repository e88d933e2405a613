import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAPIResponseValidator from 'openapi-response-validator';

/**
 * Checks every response the integration suites receive against the committed
 * openapi/openapi.json: the status must be documented for the operation, the content
 * type must be one of its media types, the body must match its schema, and documented
 * required headers must be present. Schemas are checked strictly: an object may carry
 * only the fields the document lists, so an undocumented field fails too.
 */

export const OPENAPI_FILE = join(__dirname, '..', '..', 'openapi', 'openapi.json');

/** Endpoints that exist before the document describes them: they are not checked. */
export const NOT_YET_DOCUMENTED: readonly string[] = [];

/** Swagger UI and the document itself are not operations of the API they describe. */
const DOCUMENTATION_ROUTE = /^\/docs(?:$|\/|-json$)/;

export interface Exchange {
  method: string;
  url: string;
  requestHeaders: Record<string, string>;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  raw: string;
}

export class OpenApiMismatch extends Error {
  override name = 'OpenApiMismatch';
}

/** What this test file checked, written to test-artifacts/openapi-validation/ for `.ci/run` to add up. */
export const tally = { validated: 0, notYetDocumented: 0, documentation: 0, preflight: 0, exempted: 0 };

type Json = Record<string, any>;
interface Route {
  template: string;
  pattern: RegExp;
  params: number;
  item: Json;
}

let loaded: { document: Json; routes: Route[]; components: Json } | null = null;
const validators = new Map<string, OpenAPIResponseValidator>();

/** Throws an OpenApiMismatch naming the operation and what differs; returns quietly when the response is documented. */
export function checkResponse(exchange: Exchange): void {
  const path = exchange.url.split('?')[0];
  const method = exchange.method.toLowerCase();
  if (DOCUMENTATION_ROUTE.test(path)) return void tally.documentation++;
  if (NOT_YET_DOCUMENTED.includes(path)) return void tally.notYetDocumented++;
  if (method === 'options' && exchange.requestHeaders['access-control-request-method']) return void tally.preflight++;

  const { routes, components } = load();
  const route = routes.find((r) => r.pattern.test(path) && r.item[method === 'head' ? 'get' : method]);
  const where = route ? `${exchange.method} ${route.template}` : `${exchange.method} ${path}`;
  const fail = (what: string): never => {
    throw new OpenApiMismatch(
      `${where} answered ${exchange.status}, which openapi/openapi.json does not describe: ${what}\n` +
        `Body: ${exchange.raw.slice(0, 500)}\n` +
        'If the behaviour is right, document it (decorators, src/openapi*.ts) and run `npm run openapi`.',
    );
  };

  // A path or method the API does not have may only be the unknown-route problem.
  const operation: Json = route
    ? route.item[method === 'head' ? 'get' : method]
    : {
        responses: {
          404: {
            description: 'unknown route',
            content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/ProblemResponse' } } },
          },
        },
      };
  const responses: Json = operation.responses;
  const key = [String(exchange.status), `${String(exchange.status)[0]}XX`, 'default'].find((k) => responses[k]);
  if (!key) fail(`documented statuses are ${Object.keys(responses).join(', ')}`);
  const response = deref(responses[key!], components);

  for (const [name, header] of Object.entries<Json>(response.headers ?? {})) {
    if (deref(header, components).required && exchange.headers[name.toLowerCase()] === undefined)
      fail(`the required header ${name} is missing`);
  }

  const content: Json | undefined = response.content;
  const hasBody = exchange.raw.length > 0 && method !== 'head';
  if (!content || Object.keys(content).length === 0) {
    if (hasBody) fail('the document says there is no body, but there is one');
    return void tally.validated++;
  }
  if (!hasBody) {
    if (method !== 'head')
      fail(`the document describes a body (${Object.keys(content).join(', ')}), but there is none`);
    return void tally.validated++;
  }
  const contentType = String(exchange.headers['content-type'] ?? '')
    .split(';')[0]
    .trim()
    .toLowerCase();
  const mediaType = Object.keys(content).find(
    (m) => m.toLowerCase() === contentType || (m.endsWith('/*') && contentType.startsWith(m.slice(0, -1))),
  );
  if (!mediaType) fail(`content type ${contentType || '(none)'} is not one of ${Object.keys(content).join(', ')}`);
  if (!/[/+]json$/.test(contentType)) return void tally.validated++;

  let body: unknown;
  try {
    body = JSON.parse(exchange.raw);
  } catch {
    fail(`the body is not JSON although the content type is ${contentType}`);
  }
  const errors = schemaErrors(content[mediaType!].schema ?? {}, body);
  if (errors.length > 0) fail(errors.join('; '));
  tally.validated++;
}

/** Called per call that deliberately sends what no client should (say why): counted, not checked. */
export function exempt(): void {
  tally.exempted++;
}

/** Jest loads this module afresh for every test file: one tally file each, rewritten as its apps close. */
const TALLY_FILE = `${process.pid}-${randomUUID()}.json`;

export function recordTally(): void {
  const dir = join(__dirname, '..', '..', 'test-artifacts', 'openapi-validation');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, TALLY_FILE), `${JSON.stringify(tally)}\n`);
}

function load() {
  if (loaded) return loaded;
  const document: Json = JSON.parse(readFileSync(OPENAPI_FILE, 'utf8'));
  const routes = Object.entries<Json>(document.paths)
    .map(([template, item]) => ({
      template,
      item,
      params: (template.match(/\{/g) ?? []).length,
      pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+')}$`),
    }))
    // A literal segment wins over a parameter: /v1/audit-events/verify before /v1/audit-events/{id}.
    .sort((a, b) => a.params - b.params);
  const components = structuredClone(document.components ?? {});
  for (const schema of Object.values<Json>(components.schemas ?? {})) strict(schema);
  loaded = { document, routes, components };
  return loaded;
}

function deref(value: Json, components: Json): Json {
  const ref: unknown = value?.$ref;
  if (typeof ref !== 'string') return value;
  const [, section, name] = /^#\/components\/([^/]+)\/(.+)$/.exec(ref) ?? [];
  const target = section && name ? components[section]?.[name] : undefined;
  if (!target) throw new OpenApiMismatch(`openapi/openapi.json refers to ${ref}, which it does not define`);
  return deref(target, components);
}

/**
 * Tightens a schema in place for checking: objects admit only their listed properties
 * (unless the document says otherwise), and `nullable` composed schemas admit null,
 * which the validator's own OpenAPI 3.0 conversion gets wrong for `allOf`.
 */
function strict(schema: Json): Json {
  if (!schema || typeof schema !== 'object' || '$ref' in schema) return schema;
  if (schema.nullable === true && schema.allOf) {
    schema.anyOf = [{ allOf: schema.allOf }, { type: 'null' }];
    delete schema.allOf;
    delete schema.type;
    delete schema.nullable;
  }
  if (schema.properties && schema.additionalProperties === undefined) schema.additionalProperties = false;
  for (const property of Object.values<Json>(schema.properties ?? {})) strict(property);
  for (const list of [schema.allOf, schema.anyOf, schema.oneOf]) for (const part of list ?? []) strict(part);
  if (schema.items) strict(schema.items);
  if (typeof schema.additionalProperties === 'object') strict(schema.additionalProperties);
  return schema;
}

const FORMATS = {
  // RFC 3339, as the API promises for every time.
  'date-time': (value: string) =>
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value) && !Number.isNaN(Date.parse(value)),
  uuid: (value: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value),
};

/**
 * The problems with `value` as an instance of `schema`, checked strictly. Validators are
 * kept per schema, not per operation: every error of every operation shares one.
 */
export function schemaErrors(schema: Json, value: unknown): string[] {
  const { components } = load();
  const cacheKey = JSON.stringify(schema);
  let validator = validators.get(cacheKey);
  if (!validator) {
    validator = new OpenAPIResponseValidator({
      responses: { 200: { schema: strict(structuredClone(schema)) } },
      components: components,
      customFormats: FORMATS,
      errorTransformer: describeError,
    });
    validators.set(cacheKey, validator);
  }
  const error = validator.validateResponse('200', value);
  return error ? error.errors.map((e: Json) => `${e.path || '(body)'}: ${e.message}`) : [];
}

/** Names the field an undocumented-property error is about; the validator's own message does not. */
function describeError(error: { path?: string; message: string }, ajvError: { keyword: string; params: Json }): Json {
  const message =
    ajvError.keyword === 'additionalProperties'
      ? `has ${ajvError.params.additionalProperty}, which the document does not list`
      : error.message;
  return { ...error, message };
}
