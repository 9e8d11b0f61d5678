import net from 'node:net';
import { type CqlFrame, CqlFrameReader } from './cql-frames';

/**
 * A fault injector in front of one real CQL node: a TCP proxy that passes requests through untouched and reads the
 * node's answers frame by frame, so that at runtime it can
 * - delay a chosen fraction of responses by a chosen time (or a distribution: a function drawing the delay),
 * - delay a chosen fraction of prepared statements (EXECUTE, BATCH) before the node sees them: a statement that
 *   reaches its coordinator late, after a later one (what a hedged request's first try can do),
 * - stall the node: connections are accepted and requests forwarded, but no answer comes back until it resumes
 *   (a GC pause, a saturated disk), and
 * - reset every connection (RST), as a crashed node or a dropped network path does.
 * Every answer that is not an injected fault is the node's own bytes. A delayed response may overtake later ones on
 * its connection: CQL multiplexes by stream id, so a client must (and cassandra-driver does) accept that.
 * Written here because no maintained Node or Debian tool knows CQL framing (toxiproxy-style proxies delay whole TCP
 * chunks, which cannot single out one response among many multiplexed on a connection).
 */
export interface CqlProxyOptions {
  upstream: { host: string; port: number };
  /** Where to listen; port 0 picks a free one. */
  listen?: { host: string; port: number };
  /** Injected for reproducible tests and benches. */
  random?: () => number;
  /** Sees every chunk in both directions as it arrived, before any fault, with its connection's number. */
  tap?: (direction: 'request' | 'response', chunk: Buffer, connection: number) => void;
}

interface Delay {
  fraction: number;
  ms: () => number;
}
const NO_DELAY: Delay = { fraction: 0, ms: () => 0 };

function delay(fraction: number, ms: number | (() => number)): Delay {
  if (!(fraction >= 0 && fraction <= 1)) throw new RangeError(`fraction ${fraction} is not in 0..1`);
  return { fraction, ms: typeof ms === 'number' ? () => ms : ms };
}

/** EXECUTE, BATCH: the requests that run a prepared statement. */
const STATEMENTS = new Set([0x0a, 0x0d]);

export interface CqlProxyStats {
  connections: number;
  requests: number;
  responses: number;
  delayed: number;
  /** Requests held back before reaching the node, and of them those that have reached it since. */
  requestsDelayed: number;
  requestsDelivered: number;
  /** Responses held while the node was stalled (released when it resumes). */
  held: number;
  resets: number;
}

interface Pair {
  client: net.Socket;
  server: net.Socket;
}

export class CqlFaultProxy {
  readonly stats: CqlProxyStats = {
    connections: 0,
    requests: 0,
    responses: 0,
    delayed: 0,
    requestsDelayed: 0,
    requestsDelivered: 0,
    held: 0,
    resets: 0,
  };
  private readonly server = net.createServer((client) => this.accept(client));
  private readonly pairs = new Set<Pair>();
  private readonly random: () => number;
  private delay: Delay = NO_DELAY;
  private requestDelay: Delay = NO_DELAY;
  private stalled = false;
  private readonly heldBack: { pair: Pair; bytes: Buffer }[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly options: CqlProxyOptions) {
    this.random = options.random ?? Math.random;
  }

