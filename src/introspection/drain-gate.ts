export { ShuttingDown, STOPPING_HEADERS } from '../common/shutting-down';

/**
 * Counts hot-path calls in progress so that shutdown can stop taking new ones, wait
 * for those under way, and only then write the last usage counts: every answer
 * given is counted.
 */
export class DrainGate {
  private inFlight = 0;
  private closed = false;
  private onDrained: (() => void) | null = null;

  /** False once closed: answer 503 instead of starting. */
  enter(): boolean {
    if (this.closed) return false;
    this.inFlight++;
    return true;
  }

  leave(): void {
    this.inFlight--;
    if (this.inFlight === 0) this.onDrained?.();
  }

  /**
   * Runs one call through the gate, or answers `closed(a, b)` once the gate is closed: the
   * call counts as under way until it returns, or until the promise it returns settles.
   */
  pass<A, B, T>(closed: (a: A, b: B) => T, call: (a: A, b: B) => T | Promise<T>, a: A, b: B): T | Promise<T> {
    if (!this.enter()) return closed(a, b);
    let result: T | Promise<T>;
    try {
      result = call(a, b);
    } catch (err) {
      this.leave();
      throw err;
    }
    if (result instanceof Promise) {
      // Not finally(): it makes two promises where this makes one.
      return result.then(
        (value) => (this.leave(), value),
        (err: unknown) => {
          this.leave();
          throw err;
        },
      );
    }
    this.leave();
    return result;
  }

  /** Closes the gate; resolves when the calls under way have finished, or after `timeoutMs`. */
  close(timeoutMs: number): Promise<void> {
    this.closed = true;
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.onDrained = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
