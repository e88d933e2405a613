import fc from 'fast-check';
import { covers, scopeSet } from '../../test/support/scope-oracle';
import { LEAK_REPORT_SCOPE, refusedGrants } from './grant-rule';

describe(refusedGrants.name, () => {
  it('should refuse exactly the scopes a tenant key does not cover', () => {
    const sut = refusedGrants(
      ['orders:*', 'billing:refund', 'orders:read'],
      { isSystem: false, scopes: ['admin:keys:write', 'orders:read'] },
      [],
    );
    expect(sut).toEqual([
      { scope: 'orders:*', reason: 'not_held' },
      { scope: 'billing:refund', reason: 'not_held' },
    ]);
  });

  it('should let a root key grant any data scope, but admin: ones only if it holds them', () => {
    const root = { isSystem: true, scopes: ['admin:keys:write'] };
    expect(refusedGrants(['orders:*', 'admin:keys:write'], root, [])).toEqual([]);
    expect(refusedGrants(['admin:audit:read'], root, [])).toEqual([{ scope: 'admin:audit:read', reason: 'not_held' }]);
    expect(refusedGrants([LEAK_REPORT_SCOPE, 'admin:*'], { isSystem: true, scopes: ['admin:*'] }, [])).toEqual([]);
  });

  it('should hold root to a client ceiling too', () => {
    expect(
      refusedGrants(['orders:read', 'billing:refund'], { isSystem: true, scopes: ['admin:*'] }, ['orders:*']),
    ).toEqual([{ scope: 'billing:refund', reason: 'outside_ceiling' }]);
  });

  it('should grant a set iff the rules hold, for any granter, ceiling and request', () => {
    fc.assert(
      fc.property(fc.boolean(), scopeSet(5), scopeSet(3), scopeSet(4), (isSystem, held, ceiling, wanted) => {
        const refused = refusedGrants(wanted, { isSystem, scopes: held }, ceiling).map((r) => r.scope);
        const model = wanted.filter((scope) => {
          const mustHold = !isSystem || scope.startsWith('admin:');
          const held_ = !mustHold || covers(held, scope);
          const rootOnly = !isSystem && covers([scope], LEAK_REPORT_SCOPE);
          const inside = ceiling.length === 0 || covers(ceiling, scope);
          return !(held_ && !rootOnly && inside);
        });
        expect(refused).toEqual(model);
      }),
      { numRuns: 2000 },
    );
  });
});
