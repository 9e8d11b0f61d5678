import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { CATALOG, type FunctionName } from '../functions/catalog';
import { ConfigError } from '../lib/errors';
import { DEFAULT_SPECULATIVE } from '../lib/scylla/config';
import { parseTableSinkConfig } from '../lib/sink/config';

/**
 * The deployment configuration of one environment: `infra/environments/<name>.json`, chosen with
 * `cdk synth -c environment=<name>` (default `example`). Parsed and validated once, before any construct is built,
 * so a mistake fails the synth with the file and the path of the bad value instead of a CloudFormation rollback.
 */

const arn = (service: string) =>
  z.string().regex(new RegExp(`^arn:aws[a-z-]*:${service}:[a-z0-9-]+:\\d{12}:.+`), `must be an ${service} ARN`);
const mskClusterArn = z
  .string()
  .regex(/^arn:aws[a-z-]*:kafka:[a-z0-9-]+:\d{12}:cluster\/[^/]+\/[^/]+$/, 'must be an MSK cluster ARN');
const hostPort = z.string().regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, 'must be host[:port]');
const routeTableId = z.string().regex(/^rtb-[0-9a-f]{8,17}$/, 'must be a route table id');
const securityGroupId = z.string().regex(/^sg-[0-9a-f]{8,17}$/, 'must be a security group id');
const topicName = z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, 'must be a Kafka topic name');

const pollers = z
  .object({ minimum: z.int().min(1).max(200), maximum: z.int().min(1).max(2000) })
  .refine((p) => p.minimum <= p.maximum, 'minimum must not exceed maximum');

