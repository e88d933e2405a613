import { DynamicModule, Global, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { AuditModule } from './audit/audit.module';
import { ClientsModule } from './clients/clients.module';
import { ProblemFilter } from './common/problem.filter';
import { createValidationPipe } from './common/validation';
import { AppConfig } from './config/config';
import { DataDirInUse } from './database/data-dir-lock';
import { dataSourceOptions, openEmbeddedDatabase, runMigrations } from './database/data-source';
import { HealthModule } from './health/health.module';
import { HotPathModule } from './hot-path/hot-path.module';
import { KeysModule } from './keys/keys.module';
import { MetricsModule } from './metrics/metrics.module';
import { ScopesModule } from './scopes/scopes.module';
import { ENTITIES } from './store/entities';
import { UsageModule } from './usage/usage.module';

@Global()
@Module({})
class EnvironmentModule {
  static of(env: AppConfig): DynamicModule {
    return { module: EnvironmentModule, providers: [{ provide: AppConfig, useValue: env }], exports: [AppConfig] };
  }
}

@Module({})
export class AppModule {
  static forEnvironment(env: AppConfig, logger: Logger): DynamicModule {
    return {
      module: AppModule,
      imports: [
        EnvironmentModule.of(env),
        MetricsModule,
        TypeOrmModule.forRootAsync({
          useFactory: async () => ({
            ...dataSourceOptions(
              env,
              env.DATABASE_URL ? undefined : await openEmbeddedDatabase(env),
              logger.child({ component: 'database' }),
            ),
            entities: ENTITIES,
            retryAttempts: 2,
            retryDelay: 1000,
            // A data folder held by another process stays held: say so at once.
            toRetry: (error: unknown) => !(error instanceof DataDirInUse),
          }),
          dataSourceFactory: async (options) => {
            const dataSource = await new DataSource(options!).initialize();
            if (env.MIGRATIONS_RUN) {
              await runMigrations(dataSource).catch(async (error: unknown) => {
                await dataSource.destroy();
                throw error;
              });
            }
            return dataSource;
          },
        }),
        AuditModule,
        ClientsModule,
        ScopesModule,
        KeysModule,
        UsageModule,
        HotPathModule,
        HealthModule,
      ],
      providers: [
        { provide: APP_PIPE, useFactory: createValidationPipe },
        { provide: APP_FILTER, useClass: ProblemFilter },
      ],
    };
  }
}
