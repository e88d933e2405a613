import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { Metrics } from './metrics';

/** The methods OpenTelemetry's `http.request.method` names; any other is `_OTHER`. */
const KNOWN_METHODS = new Set(['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE']);

/**
 * The onResponse hook that times every request Nest's Fastify instance answers, by
 * method, route template (`/v1/keys/:id`, never the path itself) and status. The hot
 * routes are counted by their own tallies instead (keyhouse_hot_path_duration_seconds):
 * they come here only when refused before reaching the hot path, and are skipped.
 */
export function requestDuration(metrics: Metrics) {
  const histogram = metrics.httpRequestDuration;
  return (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    if (request.routeOptions.config?.hotPath) return done();
    const route = request.routeOptions.url;
    histogram.observe(
      {
        http_request_method: KNOWN_METHODS.has(request.method) ? request.method : '_OTHER',
        // No route matched (a 404): OpenTelemetry leaves http.route out rather than record the path.
        ...(route === undefined ? {} : { http_route: route }),
        http_response_status_code: reply.statusCode,
      },
      reply.elapsedTime / 1000,
    );
    done();
  };
}
