import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream, readdirSync, readFileSync, type WriteStream } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { processCpuSeconds } from '../stack/process';
import type { LambdaRuntime } from './artifacts';
import { LambdaRunError } from './errors';
import { createSandboxLimits, type SandboxLimits } from './sandbox-limits';
import type { FunctionDefinition } from './template';

/** The runtime's entry point (dev/lambda/bootstrap): Lambda's nodejs bootstrap, heap flags from MemorySize. */
const BOOTSTRAP = path.join(path.dirname(new URL(import.meta.url).pathname), 'bootstrap');

export interface SandboxOptions {
  definition: FunctionDefinition;
  runtime: LambdaRuntime;
  /** The function's variables: the template's, completed for a local run (dev/lambda/local-environment.ts). */
  environment: Record<string, string>;
  /** Where RIE's output is appended: its platform lines (START, END, REPORT) and the function's own logs. */
  logFile: string;
  /** Instead of the template's MemorySize (the smallest-memory search). */
  memorySizeMb?: number;
  /** The invoke endpoint's port on 127.0.0.1 (default: a free one). */
  port?: number;
}

/** One invocation through the Runtime API, as Lambda's Invoke answers it and its REPORT line records it. */
export interface Invocation {
  requestId: string;
  /** The function's response: parsed JSON, or the text when it is not JSON. */
  payload: unknown;
  /** The runtime reported an error (the handler threw, init failed, the runtime died): Lambda's error shape. */
  error?: { errorType: string; errorMessage: string };
  timedOut: boolean;
  durationMs: number;
  billedDurationMs: number;
  /** Set when this invocation ran the init phase first (a cold start): RIE's `INIT REPORT` duration. */
  initDurationMs?: number;
}

interface Report {
  durationMs: number;
  billedDurationMs: number;
  initDurationMs?: number;
}

const REPORT =
  /^REPORT RequestId: (\S+)\t(?:Init Duration: [\d.]+ ms\t)?Duration: ([\d.]+) ms\tBilled Duration: (\d+) ms/;
