/**
 * The one base error of the project. Callers branch on `code` (or the subclass), never on message text.
 *
 * `transient` separates "the world is bad, try again" (a server down, a timeout) from "this input is bad"
 * (a poison record, a bad config): the runtime retries the first and dead-letters or fails fast on the second.
 */
export class AppError extends Error {
  readonly code: string;
  readonly transient: boolean;

  constructor(code: string, message: string, options: { cause?: unknown; transient?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.transient = options.transient ?? false;
  }
}

/** A configuration value is missing or invalid: found at cold start, names the key, never retried. */
export class ConfigError extends AppError {
  readonly key: string;

  constructor(key: string, message: string) {
    super('CONFIG_INVALID', `${key}: ${message}`);
    this.key = key;
  }
}
