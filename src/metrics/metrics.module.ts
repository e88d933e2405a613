import { Global, Module } from '@nestjs/common';
import { Metrics } from './metrics';

/** Global: any module may record; the /metrics endpoint reads the same registry. */
@Global()
@Module({ providers: [Metrics], exports: [Metrics] })
export class MetricsModule {}
