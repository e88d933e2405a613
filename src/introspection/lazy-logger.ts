import type { FastifyBaseLogger, LogLevel } from 'fastify';
import type { FastifyChildLoggerFactory } from 'fastify/types/logger';

const LEVELS: Record<string, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Infinity,
};

type Bindings = Parameters<FastifyBaseLogger['child']>[0];
type Options = NonNullable<Parameters<FastifyBaseLogger['child']>[1]>;

/**
 * A request logger that becomes a real child logger (with the request id) only when
 * something is logged at an enabled level. Fastify makes one child logger per request,
 * and pino's child (bindings serialised, redaction applied) costs several percent of a
 * hot-path call that, as a rule, logs nothing.
 */
class LazyRequestLogger {
  private made: FastifyBaseLogger | null = null;
  private readonly threshold: number;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: Options,
  ) {
    this.threshold = LEVELS[options.level ?? parent.level] ?? LEVELS.info!;
  }

  get level(): string {
    return this.made?.level ?? this.options.level ?? this.parent.level;
  }

  set level(level: string) {
    this.real().level = level;
  }

  fatal(...args: unknown[]): void {
    this.log('fatal', args);
  }
  error(...args: unknown[]): void {
    this.log('error', args);
  }
  warn(...args: unknown[]): void {
    this.log('warn', args);
  }
  info(...args: unknown[]): void {
    this.log('info', args);
  }
  debug(...args: unknown[]): void {
    this.log('debug', args);
  }
  trace(...args: unknown[]): void {
    this.log('trace', args);
  }
  silent(): void {}

  /** As pino's: whether a line at `level` would be written, without making the child. */
  isLevelEnabled(level: string): boolean {
    if (this.made) return (this.made as unknown as { isLevelEnabled(l: string): boolean }).isLevelEnabled(level);
    return (LEVELS[level] ?? Infinity) >= this.threshold;
  }

  child(bindings: Bindings, options?: Options): FastifyBaseLogger {
    return this.real().child(bindings, options);
  }

  private log(level: LogLevel, args: unknown[]): void {
    if (this.made === null && LEVELS[level]! < this.threshold) return;
    (this.real()[level] as (...a: unknown[]) => void)(...args);
  }

  private real(): FastifyBaseLogger {
    return (this.made ??= this.parent.child(this.bindings, this.options));
  }
}

export const lazyChildLogger: FastifyChildLoggerFactory = (logger, bindings, options) =>
  new LazyRequestLogger(logger, bindings, options) as unknown as FastifyBaseLogger;