/** What every deployed function takes: its topic, memory, the mapping's batching and controls. */
const functionShape = {
  topic: topicName,
  /**
   * Defaults to the function's name: one consumer group per function, as the local runner does. Create-only on the
   * event-source mapping, like `startingPosition`: changing either makes CloudFormation create the new mapping
   * before deleting the old one, and Lambda refuses a second mapping of the same function, cluster and topic (409,
   * "already exists"). The default changes only with the environment's name. To change either: remove the
   * function's mapping and deploy, then deploy it back with the new value.
   */
  consumerGroupId: z.string().min(1).max(200).optional(),
  /**
   * Memory buys CPU (one vCPU at 1,769 MB). Measured under RIE with Lambda's memory cap and CPU share
   * (`npm run bench:lambda`): the largest event (10,000 records, 6 MB) needs 160 MB in navigation-enricher (128 MB
   * is killed) and peaks at 225-320 MB at 1,024 MB or more; the cost per million events moves by at most 20 % from
   * 256 to 1,769 MB (the work is mostly CPU, billed by the same GB-s at any speed) while batches are 6-8 times
   * slower at 256 MB than at 1,769. So 1,024 MB by default (batches of 500 in 57-103 ms, within 4 % of the
   * cheapest), and nothing under 256 MB, where a full batch takes over 20 s (128 MB) and saves nothing.
   */
  memoryMb: z.int().min(256, 'must be at least 256 (see bench:lambda in the README)').max(10240).default(1024),
  /** ≤ 14 minutes: the ESM needs headroom under Lambda's 15-minute ceiling to record the outcome. */
  timeoutSeconds: z.int().min(10).max(840).default(120),
  /**
   * Opt-in. Lambda keeps at least 100 executions of the account's regional concurrency quota unreserved, and new
   * accounts can start with a quota far below the usual 1,000: a reservation the account cannot give fails the
   * deploy ("decreases account's UnreservedConcurrentExecution below its minimum value"). Set
   * `lambdaConcurrencyQuota` to the account's quota (Service Quotas) when reserving; the synth refuses what cannot
   * fit and warns above half of what can.
   */
  reservedConcurrency: z.int().min(1).optional(),
  batchSize: z.int().min(1).max(10_000).default(2_000),
  batchingWindowSeconds: z.int().min(0).max(300).default(1),
  startingPosition: z.enum(['TRIM_HORIZON', 'LATEST', 'AT_TIMESTAMP']).default('TRIM_HORIZON'),
  /** Unix seconds; required with AT_TIMESTAMP. */
  startingPositionTimestamp: z.int().positive().optional(),
  /** Provisioned mode: required by the error-handling controls below (retries, bisect, record age, partial). */
  provisionedPollers: pollers.optional(),
  /**
   * -1 (AWS's default): a failed batch is retried until it succeeds, and the partition waits. The function
   * dead-letters poison itself, so a batch fails only on a transient failure (Scylla, the registry): any finite
   * budget, or an on-failure destination (which caps -1 at 10), sends a long outage's records out of the pipeline.
   * The synth warns about both (README, "Riding out an outage").
   */
  retryAttempts: z.int().min(-1).max(10_000).default(-1),
  bisectBatchOnError: z.boolean().default(false),
  /** -1: no limit. */
  maxRecordAgeSeconds: z
    .int()
    .refine((s) => s === -1 || (s >= 60 && s <= 604_800), '-1 or 60..604800')
    .default(-1),
  reportBatchItemFailures: z.boolean().default(true),
  /**
   * Opt-in: the mapping validates each value against the schema registry before invoking (provisioned mode; AWS,
   * "Using schema registries with Kafka event sources in Lambda") and delivers it as SOURCE (the Avro body, schema
   * id removed) or JSON; the function reads both, and framed values, from the record itself. The registry is the
   * environment's: its first `schemaRegistry.urls` entry (Confluent, with a basic-auth secret) or its
   * `glueRegistryArn`. Worth it to filter on decoded fields before paying for an invocation; not for speed: it adds
   * event poller units, and decoding in the function costs microseconds per record (README, "Decoding in the
   * mapping").
   */
  mappingSchemaRegistry: z
    .discriminatedUnion('registry', [
      z.object({
        registry: z.literal('confluent'),
        eventRecordFormat: z.enum(['SOURCE', 'JSON']),
        /** Basic-auth credentials of the registry (`{"username","password"}`), which the mapping reads. */
        basicAuthSecretArn: arn('secretsmanager'),
      }),
      z.object({ registry: z.literal('glue'), eventRecordFormat: z.enum(['SOURCE', 'JSON']) }),
    ])
    .optional(),
  /** The write executor's bound (SCYLLA_MAX_IN_FLIGHT): 128 was best in bench:scylla and bench:e2e. */
  maxInFlight: z.int().min(1).max(4096).default(128),
  /**
   * Hedged requests for idempotent statements (SCYLLA_SPECULATIVE_MAX, SCYLLA_SPECULATIVE_DELAY_MS): the defaults
   * and how to choose them are in lib/scylla/config.ts and docs/tuning.md.
   */
  speculativeMax: z.int().min(0).max(4).default(DEFAULT_SPECULATIVE.max),
  speculativeDelayMs: z.int().min(1).max(60_000).default(DEFAULT_SPECULATIVE.delayMs),
};

function checkFunction(f: z.infer<z.ZodObject<typeof functionShape>>, ctx: z.core.$RefinementCtx): void {
  if (f.startingPosition === 'AT_TIMESTAMP' && f.startingPositionTimestamp === undefined)
    ctx.addIssue({ code: 'custom', path: ['startingPositionTimestamp'], message: 'is required with AT_TIMESTAMP' });
  if (f.startingPosition !== 'AT_TIMESTAMP' && f.startingPositionTimestamp !== undefined)
    ctx.addIssue({ code: 'custom', path: ['startingPositionTimestamp'], message: 'is only valid with AT_TIMESTAMP' });
  const controls =
    f.reportBatchItemFailures || f.bisectBatchOnError || f.retryAttempts !== -1 || f.maxRecordAgeSeconds !== -1;
  // AWS: Kafka error-handling controls exist only in provisioned mode (lambda/latest/dg/kafka-retry-configurations).
  if (f.mappingSchemaRegistry && !f.provisionedPollers)
    ctx.addIssue({
      code: 'custom',
      path: ['provisionedPollers'],
      message: 'is required: a schema registry on a Kafka ESM needs provisioned mode',
    });
  if (controls && !f.provisionedPollers)
    ctx.addIssue({
      code: 'custom',
      path: ['provisionedPollers'],
      message:
        'is required: retries, bisect, max record age and ReportBatchItemFailures on a Kafka ESM need provisioned mode',
    });
}

