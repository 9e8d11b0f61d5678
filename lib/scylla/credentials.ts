import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AppError } from '../errors';
import type { CredentialsConfig } from './config';

/** A Secrets Manager client, or a lazy factory of one (lib/lazy.ts): the SDK loads on first use. */
export type SecretsClient = SecretsManagerClient | (() => Promise<SecretsManagerClient>);

/** A secret's string value; the SDK module is loaded on the first call. */
export async function readSecret(secrets: SecretsClient, secretId: string): Promise<string | undefined> {
  const { GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
  const client = typeof secrets === 'function' ? await secrets() : secrets;
  return (await client.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString;
}

export interface Credentials {
  username: string;
  password: string;
}

/** The secret could not be read or does not hold {"username","password"}: the function cannot reach Scylla. */
export class CredentialsError extends AppError {
  constructor(message: string, options: { cause?: unknown; transient?: boolean } = {}) {
    super('SCYLLA_CREDENTIALS', message, options);
  }
}

/**
 * Scylla credentials, fetched once and kept; `refresh()` fetches again (after an authentication failure, when the
 * secret may have been rotated). Concurrent callers share one request. The secret's value never reaches a log or
 * an error message.
 */
export class CredentialsSource {
  private current: Promise<Credentials | undefined> | undefined;

  constructor(
    private readonly config: CredentialsConfig,
    private readonly secrets?: SecretsClient,
  ) {
    if (config.source === 'secrets-manager' && secrets === undefined) {
      throw new RangeError('a Secrets Manager client is needed for credentials from Secrets Manager');
    }
  }

  get(): Promise<Credentials | undefined> {
    this.current ??= this.load();
    // A failed fetch is not kept: the next call asks again.
    this.current.catch(() => {
      this.current = undefined;
    });
    return this.current;
  }

  refresh(): Promise<Credentials | undefined> {
    this.current = undefined;
    return this.get();
  }

  private async load(): Promise<Credentials | undefined> {
    const config = this.config;
    if (config.source === 'none') return undefined;
    if (config.source === 'inline') return { username: config.username, password: config.password };
    let text: string | undefined;
    try {
      text = await readSecret(this.secrets as SecretsClient, config.secretId);
    } catch (error) {
      const name = (error as Error).name;
      const transient = !['ResourceNotFoundException', 'AccessDeniedException', 'DecryptionFailure'].includes(name);
      throw new CredentialsError(`secret ${config.secretId} could not be read (${name})`, { cause: error, transient });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text ?? '');
    } catch {
      parsed = undefined;
    }
    const { username, password } = (parsed ?? {}) as Partial<Credentials>;
    if (typeof username !== 'string' || typeof password !== 'string') {
      throw new CredentialsError(
        `secret ${config.secretId} is not a JSON object with string "username" and "password"`,
      );
    }
    return { username, password };
  }
}
