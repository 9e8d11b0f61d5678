import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { READER_SCHEMA as IDENTITY_READER, identityLinker } from '../../../functions/identity-linker/definition';
import {
  READER_SCHEMA as NAVIGATION_READER,
  navigationEnricher,
} from '../../../functions/navigation-enricher/definition';
import { READER_SCHEMA as SEGMENT_READER, segmentBuilder } from '../../../functions/segment-builder/definition';
import { IDENTITY_LINK_V1, type IdentityLink } from '../../../functions/topics/identity';
import { AvroEncoder, ConfluentSchemaRegistry } from '../../../lib/codec';
import { composeProcessor } from '../../../lib/runtime/compose';
import { statement } from '../../../lib/scylla/statement';
import { buildMskEvent, type KafkaRecord } from '../../../ops/kafka/msk-event';
import { dashboardBody, exampleConfig, synthesize } from '../../unit/infra/synth';
import { endpoints, uniqueName } from '../endpoints';
import { functionEnvironment, NAVIGATION_T0, navigationRecords } from '../runtime/environment';
import { freshKeyspace, scyllaConfig, sessionFor } from '../scylla/fixtures';
import { CLUSTER_ONLY_METRICS, captureEmf, type EmittedMetric } from './emf-output';

/**
 * Every metric the CDK dashboard draws and every alarm watches must be one the functions emit. CloudWatch names a
 * metric by namespace, name and its exact set of dimensions: a widget that leaves out a dimension the EMF carries
 * (or adds one) draws an empty line and an alarm on it never fires, silently. So: run the three functions against
 * the real stack with EMF on, parse what they print, and match the synthesized dashboard and alarms against it.
 */
type Dimensions = Record<string, string>;

const config = exampleConfig();
const NAMESPACE = 'KafkaProcessors';
const emitted: EmittedMetric[] = [];

const sameDimensions = (a: Dimensions, b: Dimensions) =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);