const functionSchema = z.object(functionShape).superRefine(checkFunction);

/**
 * A table sink (lib/sink): a function configured by its mapping alone, deployed from the one table-sink bundle. Its
 * mapping (table, columns, primaryKey, ttl, writeTime, consistency) is checked here by the parser the function runs
 * at cold start, so a mistake fails the synth, naming its path.
 */
const sinkSchema = z
  .object({
    ...functionShape,
    table: z.string(),
    columns: z.record(z.string(), z.string()),
    primaryKey: z.array(z.string()).optional(),
    ttl: z.union([z.int(), z.string()]).optional(),
    writeTime: z.union([z.int(), z.string()]).optional(),
    consistency: z.string().optional(),
  })
  .superRefine((sink, ctx) => {
    checkFunction(sink, ctx);
    try {
      parseTableSinkConfig({ SINK_CONFIG: JSON.stringify(sinkMapping(sink)) });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      const path = error.key.split('.').slice(1);
      ctx.addIssue({ code: 'custom', path, message: error.message.slice(error.key.length + 2) });
    }
  });

/** The part of a sink's settings its function reads (SINK_CONFIG). */
export function sinkMapping(sink: SinkConfig | z.input<typeof sinkSchema>) {
  const { table, columns, primaryKey, ttl, writeTime, consistency } = sink;
  return { table, columns, primaryKey, ttl, writeTime, consistency };
}

const kafkaSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('msk'),
    clusterArn: mskClusterArn,
    /** IAM: the function role gets kafka-cluster:* on this cluster, its topics and its groups only. */
    authentication: z.enum(['iam', 'sasl-scram']).default('iam'),
    /** The AmazonMSK_-prefixed SCRAM secret, for `sasl-scram`. */
    saslScramSecretArn: arn('secretsmanager').optional(),
    /** The customer-managed key MSK requires SCRAM secrets to use: readers also get kms:Decrypt on it. */
    saslScramSecretKeyArn: arn('kms').optional(),
    /**
     * The cluster's security groups, which its mapping's network interfaces use: the SQS endpoint for failed
     * batches admits HTTPS from them.
     */
    securityGroupIds: z.array(securityGroupId).min(1).optional(),
  }),
  z.object({
    type: z.literal('self-managed'),
    bootstrapServers: z.array(hostPort).min(1),
    authentication: z.enum(['sasl-scram-512', 'sasl-scram-256', 'basic', 'mtls']).default('sasl-scram-512'),
    secretArn: arn('secretsmanager'),
    /** The secret's customer-managed KMS key, when it has one: readers also get kms:Decrypt on it. */
    secretKeyArn: arn('kms').optional(),
    rootCaSecretArn: arn('secretsmanager').optional(),
  }),
]);

