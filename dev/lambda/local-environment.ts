import { randomUUID } from 'node:crypto';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { ensureTopics } from '../demo/stream';
import {
  type FailureDestination,
  KafkaFailureDestination,
  S3FailureDestination,
  SnsFailureDestination,
  SqsFailureDestination,
} from '../esm/destinations';
import type { StackEndpoints } from '../stack/config';
import { LambdaRunError } from './errors';
import type { FunctionDefinition } from './template';

/**
 * The template's environment made to run on the local stack. Literal values stay as the template sets them
 * (consistency, in-flight bound, dead-letter sink, EMF, partial batch responses...); what names a deployed resource
 * is replaced: the Scylla contact points and data center, the schema registry, and every value CloudFormation would
 * resolve at deploy time (the credentials secret and the dead-letter queue, created in the local AWS emulator; the
 * Prometheus workspace, the local Prometheus). A deploy-time value with no local counterpart fails with its name.
 */

/** The AWS resources a deployed function finds through its environment, created in the local AWS emulator. */
export interface LocalResources {
  credentialsSecretArn: string;
  deadLetterQueueUrl: string;
}

/** Region and credentials Lambda gives a function (its execution role's), here the emulator's. */
const LOCAL_AWS = { region: 'eu-west-1' as const, accessKeyId: 'test', secretAccessKey: 'test' };

export async function createLocalResources(endpoints: StackEndpoints, name: string): Promise<LocalResources> {
  const client = { endpoint: endpoints.awsEndpoint, region: LOCAL_AWS.region, credentials: LOCAL_AWS };
  const secrets = new SecretsManagerClient(client);
  const sqs = new SQSClient(client);
  try {
    const secret = await secrets.send(
      new CreateSecretCommand({
        Name: `${name}/scylla-credentials`,
        SecretString: JSON.stringify(endpoints.cqlCredentials),
      }),
    );
    const queue = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dead-letters` }));
    if (!secret.ARN || !queue.QueueUrl) throw new Error('the emulator returned no ARN or queue URL');
    return { credentialsSecretArn: secret.ARN, deadLetterQueueUrl: queue.QueueUrl };
  } finally {
    secrets.destroy();
    sqs.destroy();
  }
}

export interface LocalEnvironment {
  environment: Record<string, string>;
  /** The variables whose template value was replaced (or removed), for the operator to see. */
  replaced: string[];
}

export function localEnvironment(
  definition: FunctionDefinition,
  endpoints: StackEndpoints,
  resources: LocalResources,
  overrides: Record<string, string> = {},
): LocalEnvironment {
  const local: Record<string, string | undefined> = {
    SCYLLA_CONTACT_POINTS: endpoints.cqlContactPoint,
    SCYLLA_LOCAL_DC: endpoints.cqlLocalDataCenter,
    SCYLLA_CREDENTIALS_SECRET_ID: resources.credentialsSecretArn,
    SCYLLA_TLS: endpoints.cqlTlsCaFile ? 'on' : 'off',
    SCYLLA_TLS_CA_FILE: endpoints.cqlTlsCaFile,
    // The deployed CA secret names a deployed resource: the local CQL server's CA is the file above.
    SCYLLA_TLS_CA_SECRET_ID: undefined,
    SCHEMA_REGISTRY_URLS: endpoints.registryUrl,
    DEAD_LETTER_QUEUE_URL: resources.deadLetterQueueUrl,
    METRICS_REMOTE_WRITE_URL: `${endpoints.prometheusUrl}/api/v1/write`,
    // Prometheus takes unsigned writes; the template signs them for Amazon Managed Prometheus.
    METRICS_REMOTE_WRITE_SIGV4_REGION: undefined,
    ...overrides,
  };
  const environment: Record<string, string> = { ...definition.environment };
  const replaced: string[] = [];
  for (const [name, value] of Object.entries(local)) {
    const inTemplate = name in definition.environment || name in definition.deployTimeValues;
    if (value === undefined) {
      if (inTemplate) replaced.push(name);
      delete environment[name];
      continue;
    }
    if (inTemplate && definition.environment[name] !== value) replaced.push(name);
    environment[name] = value;
  }
  const unresolved = Object.keys(definition.deployTimeValues).filter((name) => !(name in local));
  if (unresolved.length > 0)
    throw new LambdaRunError(
      'LAMBDA_ENVIRONMENT_UNRESOLVED',
      `${definition.processor}: ${unresolved.map((n) => `${n} (${JSON.stringify(definition.deployTimeValues[n])})`).join(', ')} ` +
        'resolved by CloudFormation at deploy time, and no local value is known: add one to dev/lambda/local-environment.ts',
    );
  return {
    environment: {
      ...environment,
      AWS_REGION: LOCAL_AWS.region,
      AWS_DEFAULT_REGION: LOCAL_AWS.region,
      AWS_ACCESS_KEY_ID: LOCAL_AWS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_AWS.secretAccessKey,
      AWS_ENDPOINT_URL: endpoints.awsEndpoint,
    },
    replaced,
  };
}

/**
 * The template's on-failure destination, made in the local world: a bucket, queue or topic in the AWS emulator, or
 * a topic on the local broker, named after the run. What the mapping delivers there can then be read and replayed.
 */
export async function createLocalFailureDestination(
  kind: NonNullable<FunctionDefinition['mapping']['onFailure']>,
  endpoints: StackEndpoints,
  name: string,
): Promise<{ destination: FailureDestination; close(): Promise<void> }> {
  const client = { endpoint: endpoints.awsEndpoint, region: LOCAL_AWS.region, credentials: LOCAL_AWS };
  const resource = `${name}-failed-batches`.toLowerCase().replaceAll('_', '-');
  if (kind === 's3') {
    const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3');
    const s3 = new S3Client({ ...client, forcePathStyle: true });
    await s3.send(
      new CreateBucketCommand({
        Bucket: resource,
        CreateBucketConfiguration: { LocationConstraint: LOCAL_AWS.region },
      }),
    );
    return { destination: new S3FailureDestination(s3, resource, randomUUID()), close: async () => s3.destroy() };
  }
  if (kind === 'sqs') {
    const sqs = new SQSClient(client);
    const queue = await sqs.send(new CreateQueueCommand({ QueueName: resource }));
    const queueArn = `arn:aws:sqs:${LOCAL_AWS.region}:000000000000:${resource}`;
    return {
      destination: new SqsFailureDestination(sqs, queue.QueueUrl ?? '', queueArn),
      close: async () => sqs.destroy(),
    };
  }
  if (kind === 'sns') {
    const { SNSClient, CreateTopicCommand } = await import('@aws-sdk/client-sns');
    const sns = new SNSClient(client);
    const topic = await sns.send(new CreateTopicCommand({ Name: resource }));
    return { destination: new SnsFailureDestination(sns, topic.TopicArn ?? ''), close: async () => sns.destroy() };
  }
  const { Producer } = await import('@platformatic/kafka');
  await ensureTopics([endpoints.kafkaBootstrap], [resource], 1);
  const producer = new Producer({ clientId: resource, bootstrapBrokers: [endpoints.kafkaBootstrap] });
  return { destination: new KafkaFailureDestination(producer, resource), close: () => producer.close() };
}
