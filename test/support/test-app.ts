import type { RequestListener } from 'node:http';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import inject, { type Response } from 'light-my-request';
import { AppOptions, createApp, managementServer } from '../../src/app';
import { AppConfig, loadConfig } from '../../src/config/config';
import { checkResponse, exempt, recordTally } from './openapi-validation';

export interface Call {
  key?: string | null;
  body?: unknown;
  form?: Record<string, string>;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  /**
   * Why this call's response is not checked against openapi/openapi.json. Only for
   * requests no client should send; every other response is checked.
   */
  skipOpenApiValidation?: string;
  /** `management`: the request reaches the management listener (/metrics), as Prometheus's would; the public one by default. */
  listener?: 'public' | 'management';
}

export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Record<string, string | string[] | undefined>;
  raw: string;
}

export const usingPostgres = Boolean(process.env.DATABASE_URL);
export const usingRedis = Boolean(process.env.REDIS_URL);

/**
 * The real service in-process, requests injected into its HTTP server's own request
 * listener: the one that hands the hot path's calls to HotPathServer.serve and every
 * other request to Nest's instance.
 * Embedded runs get a fresh in-memory database per app; PostgreSQL runs share the
 * run's database (see global-setup).
 */
export class TestApp {
  private constructor(
    readonly app: NestFastifyApplication,
    readonly env: AppConfig,
    readonly rootKey: string,
  ) {}

  static async start(overrides: Partial<AppConfig> = {}, options: AppOptions = {}): Promise<TestApp> {
    const rootKey = process.env.KEYHOUSE_TEST_ROOT_KEY!;
    const env = Object.assign(
      loadConfig({
        NODE_ENV: 'test',
        LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
        DATA_DIR: 'memory://',
        DATABASE_URL: process.env.DATABASE_URL,
        REDIS_URL: process.env.REDIS_URL,
        KEY_HASH_SECRET: process.env.KEYHOUSE_TEST_HASH_SECRET,
        BOOTSTRAP_ROOT_KEY: rootKey,
        // Suites send bad keys on purpose, all from one address and (with Redis) into one shared count:
        // the throttle of failed authentication is off unless a suite turns it on.
        AUTH_FAILURE_LIMIT: '0',
      }),
      overrides,
    );
    const app = await createApp(env, options);
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    return new TestApp(app, env, rootKey);
  }

  async call<T = any>(method: string, url: string, call: Call = {}): Promise<Reply<T>> {
    const key = call.key === undefined ? this.rootKey : call.key;
    const headers: Record<string, string> = { ...(key ? { authorization: `Bearer ${key}` } : {}), ...call.headers };
    let payload: string | undefined;
    if (call.form) {
      headers['content-type'] ??= 'application/x-www-form-urlencoded';
      payload = new URLSearchParams(call.form).toString();
    } else if (call.body !== undefined) {
      headers['content-type'] ??= 'application/json';
      payload = typeof call.body === 'string' ? call.body : JSON.stringify(call.body);
    }
    const server = (call.listener === 'management' && managementServer(this.app)) || this.app.getHttpServer();
    const listener = server.listeners('request')[0] as RequestListener;
    const res = await inject(listener, {
      method: method as 'GET',
      url,
      headers,
      payload,
      query: call.query,
      payloadAsStream: true,
    });
    res.body = await payloadOf(res);
    let body: unknown = res.body;
    try {
      body = res.body.length > 0 ? JSON.parse(res.body) : undefined;
    } catch {
      // not JSON: keep the text
    }
    const reply = { status: res.statusCode, body: body as T, headers: res.headers as Reply['headers'], raw: res.body };
    if (call.skipOpenApiValidation) exempt();
    else checkResponse({ method, url, requestHeaders: headers, ...reply });
    return reply;
  }

  get<T = any>(url: string, call?: Call) {
    return this.call<T>('GET', url, call);
  }
  post<T = any>(url: string, body?: unknown, call?: Call) {
    return this.call<T>('POST', url, { ...call, body: body ?? {} });
  }
  patch<T = any>(url: string, body: unknown, call?: Call) {
    return this.call<T>('PATCH', url, { ...call, body });
  }
  delete<T = any>(url: string, call?: Call) {
    return this.call<T>('DELETE', url, call);
  }

  async close(): Promise<void> {
    recordTally();
    await this.app.close();
  }
}

/**
 * The payload as text. A change stream (text/event-stream) never ends: what it sent first (up to
 * its `ready` event, or for half a second) stands for it, and the stream is let go.
 */
export async function payloadOf(res: Response): Promise<string> {
  const stream = res.stream();
  const chunks: Buffer[] = [];
  if (!String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
    for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
    return Buffer.concat(chunks).toString();
  }
  await new Promise<void>((done) => {
    const timer = setTimeout(done, 500);
    stream.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (/\nevent: ready\n[^]*\n\n/.test(`\n${Buffer.concat(chunks).toString()}`)) {
        clearTimeout(timer);
        done();
      }
    });
  });
  stream.destroy();
  return Buffer.concat(chunks).toString();
}