const configSchema = z
  .object({
    /** Prefix of every physical name (functions, alarms, dashboard): lets several environments share an account. */
    name: z.string().regex(/^[a-z][a-z0-9-]{1,30}$/, 'lowercase letters, digits and dashes, 2-31 characters'),
    account: z
      .string()
      .regex(/^\d{12}$/)
      .optional(),
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region'),
    vpc: z.object({
      vpcId: z.string().regex(/^vpc-[0-9a-f]{8,17}$/),
      /** Where Scylla (and self-managed brokers) live: the functions' egress is limited to it, except HTTPS. */
      cidrBlock: z.cidrv4(),
      availabilityZones: z.array(z.string().min(1)).min(1),
      privateSubnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/)).min(1),
      /** The private subnets' route tables, in the same order (the self-managed Kafka mapping's S3 route). */
      privateRouteTableIds: z.array(routeTableId).optional(),
      /**
       * The route tables of the MSK cluster's subnets. An MSK mapping's network interfaces live in the cluster's
       * subnets with the cluster's security groups (AWS, "Create an MSK event source mapping"), not in the
       * functions' subnets: the S3 gateway endpoint for failed batches goes on these route tables.
       */
      kafkaRouteTableIds: z.array(routeTableId).min(1).optional(),
      /**
       * The VPC's DNS attributes (`aws ec2 describe-vpc-attribute`): an interface endpoint with private DNS, as the
       * SQS one is, needs both true (EC2 CreateVpcEndpoint). Stated here because the synth cannot look them up.
       */
      enableDnsSupport: z.boolean().optional(),
      enableDnsHostnames: z.boolean().optional(),
      /**
       * Lambda reaches the mapping's on-failure destination (S3, SQS) through a VPC endpoint inside the Kafka
       * cluster's VPC, and drops failed batches without one (Lambda docs, "Capturing discarded batches").
       * `create`: this stack adds it (S3 gateway on the mapping's route tables, SQS interface in the subnets);
       * `exists`: the VPC has one already, and must: a route table holds one S3 gateway route (a second endpoint
       * on it fails the deploy), and a VPC one SQS endpoint with private DNS (a second one's DNS name conflicts).
       */
      onFailureEndpoint: z.enum(['create', 'exists']).optional(),
    }),
    kafka: kafkaSchema,
    scylla: z.object({
      contactPoints: z.array(hostPort).min(1),
      port: z.int().min(1).max(65535).default(9142),
      localDataCenter: z.string().min(1),
      keyspace: z.string().regex(/^[a-z][a-z0-9_]{0,47}$/),
      consistency: z.enum(['LOCAL_ONE', 'LOCAL_QUORUM', 'QUORUM', 'ONE']).default('LOCAL_QUORUM'),
      /** Security group of the Scylla nodes: gets one ingress rule from the functions' group on `port`. */
      securityGroupId: securityGroupId.optional(),
      /** An existing secret {"username","password"}; when absent the stack creates one for you to fill in. */
      credentialsSecretArn: arn('secretsmanager').optional(),
      tls: z.boolean().default(true),
      /** The PEM of the CA that signs the nodes' certificates: the functions trust it and nothing else. */
      tlsCaSecretArn: arn('secretsmanager').optional(),
      /**
       * TLS with no CA secret trusts only Node's public roots, which do not sign a private CA's certificates
       * (`*.scylla.internal`): every batch would fail with SCYLLA_TLS_REFUSED. Set true only when the nodes'
       * certificates come from a public CA.
       */
      publicCa: z.boolean().default(false),
    }),
    schemaRegistry: z
      .object({
        urls: z.array(z.url({ protocol: /^https?$/ })).default([]),
        /** AWS Glue Schema Registry for Glue-framed records: grants glue:GetSchemaVersion on this registry. */
        glueRegistryArn: arn('glue').optional(),
      })
      .refine((r) => r.urls.length > 0 || r.glueRegistryArn, 'needs urls, a glueRegistryArn, or both'),
    /**
     * Where poison records go: the `dead_letters` table, an SQS queue the stack creates, or a Kafka topic on the
     * same cluster (`topic` and `bootstrapServers`, authenticated like the event source).
     */
    deadLetters: z
      .discriminatedUnion('sink', [
        z.object({ sink: z.literal('scylla') }),
        z.object({ sink: z.literal('sqs') }),
        z.object({ sink: z.literal('kafka'), topic: topicName, bootstrapServers: z.array(hostPort).min(1) }),
      ])
      .default({ sink: 'scylla' }),
    /**
     * Where the ESM sends batches that exhausted their retries or record age: S3 keeps the records themselves. None by
     * default: with one, AWS applies at most 10 retries even to `retryAttempts: -1`, so an outage diverts records.
     */
    esmFailureDestination: z.enum(['s3', 'sqs', 'none']).default('none'),
    /**
     * The longest outage of Scylla or the registry the pipeline must ride out with every record staying on its path
     * (stalled, then caught up): the synth warns about a record age shorter than it.
     */
    rideOutOutageMinutes: z.int().min(1).max(10_080).default(10),
    metrics: z
      .object({
        namespace: z.string().min(1).default('KafkaProcessors'),
        /** `amp`: a new Amazon Managed Prometheus workspace; `url`: any remote-write endpoint; `off`: EMF only. */
        remoteWrite: z
          .discriminatedUnion('target', [
            z.object({ target: z.literal('off') }),
            z.object({ target: z.literal('amp') }),
            z.object({ target: z.literal('url'), url: z.url({ protocol: /^https?$/ }) }),
          ])
          .default({ target: 'off' }),
      })
      .default({ namespace: 'KafkaProcessors', remoteWrite: { target: 'off' } }),
    alarms: z
      .object({
        /** Subscribed to the alarm topic when set. */
        email: z.email().optional(),
        offsetLagThreshold: z.int().min(1).default(100_000),
        errorRatePercent: z.number().min(0).max(100).default(5),
      })
      .default({ offsetLagThreshold: 100_000, errorRatePercent: 5 }),
    /** The account's Lambda concurrency quota in this region (Service Quotas): bounds `reservedConcurrency`. */
    lambdaConcurrencyQuota: z.int().min(10).default(1000),
    logRetentionDays: z
      .union([z.literal(1), z.literal(3), z.literal(7), z.literal(14), z.literal(30), z.literal(90), z.literal(365)])
      .default(30),
    /**
     * One entry per function of functions/catalog.ts. A function the file does not name is deployed with every
     * default, its catalog topic and one to ten provisioned pollers (partial batch responses, the runtime's way of
     * retrying only what failed, need provisioned mode): a processor added with `npm run new` deploys without
     * touching the environments, and an environment names it to change any of that.
     */
    functions: z.object(
      Object.fromEntries(
        CATALOG.map(({ name, topic }) => [
          name,
          functionSchema.prefault({ topic, provisionedPollers: { minimum: 1, maximum: 10 } }),
        ]),
      ) as Record<FunctionName, z.ZodPrefault<typeof functionSchema>>,
    ),
    /** Table sinks by name (the deployed function's name suffix, like a catalog function's): see `sinkSchema`. */
    sinks: z
      .record(z.string().regex(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/, 'must be lowercase words joined by -'), sinkSchema)
      .default({}),
  })
  .superRefine((c, ctx) => {
    if (c.kafka.type === 'msk' && c.kafka.authentication === 'sasl-scram' && !c.kafka.saslScramSecretArn)
      ctx.addIssue({ code: 'custom', path: ['kafka', 'saslScramSecretArn'], message: 'is required with sasl-scram' });
    for (const name of Object.keys(c.sinks))
      if (name in c.functions)
        ctx.addIssue({ code: 'custom', path: ['sinks', name], message: 'is the name of a function of the catalog' });
    for (const [name, f] of Object.entries(c.functions)) {
      const registry = f.mappingSchemaRegistry?.registry;
      if (registry === 'confluent' && c.schemaRegistry.urls.length === 0)
        ctx.addIssue({
          code: 'custom',
          path: ['functions', name, 'mappingSchemaRegistry'],
          message: 'confluent needs schemaRegistry.urls (the mapping uses the first)',
        });
      if (registry === 'glue' && !c.schemaRegistry.glueRegistryArn)
        ctx.addIssue({
          code: 'custom',
          path: ['functions', name, 'mappingSchemaRegistry'],
          message: 'glue needs schemaRegistry.glueRegistryArn',
        });
    }
    if (c.deadLetters.sink === 'kafka' && c.kafka.type === 'self-managed' && c.kafka.authentication === 'mtls')
      ctx.addIssue({
        code: 'custom',
        path: ['deadLetters', 'sink'],
        message: 'kafka needs SASL (or MSK IAM) credentials: mTLS is not supported by the dead-letter producer',
      });
    if (c.esmFailureDestination !== 'none' && !c.vpc.onFailureEndpoint)
      ctx.addIssue({
        code: 'custom',
        path: ['vpc', 'onFailureEndpoint'],
        message: `is required with esmFailureDestination ${c.esmFailureDestination}: Lambda sends failed batches through a VPC endpoint in the cluster's VPC ("create" adds one, "exists" says the VPC has it)`,
      });
    const creating = c.vpc.onFailureEndpoint === 'create';
    if (creating && c.esmFailureDestination === 's3' && c.kafka.type === 'msk' && !c.vpc.kafkaRouteTableIds)
      ctx.addIssue({
        code: 'custom',
        path: ['vpc', 'kafkaRouteTableIds'],
        message:
          "is required to create the S3 gateway endpoint: the MSK mapping sends failed batches from the cluster's subnets, so the route goes on their route tables (or set onFailureEndpoint: exists when they have an S3 route already)",
      });
    if (
      creating &&
      c.esmFailureDestination === 's3' &&
      c.kafka.type === 'self-managed' &&
      c.vpc.privateRouteTableIds?.length !== c.vpc.privateSubnetIds.length
    )
      ctx.addIssue({
        code: 'custom',
        path: ['vpc', 'privateRouteTableIds'],
        message:
          'must name each private subnet route table to create the S3 gateway endpoint (the self-managed Kafka mapping runs in those subnets)',
      });
    if (creating && c.esmFailureDestination === 'sqs') {
      for (const attribute of ['enableDnsSupport', 'enableDnsHostnames'] as const) {
        if (c.vpc[attribute] !== true)
          ctx.addIssue({
            code: 'custom',
            path: ['vpc', attribute],
            message:
              'must be true to create the SQS endpoint with private DNS (EC2 CreateVpcEndpoint): check the VPC with `aws ec2 describe-vpc-attribute`, or set onFailureEndpoint: exists',
          });
      }
      if (c.kafka.type === 'msk' && !c.kafka.securityGroupIds)
        ctx.addIssue({
          code: 'custom',
          path: ['kafka', 'securityGroupIds'],
          message:
            "is required to create the SQS endpoint: it admits HTTPS from the cluster's security groups, which the MSK mapping uses",
        });
    }
    if (c.kafka.type === 'msk') {
      // An MSK event-source mapping reads a cluster of its own region; the account must match when it is known.
      const [, , , region, account] = c.kafka.clusterArn.split(':');
      if (region !== c.region)
        ctx.addIssue({
          code: 'custom',
          path: ['kafka', 'clusterArn'],
          message: `is in ${region}, the stack in ${c.region}`,
        });
      if (c.account && account !== c.account)
        ctx.addIssue({
          code: 'custom',
          path: ['kafka', 'clusterArn'],
          message: `belongs to account ${account}, the stack to ${c.account}`,
        });
    }
    const reservable = c.lambdaConcurrencyQuota - UNRESERVED_MINIMUM;
    if (reservedTotal(c) > reservable)
      ctx.addIssue({
        code: 'custom',
        path: ['functions'],
        message: `reserve ${reservedTotal(c)} executions in all, but a quota of ${c.lambdaConcurrencyQuota} leaves ${reservable} to reserve (Lambda keeps ${UNRESERVED_MINIMUM} unreserved): the deploy would fail`,
      });
    if (c.scylla.tlsCaSecretArn && !c.scylla.tls)
      ctx.addIssue({ code: 'custom', path: ['scylla', 'tlsCaSecretArn'], message: 'needs tls: true' });
    if (c.scylla.tls && !c.scylla.tlsCaSecretArn && !c.scylla.publicCa)
      ctx.addIssue({
        code: 'custom',
        path: ['scylla', 'tlsCaSecretArn'],
        message:
          "is required with tls: without it the functions trust only Node's public roots, which do not sign a private CA's node certificates, and every batch would fail with SCYLLA_TLS_REFUSED (set publicCa: true if a public CA signs them)",
      });
    if (c.scylla.publicCa && (c.scylla.tlsCaSecretArn || !c.scylla.tls))
      ctx.addIssue({
        code: 'custom',
        path: ['scylla', 'publicCa'],
        message: 'means TLS with no CA secret: it needs tls: true and no tlsCaSecretArn',
      });
  });

