import type { Logger as Pino } from 'pino';
import type { Logger } from 'typeorm';

/**
 * TypeORM's messages through the service's JSON logger. Query parameters are never
 * logged (they hold key digests, names, addresses), nor a failed query's `detail`
 * (PostgreSQL repeats the offending values there), and a parameter the message echoes
 * (`invalid input syntax for type uuid: "..."`) is cut out of it: the statement, the
 * message and the code are enough to find the cause.
 */
export class DatabaseLogger implements Logger {
  constructor(private readonly logger: Pino) {}

  logQuery(query: string): void {
    this.logger.trace({ query }, 'query');
  }

  logQueryError(error: string | Error, query: string, parameters?: unknown[] | object): void {
    const { message, code } =
      typeof error === 'string' ? { message: error, code: undefined } : (error as Error & { code?: string });
    this.logger.warn({ query, error: withoutParameters(message, parameters), code }, 'query failed');
  }

  logQuerySlow(time: number, query: string): void {
    this.logger.warn({ query, ms: time }, 'slow query');
  }

  logSchemaBuild(message: string): void {
    this.logger.debug(message);
  }

  logMigration(message: string): void {
    this.logger.info(message);
  }

  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    if (level === 'warn') this.logger.warn(String(message));
    else this.logger.info(String(message));
  }
}

/** The message with the text of every parameter it repeats replaced. */
function withoutParameters(message: string, parameters?: unknown[] | object): string {
  const values = Array.isArray(parameters) ? parameters : parameters ? Object.values(parameters) : [];
  let text = message;
  for (const value of values.flat()) {
    const shown =
      value instanceof Date
        ? ''
        : typeof value === 'object' && value !== null
          ? JSON.stringify(value)
          : String(value ?? '');
    if (shown.length >= 4) text = text.split(shown).join('[parameter]');
  }
  return text;
}
