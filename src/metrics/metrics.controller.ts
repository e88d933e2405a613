import { Controller, Get, Header } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import { ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { Registry } from 'prom-client';
import type { ServedOn } from '../common/listeners';
import { Metrics } from './metrics';

@ApiTags('operations')
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: Metrics) {}

  @Get()
  @RouteConfig({ servedOn: 'management' satisfies ServedOn })
  @Header('Content-Type', Registry.PROMETHEUS_CONTENT_TYPE)
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: 'Prometheus metrics',
    description:
      'Prometheus text format, without authentication: labels carry only bounded values (endpoint, outcome, state), never a key, ' +
      'digest or id. Served on the management listener (`MANAGEMENT_HOST`:`MANAGEMENT_PORT`, by default 127.0.0.1:9464), not on the public one, ' +
      'unless `MANAGEMENT_PORT` is the same as `PORT`.',
  })
  @ApiProduces('text/plain')
  @ApiOkResponse({
    description: 'The metrics, in the Prometheus text exposition format (version 0.0.4).',
    schema: { type: 'string', example: 'keyhouse_introspections_total{endpoint="introspect",outcome="valid"} 1027\n' },
  })
  @ApiNotFoundResponse({
    description: 'Asked on the public listener while the management listener is a listener of its own.',
  })
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
