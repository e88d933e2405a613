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