  async start(): Promise<{ host: string; port: number }> {
    const listen = this.options.listen ?? { host: '127.0.0.1', port: 0 };
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(listen.port, listen.host, () => resolve());
    });
    const address = this.server.address() as net.AddressInfo;
    return { host: address.address, port: address.port };
  }

  /** Delays `fraction` (0..1) of the responses by `ms`, a fixed time or a draw per response. */
  setDelay(fraction: number, ms: number | (() => number)): void {
    this.delay = delay(fraction, ms);
  }

  /**
   * Holds `fraction` of the prepared statements (EXECUTE, BATCH) for `ms` before they reach the node. Unprepared
   * QUERYs (the driver's own metadata reads on its control connection) pass: holding them would make the driver
   * see the node as busy and send it nothing else.
   */
  setRequestDelay(fraction: number, ms: number | (() => number)): void {
    this.requestDelay = delay(fraction, ms);
  }

  /** Stops answering (requests still reach the node); `false` releases what was held, in order. */
  stall(on: boolean): void {
    this.stalled = on;
    if (!on) for (const { pair, bytes } of this.heldBack.splice(0)) this.deliver(pair, bytes);
  }

  /** Resets every open connection, both sides, as a crashed node does. New connections are accepted. */
  resetConnections(): void {
    for (const pair of this.pairs) {
      pair.client.resetAndDestroy();
      pair.server.resetAndDestroy();
      this.stats.resets++;
    }
    this.pairs.clear();
    this.heldBack.length = 0;
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.resetConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    const connection = this.stats.connections++;
    const server = net.connect(this.options.upstream.port, this.options.upstream.host);
    // As the driver and the node set their own sockets: with Nagle's algorithm on, a small frame written while an
    // earlier one is unacknowledged waits for the peer's delayed ACK (40 ms on Linux), and every statement through
    // the proxy took 40 ms at the median.
    client.setNoDelay(true);
    server.setNoDelay(true);
    const pair: Pair = { client, server };
    this.pairs.add(pair);
    const requests = new CqlFrameReader();
    const responses = new CqlFrameReader();
    const close = () => {
      this.pairs.delete(pair);
      client.destroy();
      server.destroy();
    };
    client.on('error', close).on('close', close);
    server.on('error', close).on('close', close);
    client.on('data', (chunk: Buffer) => {
      this.options.tap?.('request', chunk, connection);
      // Whole frames only (an incomplete one waits for its tail), in one write per chunk as they came.
      const passing: Buffer[] = [];
      for (const frame of this.frames(requests, chunk, close)) {
        this.stats.requests++;
        if (!this.holdRequest(server, frame)) passing.push(frame.bytes);
      }
      if (passing.length > 0) server.write(passing.length === 1 ? (passing[0] as Buffer) : Buffer.concat(passing));
    });
    server.on('data', (chunk: Buffer) => {
      this.options.tap?.('response', chunk, connection);
      for (const frame of this.frames(responses, chunk, close)) {
        this.stats.responses++;
        this.respond(pair, frame);
      }
    });
  }

  private frames(reader: CqlFrameReader, chunk: Buffer, close: () => void): CqlFrame[] {
    try {
      return reader.push(chunk);
    } catch {
      close(); // not CQL: nothing sensible to forward
      return [];
    }
  }

  /** True when the request is held back (and sent later), false when it goes on now. */
  private holdRequest(server: net.Socket, frame: CqlFrame): boolean {
    const delay = this.requestDelay;
    if (STATEMENTS.has(frame.opcode) && delay.fraction > 0 && this.random() < delay.fraction) {
      this.stats.requestsDelayed++;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.stats.requestsDelivered++;
        if (!server.destroyed) server.write(frame.bytes);
      }, delay.ms());
      this.timers.add(timer);
      return true;
    }
    return false;
  }

  private respond(pair: Pair, frame: CqlFrame): void {
    // Server-pushed events (stream -1) are not answers: never delayed.
    if (frame.stream >= 0 && this.delay.fraction > 0 && this.random() < this.delay.fraction) {
      this.stats.delayed++;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.deliver(pair, frame.bytes);
      }, this.delay.ms());
      this.timers.add(timer);
      return;
    }
    this.deliver(pair, frame.bytes);
  }

  private deliver(pair: Pair, bytes: Buffer): void {
    if (this.stalled) {
      this.stats.held++;
      this.heldBack.push({ pair, bytes });
      return;
    }
    if (this.pairs.has(pair)) pair.client.write(bytes);
  }
}
