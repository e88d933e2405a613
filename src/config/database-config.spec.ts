import { InvalidConfiguration } from './config';
import { loadDatabaseConfig } from './database-config';

describe('loadDatabaseConfig (what migrations read)', () => {
  it('should take DATABASE_URL without KEY_HASH_SECRET, and the defaults of the rest', () => {
    expect(loadDatabaseConfig({ DATABASE_URL: 'postgres://db/keyhouse' })).toEqual({
      DATABASE_URL: 'postgres://db/keyhouse',
      DATA_DIR: './data',
      DB_POOL_SIZE: 10,
      DB_STATEMENT_TIMEOUT_MS: 5000,
    });
  });

  it('should ignore every variable it does not read, bad ones included', () => {
    expect(loadDatabaseConfig({ DATA_DIR: '/srv/keyhouse', PORT: 'abc', KEY_HASH_SECRET: 'short' })).toEqual({
      DATABASE_URL: undefined,
      DATA_DIR: '/srv/keyhouse',
      DB_POOL_SIZE: 10,
      DB_STATEMENT_TIMEOUT_MS: 5000,
    });
  });

  it('should refuse a bad database variable, naming it', () => {
    const load = () => loadDatabaseConfig({ DATABASE_URL: 'mysql://db/keyhouse', DB_POOL_SIZE: '0' });
    expect(load).toThrow(InvalidConfiguration);
    expect(load).toThrow(/DATABASE_URL: DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ URL/);
    expect(load).toThrow(/DB_POOL_SIZE: /);
  });
});
