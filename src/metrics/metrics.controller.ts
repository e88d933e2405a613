import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { Registry } from 'prom-client';
import { Metrics } from './metrics';

@ApiTags('operations')
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: Metrics) {}

  @Get()
  @Header('Content-Type', Registry.PROMETHEUS_CONTENT_TYPE)
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: 'Prometheus metrics',
    description:
      'Prometheus text format, without authentication: labels carry only bounded values (endpoint, outcome, state), never a key, ' +
      'digest or id. Expose it only where your Prometheus scrapes, not through the public load balancer.',
  })
  @ApiProduces('text/plain')
  @ApiOkResponse({
    description: 'The metrics, in the Prometheus text exposition format (version 0.0.4).',
    schema: { type: 'string', example: 'keyhouse_introspections_total{endpoint="introspect",outcome="valid"} 1027\n' },
  })
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
