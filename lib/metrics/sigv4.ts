import { createHash, createHmac } from 'node:crypto';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { lazy } from '../lazy';
import type { RemoteWriteOptions } from './remote-write';

function bytes(data: string | ArrayBuffer | ArrayBufferView): string | Uint8Array {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** SHA-256 (or HMAC-SHA-256 with a secret) over node:crypto, in the shape Smithy's signer expects. */
class Sha256 {
  private readonly hash;

  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }

  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(bytes(data));
  }

  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }

  reset(): void {
    throw new Error('not used by the signer');
  }
}

/**
 * Signs remote-write requests for Amazon Managed Prometheus (service `aps`) with the function's role credentials
 * (the default provider chain: the Lambda environment's keys).
 */
export function sigv4Signer(
  region: string,
  credentials?: AwsCredentialIdentityProvider,
): NonNullable<RemoteWriteOptions['sign']> {
  // The SDK modules load on the first push, not at cold start.
  const signer = lazy(async () => {
    const { SignatureV4 } = await import('@smithy/signature-v4');
    const provider = credentials ?? (await import('@aws-sdk/credential-provider-node')).defaultProvider();
    return new SignatureV4({ service: 'aps', region, credentials: provider, sha256: Sha256 });
  });
  return async ({ url, headers, body }) => {
    const target = new URL(url);
    const signed = await (await signer()).sign({
      method: 'POST',
      protocol: target.protocol,
      hostname: target.hostname,
      port: target.port ? Number(target.port) : undefined,
      path: target.pathname,
      query: Object.fromEntries(target.searchParams),
      headers: { ...headers, host: target.host },
      body,
    });
    return signed.headers;
  };
}
