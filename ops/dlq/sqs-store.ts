import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { DeadLetter } from '../../lib/runtime/dead-letters';
import { type DeadLetterEntry, type DeadLetterFilter, type DeadLetterStore, matches, originOf, utcDay } from './store';

/** How long a received message stays hidden from other readers while a command works on it. */
const HOLD_SECONDS = 900;

/**
 * An SQS dead-letter queue (`DEAD_LETTER_SINK=sqs`): one JSON message per dead letter (lib/runtime/dead-letters).
 * Reading a queue hides what was read: every message received is held (invisible for HOLD_SECONDS) and made visible
 * again by `close`, except the ones settled. A queue cannot mark a message, so a replayed one is deleted, as AWS's
 * own redrive moves a message rather than copying it; one that failed again is deleted too, the function having
 * sent its new dead letter, with the new reason, which stays. Messages that reappear during a long run (their hold
 * expired) are recognised by their message id.
 */
export class SqsDeadLetterStore implements DeadLetterStore {
  readonly description: string;
  /** Messages this command holds, by message id: their latest receipt handle. */
  private readonly held = new Map<string, string>();
  private readonly entries = new Map<string, DeadLetterEntry>();
  /** Per message id: its entries not settled yet (a message is deleted once none is left). */
  private readonly unsettled = new Map<string, Set<string>>();
  /** The message each entry came from. */
  private readonly messageOf = new Map<string, string>();
  private drained = false;

  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    /**
     * How a message becomes entries: by default one dead letter of the functions' own; a mapping's on-failure
     * destination gives one message per failed batch (destination-store.ts). With `fromMapping`, what fails again
     * is in the functions' own sink, not here.
     */
    private readonly format: { entriesOf(message: Message): Promise<DeadLetterEntry[]>; fromMapping: boolean } = {
      entriesOf: async (message) => [entryOf(message)],
      fromMapping: false,
    },
  ) {
    this.description = format.fromMapping ? `the mappings' failed batches in queue ${queueUrl}` : `queue ${queueUrl}`;
  }

  async select(filter: DeadLetterFilter): Promise<DeadLetterEntry[]> {
    await this.drain();
    return [...this.entries.values()].filter((e) => matches(e, filter));
  }

  async find(id: string): Promise<DeadLetterEntry | undefined> {
    await this.drain();
    return this.entries.get(id);
  }

  async failedAgain(entries: readonly DeadLetterEntry[]): Promise<Map<string, string>> {
    if (this.format.fromMapping) return new Map();
    const byOrigin = new Map<string, DeadLetterEntry[]>();
    for (const e of entries) byOrigin.set(originOf(e), [...(byOrigin.get(originOf(e)) ?? []), e]);
    const again = new Map<string, string>();
    // What the function sent while replaying: new messages (the old ones are held).
    for (const fresh of await this.receiveAll()) {
      for (const e of byOrigin.get(originOf(fresh)) ?? []) again.set(e.id, fresh.reason);
    }
    return again;
  }

  async settle(replayed: readonly DeadLetterEntry[], superseded: readonly DeadLetterEntry[]): Promise<void> {
    const ids: string[] = [];
    for (const e of [...replayed, ...superseded]) {
      this.entries.delete(e.id);
      const messageId = this.messageOf.get(e.id) as string;
      const left = this.unsettled.get(messageId);
      if (!left?.delete(e.id) || left.size > 0) continue;
      ids.push(messageId);
      this.unsettled.delete(messageId);
    }
    for (let i = 0; i < ids.length; i += 10) {
      const chunk = ids.slice(i, i + 10);
      const response = await this.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: chunk.map((id, j) => ({ Id: String(j), ReceiptHandle: this.held.get(id) })),
        }),
      );
      if (response.Failed?.length)
        throw new Error(`SQS kept ${response.Failed.length}: ${response.Failed[0]?.Message}`);
      for (const id of chunk) this.held.delete(id);
    }
  }

  async close(): Promise<void> {
    const handles = [...this.held.values()];
    this.held.clear();
    for (let i = 0; i < handles.length; i += 10) {
      await this.sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: handles.slice(i, i + 10).map((handle, j) => ({
            Id: String(j),
            ReceiptHandle: handle,
            VisibilityTimeout: 0,
          })),
        }),
      );
    }
    this.sqs.destroy();
  }

  /** Receives every message of the queue once (the first call only). */
  private async drain(): Promise<void> {
    if (this.drained) return;
    this.drained = true;
    for (const entry of await this.receiveAll()) this.entries.set(entry.id, entry);
  }

  /** Receives until the queue has nothing visible left; returns the messages not held before. */
  private async receiveAll(): Promise<DeadLetterEntry[]> {
    const out: DeadLetterEntry[] = [];
    for (;;) {
      const { Messages = [] } = await this.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.queueUrl,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: HOLD_SECONDS,
          // Long polling asks every SQS server: a short poll may answer empty while messages remain.
          WaitTimeSeconds: 1,
        }),
      );
      if (Messages.length === 0) return out;
      for (const message of Messages) {
        const id = message.MessageId as string;
        const known = this.held.has(id);
        this.held.set(id, message.ReceiptHandle as string);
        if (known) continue;
        const entries = await this.format.entriesOf(message);
        this.unsettled.set(id, new Set(entries.map((e) => e.id)));
        for (const e of entries) this.messageOf.set(e.id, id);
        out.push(...entries);
      }
    }
  }
}

function entryOf(message: Message): DeadLetterEntry {
  const letter = JSON.parse(message.Body as string) as DeadLetter & { valueTruncated?: boolean };
  return {
    id: message.MessageId as string,
    functionName: letter.functionName,
    topic: letter.topic,
    partition: letter.partition,
    offset: letter.offset,
    reason: letter.reason,
    message: letter.message,
    key: letter.key === null ? null : Buffer.from(letter.key, 'base64'),
    value: letter.value === null ? null : Buffer.from(letter.value, 'base64'),
    valueLeftOut: letter.valueTruncated === true,
    recordTimestamp: new Date(letter.timestamp),
    // Letters written before dead letters carried it have no such field.
    valueSchemaMetadata: letter.valueSchemaMetadata ?? null,
    day: utcDay(letter.timestamp),
    replayedAt: null,
    replayedBy: null,
  };
}
