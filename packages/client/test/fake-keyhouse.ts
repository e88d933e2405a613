import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** An introspection answer the fake gives for a token. */
export type Answer = Record<string, unknown> & { active: boolean };

/**
 * A small stand-in for Keyhouse, for the verifier's own tests: `POST /v1/introspect` answers
 * from `answers` (by token), `GET /v1/key-changes` is an event stream the test writes to.
 */
export class FakeKeyhouse {
  readonly answers = new Map<string, Answer | ((body: Record<string, string>) => Answer)>();
  readonly introspections: Record<string, string>[] = [];
  readonly streamRequests: IncomingMessage[] = [];
  readonly sockets = new Set<Socket>();
  /** The connections introspections came in on. */
  readonly introspectSockets = new Set<Socket>();
  connections = 0;
  /** Delay before answering an introspection. */
  delayMs = 0;
  /** Status for introspections (200 unless a test breaks it). */
  introspectStatus = 200;
  streamStatus = 200;
  private streams: ServerResponse[] = [];
  private seq = 0;
  private server!: Server;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.connections++;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((listening) => this.server.listen(0, '127.0.0.1', listening));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Sends a change event to every open stream. */
  emit(event: string, data: unknown, epoch = 'e1'): void {
    const text = `id: ${epoch}-${++this.seq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const res of this.streams) res.write(text);
  }

  get openStreams(): number {
    return this.streams.length;
  }

  /** Ends every open stream, as a restarting instance would. */
  dropStreams(): void {
    for (const res of this.streams) res.destroy();
    this.streams = [];
  }

  async close(): Promise<void> {
    this.dropStreams();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((closed) => this.server.close(() => closed()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.url === '/v1/key-changes') {
      this.streamRequests.push(req);
      if (this.streamStatus !== 200) {
        res.writeHead(this.streamStatus).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
      res.write('retry: 50\n\n');
      res.write(`event: ready\ndata: ${JSON.stringify({ stream: 'e1', heartbeat_seconds: 15 })}\n\n`);
      this.streams.push(res);
      res.on('close', () => (this.streams = this.streams.filter((s) => s !== res)));
      return;
    }
    if (req.url === '/v1/introspect' && req.method === 'POST') {
      let text = '';
      for await (const chunk of req) text += String(chunk);
      const body = JSON.parse(text) as Record<string, string>;
      this.introspections.push(body);
      this.introspectSockets.add(req.socket);
      if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
      if (this.introspectStatus !== 200) {
        res.writeHead(this.introspectStatus, { 'content-type': 'application/problem+json' }).end('{}');
        return;
      }
      const answer = this.answers.get(body.token);
      const value = typeof answer === 'function' ? answer(body) : (answer ?? { active: false, reason: 'not_found' });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      return;
    }
    res.writeHead(404).end();
  }
}

/** An active answer as Keyhouse gives it. */
export function active(keyId: string, clientId: string, extra: Record<string, unknown> = {}): Answer {
  return {
    active: true,
    scope: 'orders:read',
    client_id: clientId,
    sub: keyId,
    token_type: 'api_key',
    iat: Math.floor(Date.now() / 1000),
    environment: 'live',
    key_name: 'checkout',
    metadata: { team: 'payments' },
    ...extra,
  };
}

/** Polls `condition` every few milliseconds until it holds or `ms` pass. */
export async function eventually(condition: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
