import { Global, Module } from '@nestjs/common';
import { Metrics } from './metrics';
import { MetricsController } from './metrics.controller';

/**
 * Global: any module may record; the /metrics endpoint reads the same registry. The
 * gauges read at scrape time are pointed at their sources by the modules that own them
 * (the pool by the store, the key cache by credentials).
 */
@Global()
@Module({
  controllers: [MetricsController],
  providers: [Metrics],
  exports: [Metrics],
})
export class MetricsModule {}
