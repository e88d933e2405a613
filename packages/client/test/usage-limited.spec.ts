import { createVerifier } from '@keyhouse/client';
import { makeClientWithKey, makeKey } from '../../../test/support/factories';
import { useTestApp } from '../../../test/support/use-test-app';

/** A key with a usage limit is said so in its active answer, and the verifier asks Keyhouse for it every time. */
describe('a key with a usage limit', () => {
  const app = useTestApp();

  it('should be introspected with usage_limited, never cached by the verifier, and refused once used up', async () => {
    await app.app.listen({ port: 0, host: '127.0.0.1' });
    const service = await makeClientWithKey(app, ['admin:introspect']);
    const limited = await makeKey(app, service.client.id, { usage_limit: 2 });
    const plain = await makeKey(app, service.client.id);

    const answer = await app.post('/v1/introspect', { token: limited.key }, { key: service.key.key });
    expect(answer.body).toMatchObject({ active: true, usage_limited: true });
    const other = await app.post('/v1/introspect', { token: plain.key }, { key: service.key.key });
    expect(other.body.active).toBe(true);
    expect(other.body).not.toHaveProperty('usage_limited');

    const verifier = createVerifier({ url: await app.app.getUrl(), key: service.key.key, subscribe: false });
    try {
      // One use went to the introspection above; one is left.
      await expect(verifier.verify(limited.key)).resolves.toMatchObject({
        active: true,
        usageLimited: true,
        cached: false,
      });
      await expect(verifier.verify(limited.key)).resolves.toMatchObject({ active: false, reason: 'usage_exceeded' });
      await expect(verifier.verify(limited.key)).resolves.toMatchObject({ active: false, cached: false });
    } finally {
      await verifier.close();
    }
  });
});
