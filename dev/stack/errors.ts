import { AppError } from '../../lib/errors';

export type StackErrorCode =
  | 'STACK_CONFIG'
  | 'STACK_TOOL_MISSING'
  | 'STACK_DOWNLOAD_FAILED'
  | 'STACK_PORT_TAKEN'
  | 'STACK_BOOT_FAILED'
  | 'STACK_BOOT_TIMEOUT'
  | 'STACK_STOP_FAILED'
  | 'STACK_TLS_SETUP_FAILED';

/** A local-stack failure: one clear cause, and the log file to read when there is one. */
export class StackError extends AppError {
  readonly logFile: string | undefined;

  constructor(code: StackErrorCode, message: string, options: { cause?: unknown; logFile?: string } = {}) {
    super(code, message, { cause: options.cause });
    this.logFile = options.logFile;
  }
}