beforeAll(async () => {
  const keyspace = await freshKeyspace();
  // A keyspace without tables: every statement fails, so the statement error series are emitted too.
  const broken = uniqueName('broken');
  const admin = sessionFor(scyllaConfig({ SCYLLA_KEYSPACE: keyspace }));
  await admin.execute(
    statement(
      'test.keyspace',
      `CREATE KEYSPACE ${broken} WITH replication = {'class': 'NetworkTopologyStrategy', '${endpoints.cqlLocalDataCenter}': 1}`,
      { idempotent: true },
    ),
    [],
  );
  await admin.execute(
    statement('test.rule', 'INSERT INTO segment_rules (segment_id, url_pattern, enabled) VALUES (?, ?, ?)', {
      idempotent: true,
    }),
    ['everyone', '/', true],
  );
  // A keyspace whose tables exist but whose replication the one node cannot meet at LOCAL_QUORUM: every statement is
  // unavailable (transient), so the session retries it and the statement retry series are emitted too.
  const unavailable = await freshKeyspace();
  // A rule, so segment-builder has writes to fail (it reads its rules at a consistency one node can serve).
  await admin.execute(
    statement(
      'test.rule',
      `INSERT INTO ${unavailable}.segment_rules (segment_id, url_pattern, enabled) VALUES (?, ?, ?)`,
      { idempotent: true },
    ),
    ['everyone', '/', true],
  );
  await admin.execute(
    statement(
      'test.keyspace',
      `ALTER KEYSPACE ${unavailable} WITH replication = {'class': 'NetworkTopologyStrategy', '${endpoints.cqlLocalDataCenter}': 3}`,
      { idempotent: true },
    ),
    [],
  );
  await admin.shutdown();

  const encoder = new AvroEncoder(new ConfluentSchemaRegistry({ urls: [endpoints.registryUrl] }));
  const identity = await encoder.forSubject<IdentityLink>(`${uniqueName('identity')}-value`, IDENTITY_LINK_V1);
  const t0 = NAVIGATION_T0;
  const navigations = await navigationRecords(40, { seed: 31, cookies: 10 });
  navigations.push({
    topic: 'navigation',
    partition: 0,
    offset: 40,
    timestamp: t0,
    key: null,
    value: Buffer.from([9]),
  });
  const links: KafkaRecord[] = [
    {
      topic: 'identity',
      partition: 0,
      offset: 0,
      timestamp: t0,
      key: Buffer.from('ck-1'),
      value: identity.encode({
        cookieId: 'ck-1',
        userId: 'u-1',
        emailSha256: null,
        source: 'LOGIN',
        consent: 'GRANTED',
        eventTime: t0,
      }),
    },
    { topic: 'identity', partition: 0, offset: 1, timestamp: t0, key: Buffer.from('ck-2'), value: Buffer.from([9]) },
  ];
  const event = (records: KafkaRecord[]) => buildMskEvent(records, { bootstrapServers: endpoints.kafkaBootstrap });
  const env = (name: string, ks = keyspace, overrides: Record<string, string> = {}) =>
    functionEnvironment(ks, {
      FUNCTION_NAME: `${config.name}-${name}`,
      METRICS_EMF: 'on',
      METRICS_NAMESPACE: NAMESPACE,
      METRICS_FLUSH_INTERVAL_MS: '0',
      SCYLLA_RETRIES: '0',
      ...overrides,
    });

  const runs = await captureEmf(async () => {
    await composeProcessor(identityLinker, IDENTITY_READER, env('identity-linker'))(event(links));
    await composeProcessor(
      navigationEnricher({ ttlSeconds: 3600 }),
      NAVIGATION_READER,
      env('navigation-enricher'),
    )(event(navigations));
    await composeProcessor(
      segmentBuilder({ ttlSeconds: 3600, refreshMs: 60_000 }),
      SEGMENT_READER,
      env('segment-builder'),
    )(event(navigations));
    await composeProcessor(
      navigationEnricher({ ttlSeconds: 3600 }),
      NAVIGATION_READER,
      env('navigation-enricher', broken),
    )(event(navigations)).catch(() => undefined); // fails: its statements' errors are what this run is for
    // Each function once more on the unavailable keyspace: every statement retried once, then a partial response
    // (the statement retry and `retried_later` series each function's widgets and alarms read).
    const outage = (name: string) =>
      env(name, unavailable, {
        SCYLLA_CONSISTENCY: 'LOCAL_QUORUM',
        SCYLLA_RETRIES: '1',
        SCYLLA_RETRY_BASE_DELAY_MS: '1',
      });
    await composeProcessor(identityLinker, IDENTITY_READER, outage('identity-linker'))(event(links));
    await composeProcessor(
      navigationEnricher({ ttlSeconds: 3600 }),
      NAVIGATION_READER,
      outage('navigation-enricher'),
    )(event(navigations));
    await composeProcessor(
      segmentBuilder({ ttlSeconds: 3600, refreshMs: 60_000 }),
      SEGMENT_READER,
      outage('segment-builder'),
    )(event(navigations));
  });
  emitted.push(...runs);
}, 120_000);

afterAll(() => vi.restoreAllMocks());

type Template = { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };

/** CLUSTER_ONLY_METRICS, credited with a function's own dimensions (as cold_starts): see emf-output.ts. */
function clusterOnly(from: EmittedMetric[]): EmittedMetric[] {
  return from
    .filter((m) => m.name === 'cold_starts')
    .flatMap((m) => CLUSTER_ONLY_METRICS.map((name) => ({ ...m, name })));
}

/** Metrics the stack's own log metric filters make (Lambda's REPORT lines): emitted by CloudWatch Logs, no dimensions. */
function metricFilterMetrics(template: Template): EmittedMetric[] {
  return Object.values(template.Resources)
    .filter((r) => r.Type === 'AWS::Logs::MetricFilter')
    .flatMap((r) =>
      (r.Properties.MetricTransformations as { MetricNamespace: string; MetricName: string }[]).map((t) => ({
        namespace: t.MetricNamespace,
        name: t.MetricName,
        dimensions: {},
      })),
    );
}

