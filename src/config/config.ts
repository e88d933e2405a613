import { plainToInstance, Transform } from 'class-transformer';
import {
  getMetadataStorage,
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateBy,
  validateSync,
} from 'class-validator';
import { isExampleKey } from '../format/example-keys';
import { parseKey } from '../format/key-format';
import { nearMisses, oneMessage } from './config-messages';
import {
  corsOriginProblem,
  hostProblem,
  keyHashSecretsProblem,
  singleSecretProblem,
  trustedProxiesProblem,
  urlProblem,
} from './config-rules';

export { keyHashSecrets, SINGLE_SECRET_ID, type KeyHashSecret } from './key-hash-secrets';

/** Decimal digits only: `0x10`, `1e3` and `12abc` are refused, not read as numbers. */
const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
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

  @Rule(hostProblem)
  HOST = '0.0.0.0';

  @IsIn(['development', 'production', 'test'])
  NODE_ENV: 'development' | 'production' | 'test' = 'development';

  @Transform(blankToUndefined)
  @IsOptional()
  @Rule(urlProblem(['postgres:', 'postgresql:']))
  DATABASE_URL?: string;

  @Transform(blankToUndefined)
  @IsOptional()
  @Rule(urlProblem(['redis:', 'rediss:']))
  REDIS_URL?: string;

  /** A rate-limit decision Redis has not answered in this time is made locally instead. */
  @Transform(toInt)
  @IsInt()
  @Min(10)
  @Max(10_000)
  REDIS_COMMAND_TIMEOUT_MS = 250;

  @IsString()
  @MinLength(1, { message: 'DATA_DIR must not be empty (a folder, or memory:// for a throwaway database)' })
  DATA_DIR = './data';

  /** The one-secret form of KEY_HASH_SECRETS, whose id is `initial` (SINGLE_SECRET_ID). */
  @Transform(blankToUndefined)
  @IsOptional()
  @Rule(singleSecretProblem)
  KEY_HASH_SECRET?: string;

  /**
   * Secrets of the key digests with their ids, `<id>:<secret>` separated by commas, the one that
   * digests new keys first; keys digested under a later one still verify and are moved to the
   * first as they are used (see keyHashSecrets and docs/operations.md).
   */
  @Transform(blankToUndefined)
  @IsOptional()
  @Rule(keyHashSecretsProblem)
  KEY_HASH_SECRETS?: string;

  @Transform(blankToUndefined)
  @IsOptional()
  @IsString()
  @MaxLength(200)
  @Rule((value) =>
    typeof value !== 'string' || parseKey(value)
      ? isExampleKey(value as string)
        ? 'is the documented example key, which Keyhouse never accepts (make a real one with `npm run keygen`)'
        : null
      : 'is not a well-formed Keyhouse key (make one with `npm run keygen`)',
  )
  BOOTSTRAP_ROOT_KEY?: string;

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL = 'info';

  /** Comma-separated addresses or CIDRs whose X-Forwarded-For is believed. */
  @IsString()
  @Rule(trustedProxiesProblem)
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

  /** Seconds between the change stream's keep-alive comments (GET /v1/key-changes). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(300)
  KEY_CHANGES_HEARTBEAT_SECONDS = 15;

  /** Changes the change stream keeps for subscribers that reconnect with Last-Event-ID. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  KEY_CHANGES_BUFFER_EVENTS = 10_000;

  /** Open change streams one instance serves; beyond it, 503. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(100_000)
  KEY_CHANGES_MAX_SUBSCRIBERS = 1000;

  /** Bytes a change stream may have waiting for a subscriber that does not read; beyond it, the stream is cut. */
  @Transform(toInt)
  @IsInt()
  @Min(1024)
  @Max(64 * 1024 * 1024)
  KEY_CHANGES_MAX_PENDING_BYTES = 262_144;

  /** Set to a comma-separated list of origins to allow browser calls from them. */
  @IsString()
  @Rule(corsOriginProblem)
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
  @Rule(hostProblem)
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

/**
 * A check of one variable: null when the value is good, else what is wrong with it, said
 * after the variable's name (the value is never repeated: some are secrets).
 */
function Rule(problem: (value: unknown) => string | null) {
  return ValidateBy({
    name: 'rule',
    validator: {
      validate: (value: unknown) => problem(value) === null,
      defaultMessage: (args) => `${args?.property} ${problem(args?.value)}`,
    },
  });
}

/** The variables of AppConfig: every decorated field, whether it has a default or not. */
export function knownVariables(): string[] {
  const decorated = getMetadataStorage()
    .getTargetValidationMetadatas(AppConfig, '', true, false)
    .map((m) => m.propertyName);
  return [...new Set([...Object.keys(new AppConfig()), ...decorated])];
}

/**
 * Parses and validates the environment; throws one error listing every bad variable, one
 * line each, every line naming its variable. Variables it does not know are ignored here
 * (configWarnings names those that look like a misspelt one).
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const known = knownVariables();
  const raw = Object.fromEntries(Object.entries(env).filter(([name]) => known.includes(name)));
  const parsed = plainToInstance(AppConfig, raw);
  const problems = new Map<string, string>();
  for (const error of validateSync(parsed, { whitelist: true, forbidUnknownValues: true }))
    problems.set(error.property, oneMessage(AppConfig, error));
  const add = (name: string, message: string) => problems.has(name) || problems.set(name, message);
  if (!problems.has('HTTP_REQUEST_TIMEOUT_MS') && parsed.HTTP_HEADERS_TIMEOUT_MS > parsed.HTTP_REQUEST_TIMEOUT_MS)
    add('HTTP_HEADERS_TIMEOUT_MS', 'HTTP_HEADERS_TIMEOUT_MS must not be longer than HTTP_REQUEST_TIMEOUT_MS');
  if (parsed.KEY_HASH_SECRET !== undefined && parsed.KEY_HASH_SECRETS !== undefined)
    add(
      'KEY_HASH_SECRET',
      'KEY_HASH_SECRET and KEY_HASH_SECRETS are both set: set one (KEY_HASH_SECRET=x is KEY_HASH_SECRETS=initial:x)',
    );
  if (parsed.DATABASE_URL && !problems.has('DATABASE_URL') && !parsed.KEY_HASH_SECRET && !parsed.KEY_HASH_SECRETS)
    add('KEY_HASH_SECRET', 'KEY_HASH_SECRET (or KEY_HASH_SECRETS) is required when DATABASE_URL is set');
  if (problems.size > 0) {
    const lines = [...problems].map(([name, message]) => `  ${name}: ${message}`);
    throw new InvalidConfiguration(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed;
}

/**
 * Warnings about the environment, one line each: a variable Keyhouse does not read that is one
 * edit away from one it does (`PORTT`, `REDIS_ULR`), or one with a prefix Keyhouse's variables
 * do not have (`KEYHOUSE_PORT`). Not errors: the environment holds other programs' variables too.
 */
export function configWarnings(env: NodeJS.ProcessEnv = process.env): string[] {
  return nearMisses(Object.keys(env), knownVariables()).map(
    ([given, known]) => `${given} is not a Keyhouse variable and is ignored: did you mean ${known}?`,
  );
}