/**
 * AWS, "Using a Kafka topic as an on-failure destination": "When you configure both infinite retries and an
 * on-failure destination, Lambda automatically applies a maximum of 10 retry attempts."
 */
export const RETRIES_WITH_DESTINATION = 10;

/**
 * What in a configuration can send a function's records out of the pipeline on a transient failure (an outage),
 * one sentence each: a finite retry budget, an on-failure destination (it caps infinite retries at 10, AWS "Kafka
 * on-failure destinations"), a record age shorter than the outage to ride out.
 */
export function transientDiversions(config: PipelineConfig): string[] {
  const warnings: string[] = [];
  const destination =
    config.esmFailureDestination === 'none'
      ? 'dropped by the mapping (no on-failure destination)'
      : `sent to the ${config.esmFailureDestination} on-failure destination`;
  for (const [name, f] of Object.entries(config.functions)) {
    const retries =
      f.retryAttempts === -1 && config.esmFailureDestination !== 'none' ? RETRIES_WITH_DESTINATION : f.retryAttempts;
    if (retries !== -1)
      warnings.push(
        `${name}: an outage that outlasts ${retries + 1} invocations of a batch has its records ${destination}, out of order and out of the pipeline${f.retryAttempts === -1 ? ` (AWS caps infinite retries at ${RETRIES_WITH_DESTINATION} with a destination)` : ''}`,
      );
    if (f.maxRecordAgeSeconds !== -1 && f.maxRecordAgeSeconds < config.rideOutOutageMinutes * 60)
      warnings.push(
        `${name}: records older than ${f.maxRecordAgeSeconds} s are ${destination}, shorter than the ${config.rideOutOutageMinutes}-minute outage to ride out (rideOutOutageMinutes)`,
      );
  }
  return warnings;
}

