import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP proxy in front of a real server that can fail on purpose: the next N requests get a chosen status
 * (429, 503, 401...) or a delay, the rest pass through untouched. Fault injection for the real registry, not a
 * stand-in for it: every answer that is not an injected fault comes from the real server. Tests and `npm run chaos`
 * use it in front of the schema registry.
 */
export class FaultyProxy {
  readonly requests: string[] = [];
  private failures: { status: number; headers?: Record<string, string> }[] = [];
  private delayMs = 0;
  private server: http.Server | undefined;

  constructor(private readonly target: string) {}

  async start(port = 0): Promise<string> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server?.listen(port, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /**
   * The server gone for `ms`, as a stopped process looks to its clients: open connections reset, new ones refused;
   * then back on the same port. (The real registry is in-memory: stopping it would lose every schema.)
   */
  async outage(ms: number): Promise<void> {
    const server = this.server;
    if (!server) throw new Error('the proxy is not started');
    const port = (server.address() as AddressInfo).port;
    const closed = new Promise((resolve) => server.close(resolve));
    server.closeAllConnections();
    await closed;
    await new Promise((resolve) => setTimeout(resolve, ms));
    await this.start(port);
  }

  failNext(count: number, status: number, headers?: Record<string, string>): void {
    for (let i = 0; i < count; i++) this.failures.push({ status, headers });
  }

  delay(ms: number): void {
    this.delayMs = ms;
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.requests.push(`${req.method} ${req.url}`);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    const failure = this.failures.shift();
    if (failure) {
      res.writeHead(failure.status, { 'content-type': 'application/json', ...failure.headers });
      res.end(JSON.stringify({ error_code: failure.status, message: 'injected fault' }));
      return;
    }
    const upstream = await fetch(`${this.target}${req.url}`, {
      method: req.method,
      headers: { 'content-type': req.headers['content-type'] ?? 'application/json' },
      body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
    });
    res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
    res.end(Buffer.from(await upstream.arrayBuffer()));
  }
}
