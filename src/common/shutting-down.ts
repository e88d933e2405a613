import { DomainError } from './errors';

/** Answered once shutdown has begun: the caller retries, on another instance behind the balancer. */
export class ShuttingDown extends DomainError {
  readonly code = 'service-unavailable' as const;
  constructor() {
    super('This instance is shutting down; try again.');
  }
}

/** How a stopping instance's refusals end: try again shortly, on a new connection (to another instance). */
export const STOPPING_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'retry-after': '1',
  connection: 'close',
});
