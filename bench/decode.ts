import { kafkaConsumer, SchemaType } from '@aws-lambda-powertools/kafka';
import { SchemaRegistry as KafkajsSchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Context } from 'aws-lambda';
import { navigationEvents } from '../dev/demo/navigation-generator';
import { loadStackConfig, stackEndpoints } from '../dev/stack/config';
import { READER_SCHEMA as SEGMENT_READER } from '../functions/segment-builder/definition';
import { NAVIGATION_V1, type Navigation } from '../functions/topics/navigation';
import { AvroEncoder, AvroReader, CodecError, ConfluentSchemaRegistry, SchemaCache, TOMBSTONE } from '../lib/codec';
import type { MskEvent, MskRecord } from '../lib/runtime/msk-event';
import { measureIsolated, printTable } from './harness';

/**
 * `npm run bench:decode`: one MSK event of 10,000 Navigation records, decoded by this codec (full and projected to
 * 5 fields; and as the mapping's own schema registry delivers them, SOURCE and JSON), by Powertools' Kafka utility, by @kafkajs/confluent-schema-registry, and as JSON with JSON.parse.
 * Every contender starts from the same event shape Lambda delivers (base64 values) and ends holding the whole
 * batch as JS objects (a handler decodes the batch up front, then does its I/O), so each pays the same GC cost.
 * Each contender runs in a process of its own (`measureIsolated`; in one process, measured: ±25 % by order).
 * Needs the schema registry of the local stack (`npm run stack -- up`).
 */

const RECORDS = 10_000;
const TOPIC = 'navigation';

const registryUrl = stackEndpoints(loadStackConfig()).registryUrl;
const registry = new ConfluentSchemaRegistry({ urls: [registryUrl] });
const encoder = await new AvroEncoder(registry).forSubject<Navigation>(`${TOPIC}-value`, NAVIGATION_V1);

const generator = navigationEvents({ seed: 7, cookies: 2_000, startTime: Date.UTC(2026, 10, 25) });
const navigations = Array.from({ length: RECORDS }, () => generator.next().value as Navigation);

function mskEvent(values: string[]): MskEvent {
  const records: MskRecord[] = values.map((value, offset) => ({
    topic: TOPIC,
    partition: 0,
    offset,
    timestamp: Date.UTC(2026, 10, 25),
    timestampType: 'CREATE_TIME',
    key: Buffer.from(navigations[offset]?.cookieId ?? '').toString('base64'),
    value,
    headers: [],
  }));
  return { eventSource: 'aws:kafka', bootstrapServers: '127.0.0.1:9092', records: { [`${TOPIC}-0`]: records } };
}

const framed = navigations.map((n) => encoder.encode(n));
const avroEvent = mskEvent(framed.map((b) => b.toString('base64')));
// Powertools cannot read the Confluent prefix: it gets the bare Avro body.
const strippedEvent = mskEvent(framed.map((b) => b.subarray(5).toString('base64')));
const jsonEvent = mskEvent(navigations.map((n) => Buffer.from(JSON.stringify(n)).toString('base64')));
const partition = (event: MskEvent) => event.records[`${TOPIC}-0`] as MskRecord[];
// The same records as the mapping's own schema registry delivers them (SOURCE, JSON): schema id in the metadata.
const schemaId = String((framed[0] as Buffer).readInt32BE(1));
const decodedByMapping = (event: MskEvent): MskEvent => ({
  ...event,
  records: {
    [`${TOPIC}-0`]: partition(event).map((r) => ({ ...r, valueSchemaMetadata: { dataFormat: 'AVRO', schemaId } })),
  },
});
const sourceEvent = decodedByMapping(strippedEvent);
const mappingJsonEvent = decodedByMapping(jsonEvent);

const full = new AvroReader<Navigation>(new SchemaCache(registry));
// The projection a real processor reads: segment-builder's 5-field reader schema.
const projected = new AvroReader(new SchemaCache(registry), SEGMENT_READER);

