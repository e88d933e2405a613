import type { IncomingMessage } from 'node:http';
import { errorCodes } from 'fastify';

/** What a body's content type says it is, among those the hot path reads. */
export type BodyKind = 'json' | 'form';

/** Content types the hot path's calls are sent with, lower-cased, and the kind of each: the common spellings, looked up at once. */
const COMMON_TYPES = new Map<string, BodyKind>([
  ['application/json', 'json'],
  ['application/json; charset=utf-8', 'json'],
  ['application/json;charset=utf-8', 'json'],
  ['application/x-www-form-urlencoded', 'form'],
  ['application/x-www-form-urlencoded; charset=utf-8', 'form'],
  ['application/x-www-form-urlencoded;charset=utf-8', 'form'],
]);
const TOKEN = "[\\w!#$%&'*+.^`|~-]+";
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}$`);

/**
 * The kind of body a Content-Type names (its media type, parameters aside, as RFC 9110
 * §8.3.1 has it), or null for one the hot path does not read.
 */
export function bodyKind(contentType: string): BodyKind | null {
  const lower = contentType.toLowerCase();
  const common = COMMON_TYPES.get(lower);
  if (common !== undefined) return common;
  const essence = lower.split(';', 1)[0].trim();
  if (!MEDIA_TYPE.test(essence)) return null;
  return essence === 'application/json' ? 'json' : essence === 'application/x-www-form-urlencoded' ? 'form' : null;
}

/** Whether the request says it carries a body: a length other than 0, or a transfer coding. */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * Reads a request's body whole, as Fastify's content-type parsers do: a declared length over
 * `limit` is a 413 before anything is read, as is a body that grows past it; a body whose
 * length differs from its Content-Length is a 400. `gone` is called instead when the caller
 * goes away first.
 */
export function readBody(
  req: IncomingMessage,
  limit: number,
  done: (err: Error | null, body?: Buffer) => void,
  gone: () => void,
): void {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
  const chunks: Buffer[] = [];
  let received = 0;
  const onData = (chunk: Buffer) => {
    received += chunk.length;
    if (received > limit) {
      stop();
      return done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
    }
    chunks.push(chunk);
  };
  const onEnd = () => {
    stop();
    if (!Number.isNaN(declared) && received !== declared)
      return done(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
    done(null, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, received));
  };
  const onGone = () => {
    stop();
    gone();
  };
  const stop = () => {
    req.removeListener('data', onData);
    req.removeListener('end', onEnd);
    req.removeListener('error', onGone);
    req.removeListener('close', onGone);
  };
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('error', onGone);
  req.on('close', onGone);
}
