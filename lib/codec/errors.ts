import { AppError } from '../errors';

/** Why a record cannot be decoded. Each is a property of the record's bytes: never retried, dead-lettered. */
export type PoisonCode =
  | 'CODEC_EMPTY_VALUE'
  | 'CODEC_UNKNOWN_MAGIC'
  | 'CODEC_SHORT_HEADER'
  | 'CODEC_SCHEMA_NOT_FOUND'
  | 'CODEC_UNSUPPORTED_SCHEMA'
  | 'CODEC_INCOMPATIBLE_READER'
  | 'CODEC_TRUNCATED'
  | 'CODEC_TRAILING_BYTES'
  | 'CODEC_INVALID_DATA'
  | 'CODEC_DECOMPRESSION_FAILED';

/** A poison record: its bytes (or the schema they name) cannot be read. */
export class CodecError extends AppError {
  declare readonly code: PoisonCode;

  constructor(code: PoisonCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { cause: options.cause, transient: false });
  }
}

/** The registry could not be asked (network, timeout, 5xx/429 after retries): retry the batch later. */
export class RegistryUnavailableError extends AppError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('REGISTRY_UNAVAILABLE', message, { cause: options.cause, transient: true });
  }
}

/** The registry answered, but not as the API says it should (bad credentials, malformed body): a config problem. */
export class RegistryRequestError extends AppError {
  readonly status: number;

  constructor(message: string, status: number, options: { cause?: unknown } = {}) {
    super('REGISTRY_REQUEST_FAILED', message, { cause: options.cause, transient: false });
    this.status = status;
  }
}