/** The dashboard body with CloudFormation tokens (Refs to the region, function names...) as the text TOKEN. */
/** `SEARCH('{ns,dim1,dim2} MetricName="x" dim="v"', ...)` → its namespace, dimension names, metric and values. */
function parseSearch(expression: string) {
  const match = /SEARCH\('\{([^}]*)\} MetricName="([^"]+)"((?: \w+="[^"]*")*)'/.exec(expression);
  if (!match) throw new Error(`not a SEARCH this test understands: ${expression}`);
  const [namespace = '', ...names] = (match[1] ?? '').split(',');
  const values = Object.fromEntries([...(match[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
  return { namespace, names: names.sort(), name: match[2] ?? '', values };
}

describe('the CloudWatch dashboard and alarms', () => {
  it('ran every function with EMF on (the run this test matches against)', () => {
    const functions = new Set(emitted.map((m) => m.dimensions.function));
    expect([...functions].sort()).toEqual([
      `${config.name}-identity-linker`,
      `${config.name}-navigation-enricher`,
      `${config.name}-segment-builder`,
    ]);
    expect(emitted.some((m) => m.name === 'statement_errors')).toBe(true);
    for (const name of ['identity-linker', 'navigation-enricher', 'segment-builder'])
      expect(
        emitted.some(
          (m) =>
            m.name === 'records' &&
            m.dimensions.stage === 'retried_later' &&
            m.dimensions.function === `${config.name}-${name}`,
        ),
      ).toBe(true);
    expect(emitted.some((m) => m.name === 'statement_retries')).toBe(true);
  });

  it('draw only metrics the functions emit, with exactly their dimensions', () => {
    const template = synthesize(config).template.toJSON() as Template;
    const known = [...emitted, ...clusterOnly(emitted), ...metricFilterMetrics(template)];
    const missing: string[] = [];
    for (const widget of dashboardBody(template).widgets) {
      for (const entry of widget.properties.metrics ?? []) {
        const last = entry[entry.length - 1] as { expression?: string } | string;
        if (typeof last === 'object' && last.expression !== undefined) {
          for (const search of last.expression.match(/SEARCH\('[^']*'/g) ?? []) {
            const { namespace, names, name, values } = parseSearch(`${search}`);
            const found = emitted.some(
              (m) =>
                m.namespace === namespace &&
                m.name === name &&
                Object.keys(m.dimensions).sort().join() === names.join() &&
                // A SEARCH draws whichever series exist: its schema and fixed values must be ones some function
                // emits (identity-linker has no skip path; statement errors came from the broken keyspace run).
                Object.entries(values).every(([k, v]) => k === 'function' || m.dimensions[k] === v),
            );
            if (!found) missing.push(search);
          }
          continue;
        }
        const [namespace, name, ...rest] = entry.filter((part) => typeof part === 'string') as string[];
        if (!namespace || namespace.startsWith('AWS/')) continue; // Lambda's own metrics
        const dimensions: Dimensions = {};
        for (let i = 0; i + 1 < rest.length; i += 2) dimensions[rest[i] as string] = rest[i + 1] as string;
        const found = known.some(
          (m) => m.namespace === namespace && m.name === name && sameDimensions(m.dimensions, dimensions),
        );
        if (!found) missing.push(`${namespace} ${name} ${JSON.stringify(dimensions)}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('alarm only on metrics the functions emit, with exactly their dimensions', () => {
    const template = synthesize(config).template.toJSON() as Template;
    const missing: string[] = [];
    for (const alarm of Object.values(template.Resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm')) {
      const p = alarm.Properties as {
        Namespace?: string;
        MetricName?: string;
        Dimensions?: { Name: string; Value: unknown }[];
      };
      if (!p.Namespace || p.Namespace.startsWith('AWS/')) continue;
      const dimensions = Object.fromEntries((p.Dimensions ?? []).map((d) => [d.Name, String(d.Value)]));
      if (
        !emitted.some(
          (m) => m.namespace === p.Namespace && m.name === p.MetricName && sameDimensions(m.dimensions, dimensions),
        )
      )
        missing.push(`${p.Namespace} ${p.MetricName} ${JSON.stringify(dimensions)}`);
    }
    expect(missing).toEqual([]);
  });
});
