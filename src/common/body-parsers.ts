import { isUtf8 } from 'node:buffer';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { errorCodes, type FastifyRequest } from 'fastify';
import secureJson from 'secure-json-parse';
import { BadInput, UnsupportedMediaType } from './errors';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `true` for the routes that document a form-encoded body (introspection); every other route refuses one with a 415. */
    formBody?: boolean;
  }
}

/** Deeper than any body the API takes (metadata: 5 levels, inside a body: 6); deep enough for none to notice. */
export const MAX_BODY_DEPTH = 32;

type Done = (err: Error | null, body?: unknown) => void;

/**
 * The body parsers, in place of the framework's: JSON everywhere, forms only where a
 * route documents one. Both refuse bytes that are not UTF-8 (the framework would turn
 * them into U+FFFD and store that), and JSON nested deeper than MAX_BODY_DEPTH (which
 * would exhaust the stack of the transformer behind the validation pipe). The hot path
 * reads its bodies with the same two functions.
 */
export function useBodyParsers(app: NestFastifyApplication, bodyLimit: number): void {
  app.useBodyParser('application/json', { bodyLimit }, (_request: FastifyRequest, body: Buffer, done: Done) =>
    parsed(parseJsonBody, body, done),
  );
  app.useBodyParser(
    'application/x-www-form-urlencoded',
    { bodyLimit },
    (request: FastifyRequest, body: Buffer, done: Done) => {
      if (!request.is404 && request.routeOptions.config?.formBody !== true) {
        return done(new UnsupportedMediaType('Send the body as application/json: only introspection takes a form.'));
      }
      parsed(parseFormBody, body, done);
    },
  );
}

function parsed(parse: (body: Buffer) => unknown, body: Buffer, done: Done): void {
  let value: unknown;
  try {
    value = parse(body);
  } catch (err) {
    return done(err as Error);
  }
  done(null, value);
}

const JSON_OPTIONS = { protoAction: 'error', constructorAction: 'error' } as const;

/** A JSON body's value; throws the error its sender is answered (as Fastify's own parser, with these checks added). */
export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) throw new errorCodes.FST_ERR_CTP_EMPTY_JSON_BODY();
  if (!isUtf8(body)) throw new BadInput('The request body is not valid UTF-8.');
  // A body this short cannot be nested that deep: the hot path's bodies skip the scan.
  if (body.length > 2 * MAX_BODY_DEPTH && nestedDeeperThan(body, MAX_BODY_DEPTH)) {
    throw new BadInput(`The request body is nested deeper than ${MAX_BODY_DEPTH} levels.`);
  }
  let value: unknown;
  try {
    value = secureJson.parse(body.toString('utf8'), JSON_OPTIONS);
  } catch {
    throw new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY();
  }
  // A field given twice would be read as its last value, where another reader of the same
  // body (a gateway, a logger, the caller's own code) may take the first: refused everywhere,
  // the hot path included, so no path reads such a body its own way.
  if (membersIn(body) > keysIn(value)) throw new BadInput('The request body names a field twice.');
  return value;
}

/** A form body's fields, a repeated field as an array of its values. */
export function parseFormBody(body: Buffer): Record<string, string | string[]> {
  if (!isUtf8(body)) throw new BadInput('The request body is not valid UTF-8.');
  const fields: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (const [name, value] of new URLSearchParams(body.toString('utf8'))) {
    // As in a JSON body: a field named __proto__ could replace the prototype of an object it is copied onto.
    if (name === '__proto__' || name === 'constructor')
      throw new BadInput(`The request body has a field named ${name}.`);
    const before = fields[name];
    fields[name] = before === undefined ? value : ([] as string[]).concat(before, value);
  }
  return fields;
}

/** Whether JSON text nests objects and arrays deeper than `max`, brackets inside strings aside. */
export function nestedDeeperThan(json: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const byte = json[i];
    if (inString) {
      if (byte === 0x5c)
        i++; // backslash: the next byte is escaped
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) inString = true;
    else if (byte === 0x7b || byte === 0x5b) {
      if (++depth > max) return true;
    } else if (byte === 0x7d || byte === 0x5d) depth--;
  }
  return false;
}

const isJsonSpace = (byte: number) => byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;

/** The object members JSON text writes: strings followed by a colon. More of them than keys parsed means a name was repeated. */
export function membersIn(json: Uint8Array): number {
  let members = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const byte = json[i];
    if (!inString) {
      if (byte === 0x22) inString = true;
      continue;
    }
    if (byte === 0x5c) i++;
    else if (byte === 0x22) {
      inString = false;
      let next = i + 1;
      while (next < json.length && isJsonSpace(json[next])) next++;
      if (json[next] === 0x3a) members++;
    }
  }
  return members;
}

/** The keys of every object in a parsed value (counted without building arrays: the hot path's bodies pass here). */
function keysIn(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  let keys = 0;
  if (Array.isArray(value)) {
    for (const item of value) keys += keysIn(item);
    return keys;
  }
  for (const name in value) keys += 1 + keysIn((value as Record<string, unknown>)[name]);
  return keys;
}
