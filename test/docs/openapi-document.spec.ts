import { readFileSync } from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';
import { DataSource } from 'typeorm';
import { getDataSourceToken } from '@nestjs/typeorm';
import { createApp } from '../../src/app';
import { AppConfig } from '../../src/config/config';
import { EXAMPLE_KEYS, isExampleKey } from '../../src/credentials/example-keys';
import { KeyDigest } from '../../src/credentials/key-digest';
import { parseKey } from '../../src/credentials/key-format';
import { KeyVerifier } from '../../src/credentials/key-verifier';
import { rawPool } from '../../src/database/raw-pool';
import { OPENAPI_TAGS, serializeOpenApiDocument } from '../../src/openapi';
import { makeClient, makeKey } from '../support/factories';
import { OPENAPI_FILE, schemaErrors } from '../support/openapi-validation';
import { useTestApp } from '../support/use-test-app';

type Json = Record<string, any>;
const committedText = readFileSync(OPENAPI_FILE, 'utf8');
const committed: Json = JSON.parse(committedText);
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

/** Every operation of the committed document, as `GET /v1/keys` and its object. */
const operations: [string, Json][] = Object.entries<Json>(committed.paths).flatMap(([path, item]) =>
  METHODS.filter((m) => item[m]).map((m) => [`${m.toUpperCase()} ${path}`, item[m]] as [string, Json]),
);

/** The first line where the committed and the served document part, with a little context. */
function firstDifference(committedText: string, servedText: string): string {
  const [a, b] = [committedText.split('\n'), servedText.split('\n')];
  const at = a.findIndex((line, i) => line !== b[i]);
  const around = (lines: string[]) => lines.slice(Math.max(0, at - 3), at + 3).join('\n');
  return `committed, from line ${at - 2}:\n${around(a)}\nserved:\n${around(b)}`;
}

/** The examples of a media type: its `example`, or each of its named `examples`. */
function examplesOf(media: Json): unknown[] {
  if (media.example !== undefined) return [media.example];
  return Object.values<Json>(media.examples ?? {}).map((e) => e.value);
}

