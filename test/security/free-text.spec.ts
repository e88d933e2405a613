import fc from 'fast-check';
import { errorPointers, expectProblem, makeClient, makeKey, unique } from '../support/factories';
import { useTestApp } from '../support/use-test-app';

/** Unicode format characters (Cf) and controls (Cc): what a name must never carry. */
const FORMAT_AND_CONTROL: Array<[number, number]> = [
  [0x0000, 0x001f],
  [0x007f, 0x009f], // controls
  [0x200b, 0x200f], // zero-width space, joiners, LRM, RLM
  [0x202a, 0x202e], // bidi embeddings and overrides
  [0x2066, 0x2069], // bidi isolates
  [0xfeff, 0xfeff], // zero-width no-break space (BOM)
  [0x00ad, 0x00ad],
  [0x061c, 0x061c],
  [0x180e, 0x180e],
  [0x2060, 0x2064],
  [0x206a, 0x206f],
  [0xfff9, 0xfffb],
  [0x110bd, 0x110bd],
  [0xe0001, 0xe0001],
  [0xe0020, 0xe007f], // other Cf
];
const hostile = fc
  .constantFrom(...FORMAT_AND_CONTROL)
  .chain(([from, to]) => fc.integer({ min: from, max: to }))
  .map((cp) => String.fromCodePoint(cp));
/** A plausible name with one hostile character somewhere in it. */
const hostileName = fc
  .tuple(
    fc.string({ unit: fc.constantFrom('a', 'b', 'é', '日', ' ', '-'), maxLength: 8 }),
    hostile,
    fc.string({ unit: fc.constantFrom('z', '9', 'ü'), maxLength: 8 }),
  )
  .map(([before, bad, after]) => `${before}${bad}${after}`);

describe('free text', () => {
  const app = useTestApp();

  describe('names', () => {
    it('should refuse control, bidi and zero-width characters in every name with a 400 naming the field', async () => {
      const client = await makeClient(app);
      const key = await makeKey(app, client.id);
      const writes = [
        { field: '#/name', send: (name: string) => app.post('/v1/clients', { name }) },
        { field: '#/name', send: (name: string) => app.patch(`/v1/clients/${client.id}`, { name }) },
        {
          field: '#/name',
          send: (name: string) => app.post(`/v1/clients/${client.id}/keys`, { environment: 'live', name }),
        },
        { field: '#/name', send: (name: string) => app.patch(`/v1/keys/${key.id}`, { name }) },
        {
          field: '#/description',
          send: (description: string) => app.post('/v1/scopes', { name: `${unique('named')}:read`, description }),
        },
      ];
      await fc.assert(
        fc.asyncProperty(hostileName, fc.constantFrom(...writes), async (name, { field, send }) => {
          const res = await send(name);
          expectProblem(res, 400);
          expect(errorPointers(res)).toEqual([field]);
        }),
        { numRuns: 150 },
      );
      expect((await app.get(`/v1/clients/${client.id}`)).body.name).toBe(client.name);
      expect((await app.get(`/v1/keys/${key.id}`)).body.name).toBe(key.name);
    });

    it('should accept names in any script', async () => {
      for (const name of ['Café Zürich', '日本の決済', 'אבג', 'Ödön 👍']) {
        expect((await app.post('/v1/clients', { name })).body.name).toBe(name);
      }
    });
  });

  describe('key-shaped text', () => {
    it('should be scrubbed from reasons, names, descriptions and metadata, never stored or answered back', async () => {
      const client = await makeClient(app);
      const secret = (await makeKey(app, client.id)).key;
      const pasted = `see ${secret} here`;
      const scrubbed = 'see sk_live_[redacted] here';

      const created = await app.post('/v1/clients', {
        name: pasted,
        description: pasted,
        metadata: { note: pasted, [secret]: [pasted] },
      });
      expect(created.body).toMatchObject({
        name: scrubbed,
        description: scrubbed,
        metadata: { note: scrubbed, 'sk_live_[redacted]': [scrubbed] },
      });
      const patched = await app.patch(`/v1/clients/${created.body.id}`, { description: `again ${secret}` });
      expect(patched.body.description).toBe('again sk_live_[redacted]');

      const issued = await app.post(`/v1/clients/${client.id}/keys`, {
        environment: 'live',
        name: pasted,
        metadata: { note: pasted },
      });
      expect(issued.body).toMatchObject({ name: scrubbed, metadata: { note: scrubbed } });
      const renamed = await app.patch(`/v1/keys/${issued.body.id}`, {
        name: pasted,
        metadata: { deep: { er: pasted } },
      });
      expect(renamed.body).toMatchObject({ name: scrubbed, metadata: { deep: { er: scrubbed } } });
      const revoked = await app.post(`/v1/keys/${issued.body.id}/revoke`, { reason: pasted });
      expect(revoked.body.revoked_reason).toBe(scrubbed);

      const answers = [
        created,
        patched,
        issued,
        renamed,
        revoked,
        await app.get(`/v1/keys/${issued.body.id}`),
        await app.get(`/v1/clients/${created.body.id}`),
      ];
      for (const res of answers) expect(res.raw.replace(issued.body.key ?? '', '')).not.toContain(secret);
      const trail = await app.get('/v1/audit-events', { query: { limit: '50' } });
      expect(trail.raw).not.toContain(secret);
    });
  });
});
