// Writes the OpenAPI document to openapi/openapi.json: `npm run openapi`.
// The app is built but never listens, on a throwaway in-memory database, so the
// document comes from exactly the code that serves /docs-json.
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createApp } from '../src/app';
import { loadConfig } from '../src/config/config';
import { buildOpenApiDocument, serializeOpenApiDocument } from '../src/openapi';

export const OPENAPI_FILE = join(__dirname, '..', '..', 'openapi', 'openapi.json');

async function main(): Promise<void> {
  const env = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DATA_DIR: 'memory://', MIGRATIONS_RUN: 'false' });
  const app = await createApp(env);
  try {
    writeFileSync(OPENAPI_FILE, serializeOpenApiDocument(buildOpenApiDocument(app)));
  } finally {
    await app.close();
  }
  process.stdout.write(`wrote ${OPENAPI_FILE}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
