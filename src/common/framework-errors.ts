import { randomUUID } from 'node:crypto';
import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
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
  HPE_HEADER_OVERFLOW: {
    code: 'request-header-fields-too-large',
    detail: 'The request headers are larger than the service accepts.',
  },
  ERR_HTTP_REQUEST_TIMEOUT: { code: 'request-timeout', detail: 'The request did not arrive in time.' },
};

/**
 * Requests Node's HTTP parser refuses (headers over its size limit, a malformed request
 * line, a timeout) never reach Fastify: answered here, on the socket, as problem details
 * with the security headers. The error is logged by its code alone: its raw packet holds
 * the request's headers, keys included.
 */
/** How long a refused connection's remaining input is read before the socket is dropped. */
const CLIENT_ERROR_LINGER_MS = 2000;
/** Sockets whose refusal has been written. */
const answered = new WeakSet<Socket>();

export function clientErrorHandler(logger: Logger, securityHeaders: ReadonlyArray<[string, string]>) {
  return (err: NodeJS.ErrnoException, socket: Socket): void => {
    // The parser reports each further chunk of an input it has refused: the first report was answered.
    if (err.code === 'ECONNRESET' || socket.destroyed || answered.has(socket)) return;
    const { status, headers, body } = parserRefusal(err.code, logger, securityHeaders);
    if (!socket.writable) return void socket.destroy(err);
    const lines = [
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
      ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    ];
    answered.add(socket);
    socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
    // What the client is still sending (the rest of an oversized header) is read and dropped until it
    // has the answer and closes: a socket closed with unread input resets the connection, and the client
    // would lose the answer with it (Node.js 24 leaves that input unread).
    socket.resume();
    setTimeout(() => socket.destroy(), CLIENT_ERROR_LINGER_MS).unref();
  };
}

/** The problem answered for a request refused before any route: a status, its headers (Connection: close among them) and the JSON body. */
function parserRefusal(
  errorCode: string | undefined,
  logger: Logger,
  securityHeaders: ReadonlyArray<[string, string]>,
) {
  const { code, detail } = CLIENT_ERRORS[errorCode ?? ''] ?? {
    code: 'validation-failed' as const,
    detail: 'The request could not be read.',
  };
  const { status, title } = PROBLEM_TYPES[code];
  const requestId = randomUUID();
  logger.debug({ request_id: requestId, code: errorCode, status }, 'request refused by the HTTP parser');
  const body = JSON.stringify({ type: problemType(code), title, status, detail, request_id: requestId });
  const headers: Record<string, string> = {
    Connection: 'close',
    'Content-Type': PROBLEM_CONTENT_TYPE,
    'Content-Length': String(Buffer.byteLength(body)),
    'X-Request-Id': requestId,
  };
  for (const [name, value] of securityHeaders) headers[name] = value;
  return { status, headers, body };
}

/**
 * Node's parser would drop every header past its count limit (2,000 by default) without a
 * word, a second Authorization header among them: the server is made without that limit
 * (its 16 KiB size limit still holds, a 431), and a request with more headers than
 * MAX_HEADER_COUNT is refused here, with a 431 like one over the size. Answers and returns
 * true for such a request, else false.
 */
export function tooManyHeaders(logger: Logger, securityHeaders: ReadonlyArray<[string, string]>) {
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.rawHeaders.length <= 2 * MAX_HEADER_COUNT) return false;
    const { status, headers, body } = parserRefusal('HPE_HEADER_OVERFLOW', logger, securityHeaders);
    res.shouldKeepAlive = false;
    res.writeHead(status, headers);
    res.end(body);
    return true;
  };
}

/** Node's own default count: no gateway sends more. */
export const MAX_HEADER_COUNT = 2000;
