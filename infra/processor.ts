import { Duration, RemovalPolicy, Stack, Tags } from 'aws-cdk-lib';
import type { ISecurityGroup, IVpc, SubnetSelection } from 'aws-cdk-lib/aws-ec2';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import {
  Architecture,
  type CfnFunction,
  EventRecordFormat,
  EventSourceMapping,
  type IEventSourceDlq,
  type IFunction,
  KafkaSchemaRegistryAccessConfigType,
  KafkaSchemaValidationAttribute,
  Function as LambdaFunction,
  MetricType,
  Runtime,
  StartingPosition,
} from 'aws-cdk-lib/aws-lambda';
import {
  AuthenticationMethod,
  ConfluentSchemaRegistry,
  type KafkaEventSourceProps,
  ManagedKafkaEventSource,
  SelfManagedKafkaEventSource,
} from 'aws-cdk-lib/aws-lambda-event-sources';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { BundleName } from './build';
import type { FunctionConfig, KafkaConfig, SchemaRegistryConfig } from './config';
import { functionCode } from './function-code';

export interface ProcessorProps {
  /** The catalog function's or the sink's name: the `processor` tag tools find the function by. */
  readonly processor: string;
  /** The bundle it runs: the catalog function's own, or the table sink's. */
  readonly bundle: BundleName;
  /** The physical function name; also the `function` dimension of its EMF metrics. */
  readonly functionName: string;
  readonly config: FunctionConfig;
  readonly kafka: KafkaConfig;
  /** The environment's registry: the one the mapping validates against, with `config.mappingSchemaRegistry`. */
  readonly schemaRegistry: SchemaRegistryConfig;
  readonly vpc: IVpc;
  readonly subnets: SubnetSelection;
  readonly securityGroup: ISecurityGroup;
  /** Shared settings (Scylla, registry, metrics, dead letters); the processor adds its own. */
  readonly environment: Record<string, string>;
  readonly logRetention: RetentionDays;
  /** Where the ESM sends a batch that exhausted its retries. */
  readonly onFailure?: IEventSourceDlq;
}

const AUTHENTICATION: Record<string, AuthenticationMethod> = {
  'sasl-scram-512': AuthenticationMethod.SASL_SCRAM_512_AUTH,
  'sasl-scram-256': AuthenticationMethod.SASL_SCRAM_256_AUTH,
  basic: AuthenticationMethod.BASIC_AUTH,
  mtls: AuthenticationMethod.CLIENT_CERTIFICATE_TLS_AUTH,
};

/** One processor: its Lambda function (the shared bundle build), its log group, and its Kafka event-source mapping. */
export class Processor extends Construct {
  readonly function: LambdaFunction;
  readonly functionName: string;
  /** Where the function and Lambda's platform lines (REPORT) are written. */
  readonly logGroup: LogGroup;
  readonly topic: string;
  readonly memorySizeMb: number;
  readonly timeoutSeconds: number;
  /** The event-source mapping's UUID: the `EventSourceMappingUUID` dimension of its own metrics. */
  readonly eventSourceMappingId: string;

