import { isIP } from 'node:net';
import { compile } from '@fastify/proxy-addr';
import { secretListProblem, secretProblem } from './key-hash-secrets';

/**
 * The checks of AppConfig's variables that class-validator has no decorator for. Each takes
 * the raw value and answers null when it is good, else what is wrong, said after the
 * variable's name. Only values that are no secret are quoted back.
 */

const list = (value: string) =>
  value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);

const quote = (text: string) => JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export function hostProblem(value: unknown): string | null {
  if (typeof value !== 'string') return 'must be an address or a host name';
  if (isIP(value) !== 0 || HOSTNAME.test(value)) return null;
  return `must be an IPv4 or IPv6 address or a host name (such as 0.0.0.0, 127.0.0.1 or ::), not ${quote(value)}`;
}

/** A URL with one of these protocols; the value is never quoted (it may hold a password). */
export function urlProblem(protocols: string[]): (value: unknown) => string | null {
  const shown = protocols.map((p) => `${p}//`).join(' or ');
  return (value) => {
    if (typeof value !== 'string') return `must be a ${shown} URL`;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return `must be a ${shown} URL (this one does not parse as a URL; characters such as @ : / in a password must be percent-encoded)`;
    }
    if (!protocols.includes(url.protocol)) return `must be a ${shown} URL`;
    if (url.hostname === '') return `must be a ${shown} URL with a host`;
    return null;
  };
}

/** Each entry an address or CIDR (or proxy-addr's names `loopback`, `linklocal`, `uniquelocal`). */
export function trustedProxiesProblem(value: unknown): string | null {
  if (typeof value !== 'string') return 'must be a comma-separated list of addresses or CIDRs';
  for (const entry of list(value)) {
    try {
      compile(entry);
    } catch {
      return `has ${quote(entry)}, which is not an IPv4 or IPv6 address or CIDR (such as 10.0.0.0/8 or fd00::/8)`;
    }
  }
  return null;
}

/** Each entry an origin as a browser sends it: scheme, host and port, no path, no trailing slash. */
export function corsOriginProblem(value: unknown): string | null {
  if (typeof value !== 'string') return 'must be a comma-separated list of origins';
  for (const entry of list(value)) {
    if (entry === '*') return 'may not be *: list the origins (such as https://console.example.com)';
    let origin: string | undefined;
    try {
      const url = new URL(entry);
      origin = url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : undefined;
    } catch {
      origin = undefined;
    }
    if (origin !== entry)
      return `has ${quote(entry)}, which is not an origin: scheme, host and port only, such as https://console.example.com${
        origin ? ` (${origin})` : ''
      }`;
  }
  return null;
}

export function singleSecretProblem(value: unknown): string | null {
  return typeof value === 'string' ? secretProblem(value) : 'must be a string';
}

export function keyHashSecretsProblem(value: unknown): string | null {
  return typeof value === 'string' ? secretListProblem(value) : 'must be a string';
}
