import type {
  MediaTypeObject,
  OpenAPIObject,
  OperationObject,
  ParameterObject,
  ReferenceObject,
  RequestBodyObject,
  ResponseObject,
  SchemaObject,
} from '@nestjs/swagger';
import { PROBLEM_TYPES, ProblemCode } from './common/errors';
import { PROBLEM_CONTENT_TYPE, problemType } from './common/problem';
import { REQUEST_EXAMPLES, RESPONSE_EXAMPLES } from './openapi-examples';

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;
const PROBLEM_SCHEMA = { $ref: '#/components/schemas/ProblemResponse' };
const EXAMPLE_ID = '6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11';
const EXAMPLE_REQUEST_ID = '8f14e45f-ceea-467f-a0e6-1a2b3c4d5e6f';

/** What every operation may answer besides its own outcomes. */
const SHARED_RESPONSES: Record<string, string> = {
  413: 'The body is larger than the service accepts (`BODY_LIMIT_BYTES`).',
  415: 'The body is neither `application/json` nor a form where the operation takes one.',
  500: 'An unexpected error; quote the `request_id` when reporting it. Never carries details.',
  503: 'The database does not answer; retry after `Retry-After` seconds. Nothing was changed.',
};

const DEFAULT_DESCRIPTIONS: Record<string, string> = {
  200: 'OK.',
  201: 'Created.',
  204: 'Done; no body.',
  400: 'Invalid input; `errors` names each field.',
  401: 'No key, or a key that is not good: the same answer for both.',
  404: 'Not found.',
  409: 'The current state does not allow this.',
};

type Operation = OperationObject & { 'x-required-scopes'?: string[] };
type Schema = SchemaObject | ReferenceObject;

/**
 * Completes what the controllers' decorators leave out, in one place for every
 * operation: the problem-details media type and examples, the responses any
 * operation can give (413, 415, 500, 503), the request id, CORS and Retry-After headers,
 * path id formats, the required scope in each description, and an example for
 * every request and response body.
 */
export function polishOpenApiDocument(document: OpenAPIObject): OpenAPIObject {
  document.components ??= {};
  document.components.headers = {
    ...document.components.headers,
    'X-Request-Id': {
      description: 'Identifies the request in the logs and audit events; also in every problem body.',
      required: true,
      schema: { type: 'string' },
    },
    'Access-Control-Allow-Origin': {
      description:
        'Only when `CORS_ORIGINS` is set, to a browser request whose `Origin` is one of them: that origin. Keyhouse sends no CORS headers by default.',
      schema: { type: 'string', maxLength: 2048 },
    },
    'Retry-After': {
      description: 'Seconds to wait before trying again.',
      required: true,
      schema: { type: 'integer', example: 1 },
    },
  };
  for (const schema of Object.values(document.components.schemas ?? {})) nullableReferences(schema);
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      if (operation) polishOperation(document, path, operation);
    }
  }
  return document;
}

function polishOperation(document: OpenAPIObject, path: string, operation: Operation): void {
  const scopes = operation['x-required-scopes'];
  if (operation.security === undefined && !operation.responses['401']) operation.security = [];
  if (scopes && !operation.description?.includes('**Requires**')) {
    const need = `**Requires** ${scopes.map((s) => `\`${s}\``).join(' or ')} (or a wildcard covering it, such as \`admin:*\`).`;
    operation.description = operation.description ? `${operation.description}\n\n${need}` : need;
  }
  for (const parameter of (operation.parameters ?? []) as ParameterObject[]) {
    if (parameter.in === 'query' || parameter.in === 'header') exampleIntoDescription(parameter);
    if (parameter.in === 'path' && parameter.name === 'id') {
      parameter.schema = { type: 'string', format: 'uuid' };
      parameter.description ??= 'A UUID. An id that is not a UUID names nothing: 404.';
      parameter.example ??= EXAMPLE_ID;
    }
  }

  const body = operation.requestBody as RequestBodyObject | undefined;
  const shared = Object.keys(SHARED_RESPONSES).filter((status) => body || !['413', '415'].includes(status));
  if (body && !operation.responses['400']) operation.responses['400'] = { description: DEFAULT_DESCRIPTIONS[400] };
  for (const status of shared) {
    if (status === '503' && operation.tags?.includes('operations')) continue;
    operation.responses[status] ??= { description: SHARED_RESPONSES[status] };
  }
  if (body) {
    const named = operation.operationId ? REQUEST_EXAMPLES[operation.operationId] : undefined;
    for (const media of Object.values(body.content)) {
      if (media.example !== undefined || media.examples) continue;
      if (named) media.examples = named;
      else media.example = exampleOf(document, media.schema);
    }
  }

  for (const [status, response] of Object.entries(operation.responses) as [string, ResponseObject][]) {
    if (!response.description) response.description = DEFAULT_DESCRIPTIONS[status] ?? '';
    response.headers = {
      'X-Request-Id': { $ref: '#/components/headers/X-Request-Id' },
      'Access-Control-Allow-Origin': { $ref: '#/components/headers/Access-Control-Allow-Origin' },
      ...response.headers,
    };
    const isProblem =
      Number(status) >= 400 && (!response.content || isProblemSchema(response.content['application/json']?.schema));
    if (isProblem) {
      response.content = {
        [PROBLEM_CONTENT_TYPE]: {
          schema: PROBLEM_SCHEMA,
          example: problemExample(Number(status), response.description, path, operation),
        },
      };
      if (status === '503' || status === '429')
        response.headers['Retry-After'] = { $ref: '#/components/headers/Retry-After' };
      continue;
    }
    for (const media of Object.values<MediaTypeObject>(response.content ?? {})) {
      if (media.example !== undefined || media.examples) continue;
      const composed = exampleOf(document, media.schema);
      const override = operation.operationId ? RESPONSE_EXAMPLES[operation.operationId]?.[status] : undefined;
      media.example = override && isObject(composed) ? { ...composed, ...override } : composed;
    }
  }
}

