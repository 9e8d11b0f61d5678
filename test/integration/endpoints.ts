import { randomBytes } from 'node:crypto';
import { loadStackConfig, stackEndpoints } from '../../dev/stack/config';

/** The real servers the integration tests talk to: the local stack's, or the ports its env vars name. */
export const endpoints = stackEndpoints(loadStackConfig());

/** A name no other test run uses, so tests never see each other's topics, keyspaces or subjects. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}

/** AWS SDK client settings for the local AWS API emulator (moto accepts any credentials). */
export const awsEmulator = {
  endpoint: endpoints.awsEndpoint,
  region: 'eu-west-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
};