const INIT_REPORT = /INIT REPORT\(durationMs: ([\d.]+)\)/;
const TIMED_OUT = /^Task timed out after [\d.]+ seconds$/;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** Direct children of a process (every thread's), from procfs. */
function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

// node:http rather than fetch: undici's 300 s headers timeout would cut an invocation Lambda allows to run 900 s.
function post(port: number, body: string, requestId: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/2015-03-31/functions/function/invocations',
        headers: { 'content-type': 'application/json', 'x-amzn-requestid': requestId },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (c: Buffer) => chunks.push(c));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/**
 * One Lambda sandbox: AWS's Runtime Interface Emulator (the Runtime API, the invoke endpoint, the timeout, the init
 * phase) with aws-lambda-ric on Node 24 as the runtime, the function's asset directory as LAMBDA_TASK_ROOT, the
 * environment Lambda would set, and the memory and CPU its MemorySize buys (`sandbox-limits.ts`). One invocation at a
 * time, as a sandbox.
 */
export class LambdaSandbox {
  private readonly reports = new Map<string, (report: Report) => void>();
  private pendingInitMs: number | undefined;
  private exited: string | undefined;
  /** The output's last lines and who waits for one: how a test waits for what the function logs, with no sleep. */
  private readonly recentLines: string[] = [];
  private readonly lineWaiters = new Set<(line: string) => void>();

  private constructor(
    readonly definition: FunctionDefinition,
    readonly memorySizeMb: number,
    private readonly rie: ChildProcess,
    private readonly port: number,
    private readonly limits: SandboxLimits,
    private readonly log: WriteStream,
  ) {
    for (const stream of [rie.stdout, rie.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => this.onLine(line));
    }
    rie.on('exit', (code, signal) => {
      this.exited = `the Runtime Interface Emulator exited (${signal ?? `code ${code}`})`;
    });
  }

  static async start(options: SandboxOptions): Promise<LambdaSandbox> {
    const { definition, runtime } = options;
    const memorySizeMb = options.memorySizeMb ?? definition.memorySizeMb;
    const [port, runtimeApiPort] = [options.port ?? (await freePort()), await freePort()];
    // Lambda's reserved variables win over the function's own, as in Lambda.
    const env: Record<string, string> = {
      ...options.environment,
      PATH: `${path.dirname(runtime.node)}:/usr/local/bin:/usr/bin:/bin`,
      LANG: 'en_US.UTF-8',
      TZ: ':UTC',
      LAMBDA_TASK_ROOT: definition.assetDir,
      LAMBDA_RUNTIME_DIR: path.dirname(runtime.ric),
      AWS_EXECUTION_ENV: `AWS_Lambda_${definition.runtime}`,
      AWS_LAMBDA_FUNCTION_NAME: definition.functionName,
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memorySizeMb),
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${definition.functionName}`,
      AWS_LAMBDA_LOG_STREAM_NAME: `local/[$LATEST]${randomUUID().replaceAll('-', '')}`,
      // RIE's own setting: the function's timeout, which it enforces.
      AWS_LAMBDA_FUNCTION_TIMEOUT: String(definition.timeoutSeconds),
    };
    const limits = createSandboxLimits(`lambda-${definition.processor}`, memorySizeMb);
    const log = createWriteStream(options.logFile, { flags: 'a' });
    const rie = spawn(
      runtime.rie,
      [
        '--runtime-interface-emulator-address',
        `127.0.0.1:${port}`,
        '--runtime-api-address',
        `127.0.0.1:${runtimeApiPort}`,
        BOOTSTRAP,
        definition.handler,
      ],
      { cwd: definition.assetDir, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    if (rie.pid === undefined) {
      log.end();
      limits.remove();
      throw new LambdaRunError('LAMBDA_RUNTIME_START_FAILED', `could not start ${runtime.rie}`);
    }
    // Before the first invocation starts the runtime, so the runtime is born inside the limits.
    limits.add(rie.pid);
    const sandbox = new LambdaSandbox(definition, memorySizeMb, rie, port, limits, log);
    await sandbox.listening();
    return sandbox;
  }

  /** The invoke endpoint, as RIE documents it. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.port}/2015-03-31/functions/function/invocations`;
  }

  /** How memory is limited and how many vCPUs the sandbox gets (see sandbox-limits.ts). */
  get memoryLimitKind(): SandboxLimits['memory'] {
    return this.limits.memory;
  }

  get vcpus(): number | undefined {
    return this.limits.vcpus;
  }

  /** Lambda's "Max Memory Used": the sandbox's peak, in MB. */
  maxMemoryUsedMb(): number {
    const pid = this.rie.pid ?? 0;
    return Math.ceil(this.limits.peakBytes([pid, ...childrenOf(pid)]) / (1024 * 1024));
  }

  /** CPU seconds the sandbox's processes (RIE and the runtime alive now) used so far. */
  cpuSeconds(): number {
    const pid = this.rie.pid ?? 0;
    return [pid, ...childrenOf(pid)].reduce((sum, p) => sum + processCpuSeconds(p), 0);
  }

  /** The runtime processes killed at the memory limit so far. */
  oomKills(): number {
    return this.limits.oomKills();
  }

  async invoke(event: unknown, requestId: string = randomUUID()): Promise<Invocation> {
    if (this.exited) throw new LambdaRunError('LAMBDA_INVOKE_FAILED', this.exited);
    const reported = new Promise<Report>((resolve) => this.reports.set(requestId, resolve));
    let answer: { status: number; text: string };
    const started = performance.now();
    try {
      answer = await post(this.port, JSON.stringify(event), requestId);
    } catch (error) {
      this.reports.delete(requestId);
      throw new LambdaRunError('LAMBDA_INVOKE_FAILED', `${this.definition.processor}: invoke failed: ${error}`, {
        cause: error,
      });
    }
    // RIE prints the REPORT line before it answers, but its output reaches us through a pipe: wait for it briefly.
    // A runtime that died (an init failure, a crash) gets no REPORT line: its duration is then our own clock's.
    const report = (await Promise.race([reported, sleep(2_000).then(() => undefined)])) ?? {
      durationMs: performance.now() - started,
      billedDurationMs: Math.ceil(performance.now() - started),
      initDurationMs: this.takeInit(),
    };
    this.reports.delete(requestId);
    const timedOut = TIMED_OUT.test(answer.text);
    let payload: unknown = answer.text;
    try {
      payload = answer.text === '' ? null : JSON.parse(answer.text);
    } catch {
      // not JSON: kept as text (a timeout message, an emulator error)
    }
    const error =
      errorOf(payload) ??
      (answer.status >= 400 ? { errorType: `HTTP ${answer.status}`, errorMessage: answer.text } : undefined);
    return { requestId, payload, error, timedOut, ...report };
  }

  async stop(): Promise<void> {
    const pid = this.rie.pid;
    if (pid !== undefined && !this.exited) {
      const children = childrenOf(pid);
      const exited = new Promise((resolve) => this.rie.once('exit', resolve));
      for (const child of children) {
        try {
          process.kill(child, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      this.rie.kill('SIGKILL');
      await exited;
    }
    this.log.end();
    this.limits.remove();
  }

  /**
   * The first line of the sandbox's output (the function's logs, RIE's lines) that `matches`, among the last 1,000
   * or when it comes: the function's output reaches us through a pipe, after the invocation's answer.
   */
  nextLine(matches: (line: string) => boolean): Promise<string> {
    const seen = this.recentLines.find(matches);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => {
      const waiter = (line: string) => {
        if (!matches(line)) return;
        this.lineWaiters.delete(waiter);
        resolve(line);
      };
      this.lineWaiters.add(waiter);
    });
  }

  private onLine(line: string): void {
    this.log.write(`${line}\n`);
    this.recentLines.push(line);
    if (this.recentLines.length > 1_000) this.recentLines.shift();
    for (const waiter of this.lineWaiters) waiter(line);
    const init = INIT_REPORT.exec(line);
    if (init) {
      this.pendingInitMs = Number(init[1]);
      return;
    }
    const report = REPORT.exec(line);
    if (!report) return;
    const [, requestId = '', duration, billed] = report;
    this.reports.get(requestId)?.({
      durationMs: Number(duration),
      billedDurationMs: Number(billed),
      initDurationMs: this.takeInit(),
    });
  }

  /** The init phase reported since the last invocation, if any: it belongs to this one. */
  private takeInit(): number | undefined {
    const ms = this.pendingInitMs;
    this.pendingInitMs = undefined;
    return ms;
  }

  private async listening(): Promise<void> {
    for (const started = Date.now(); Date.now() - started < 10_000; await sleep(50)) {
      if (this.exited) break;
      const open = await new Promise<boolean>((resolve) => {
        const socket = net.connect(this.port, '127.0.0.1');
        socket.setTimeout(500, () => socket.destroy());
        socket.once('connect', () => resolve(true)).once('error', () => resolve(false));
        socket.once('connect', () => socket.destroy());
      });
      if (open) return;
    }
    await this.stop();
    throw new LambdaRunError(
      'LAMBDA_RUNTIME_START_FAILED',
      `${this.definition.processor}: ${this.exited ?? 'the Runtime Interface Emulator did not listen within 10 s'}`,
    );
  }
}

function errorOf(payload: unknown): Invocation['error'] {
  if (typeof payload !== 'object' || payload === null) return undefined;
  const { errorType, errorMessage } = payload as Record<string, unknown>;
  return typeof errorType === 'string' && typeof errorMessage === 'string' ? { errorType, errorMessage } : undefined;
}
