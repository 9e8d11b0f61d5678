import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadStackConfig, REPO_ROOT } from '../../../dev/stack/config';
import { composeBinary } from '../../../dev/stack/stack';

describe('docker-compose.yml', () => {
  it('is accepted by the Compose Specification validator and defines the five services on loopback ports', async () => {
    // compose-go's validator (docker compose's own loader, no engine): built from the Go module proxy on first use.
    const compose = await composeBinary(loadStackConfig());
    const { stdout } = await promisify(execFile)(
      compose,
      ['--format', 'json', path.join(REPO_ROOT, 'docker-compose.yml')],
      { cwd: REPO_ROOT },
    );
    const config = JSON.parse(stdout) as {
      services: Record<string, { ports?: { host_ip?: string; published?: string }[] }>;
    };
    expect(Object.keys(config.services).sort()).toEqual([
      'grafana',
      'kafka',
      'prometheus',
      'schema-registry',
      'scylla',
    ]);
    const published = Object.values(config.services).flatMap((service) => service.ports ?? []);
    expect(published.length).toBeGreaterThan(0);
    expect(published.every((port) => port.host_ip === '127.0.0.1')).toBe(true);
  }, 600_000);
});
