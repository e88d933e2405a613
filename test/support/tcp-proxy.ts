import { createServer, Server, Socket } from 'node:net';

/**
 * How the relay treats traffic: `pass` forwards it at once; `slow` holds every chunk
 * for `latencyMs` in each direction; `blackhole` accepts connections and data but
 * forwards nothing until the mode changes (a stalled network: what it held is then
 * delivered, in order, as TCP would after retransmitting).
 */
export type ProxyMode = { kind: 'pass' } | { kind: 'slow'; latencyMs: number } | { kind: 'blackhole' };

/** One direction of one connection: chunks leave in the order they came, never sooner than the mode allows. */
interface Lane {
  to: Socket;
  /** When the last chunk sent down this lane is due. */
  dueAt: number;
  /** Forwards nothing, ever: a connection whose path died without either end being told. */
  stalled: boolean;
}

/**
 * A TCP relay in front of a server (PostgreSQL, Redis) that a test can cut and
 * restore on the same port, slow down, or turn into a black hole: a real outage or a
 * real slow network, as the driver sees one.
 */
export class TcpProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private mode: ProxyMode = { kind: 'pass' };
  private held: Array<{ lane: Lane; chunk: Buffer }> = [];
  private readonly lanes = new Set<Lane>();
  port = 0;

  private constructor(
    private readonly host: string,
    private readonly targetPort: number,
  ) {}

  static async start(target: URL, defaultPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(target.hostname, Number(target.port || defaultPort));
    await proxy.listen();
    return proxy;
  }

  /** `url` with its host and port replaced by the proxy's. */
  address(url: string): string {
    const through = new URL(url);
    through.hostname = '127.0.0.1';
    through.port = String(this.port);
    return through.toString();
  }

  /** Connections open through the relay now (each counts once, not its two sockets). */
  get connections(): number {
    return this.sockets.size / 2;
  }

  /** Changes how traffic is forwarded, for the connections open now and later. Leaving `blackhole` delivers what it held. */
  setMode(mode: ProxyMode): void {
    this.mode = mode;
    if (mode.kind === 'blackhole') return;
    const held = this.held;
    this.held = [];
    for (const { lane, chunk } of held) this.deliver(lane, chunk);
  }

  /**
   * The connections open now go silent for good, both ways, and neither end is told (as
   * when a NAT or firewall forgets them); connections made later work.
   */
  stallOpenConnections(): void {
    for (const lane of this.lanes) lane.stalled = true;
  }

  /** Accepts connections again (on the same port after the first time); does nothing while listening. */
  listen(): Promise<void> {
    if (this.server) return Promise.resolve();
    const server = createServer((downstream) => {
      const upstream = new Socket();
      upstream.connect(this.targetPort, this.host);
      for (const s of [downstream, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      const up: Lane = { to: upstream, dueAt: 0, stalled: false };
      const down: Lane = { to: downstream, dueAt: 0, stalled: false };
      this.lanes.add(up).add(down);
      downstream.on('close', () => {
        this.lanes.delete(up);
        this.lanes.delete(down);
      });
      downstream.on('data', (chunk: Buffer) => this.deliver(up, chunk));
      upstream.on('data', (chunk: Buffer) => this.deliver(down, chunk));
      downstream.on('close', () => upstream.destroy());
      upstream.on('close', () => downstream.destroy());
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        this.port = (server.address() as { port: number }).port;
        resolve();
      });
    });
  }

  /** Stops accepting and drops every open connection. */
  stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    this.held = [];
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }

  private deliver(lane: Lane, chunk: Buffer): void {
    if (lane.stalled) return;
    if (this.mode.kind === 'blackhole') {
      this.held.push({ lane, chunk });
      return;
    }
    const now = Date.now();
    const latency = this.mode.kind === 'slow' ? this.mode.latencyMs : 0;
    const dueAt = Math.max(now + latency, lane.dueAt);
    lane.dueAt = dueAt;
    const write = () => {
      if (!lane.to.destroyed) lane.to.write(chunk);
    };
    if (dueAt <= now) write();
    else setTimeout(write, dueAt - now);
  }
}
