import type { FunctionName } from '../../functions/catalog';
import type { MskEvent } from '../../lib/runtime/msk-event';
import type { BatchResponse } from '../../lib/runtime/partitions';
import type { Invoker } from '../esm/runner';
import { type LocalLambdaApp, type StartOptions, startFunction } from './local-lambda';
import type { Invocation, LambdaSandbox } from './sandbox';

/**
 * The local event-source mapping's invocations through the Lambda Runtime API (`ESM_INVOKE=rie`): one sandbox per
 * partition the mapping invokes for (Lambda runs concurrent invocations in separate sandboxes), each RIE + aws-lambda-ric
 * running the function as the template defines it. RIE enforces the function's timeout (it answers "Task timed out"
 * and restarts the runtime: the next invocation is a cold start), and a function error comes back as Lambda's
 * error payload: both fail the invocation, so the mapping retries the batch, as Lambda's ESM does.
 */
export class RieInvoker implements Invoker {
  readonly stats = { invocations: 0, coldStarts: 0, timedOut: 0, functionErrors: 0, durationMs: 0, billedMs: 0 };
  private readonly sandboxes = new Map<string, Promise<LambdaSandbox>>();

  constructor(
    private readonly app: LocalLambdaApp,
    private readonly processor: FunctionName,
    private readonly options: StartOptions = {},
  ) {}

  async invoke(partition: string, event: MskEvent): Promise<BatchResponse | undefined | null> {
    const result = await this.call(partition, event);
    if (result.timedOut) throw new Error(`${this.processor}: ${String(result.payload)}`);
    if (result.error) throw new Error(`${this.processor}: ${result.error.errorType}: ${result.error.errorMessage}`);
    return result.payload as BatchResponse | null;
  }

  /** Invokes every sandbox started so far with `event` (a last empty batch, so each exports its final metrics). */
  async invokeEach(event: MskEvent): Promise<void> {
    await Promise.all([...this.sandboxes.keys()].map((partition) => this.call(partition, event)));
  }

  abandon(partition: string): void {
    const sandbox = this.sandboxes.get(partition);
    this.sandboxes.delete(partition);
    void sandbox?.then((s) => s.stop());
  }

  /** CPU seconds the sandboxes alive now have used (RIE and runtimes): benches count every process's CPU. */
  cpuSeconds(): Promise<number> {
    return Promise.all(this.sandboxes.values()).then((all) => all.reduce((sum, s) => sum + s.cpuSeconds(), 0));
  }

  async close(): Promise<void> {
    const all = [...this.sandboxes.values()];
    this.sandboxes.clear();
    await Promise.all(all.map(async (s) => (await s).stop()));
  }

  private async call(partition: string, event: MskEvent): Promise<Invocation> {
    let sandbox = this.sandboxes.get(partition);
    if (!sandbox) {
      sandbox = startFunction(this.app, this.processor, this.options).then((started) => started.sandbox);
      this.sandboxes.set(partition, sandbox);
      sandbox.catch(() => this.sandboxes.delete(partition));
    }
    const result = await (await sandbox).invoke(event);
    this.stats.invocations++;
    this.stats.durationMs += result.durationMs;
    this.stats.billedMs += result.billedDurationMs;
    if (result.initDurationMs !== undefined) this.stats.coldStarts++;
    if (result.timedOut) this.stats.timedOut++;
    else if (result.error) this.stats.functionErrors++;
    return result;
  }
}
