import { Writable } from 'node:stream';
import pino from 'pino';
import type { FastifyBaseLogger } from 'fastify';
import { lazyChildLogger } from './lazy-logger';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream) as unknown as FastifyBaseLogger, lines };
}

const make = (logger: FastifyBaseLogger, level?: string) =>
  (lazyChildLogger as unknown as (l: FastifyBaseLogger, b: object, o: object) => FastifyBaseLogger).call(
    null,
    logger,
    { request_id: 'r-1' },
    level ? { level } : {},
  );

describe('lazy request logger', () => {
  it('should not make a child logger for a line below its level', () => {
    const { logger, lines } = capture();
    const child = jest.spyOn(logger, 'child');
    const log = make(logger, 'warn');
    log.info({ a: 1 }, 'request');
    log.debug('nothing');
    expect(child).not.toHaveBeenCalled();
    expect(lines).toEqual([]);
    expect(log.level).toBe('warn');
  });

  it('should tell which levels it would write, without making a child logger', () => {
    const { logger } = capture();
    const child = jest.spyOn(logger, 'child');
    const log = make(logger, 'warn') as unknown as { isLevelEnabled(level: string): boolean };
    expect(['trace', 'debug', 'info', 'warn', 'error', 'fatal'].map((l) => log.isLevelEnabled(l))).toEqual([
      false,
      false,
      false,
      true,
      true,
      true,
    ]);
    expect(child).not.toHaveBeenCalled();
  });

  it('should log an enabled line through a child bound to the request id', async () => {
    const { logger, lines } = capture();
    const log = make(logger, 'warn');
    log.warn({ err: { message: 'boom' } }, 'database unavailable');
    log.error('unhandled');
    await new Promise((r) => setImmediate(r));
    expect(lines.map((l) => [l.request_id, l.msg, l.level])).toEqual([
      ['r-1', 'database unavailable', 40],
      ['r-1', 'unhandled', 50],
    ]);
  });

  it("should follow the parent's level when the route sets none", async () => {
    const { logger, lines } = capture();
    const log = make(logger);
    log.info('hello');
    await new Promise((r) => setImmediate(r));
    expect(lines.map((l) => l.msg)).toEqual(['hello']);
  });
});
