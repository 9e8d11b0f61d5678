import { AppError } from '../errors';

/** The invocation event is not the MSK/Kafka event Lambda documents: a wiring problem, never retried as-is. */
export class InvalidEventError extends AppError {
  constructor(message: string) {
    super('RUNTIME_INVALID_EVENT', message);
  }
}

/**
 * A decoded record that the processor refuses (a missing field, a value out of range): poison, dead-lettered with
 * `code` as its reason (RECORD_INVALID unless a more precise one says why, e.g. SINK_COLUMN_MISSING).
 */
export class ValidationError extends AppError {
  constructor(message: string, code = 'RECORD_INVALID') {
    super(code, message);
  }
}

/** Thrown when ReportBatchItemFailures is off and some records could not be processed: Lambda retries the batch. */
export class BatchFailedError extends AppError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('RUNTIME_BATCH_FAILED', message, { cause: options.cause, transient: true });
  }
}
