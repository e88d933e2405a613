import { PGlite } from '@electric-sql/pglite';
import fc from 'fast-check';
import { KEY_STATUSES, keyStatus, statusCondition } from './key-status';

const MINUTE = 60_000;
/** A time well clear of now (so the test's clock and the database's agree on which side it is), or none. */
const moment = fc.option(
  fc.integer({ min: -10_000, max: 10_000 }).filter((m) => Math.abs(m) >= 1),
  { nil: null },
);
const keyState = fc.record({
  revoked: moment,
  expires: moment,
  graceEnds: moment,
  rotated: fc.boolean(),
});

describe('key status', () => {
  const at = (minutes: number | null, now: number) => (minutes === null ? null : new Date(now + minutes * MINUTE));

  it.each([
    ['active', {}],
    ['active', { expiresAt: 1 }],
    ['expiring', { replacedBy: true, graceEndsAt: 1 }],
    ['expired', { expiresAt: -1 }],
    ['expired', { replacedBy: true, graceEndsAt: -1 }],
    ['expired', { replacedBy: true, graceEndsAt: 5, expiresAt: -1 }],
    ['revoked', { revokedAt: -1 }],
    ['revoked', { revokedAt: -1, expiresAt: -1 }],
    ['revoked', { revokedAt: -1, replacedBy: true, graceEndsAt: 1 }],
  ])(
    'should be %s for %j (minutes from now)',
    (status, state: { revokedAt?: number; expiresAt?: number; graceEndsAt?: number; replacedBy?: boolean }) => {
      const now = Date.now();
      expect(
        keyStatus(
          {
            revokedAt: at(state.revokedAt ?? null, now),
            expiresAt: at(state.expiresAt ?? null, now),
            graceEndsAt: at(state.graceEndsAt ?? null, now),
            replacedBy: state.replacedBy ? '6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11' : null,
          },
          now,
        ),
      ).toBe(status);
    },
  );

  describe('the list filter', () => {
    let db: PGlite;
    beforeAll(async () => {
      db = await PGlite.create();
    });
    afterAll(() => db.close());

    it('should select exactly the keys whose derived status it names', async () => {
      await fc.assert(
        fc.asyncProperty(keyState, async (state) => {
          const now = Date.now();
          const key = {
            revokedAt: at(state.revoked, now),
            expiresAt: at(state.expires, now),
            graceEndsAt: at(state.graceEnds, now),
            replacedBy: state.rotated ? '6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11' : null,
          };
          const matching: string[] = [];
          for (const status of KEY_STATUSES) {
            const { rows } = await db.query<{ yes: boolean }>(
              `SELECT (${statusCondition(status)}) AS yes
                 FROM (VALUES ($1::timestamptz, $2::timestamptz, $3::timestamptz, $4::uuid)) AS k(revoked_at, expires_at, grace_ends_at, replaced_by)`,
              [key.revokedAt, key.expiresAt, key.graceEndsAt, key.replacedBy],
            );
            if (rows[0].yes) matching.push(status);
          }
          expect(matching).toEqual([keyStatus(key, now)]);
        }),
        { numRuns: 300 },
      );
    });
  });
});