describe('the OpenAPI document', () => {
  const app = useTestApp();

  it('should be committed exactly as the service serves it at /docs-json', async () => {
    const res = await app.get('/docs-json');
    expect(res.status).toBe(200);
    const served = serializeOpenApiDocument(res.body);
    if (served !== committedText) {
      const differing = Object.keys({ ...res.body.paths, ...committed.paths }).filter(
        (p) =>
          JSON.stringify(serializeOpenApiDocument(res.body.paths[p] ?? {})) !==
          JSON.stringify(serializeOpenApiDocument(committed.paths[p] ?? {})),
      );
      throw new Error(
        `openapi/openapi.json is stale: run \`npm run openapi\` and commit the result.\n` +
          `Paths that differ: ${differing.join(', ') || '(none: components or info)'}\n${firstDifference(committedText, served)}`,
      );
    }
  });

  it('should be a valid OpenAPI 3.0 document by the specification’s own schema, every reference resolving', async () => {
    // validate() dereferences in place: give it a copy.
    await expect(SwaggerParser.validate(structuredClone(committed) as never)).resolves.toBeDefined();
    const broken = structuredClone(committed);
    broken.paths['/v1/keys/{id}'].get.responses['200'].content['application/json'].schema = {
      $ref: '#/components/schemas/NoSuchSchema',
    };
    await expect(SwaggerParser.validate(broken as never)).rejects.toThrow(/NoSuchSchema/);
  });

  it('should serve Swagger UI at /docs', async () => {
    const res = await app.get('/docs');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.raw).toContain('swagger-ui');
  });

  it('should list every tag with a description, in the documented order', () => {
    expect(committed.tags.map((t: Json) => t.name)).toEqual(OPENAPI_TAGS.map((t) => t.name));
    for (const tag of committed.tags) expect(tag.description).toMatch(/\w{3,}.*\./);
  });

  it.each(operations)('%s should have one known tag, a summary, a description and an operation id', (_, operation) => {
    expect(operation.tags).toHaveLength(1);
    expect(OPENAPI_TAGS.map((t) => t.name)).toContain(operation.tags[0]);
    expect(operation.summary).toMatch(/^[A-Z][^\n]{3,80}$/);
    expect(operation.description).toMatch(/\w{3,}/);
    expect(operation.operationId).toMatch(/^[a-z][A-Za-z]+$/);
  });

  it.each(operations)('%s should name its security: schemes, required scopes, 401 and 403, or none', (_, operation) => {
    if (operation.security.length === 0) {
      expect(operation.tags).toEqual(['operations']);
      return;
    }
    expect(operation.security).toEqual([{ bearer: [] }, { api_key: [] }, { basic: [] }]);
    // Forward auth checks the presented key itself, whatever its client: it requires no admin scope.
    if (operation['x-forward-auth'])
      return void expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['401', '403']));
    const scopes: string[] = operation['x-required-scopes'];
    expect(scopes.length).toBeGreaterThan(0);
    for (const scope of scopes) expect(operation.description).toContain(`\`${scope}\``);
    expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['401', '403']));
  });

  it.each(operations)(
    '%s should describe every error as problem details, 500 and the body errors included',
    (_, operation) => {
      const statuses = Object.keys(operation.responses);
      expect(statuses).toContain('500');
      if (operation.requestBody) expect(statuses).toEqual(expect.arrayContaining(['400', '413', '415']));
      for (const status of statuses.filter((s) => Number(s) >= 400)) {
        const response = operation.responses[status];
        expect(response.description).toMatch(/\w{3,}/);
        expect(response.headers['X-Request-Id']).toBeDefined();
        if (status === '503' && operation.tags[0] === 'operations') continue;
        // Forward auth answers gateways with bare statuses, which they pass on: never a body.
        if (operation['x-forward-auth']) {
          expect(response.content).toEqual({});
          continue;
        }
        expect(Object.keys(response.content)).toEqual(['application/problem+json']);
        expect(response.content['application/problem+json'].example).toMatchObject({
          status: Number(status),
          type: expect.stringMatching(/^urn:keyhouse:problem:/),
        });
      }
    },
  );

  it.each(operations)(
    '%s should have examples for its request body and responses that match their schemas',
    (_, operation) => {
      const media: [string, Json][] = Object.entries<Json>(operation.requestBody?.content ?? {}).map(([type, m]) => [
        `request ${type}`,
        m,
      ]);
      for (const [status, response] of Object.entries<Json>(operation.responses)) {
        for (const [type, m] of Object.entries<Json>(response.content ?? {})) media.push([`${status} ${type}`, m]);
      }
      for (const [where, m] of media) {
        const examples = examplesOf(m);
        expect({ where, examples: examples.length > 0 }).toEqual({ where, examples: true });
        for (const example of examples)
          expect({ where, errors: schemaErrors(m.schema, example) }).toEqual({ where, errors: [] });
      }
    },
  );

  it('should show only the documented example keys, which parse as real keys would', () => {
    const keys = committedText.match(/sk_(live|test)_[0-9A-Za-z]{20,}/g) ?? [];
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      expect(isExampleKey(key)).toBe(true);
      expect(parseKey(key)).not.toBeNull();
    }
  });
});

describe('the documented example keys', () => {
  const app = useTestApp();

  it.each(Object.values(EXAMPLE_KEYS))(
    '%s should be refused even when a key with its digest exists',
    async (example) => {
      const client = await makeClient(app);
      const issued = await makeKey(app, client.id, {
        environment: parseKey(example)!.environment,
        scopes: ['admin:keys:read'],
      });
      const before = await app.get(`/v1/keys/${issued.id}`, { key: issued.key });
      expect(before.status).toBe(200);

      const digest = app.app.get(KeyDigest).of(example);
      const dataSource = app.app.get<DataSource>(getDataSourceToken());
      await rawPool(dataSource).query({
        text: 'UPDATE api_keys SET digest = $1 WHERE id = $2',
        values: [digest, issued.id],
      });
      expect(await app.app.get(KeyVerifier).find(digest)).toMatchObject({ keyId: issued.id });

      const res = await app.get(`/v1/keys/${issued.id}`, { key: example });
      expect(res.status).toBe(401);
      expect(await app.app.get(KeyVerifier).verify(example)).toEqual({ active: false, reason: 'malformed' });
    },
  );

  it('should not be accepted as BOOTSTRAP_ROOT_KEY', async () => {
    const refused = await createApp(Object.assign(new AppConfig(), app.env, { BOOTSTRAP_ROOT_KEY: EXAMPLE_KEYS.live }));
    try {
      await expect(refused.init()).rejects.toThrow(/BOOTSTRAP_ROOT_KEY is the documented example key/);
    } finally {
      await refused.close();
    }
  });
});