/**
 * Swagger UI's "Try it out" fills a parameter with its example, and an optional filter
 * filled in silently narrows the answer (an audit list of `key.revoked` only, a usage
 * range in the past, `anchor_id` without `anchor_hash`): the example goes into the
 * description instead, where it still shows.
 */
function exampleIntoDescription(parameter: ParameterObject): void {
  const schema = parameter.schema && !('$ref' in parameter.schema) ? parameter.schema : undefined;
  const example: unknown = parameter.example ?? schema?.example;
  if (example === undefined) return;
  delete parameter.example;
  if (schema) delete schema.example;
  const text = `For example \`${typeof example === 'string' ? example : JSON.stringify(example)}\`.`;
  if (!parameter.description?.includes(text))
    parameter.description = parameter.description ? `${parameter.description} ${text}` : text;
}

/**
 * `{"allOf": [{"$ref": ...}], "nullable": true}`, as Nest writes a nullable object field, still
 * refuses null in OpenAPI 3.0 (`nullable` does not reach into `allOf`): say "this, or null" as
 * two alternatives instead.
 */
function nullableReferences(schema: Schema): void {
  if ('$ref' in schema) return;
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    if ('$ref' in property || !property.nullable || property.allOf?.length !== 1) continue;
    const { allOf, nullable: _nullable, type: _type, ...rest } = property;
    schema.properties![name] = { ...rest, anyOf: [allOf[0], { type: 'object', nullable: true, enum: [null] }] };
  }
}

function isProblemSchema(schema: Schema | undefined): boolean {
  return !!schema && '$ref' in schema && schema.$ref === PROBLEM_SCHEMA.$ref;
}

function problemExample(
  status: number,
  description: string,
  path: string,
  operation: Operation,
): Record<string, unknown> {
  const code =
    (Object.keys(PROBLEM_TYPES) as ProblemCode[]).find((c) => PROBLEM_TYPES[c].status === status) ?? 'internal-error';
  const example: Record<string, unknown> = {
    type: problemType(code),
    title: PROBLEM_TYPES[code].title,
    status,
    detail: description.replace(/`/g, ''),
    instance: path.replace(/\{id\}/g, EXAMPLE_ID).replace(/\{name\}/g, 'orders:read'),
    request_id: EXAMPLE_REQUEST_ID,
  };
  if (status === 400)
    example.errors = [{ pointer: '#/name', detail: 'name must be shorter than or equal to 200 characters' }];
  if (status === 403 && operation['x-required-scopes']) example.required_scopes = operation['x-required-scopes'];
  return example;
}

/** An example built from the schema's own field examples, as Swagger UI would compose it, kept in the document. */
function exampleOf(document: OpenAPIObject, schema: Schema | undefined, depth = 0): unknown {
  if (!schema || depth > 10) return undefined;
  if ('$ref' in schema) return exampleOf(document, resolve(document, schema.$ref), depth + 1);
  if (schema.example !== undefined) return schema.example;
  if (schema.allOf) {
    const parts = schema.allOf.map((part) => exampleOf(document, part, depth + 1));
    return parts.every(isObject) ? Object.assign({}, ...parts) : parts[0];
  }
  const alternatives = schema.oneOf ?? schema.anyOf;
  if (alternatives?.[0]) return exampleOf(document, alternatives[0], depth + 1);
  if (schema.enum) return schema.enum[0];
  if (schema.type === 'array' && schema.items) {
    const item = exampleOf(document, schema.items, depth + 1);
    return item === undefined ? [] : [item];
  }
  if (schema.properties) {
    const entries = Object.entries(schema.properties).map(
      ([name, property]) => [name, exampleOf(document, property, depth + 1)] as const,
    );
    return Object.fromEntries(entries.filter(([, value]) => value !== undefined));
  }
  return undefined;
}

function resolve(document: OpenAPIObject, ref: string): Schema | undefined {
  const name = ref.replace('#/components/schemas/', '');
  return document.components?.schemas?.[name];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