/** Lambda keeps this many executions of the account's quota unreserved ("Configuring reserved concurrency"). */
export const UNRESERVED_MINIMUM = 100;

/** The executions the config reserves across its functions. */
export function reservedTotal(config: {
  functions: Record<string, { reservedConcurrency?: number }>;
  sinks?: Record<string, { reservedConcurrency?: number }>;
}): number {
  return [...Object.values(config.functions), ...Object.values(config.sinks ?? {})].reduce(
    (sum, f) => sum + (f.reservedConcurrency ?? 0),
    0,
  );
}

export type PipelineConfig = z.infer<typeof configSchema>;
export type FunctionConfig = z.infer<typeof functionSchema>;
export type SinkConfig = z.infer<typeof sinkSchema>;
export type KafkaConfig = z.infer<typeof kafkaSchema>;
export type SchemaRegistryConfig = PipelineConfig['schemaRegistry'];

/** Validates a configuration object; `source` names it in the error (a file path). */
export function parsePipelineConfig(raw: unknown, source: string): PipelineConfig {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `  ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new ConfigError(source, `\n${problems.join('\n')}`);
  }
  return result.data;
}

export const ENVIRONMENTS_DIR = path.join(import.meta.dirname, 'environments');

/** Reads `infra/environments/<environment>.json`. */
export function loadPipelineConfig(environment: string): PipelineConfig {
  if (!/^[a-z0-9-]+$/.test(environment)) throw new ConfigError('environment', `"${environment}" is not a name`);
  const file = path.join(ENVIRONMENTS_DIR, `${environment}.json`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new ConfigError('environment', `no file ${path.relative(process.cwd(), file)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(file, `is not JSON: ${(error as Error).message}`);
  }
  return parsePipelineConfig(json, file);
}
