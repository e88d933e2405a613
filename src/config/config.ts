import { plainToInstance, Transform } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateBy,
  validateSync,
} from 'class-validator';
import { estimatedBits, MIN_SECRET_BITS } from './secret-strength';

const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
const toBool = ({ value }: { value: unknown }) =>
  value === 'true' || value === '1' ? true : value === 'false' || value === '0' ? false : value;
const blankToUndefined = ({ value }: { value: unknown }) => (value === '' ? undefined : value);

/** Every environment variable Keyhouse reads; `.env.example` documents each one. */
export class AppConfig {
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT = 8080;

  @IsString()
  HOST = '0.0.0.0';

  @IsIn(['development', 'production', 'test'])
  NODE_ENV: 'development' | 'production' | 'test' = 'development';

  @Transform(blankToUndefined)
  @IsOptional()
  @Matches(/^postgres(ql)?:\/\//, { message: 'DATABASE_URL must be a postgres:// URL' })
  DATABASE_URL?: string;

  @Transform(blankToUndefined)
  @IsOptional()
  @Matches(/^rediss?:\/\//, { message: 'REDIS_URL must be a redis:// or rediss:// URL' })
  REDIS_URL?: string;

  /** A rate-limit decision Redis has not answered in this time is made locally instead. */
  @Transform(toInt)
  @IsInt()
  @Min(10)
  @Max(10_000)
  REDIS_COMMAND_TIMEOUT_MS = 250;

  @IsString()
  @MinLength(1)
  DATA_DIR = './data';

  @Transform(blankToUndefined)
  @IsOptional()
  @IsString()
  @MinLength(32, { message: 'KEY_HASH_SECRET must be at least 32 characters' })
  @ValidateBy({
    name: 'randomEnough',
    validator: {
      validate: (value: unknown) => typeof value !== 'string' || estimatedBits(value) >= MIN_SECRET_BITS,
      defaultMessage: () =>
        `KEY_HASH_SECRET is not random enough (repeated or sequential characters; at least ${MIN_SECRET_BITS} bits estimated): generate one with openssl rand -base64 48`,
    },
  })
  KEY_HASH_SECRET?: string;

  @Transform(blankToUndefined)
  @IsOptional()
  @IsString()
  @MaxLength(200)
  BOOTSTRAP_ROOT_KEY?: string;

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL = 'info';

  /** Comma-separated addresses or CIDRs whose X-Forwarded-For is believed. */
  @IsString()
  TRUSTED_PROXIES = '';

  @Transform(toBool)
  @IsBoolean()
  MIGRATIONS_RUN = true;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(200)
  DB_POOL_SIZE = 10;

  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(600_000)
  DB_STATEMENT_TIMEOUT_MS = 5000;

  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(60_000)
  CACHE_TTL_MS = 5000;

  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(60_000)
  CACHE_NEGATIVE_TTL_MS = 2000;

  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(10_000_000)
  CACHE_MAX_ENTRIES = 100_000;

  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(3_600_000)
  USAGE_FLUSH_INTERVAL_MS = 5000;

  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(30 * 86400)
  DEFAULT_GRACE_PERIOD_SECONDS = 86400;

  @Transform(toInt)
  @IsInt()
  @Min(1024)
  @Max(10 * 1024 * 1024)
  BODY_LIMIT_BYTES = 65536;

  /**
   * Failed authentications (a presented key that is not good) one address may make per
   * window before its failures are answered 429; `0` turns the throttle off.
   */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  AUTH_FAILURE_LIMIT = 20;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(86_400)
  AUTH_FAILURE_WINDOW_SECONDS = 60;

  /** A client must have sent a request's headers within this time of its first byte, else 408. */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(600_000)
  HTTP_HEADERS_TIMEOUT_MS = 10_000;

  /** A client must have sent its whole request (headers and body) within this time, else 408. */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(3_600_000)
  HTTP_REQUEST_TIMEOUT_MS = 30_000;

  /** An idle keep-alive connection is closed after this time (longer than a load balancer's idle timeout). */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  HTTP_KEEP_ALIVE_TIMEOUT_MS = 72_000;

  /** Set to a comma-separated list of origins to allow browser calls from them. */
  @IsString()
  CORS_ORIGINS = '';

  // Monitoring and the management listener (docs/operations.md, "Scrape metrics").

  /**
   * Port of the management listener, which serves /metrics and /health*, and which the
   * public listener does not serve /metrics on. The same value as PORT serves everything
   * on the one listener; `0`, a free port.
   */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  MANAGEMENT_PORT = 9464;

  /** Address of the management listener: loopback unless the scraper is elsewhere. */
  @IsString()
  @MinLength(1)
  MANAGEMENT_HOST = '127.0.0.1';

  /** Swagger UI at /docs and the document at /docs-json, on the public listener. */
  @Transform(toBool)
  @IsBoolean()
  DOCS_ENABLED = true;

  /** The commit keyhouse_build_info reports; else the one `npm run build` recorded, else `unknown`. */
  @IsString()
  @MaxLength(100)
  KEYHOUSE_COMMIT = '';
}

export const MAX_GRACE_PERIOD_SECONDS = 30 * 86400;

export class InvalidConfiguration extends Error {}

/** Parses and validates the environment; throws one error naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const known = Object.keys(new AppConfig()).concat([
    'DATABASE_URL',
    'REDIS_URL',
    'KEY_HASH_SECRET',
    'BOOTSTRAP_ROOT_KEY',
  ]);
  const raw = Object.fromEntries(Object.entries(env).filter(([name]) => known.includes(name)));
  const parsed = plainToInstance(AppConfig, raw);
  const errors = validateSync(parsed, { whitelist: true, forbidUnknownValues: true });
  if (errors.length > 0) {
    const lines = errors.map((e) => `  ${e.property}: ${Object.values(e.constraints ?? {}).join('; ')}`);
    throw new InvalidConfiguration(`Invalid configuration:\n${lines.join('\n')}`);
  }
  if (parsed.HTTP_HEADERS_TIMEOUT_MS > parsed.HTTP_REQUEST_TIMEOUT_MS) {
    throw new InvalidConfiguration(
      'Invalid configuration:\n  HTTP_HEADERS_TIMEOUT_MS: must not be longer than HTTP_REQUEST_TIMEOUT_MS',
    );
  }
  if (parsed.DATABASE_URL && !parsed.KEY_HASH_SECRET) {
    throw new InvalidConfiguration('Invalid configuration:\n  KEY_HASH_SECRET: required when DATABASE_URL is set');
  }
  return parsed;
}
