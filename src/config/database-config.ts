import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { AppConfig, InvalidConfiguration } from './config';

/** What opening the database takes: where it is, and how its connections behave. */
export const DATABASE_VARIABLES = ['DATABASE_URL', 'DATA_DIR', 'DB_POOL_SIZE', 'DB_STATEMENT_TIMEOUT_MS'] as const;

export type DatabaseConfig = Pick<AppConfig, (typeof DATABASE_VARIABLES)[number]>;

/**
 * The database variables alone, validated as loadConfig validates them: enough to apply
 * migrations. Nothing else is read, so KEY_HASH_SECRET (which migrations never use) is not
 * asked for.
 */
export function loadDatabaseConfig(env: NodeJS.ProcessEnv = process.env): DatabaseConfig {
  const raw = Object.fromEntries(
    Object.entries(env).filter(([name]) => (DATABASE_VARIABLES as readonly string[]).includes(name)),
  );
  const parsed = plainToInstance(AppConfig, raw);
  const errors = validateSync(parsed, { whitelist: true, forbidUnknownValues: true }).filter((e) =>
    (DATABASE_VARIABLES as readonly string[]).includes(e.property),
  );
  if (errors.length > 0) {
    const lines = errors.map((e) => `  ${e.property}: ${Object.values(e.constraints ?? {}).join('; ')}`);
    throw new InvalidConfiguration(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return {
    DATABASE_URL: parsed.DATABASE_URL,
    DATA_DIR: parsed.DATA_DIR,
    DB_POOL_SIZE: parsed.DB_POOL_SIZE,
    DB_STATEMENT_TIMEOUT_MS: parsed.DB_STATEMENT_TIMEOUT_MS,
  };
}
