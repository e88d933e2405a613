import { Global, Module } from '@nestjs/common';
import { CredentialsModule } from '../credentials/credentials.module';
import { Metrics } from './metrics';
import { MetricsController } from './metrics.controller';
import { MetricsSources } from './metrics-sources';

/** Global: any module may record; the /metrics endpoint reads the same registry. */
@Global()
@Module({
  imports: [CredentialsModule],
  controllers: [MetricsController],
  providers: [Metrics, MetricsSources],
  exports: [Metrics],
})
export class MetricsModule {}
