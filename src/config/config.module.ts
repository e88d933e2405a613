import { Global, Module } from '@nestjs/common';
import { Environment, loadEnvironment } from './config';

/** Provides the validated {@link Environment}; tests override it with their own values. */
@Global()
@Module({
  providers: [{ provide: Environment, useFactory: () => loadEnvironment(process.env) }],
  exports: [Environment],
})
export class ConfigModule {}