const powertools = kafkaConsumer(
  async (event: { records: Iterable<{ value: unknown }> }) => {
    const out: unknown[] = [];
    for (const record of event.records) out.push(record.value);
    return out.filter(Boolean).length;
  },
  { value: { type: SchemaType.AVRO, schema: JSON.stringify(NAVIGATION_V1) } },
);
const kafkajs = new KafkajsSchemaRegistry({ host: registryUrl });

const isValue = (d: unknown) => d !== TOMBSTONE && !(d instanceof CodecError);
const check = (count: number) => {
  if (count !== RECORDS) throw new Error(`decoded ${count} of ${RECORDS} records`);
};

const contenders: [string, () => unknown, { warmup: number; runs: number }][] = [
  [
    'this codec (full)',
    async () => check((await full.decodeAll(partition(avroEvent))).filter(isValue).length),
    { warmup: 5, runs: 21 },
  ],
  [
    'this codec (projected, 5 fields)',
    async () => check((await projected.decodeAll(partition(avroEvent))).filter(isValue).length),
    { warmup: 5, runs: 21 },
  ],
  [
    'this codec (mapping SOURCE)',
    async () => check((await full.decodeAll(partition(sourceEvent))).filter(isValue).length),
    { warmup: 5, runs: 21 },
  ],
  [
    'this codec (mapping JSON)',
    async () => check((await full.decodeAll(partition(mappingJsonEvent))).filter(isValue).length),
    { warmup: 5, runs: 21 },
  ],
  [
    '@aws-lambda-powertools/kafka (Avro)',
    async () => check((await powertools(strippedEvent as never, {} as Context)) as number),
    { warmup: 1, runs: 3 },
  ],
  [
    '@kafkajs/confluent-schema-registry',
    async () => {
      let n = 0;
      for (const record of partition(avroEvent))
        if (await kafkajs.decode(Buffer.from(record.value as string, 'base64'))) n++;
      check(n);
    },
    { warmup: 2, runs: 7 },
  ],
  [
    'JSON.parse (same records as JSON)',
    () => {
      let n = 0;
      for (const record of partition(jsonEvent))
        if (JSON.parse(Buffer.from(record.value as string, 'base64').toString())) n++;
      check(n);
    },
    { warmup: 5, runs: 21 },
  ],
];

const results = await measureIsolated(contenders);
const usPerMsg = (name: string) => ((results.find((r) => r.name === name)?.medianMs ?? Number.NaN) * 1000) / RECORDS;
const ours = usPerMsg('this codec (full)');

console.log(
  `\n${RECORDS} Navigation records in one MSK event (${(JSON.stringify(avroEvent).length / 1e6).toFixed(1)} MB as Avro, ${(JSON.stringify(jsonEvent).length / 1e6).toFixed(1)} MB as JSON), median of runs, Node ${process.version}\n`,
);
printTable(
  ['decoder', 'µs/msg', 'msgs/s', 'runs', 'time ÷ ours'],
  results.map((r) => {
    const us = usPerMsg(r.name);
    return [r.name, us.toFixed(2), Math.round(1e6 / us).toLocaleString('en-US'), r.runs, (us / ours).toFixed(2)];
  }),
);
const figures = {
  ours_us: +ours.toFixed(3),
  projected_us: +usPerMsg('this codec (projected, 5 fields)').toFixed(3),
  powertools_us: +usPerMsg('@aws-lambda-powertools/kafka (Avro)').toFixed(3),
  kafkajs_sr_us: +usPerMsg('@kafkajs/confluent-schema-registry').toFixed(3),
  json_us: +usPerMsg('JSON.parse (same records as JSON)').toFixed(3),
  mapping_source_us: +usPerMsg('this codec (mapping SOURCE)').toFixed(3),
  mapping_json_us: +usPerMsg('this codec (mapping JSON)').toFixed(3),
};
console.log(
  `\ntargets: ours ≥ 50× faster than Powertools: ${(figures.powertools_us / figures.ours_us).toFixed(1)}×; ` +
    `ours ≥ 1.3× faster than JSON.parse: ${(figures.json_us / figures.ours_us).toFixed(2)}×; ` +
    `projected ≥ 2.5× faster than JSON.parse: ${(figures.json_us / figures.projected_us).toFixed(2)}×`,
);
console.log(JSON.stringify(figures));
