import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { NotFound, PROBLEM_TYPES, ProblemCode } from './errors';
import { PROBLEM_CONTENT_TYPE, problemType } from './problem';
import { sendProblem } from './send-problem';

/** A path that cannot be decoded, or whose parameter is longer than the router takes: as a path id that is not a UUID, it names nothing. */
const NAMES_NOTHING = new Set(['FST_ERR_BAD_URL', 'FST_ERR_MAX_PARAM_LENGTH']);

/**
 * What the router refuses before any route runs, as problem details like every other
 * error: a path that is not valid percent-encoding (or not UTF-8 once decoded), or whose
 * parameter is over 200 characters, is a 404. Forward auth included: a gateway may ignore the body.
 */
export function frameworkErrorHandler(securityHeaders: ReadonlyArray<[string, string]>) {
  return (err: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    // No route, so no onSend hook: its headers are set here.
    void reply.header('X-Request-Id', request.id);
    for (const [name, value] of securityHeaders) void reply.header(name, value);
    sendProblem(NAMES_NOTHING.has(err.code) ? new NotFound('Nothing exists at that path.') : err, request, reply);
  };
}

const CLIENT_ERRORS: Record<string, { code: ProblemCode; detail: string }> = {
  HPE_HEADER_OVERFLOW: { code: 'request-header-fields-too-large', detail: 'The request headers are larger than the service accepts.' },
  ERR_HTTP_REQUEST_TIMEOUT: { code: 'request-timeout', detail: 'The request did not arrive in time.' },
};

/**
 * Requests Node's HTTP parser refuses (headers over its size limit, a malformed request
 * line, a timeout) never reach Fastify: answered here, on the socket, as problem details
 * with the security headers. The error is logged by its code alone: its raw packet holds
 * the request's headers, keys included.
 */
export function clientErrorHandler(logger: Logger, securityHeaders: ReadonlyArray<[string, string]>) {
  return (err: NodeJS.ErrnoException, socket: Socket): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const { code, detail } = CLIENT_ERRORS[err.code ?? ''] ?? { code: 'validation-failed' as const, detail: 'The request could not be read.' };
    const { status, title } = PROBLEM_TYPES[code];
    const requestId = randomUUID();
    logger.debug({ request_id: requestId, code: err.code, status }, 'request refused by the HTTP parser');
    if (!socket.writable) return void socket.destroy(err);
    const body = JSON.stringify({ type: problemType(code), title, status, detail, request_id: requestId });
    const headers = [
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
      'Connection: close',
      `Content-Type: ${PROBLEM_CONTENT_TYPE}`,
      `Content-Length: ${Buffer.byteLength(body)}`,
      `X-Request-Id: ${requestId}`,
      ...securityHeaders.map(([name, value]) => `${name}: ${value}`),
    ];
    socket.end(`${headers.join('\r\n')}\r\n\r\n${body}`);
  };
}
