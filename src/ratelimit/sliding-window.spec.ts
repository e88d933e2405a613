import fc from 'fast-check';
import { BUCKETS, Counts, decide, MemoryWindows } from './sliding-window';

const T0 = 1_700_000_000_000;

/** Runs calls at `times` (ascending) through one window; answers which were admitted. */
function run(times: number[], limit: number, windowSeconds: number) {
  const counts: Counts = [];
  return times.map((t) => ({ t, decision: decide(counts, { limit, windowSeconds }, t) }));
}

const scenario = fc
  .record({
    limit: fc.integer({ min: 1, max: 20 }),
    windowSeconds: fc.integer({ min: 1, max: 5 }),
    gaps: fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 300 }),
  })
  .map(({ limit, windowSeconds, gaps }) => {
    let t = T0 + ((gaps[0] * 7919) % 1000);
    const times = gaps.map((g) => (t += g * windowSeconds));
    return { limit, windowSeconds, times };
  });

describe('sliding-window rate limit', () => {
  it('should never admit more than the limit in any window of the configured length', () => {
    fc.assert(
      fc.property(scenario, ({ limit, windowSeconds, times }) => {
        const admitted = run(times, limit, windowSeconds)
          .filter((c) => c.decision.allowed)
          .map((c) => c.t);
        const window = windowSeconds * 1000;
        // The fullest window ends at an admitted call; windows are closed at both ends here.
        for (const end of admitted)
          expect(admitted.filter((t) => t >= end - window && t <= end).length).toBeLessThanOrEqual(limit);
      }),
      { numRuns: 500 },
    );
  });

  it('should refuse a call only when the limit was reached within one window and one bucket before it', () => {
    fc.assert(
      fc.property(scenario, ({ limit, windowSeconds, times }) => {
        const calls = run(times, limit, windowSeconds);
        const admitted = calls.filter((c) => c.decision.allowed).map((c) => c.t);
        const span = windowSeconds * 1000 * (1 + 1 / BUCKETS);
        for (const { t, decision } of calls.filter((c) => !c.decision.allowed)) {
          expect(decision.remaining).toBe(0);
          expect(admitted.filter((a) => a >= t - span && a <= t).length).toBeGreaterThanOrEqual(limit);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('should admit a call made when a refusal said to retry, and not a moment before', () => {
    fc.assert(
      fc.property(scenario, ({ limit, windowSeconds, times }) => {
        const counts: Counts = [];
        for (const t of times) {
          const decision = decide(counts, { limit, windowSeconds }, t);
          if (decision.allowed) continue;
          expect(decision.resetMs).toBeGreaterThan(0);
          expect(decide(structuredClone(counts), { limit, windowSeconds }, t + decision.resetMs - 1).allowed).toBe(
            false,
          );
          expect(decide(structuredClone(counts), { limit, windowSeconds }, t + decision.resetMs).allowed).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('should not double at a window edge: a full burst at the end of one window blocks the start of the next', () => {
    const counts: Counts = [];
    const limit = { limit: 10, windowSeconds: 1 };
    const edge = T0 - (T0 % 1000) + 1000;
    for (let i = 0; i < 10; i++) expect(decide(counts, limit, edge - 5).allowed).toBe(true);
    expect(decide(counts, limit, edge + 5).allowed).toBe(false);
    expect(decide(counts, limit, edge + 990).allowed).toBe(false);
    expect(decide(counts, limit, edge + 1000 + 50).allowed).toBe(true);
  });

  it('should report what is left and when it grows', () => {
    const counts: Counts = [];
    const first = decide(counts, { limit: 3, windowSeconds: 60 }, T0);
    expect(first).toEqual({ allowed: true, limit: 3, remaining: 2, resetMs: expect.any(Number) });
    // Up to one bucket (3 s of 60) more than the window.
    expect(first.resetMs).toBeGreaterThan(60_000);
    expect(first.resetMs).toBeLessThanOrEqual(63_000);
    expect(decide(counts, { limit: 3, windowSeconds: 60 }, T0 + 1).remaining).toBe(1);
  });

  it('should keep one window per key and per window length in memory', () => {
    const windows = new MemoryWindows();
    const limit = { limit: 1, windowSeconds: 10 };
    expect(windows.consume('a', limit, T0).allowed).toBe(true);
    expect(windows.consume('a', limit, T0 + 1).allowed).toBe(false);
    expect(windows.consume('b', limit, T0 + 1).allowed).toBe(true);
    expect(windows.consume('a', { limit: 1, windowSeconds: 20 }, T0 + 1).allowed).toBe(true);
  });
});
