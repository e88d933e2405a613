import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createAdminClient } from '@keyhouse/client/admin';
import { parseKey } from '@keyhouse/client';
import { useTestApp } from '../../../test/support/use-test-app';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..', '..');
const GENERATED = join(ROOT, 'packages', 'client', 'src', 'generated', 'keyhouse-api.ts');

describe('the admin client', () => {
  it('should have types generated from the committed openapi/openapi.json (npm run openapi regenerates them)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyhouse-client-types-'));
    try {
      const fresh = join(dir, 'keyhouse-api.ts');
      await run(process.execPath, [
        join(ROOT, 'node_modules', 'openapi-typescript', 'bin', 'cli.js'),
        join(ROOT, 'openapi', 'openapi.json'),
        '-o',
        fresh,
      ]);
      expect(readFileSync(GENERATED, 'utf8')).toBe(readFileSync(fresh, 'utf8'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  describe('against a running Keyhouse', () => {
    const app = useTestApp();
    let url: string;
    beforeAll(async () => {
      await app.app.listen({ port: 0, host: '127.0.0.1' });
      url = await app.app.getUrl();
    });

    it('should create a client, issue a key and revoke it, with typed answers and problems', async () => {
      const admin = createAdminClient({ url, key: app.rootKey });
      const client = await admin.POST('/v1/clients', { body: { name: `admin-client-${Date.now()}` } });
      expect(client.response.status).toBe(201);
      const issued = await admin.POST('/v1/clients/{id}/keys', {
        params: { path: { id: client.data!.id } },
        body: { environment: 'test', name: 'from the package' },
      });
      expect(parseKey(issued.data!.key)).toEqual({ environment: 'test', key: issued.data!.key });
      const revoked = await admin.POST('/v1/keys/{id}/revoke', {
        params: { path: { id: issued.data!.id } },
        body: { reason: 'admin client test' },
      });
      expect(revoked.data).toMatchObject({ id: issued.data!.id, status: 'revoked' });
      const missing = await admin.GET('/v1/keys/{id}', {
        params: { path: { id: '00000000-0000-4000-8000-000000000000' } },
      });
      expect(missing.response.status).toBe(404);
      expect(missing.error).toMatchObject({ status: 404 });
    });
  });
});
