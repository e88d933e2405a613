import { createServer, Server, Socket } from 'node:net';

/**
 * A TCP relay in front of a server (PostgreSQL, Redis) that a test can cut and
 * restore on the same port: a real outage, as the driver sees one.
 */
export class TcpProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
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
      downstream.pipe(upstream).pipe(downstream);
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
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
}
