import { MetricsPublisher, parseMetricsConfig } from '../../../lib/metrics';
import { remoteWriteUrl } from './prometheus';

/** How far apart the simulated run's flushes are (its samples' timestamps). */
export const SIMULATED_FLUSH_SECONDS = 30;

/**
 * A short run of two containers of function `fn`, remote-written to the stack's Prometheus: four invocations each,
 * 30 s apart by their samples' timestamps (so rate() has points), ending now, touching every instrument the
 * dashboard charts. Returns when Prometheus has accepted every write.
 */
export async function simulateRun(fn: string): Promise<{ start: number; end: number }> {
  const containers = [0, 1].map(
    () =>
      new MetricsPublisher(
        parseMetricsConfig({ FUNCTION_NAME: fn, METRICS_EMF: 'off', METRICS_REMOTE_WRITE_URL: remoteWriteUrl }),
      ),
  );
  const now = Date.now();
  const at = (step: number) => now - (3 - step) * SIMULATED_FLUSH_SECONDS * 1000;
  for (let step = 0; step < 4; step++) {
    for (const [i, c] of containers.entries()) {
      const m = c.instruments;
      m.records.inc({ stage: 'received', reason: '' }, 100);
      m.records.inc({ stage: 'decoded', reason: '' }, 99);
      m.records.inc({ stage: 'dead_lettered', reason: 'CODEC_TRUNCATED' }, 1);
      m.records.inc({ stage: 'written', reason: '' }, 99);
      m.decodeSeconds.observe(0.0002 + step * 0.00001);
      for (let s = 0; s < 20; s++) m.statementSeconds.observe({ kind: 'navigations.insert' }, 0.002 + s * 0.0001);
      m.statementSeconds.observe({ kind: 'identities.select' }, 0.00025);
      m.statementErrors.inc({ kind: 'navigations.insert', error_type: 'writeTimeout' });
      m.statementRetries.inc({ kind: 'navigations.insert' });
      m.speculativeExecutions.inc(3);
      m.speculativeWins.inc(2);
      m.inFlightStatements.set(8 + i);
      m.batchSeconds.observe({ outcome: 'ok' }, 0.05 + step * 0.01);
      m.schemaCacheLookups.inc({ result: 'hit' }, 99);
      m.schemaCacheLookups.inc({ result: 'miss' }, step === 0 ? 1 : 0);
      m.schemaCacheSize.set(2);
      m.recordAgeSeconds.set({ topic: 'navigation', partition: String(i) }, 1.5);
      m.remoteWriteFailures.inc(0);
      const { remoteWrite } = await c.flush({ now: at(step), force: true });
      if (remoteWrite !== 'ok') throw new Error(`the simulated run's remote write: ${remoteWrite}`);
    }
  }
  return { start: at(0), end: now };
}
