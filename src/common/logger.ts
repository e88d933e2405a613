import type { LoggerService } from '@nestjs/common';
import pino, { DestinationStream, Logger, LoggerOptions } from 'pino';
import { redactKeys } from './redact';

/**
 * One JSON logger for the service, to standard output unless given a destination (the
 * tests capture it). Each line has an ISO 8601 `time` and the level by name, as log
 * shippers read them. Headers are never logged; the redaction is a second line of defence
 * for anything that carries a key by mistake.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { service: 'keyhouse' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers["x-api-key"]',
        'token',
        'key',
        '*.token',
        '*.key',
        'BOOTSTRAP_ROOT_KEY',
        'KEY_HASH_SECRET',
      ],
      censor: '[redacted]',
    },
    // The last line of defence: whatever a line holds (an error's message echoing its input, say), no key-shaped text leaves.
    hooks: { streamWrite: redactKeys },
    serializers: {
      req: (req: { id: string; method: string; url: string; ip?: string }) => ({
        id: req.id,
        method: req.method,
        url: redactKeys(req.url.split('?')[0]),
        ip: req.ip,
      }),
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** Nest's own messages (start-up, errors outside requests) through the same logger. */
export class NestPinoLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}
  log(message: unknown, context?: string) {
    this.logger.info({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string) {
    this.logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string) {
    this.logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string) {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string) {
    this.logger.trace({ context }, String(message));
  }
}
