import { Annotations, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { CfnWorkspace } from 'aws-cdk-lib/aws-aps';
import {
  CfnVPCEndpoint,
  InterfaceVpcEndpoint,
  InterfaceVpcEndpointAwsService,
  type IVpc,
  Peer,
  Port,
  SecurityGroup,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IEventSourceDlq, IFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { BlockPublicAccess, Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { FUNCTIONS, type FunctionName } from '../functions/catalog';
import { type BundleName, TABLE_SINK } from './build';
import {
  type FunctionConfig,
  type PipelineConfig,
  reservedTotal,
  sinkMapping,
  transientDiversions,
  UNRESERVED_MINIMUM,
} from './config';
import { FailedBatchesBucket } from './failed-batches';
import { Observability } from './observability';
import { grantSecretKeyDecrypt, mskResourceArn, Processor } from './processor';

export interface PipelineStackProps extends StackProps {
  readonly config: PipelineConfig;
  /**
   * The functions to deploy, each with its mapping, alarms and dashboard rows.
   * @default every function of functions/catalog.ts
   */
  readonly functions?: readonly FunctionName[];
}

/**
 * The whole pipeline of one environment: the processors and their event-source mappings, the network path to
 * MSK and Scylla, the secrets they read, where dead letters and failed batches go, where metrics go, and the
 * dashboard and alarms. Everything comes from the validated config (infra/config.ts).
 */
export class PipelineStack extends Stack {
  readonly processors: Processor[];
  readonly observability: Observability;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    const { config } = props;

    // The VPC exists already (it hosts MSK and Scylla): imported by attributes, so synth needs no AWS lookup.
    const vpc = Vpc.fromVpcAttributes(this, 'Vpc', {
      vpcId: config.vpc.vpcId,
      vpcCidrBlock: config.vpc.cidrBlock,
      availabilityZones: config.vpc.availabilityZones,
      privateSubnetIds: config.vpc.privateSubnetIds,
      privateSubnetRouteTableIds: config.vpc.privateRouteTableIds,
    });
    const subnets = { subnets: vpc.privateSubnets };
    const securityGroup = new SecurityGroup(this, 'FunctionsSecurityGroup', {
      vpc,
      description: `${config.name} processors: egress to Scylla, Kafka and AWS APIs only`,
      allowAllOutbound: false,
    });
    const insideVpc = Peer.ipv4(config.vpc.cidrBlock);
    securityGroup.addEgressRule(Peer.anyIpv4(), Port.tcp(443), 'HTTPS: AWS APIs and the schema registry');
    securityGroup.addEgressRule(insideVpc, Port.tcp(config.scylla.port), 'CQL to Scylla');
    if (config.kafka.type === 'self-managed') {
      // The ESM polls self-managed Kafka through ENIs in these subnets with this group.
      for (const port of new Set(config.kafka.bootstrapServers.map(portOf)))
        securityGroup.addEgressRule(insideVpc, Port.tcp(port), 'Kafka brokers');
    }
    for (const url of config.schemaRegistry.urls) {
      const port = Number(new URL(url).port || (url.startsWith('https') ? 443 : 80));
      if (port !== 443) securityGroup.addEgressRule(Peer.anyIpv4(), Port.tcp(port), `Schema registry ${url}`);
    }
    if (config.scylla.securityGroupId) {
      const scylla = SecurityGroup.fromSecurityGroupId(this, 'ScyllaSecurityGroup', config.scylla.securityGroupId);
      scylla.addIngressRule(securityGroup, Port.tcp(config.scylla.port), `${config.name} processors`);
    }

    const scyllaCredentials = config.scylla.credentialsSecretArn
      ? Secret.fromSecretCompleteArn(this, 'ScyllaCredentials', config.scylla.credentialsSecretArn)
      : new Secret(this, 'ScyllaCredentials', {
          description: `${config.name}: Scylla credentials of the processors ({"username","password"})`,
          generateSecretString: {
            secretStringTemplate: JSON.stringify({ username: 'processor' }),
            generateStringKey: 'password',
            excludePunctuation: true,
            passwordLength: 32,
          },
        });
    const scyllaCa: ISecret | undefined = config.scylla.tlsCaSecretArn
      ? Secret.fromSecretCompleteArn(this, 'ScyllaCa', config.scylla.tlsCaSecretArn)
      : undefined;

    const environment: Record<string, string> = {
      SCYLLA_CONTACT_POINTS: config.scylla.contactPoints
        .map((point) => (point.includes(':') ? point : `${point}:${config.scylla.port}`))
        .join(','),
      SCYLLA_LOCAL_DC: config.scylla.localDataCenter,
      SCYLLA_KEYSPACE: config.scylla.keyspace,
      SCYLLA_CONSISTENCY: config.scylla.consistency,
      SCYLLA_CREDENTIALS_SECRET_ID: scyllaCredentials.secretArn,
      SCYLLA_TLS: config.scylla.tls ? 'on' : 'off',
      ...(scyllaCa ? { SCYLLA_TLS_CA_SECRET_ID: scyllaCa.secretArn } : {}),
      ...(config.schemaRegistry.urls.length > 0 ? { SCHEMA_REGISTRY_URLS: config.schemaRegistry.urls.join(',') } : {}),
      ...(config.schemaRegistry.glueRegistryArn ? { SCHEMA_REGISTRY_GLUE: 'on' } : {}),
      METRICS_NAMESPACE: config.metrics.namespace,
      DEAD_LETTER_SINK: config.deadLetters.sink,
    };

    const deadLetterQueue = config.deadLetters.sink === 'sqs' ? this.keepingQueue('DeadLetters') : undefined;
    if (deadLetterQueue) environment.DEAD_LETTER_QUEUE_URL = deadLetterQueue.queueUrl;
    const deadLetterKafka = this.deadLetterKafka(config, environment);
    if (config.deadLetters.sink === 'kafka') {
      for (const port of new Set(config.deadLetters.bootstrapServers.map(portOf)))
        securityGroup.addEgressRule(insideVpc, Port.tcp(port), 'Kafka brokers (dead-letter topic)');
    }

    const workspace =
      config.metrics.remoteWrite.target === 'amp'
        ? new CfnWorkspace(this, 'Prometheus', { alias: `${config.name}-metrics` })
        : undefined;
    if (workspace) {
      // The workspace's endpoint already ends in /api/v1/ (AMP API reference, WorkspaceDescription).
      const remoteWriteUrl = `${workspace.attrPrometheusEndpoint}remote_write`;
      environment.METRICS_REMOTE_WRITE_URL = remoteWriteUrl;
      new CfnOutput(this, 'PrometheusRemoteWriteUrl', { value: remoteWriteUrl });
      environment.METRICS_REMOTE_WRITE_SIGV4_REGION = this.region;
    } else if (config.metrics.remoteWrite.target === 'url') {
      environment.METRICS_REMOTE_WRITE_URL = config.metrics.remoteWrite.url;
    }

    const onFailure = this.esmFailureDestination(config, vpc, securityGroup);

    // The catalog's functions, each from its own bundle, then the environment's table sinks, each from the one
    // table-sink bundle with its mapping in SINK_CONFIG.
    type Deployment = { name: string; bundle: BundleName; config: FunctionConfig; extra: Record<string, string> };
    const deployments = [
      ...(props.functions ?? FUNCTIONS).map(
        (name): Deployment => ({ name, bundle: name, config: config.functions[name], extra: {} }),
      ),
      ...Object.entries(config.sinks).map(
        ([name, sink]): Deployment => ({
          name,
          bundle: TABLE_SINK,
          config: sink,
          extra: { SINK_NAME: name, SINK_CONFIG: JSON.stringify(sinkMapping(sink)) },
        }),
      ),
    ];

    this.processors = deployments.map(({ name, bundle, config: functionConfig, extra }) => {
      const processor = new Processor(this, toId(name), {
        processor: name,
        bundle,
        functionName: `${config.name}-${name}`,
        config: functionConfig,
        kafka: config.kafka,
        schemaRegistry: config.schemaRegistry,
        vpc,
        subnets,
        securityGroup,
        environment: { ...environment, ...extra },
        logRetention: config.logRetentionDays as RetentionDays,
        onFailure,
      });
      const fn = processor.function;
      scyllaCredentials.grantRead(fn);
      scyllaCa?.grantRead(fn);
      deadLetterQueue?.grantSendMessages(fn);
      deadLetterKafka?.(fn);
      if (workspace)
        fn.addToRolePolicy(new PolicyStatement({ actions: ['aps:RemoteWrite'], resources: [workspace.attrArn] }));
      if (config.schemaRegistry.glueRegistryArn) {
        const registry = config.schemaRegistry.glueRegistryArn;
        fn.addToRolePolicy(
          new PolicyStatement({
            actions: ['glue:GetSchemaVersion'],
            resources: [registry, `${registry.replace(':registry/', ':schema/')}/*`],
          }),
        );
      }
      return processor;
    });

    this.observability = new Observability(this, 'Observability', {
      prefix: config.name,
      processors: this.processors,
      namespace: config.metrics.namespace,
      email: config.alarms.email,
      offsetLagThreshold: config.alarms.offsetLagThreshold,
      errorRatePercent: config.alarms.errorRatePercent,
    });

    new CfnOutput(this, 'FunctionsSecurityGroupId', {
      value: securityGroup.securityGroupId,
      description:
        config.kafka.type === 'msk'
          ? "The functions' group: allow it into Scylla (done here when scylla.securityGroupId is set). The MSK mapping polls from the cluster's own subnets and security groups, not this one: the cluster's group must allow its own traffic on the broker ports."
          : "The functions' and the Kafka mapping's group: allow it into Scylla (done here when scylla.securityGroupId is set) and into the Kafka brokers.",
    });
    new CfnOutput(this, 'ScyllaCredentialsSecretArn', { value: scyllaCredentials.secretArn });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.observability.alarmTopic.topicArn });
    if (deadLetterQueue) new CfnOutput(this, 'DeadLetterQueueUrl', { value: deadLetterQueue.queueUrl });

    for (const warning of transientDiversions(config))
      Annotations.of(this).addWarningV2('pipeline:transientDiversion', warning);

    const reserved = reservedTotal(config);
    if (reserved > (config.lambdaConcurrencyQuota - UNRESERVED_MINIMUM) / 2)
      Annotations.of(this).addWarningV2(
        'pipeline:reservedConcurrency',
        `The functions reserve ${reserved} of the account's ${config.lambdaConcurrencyQuota} concurrent executions: every other function in the account shares the rest.`,
      );

    this.suppressJustifiedFindings(config);
  }

  /**
   * The Kafka dead-letter sink's settings, authenticated like the event source: MSK IAM (the role may write this
   * topic only), or SASL with the event source's secret. Returns the grant each function needs.
   */
  private deadLetterKafka(config: PipelineConfig, environment: Record<string, string>) {
    if (config.deadLetters.sink !== 'kafka') return undefined;
    const { kafka, deadLetters } = config;
    environment.DEAD_LETTER_TOPIC = deadLetters.topic;
    environment.DEAD_LETTER_KAFKA_BROKERS = deadLetters.bootstrapServers.join(',');
    environment.DEAD_LETTER_KAFKA_TLS = 'on';
    if (kafka.type === 'msk' && kafka.authentication === 'iam') {
      environment.DEAD_LETTER_KAFKA_AUTH = 'msk-iam';
      return (fn: IFunction) => {
        fn.addToRolePolicy(new PolicyStatement({ actions: ['kafka-cluster:Connect'], resources: [kafka.clusterArn] }));
        fn.addToRolePolicy(
          new PolicyStatement({
            actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'],
            resources: [mskResourceArn(kafka.clusterArn, 'topic', deadLetters.topic)],
          }),
        );
      };
    }
    const secretArn = kafka.type === 'msk' ? kafka.saslScramSecretArn : kafka.secretArn;
    const secretKeyArn = kafka.type === 'msk' ? kafka.saslScramSecretKeyArn : kafka.secretKeyArn;
    const mechanism =
      kafka.type === 'msk'
        ? 'SCRAM-SHA-512'
        : ({ 'sasl-scram-512': 'SCRAM-SHA-512', 'sasl-scram-256': 'SCRAM-SHA-256', basic: 'PLAIN' } as const)[
            kafka.authentication as 'sasl-scram-512'
          ];
    if (!secretArn || !mechanism) return undefined;
    environment.DEAD_LETTER_KAFKA_AUTH = mechanism;
    environment.DEAD_LETTER_KAFKA_SECRET_ID = secretArn;
    const secret = Secret.fromSecretCompleteArn(this, 'DeadLetterKafkaSecret', secretArn);
    return (fn: IFunction) => {
      secret.grantRead(fn);
      if (secretKeyArn) grantSecretKeyDecrypt(fn, secretKeyArn);
    };
  }

  /**
   * A queue that holds what failed for a person to look at: encrypted, TLS only, kept SQS's longest (14 days), and
   * kept when the stack is deleted or the queue replaced (its messages are records nobody replayed yet), but not
   * when a first create rolls back (it is empty then). No fixed name: SQS refuses a deleted queue's name for 60 s,
   * so a rolled-back first deploy could not be retried, and a retained queue would hold its name for good.
   */
  private keepingQueue(id: string): Queue {
    return new Queue(this, id, {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    });
  }

  /**
   * The VPC endpoint through which Lambda delivers failed batches from inside the cluster's VPC, when the config
   * asks this stack to create it. It must be reachable from the mapping's network interfaces: for MSK they live in
   * the cluster's subnets with the cluster's security groups; for self-managed Kafka, in the functions' subnets with
   * the functions' group (AWS, "Create an MSK event source mapping", "Kafka on-failure destinations").
   */
  private onFailureEndpoint(config: PipelineConfig, vpc: IVpc, functionsGroup: SecurityGroup) {
    if (config.vpc.onFailureEndpoint !== 'create') return;
    if (config.esmFailureDestination === 's3') {
      // The config refuses a missing list (infra/config.ts): MSK's own route tables, or the functions' subnets'.
      const routeTableIds =
        config.kafka.type === 'msk' ? config.vpc.kafkaRouteTableIds : config.vpc.privateRouteTableIds;
      new CfnVPCEndpoint(this, 'S3Endpoint', {
        vpcId: vpc.vpcId,
        vpcEndpointType: 'Gateway',
        serviceName: `com.amazonaws.${this.region}.s3`,
        routeTableIds,
      });
    } else if (config.esmFailureDestination === 'sqs') {
      const endpoint = new InterfaceVpcEndpoint(this, 'SqsEndpoint', {
        vpc,
        service: InterfaceVpcEndpointAwsService.SQS,
        subnets: { subnets: vpc.privateSubnets },
        privateDnsEnabled: true,
        open: false,
      });
      const mappingGroups =
        config.kafka.type === 'msk'
          ? (config.kafka.securityGroupIds ?? []).map((id, i) =>
              SecurityGroup.fromSecurityGroupId(this, `KafkaClusterSecurityGroup${i}`, id),
            )
          : [functionsGroup];
      for (const group of mappingGroups)
        endpoint.connections.allowFrom(group, Port.tcp(443), "HTTPS from the Kafka mapping's network interfaces");
    }
  }

  private esmFailureDestination(
    config: PipelineConfig,
    vpc: IVpc,
    functionsGroup: SecurityGroup,
  ): IEventSourceDlq | undefined {
    this.onFailureEndpoint(config, vpc, functionsGroup);
    if (config.esmFailureDestination === 's3') {
      const bucket = new Bucket(this, 'FailedBatches', {
        encryption: BucketEncryption.S3_MANAGED,
        enforceSSL: true,
        blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
        versioned: true,
        removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(30) }],
      });
      new CfnOutput(this, 'FailedBatchesBucket', { value: bucket.bucketName });
      return new FailedBatchesBucket(bucket);
    }
    if (config.esmFailureDestination === 'sqs') {
      const queue = this.keepingQueue('FailedBatches');
      new CfnOutput(this, 'FailedBatchesQueueUrl', { value: queue.queueUrl });
      return new SqsDlq(queue);
    }
    return undefined;
  }

  /** cdk-nag findings that are deliberate here, each with the reason an auditor can check. */
  private suppressJustifiedFindings(config: PipelineConfig) {
    const managedPolicy = (name: string) =>
      `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${name}]`;
    const acknowledgements: Record<string, string> = {
      [managedPolicy('AWSLambdaBasicExecutionRole')]: 'The AWS-managed policy for writing the function logs.',
      [managedPolicy('AWSLambdaVPCAccessExecutionRole')]:
        'The AWS-managed policy for a function in a VPC: ENI management, which cannot be scoped to resources.',
      [managedPolicy('AWSLambdaMSKExecutionRole')]:
        'Attached by aws-cdk-lib ManagedKafkaEventSource itself: what the MSK event-source mapping needs to reach the cluster.',
      'AwsSolutions-SMG4':
        'Scylla credentials are rotated by the database operator (Scylla has no Secrets Manager rotation function); the processors refetch the secret after an authentication failure.',
      'AwsSolutions-SQS3': 'This queue is itself a dead-letter destination (poison records or failed batches).',
      'AwsSolutions-S1':
        'Written only by the Lambda service for the event-source mapping; CloudTrail data events are its audit trail.',
    };
    const failedBatches = this.node.tryFindChild('FailedBatches');
    if (failedBatches instanceof Bucket) {
      acknowledgements[
        `AwsSolutions-IAM5[Resource::<${this.getLogicalId(failedBatches.node.defaultChild as never)}.Arn>/*]`
      ] = 'Lambda names the failed-batch objects itself; s3:PutObject only, on this bucket only.';
    }
    const glue = config.schemaRegistry.glueRegistryArn;
    if (glue) {
      // A Glue schema version is addressed under its schema, whose name the registry's producers choose.
      acknowledgements[`AwsSolutions-IAM5[Resource::${glue.replace(':registry/', ':schema/')}/*]`] =
        'glue:GetSchemaVersion on the schemas of the one configured Glue registry, and nothing else.';
    }
    for (const [id, reason] of Object.entries(acknowledgements)) Validations.of(this).acknowledge({ id, reason });
    Annotations.of(this).acknowledgeWarning(
      '@aws-cdk/aws-ec2:noSubnetRouteTableId',
      'The imported subnets are only placed functions in; no route is read or changed.',
    );
  }
}

function portOf(server: string): number {
  return Number(server.split(':')[1] ?? 9092);
}

function toId(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_, __, c: string) => c.toUpperCase());
}
