import { AppError } from '../../lib/errors';

/** The step of running a function under the Lambda runtime pieces that failed; the message says what to fix. */
export type LambdaRunErrorCode =
  | 'LAMBDA_SYNTH_FAILED'
  | 'LAMBDA_TEMPLATE_INVALID'
  | 'LAMBDA_ENVIRONMENT_UNRESOLVED'
  | 'LAMBDA_RUNTIME_START_FAILED'
  | 'LAMBDA_INVOKE_FAILED';

export class LambdaRunError extends AppError {
  constructor(code: LambdaRunErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options);
  }
}
