import cassandra from 'cassandra-driver';
import { AppError } from '../errors';

/** Scylla cannot serve now (no host, timeout, unavailable, overloaded): retry later, stop the partition here. */
export class ScyllaUnavailableError extends AppError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('SCYLLA_UNAVAILABLE', message, { cause: options.cause, transient: true });
  }
}

/** Scylla refused the credentials, even after fetching them again. */
export class ScyllaAuthError extends AppError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('SCYLLA_AUTH_FAILED', message, { cause: options.cause, transient: false });
  }
}

/** The statement itself is wrong (syntax, schema, permission): retrying cannot help. */
export class ScyllaStatementError extends AppError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('SCYLLA_STATEMENT_FAILED', message, { cause: options.cause, transient: false });
  }
}

const codes = cassandra.types.responseErrorCodes;
/** Server answers that mean "not now" rather than "never". */
const TRANSIENT_RESPONSE_CODES = new Set<number>([
  codes.serverError,
  codes.unavailableException,
  codes.overloaded,
  codes.isBootstrapping,
  codes.writeTimeout,
  codes.readTimeout,
  codes.readFailure,
  codes.writeFailure,
  codes.truncateError,
]);

/** True when `error`, or any per-host error inside a NoHostAvailableError, is an authentication refusal. */
export function isAuthenticationFailure(error: unknown): boolean {
  if (error instanceof cassandra.errors.AuthenticationError) return true;
  if (error instanceof cassandra.errors.ResponseError && error.code === codes.badCredentials) return true;
  if (error instanceof cassandra.errors.NoHostAvailableError) {
    return Object.values(error.innerErrors ?? {}).some((inner) => isAuthenticationFailure(inner));
  }
  return false;
}

/** Maps a driver error onto the project's typed errors; the short name is the metrics label (`errorType`). */
export function classify(
  error: unknown,
  what: string,
): ScyllaUnavailableError | ScyllaAuthError | ScyllaStatementError {
  if (
    error instanceof ScyllaUnavailableError ||
    error instanceof ScyllaAuthError ||
    error instanceof ScyllaStatementError
  ) {
    return error;
  }
  const message = `${what}: ${(error as Error).message}`;
  if (isAuthenticationFailure(error)) return new ScyllaAuthError(message, { cause: error });
  if (error instanceof cassandra.errors.ResponseError) {
    return TRANSIENT_RESPONSE_CODES.has(error.code)
      ? new ScyllaUnavailableError(message, { cause: error })
      : new ScyllaStatementError(message, { cause: error });
  }
  if (
    error instanceof cassandra.errors.NoHostAvailableError ||
    error instanceof cassandra.errors.OperationTimedOutError ||
    error instanceof cassandra.errors.BusyConnectionError ||
    error instanceof cassandra.errors.DriverInternalError
  ) {
    return new ScyllaUnavailableError(message, { cause: error });
  }
  if (error instanceof cassandra.errors.ArgumentError || error instanceof TypeError) {
    return new ScyllaStatementError(message, { cause: error });
  }
  // Socket errors and anything unknown: assume the world, not the statement, is at fault.
  return new ScyllaUnavailableError(message, { cause: error });
}

/** A short, low-cardinality name for an error: a metrics label. */
export function errorType(error: unknown): string {
  if (error instanceof cassandra.errors.ResponseError) {
    const name = Object.entries(codes).find(([, code]) => code === error.code)?.[0];
    return name ?? `response_${error.code}`;
  }
  const cause = (error as { cause?: unknown }).cause;
  if (error instanceof AppError && cause) return errorType(cause);
  return (error as Error)?.name ?? 'unknown';
}
