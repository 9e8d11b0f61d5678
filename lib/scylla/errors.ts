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

/**
 * The TLS handshake with Scylla was refused by this client: the server's certificate is not signed by the CA it
 * trusts, does not name the host, is expired, or the server does not speak TLS. Configuration, not weather: not
 * retried in place (the partition stops and Lambda retries it, loudly, until the configuration is fixed).
 */
export class ScyllaTlsError extends AppError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('SCYLLA_TLS_REFUSED', message, { cause: options.cause, transient: false });
  }
}

/** Node's certificate verification codes, by what the operator must fix. */
const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
]);
const OUT_OF_DATE = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);
const NOT_TLS = new Set(['EPROTO', 'ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG']);

/** What a TLS failure means for the person configuring the client, or undefined when `error` is not one. */
function tlsProblem(error: unknown, host: string): string | undefined {
  const e = error as NodeJS.ErrnoException;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (UNTRUSTED.has(code))
    return `${host}: the server's certificate is not signed by a CA this client trusts (SCYLLA_TLS_CA_FILE or SCYLLA_TLS_CA_SECRET_ID): ${code}`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return `${host}: the server's certificate does not name the host it was reached as (${e.message}); SCYLLA_TLS_SERVER_NAME sets the name to check`;
  if (OUT_OF_DATE.has(code)) return `${host}: the server's certificate is not valid now: ${code}`;
  if (NOT_TLS.has(code) || /wrong version number|packet length too long/i.test(e?.message ?? ''))
    return `${host}: the server did not answer in TLS (is client encryption on at its native port?): ${e.message}`;
  return undefined;
}

/** The TLS problems behind a connection failure (NoHostAvailableError holds one error per host tried). */
function tlsProblems(error: unknown): string[] {
  if (error instanceof cassandra.errors.NoHostAvailableError) {
    return Object.entries(error.innerErrors ?? {}).flatMap(([host, inner]) => {
      const problem = tlsProblem(inner, host) ?? tlsProblem((inner as { innerError?: unknown }).innerError, host);
      return problem ? [problem] : [];
    });
  }
  const problem = tlsProblem(error, 'Scylla');
  return problem ? [problem] : [];
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
): ScyllaUnavailableError | ScyllaAuthError | ScyllaStatementError | ScyllaTlsError {
  if (
    error instanceof ScyllaUnavailableError ||
    error instanceof ScyllaAuthError ||
    error instanceof ScyllaStatementError ||
    error instanceof ScyllaTlsError
  ) {
    return error;
  }
  const message = `${what}: ${(error as Error).message}`;
  if (isAuthenticationFailure(error)) return new ScyllaAuthError(message, { cause: error });
  const tls = tlsProblems(error);
  if (tls.length > 0) return new ScyllaTlsError(`${what}: TLS refused: ${tls.join('; ')}`, { cause: error });
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