  constructor(scope: Construct, id: string, props: ProcessorProps) {
    super(scope, id);
    const { config, functionName } = props;
    this.functionName = functionName;
    this.topic = config.topic;
    this.memorySizeMb = config.memoryMb;
    this.timeoutSeconds = config.timeoutSeconds;

    // No fixed name, and kept except when its own creation rolls back: a fixed name retained after a failed first
    // deploy makes the retry fail with "already exists". Lambda logs here through its LoggingConfig.
    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    });
    this.function = new LambdaFunction(this, 'Function', {
      functionName,
      description: `${props.processor}: Kafka topic ${config.topic} to Scylla`,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      handler: 'index.handler',
      code: functionCode(props.bundle),
      memorySize: config.memoryMb,
      timeout: Duration.seconds(config.timeoutSeconds),
      reservedConcurrentExecutions: config.reservedConcurrency,
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      securityGroups: [props.securityGroup],
      logGroup: this.logGroup,
      environment: {
        ...props.environment,
        FUNCTION_NAME: functionName,
        SCYLLA_MAX_IN_FLIGHT: String(config.maxInFlight),
        SCYLLA_SPECULATIVE_MAX: String(config.speculativeMax),
        SCYLLA_SPECULATIVE_DELAY_MS: String(config.speculativeDelayMs),
        REPORT_BATCH_ITEM_FAILURES: config.reportBatchItemFailures ? 'on' : 'off',
        NODE_OPTIONS: '--enable-source-maps',
      },
    });

    // The peak-memory metric filter (infra/observability.ts) reads Lambda's plain-text REPORT line by position; with
    // the JSON log format that line becomes a `platform.report` record and the filter would match nothing, silently.
    const cfnFunction = this.function.node.defaultChild as CfnFunction;
    this.node.addValidation({
      validate: () =>
        (cfnFunction.loggingConfig as CfnFunction.LoggingConfigProperty | undefined)?.logFormat === 'JSON'
          ? [
              `${functionName}: LogFormat JSON is not supported: the Max Memory Used metric filter reads the plain-text REPORT line (keep the Text log format)`,
            ]
          : [],
    });

    // Which processor a function runs, for cost allocation and for tools reading the template (dev/lambda/).
    Tags.of(this.function).add('processor', props.processor);
    this.function.addEventSource(this.eventSource(props));
    // The Kafka sources add an EventSourceMapping under the function; the self-managed one does not expose it.
    const mapping = this.function.node.children.find((c): c is EventSourceMapping => c instanceof EventSourceMapping);
    if (!mapping) throw new Error(`${functionName}: no event-source mapping was created`);
    this.eventSourceMappingId = mapping.eventSourceMappingId;
    const kafka = props.kafka;
    const keyArn = kafka.type === 'msk' ? kafka.saslScramSecretKeyArn : kafka.secretKeyArn;
    if (keyArn) grantSecretKeyDecrypt(this.function, keyArn);
  }

  private eventSource(props: ProcessorProps) {
    const { config, kafka } = props;
    const common: KafkaEventSourceProps = {
      topic: config.topic,
      consumerGroupId: config.consumerGroupId ?? props.functionName,
      startingPosition: StartingPosition[config.startingPosition],
      startingPositionTimestamp: config.startingPositionTimestamp,
      batchSize: config.batchSize,
      maxBatchingWindow: Duration.seconds(config.batchingWindowSeconds),
      provisionedPollerConfig: config.provisionedPollers && {
        minimumPollers: config.provisionedPollers.minimum,
        maximumPollers: config.provisionedPollers.maximum,
      },
      // -1 is AWS's "no limit", expressed in CloudFormation by leaving the property out.
      retryAttempts: config.retryAttempts === -1 ? undefined : config.retryAttempts,
      maxRecordAge: config.maxRecordAgeSeconds === -1 ? undefined : Duration.seconds(config.maxRecordAgeSeconds),
      bisectBatchOnError: config.bisectBatchOnError,
      reportBatchItemFailures: config.reportBatchItemFailures,
      onFailure: props.onFailure,
      schemaRegistryConfig: this.mappingSchemaRegistry(props),
      metricsConfig: { metrics: [MetricType.EVENT_COUNT, MetricType.ERROR_COUNT, MetricType.KAFKA_METRICS] },
    };
    if (kafka.type === 'self-managed') {
      return new SelfManagedKafkaEventSource({
        ...common,
        bootstrapServers: kafka.bootstrapServers,
        authenticationMethod: AUTHENTICATION[kafka.authentication],
        secret: Secret.fromSecretCompleteArn(this, 'KafkaSecret', kafka.secretArn),
        rootCACertificate: kafka.rootCaSecretArn
          ? Secret.fromSecretCompleteArn(this, 'KafkaRootCa', kafka.rootCaSecretArn)
          : undefined,
        vpc: props.vpc,
        vpcSubnets: props.subnets,
        securityGroup: props.securityGroup,
      });
    }
    if (kafka.authentication === 'iam') this.grantMskIam(kafka.clusterArn, common.consumerGroupId ?? '');
    return new ManagedKafkaEventSource({
      ...common,
      clusterArn: kafka.clusterArn,
      secret: kafka.saslScramSecretArn
        ? Secret.fromSecretCompleteArn(this, 'KafkaSecret', kafka.saslScramSecretArn)
        : undefined,
    });
  }

  /** The mapping's own schema registry integration, when the function's config asks for it (validated there). */
  private mappingSchemaRegistry({ config, schemaRegistry }: ProcessorProps) {
    const mapping = config.mappingSchemaRegistry;
    if (!mapping) return undefined;
    const common = {
      eventRecordFormat: EventRecordFormat[mapping.eventRecordFormat],
      schemaValidationConfigs: [{ attribute: KafkaSchemaValidationAttribute.VALUE }],
    };
    if (mapping.registry === 'glue') {
      // Not aws-cdk-lib's GlueSchemaRegistry: it grants glue:GetSchemaVersion on an Fn::Sub of the schema ARNs, which
      // cdk-nag can only be told about by a suppression id holding `${AWS::AccountId}`, itself a cfn-lint finding.
      // The functions already read this registry's schemas (pipeline-stack.ts); the mapping also needs GetRegistry.
      const registryArn = schemaRegistry.glueRegistryArn as string;
      this.function.addToRolePolicy(new PolicyStatement({ actions: ['glue:GetRegistry'], resources: [registryArn] }));
      return { bind: () => ({ ...common, schemaRegistryUri: registryArn }) };
    }
    return new ConfluentSchemaRegistry({
      ...common,
      schemaRegistryUri: schemaRegistry.urls[0] as string,
      authenticationType: KafkaSchemaRegistryAccessConfigType.BASIC_AUTH,
      secret: Secret.fromSecretCompleteArn(this, 'MappingRegistrySecret', mapping.basicAuthSecretArn),
    });
  }

  /**
   * MSK IAM access for the ESM, which polls with the function's role: connect to this cluster, read this topic,
   * commit as this consumer group; nothing else (the ARNs follow MSK's cluster/topic/group ARN formats).
   */
  private grantMskIam(clusterArn: string, groupId: string) {
    this.function.addToRolePolicy(
      new PolicyStatement({
        actions: ['kafka-cluster:Connect', 'kafka-cluster:DescribeClusterDynamicConfiguration'],
        resources: [clusterArn],
      }),
    );
    this.function.addToRolePolicy(
      new PolicyStatement({
        actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'],
        resources: [mskResourceArn(clusterArn, 'topic', this.topic)],
      }),
    );
    this.function.addToRolePolicy(
      new PolicyStatement({
        actions: ['kafka-cluster:AlterGroup', 'kafka-cluster:DescribeGroup'],
        resources: [mskResourceArn(clusterArn, 'group', groupId)],
      }),
    );
  }
}

/**
 * Lets `fn` decrypt a Kafka credentials secret's customer-managed KMS key (MSK refuses SCRAM secrets on the default
 * key), through Secrets Manager only. Explicit: CDK drops the grant of an imported key when it cannot prove the key
 * is in the stack's account, which an account-agnostic stack never can.
 */
export function grantSecretKeyDecrypt(fn: IFunction, keyArn: string): void {
  fn.addToRolePolicy(
    new PolicyStatement({
      actions: ['kms:Decrypt'],
      resources: [keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(fn).region}.amazonaws.com` } },
    }),
  );
}

/** The ARN of a topic or consumer group of an MSK cluster: `arn:…:cluster/<name>/<uuid>` → `arn:…:topic/<name>/<uuid>/<topic>`. */
export function mskResourceArn(clusterArn: string, kind: 'topic' | 'group', name: string): string {
  return `${clusterArn.replace(':cluster/', `:${kind}/`)}/${name}`;
}
