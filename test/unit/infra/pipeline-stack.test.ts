import { Annotations, Match } from 'aws-cdk-lib/assertions';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPORT_FIELDS } from '../../../infra/observability';
import { DEMO_FUNCTIONS } from '../../demo-functions';
import { dashboardBody, exampleConfig, type Synthesized, synthesize, withFailedBatchesTo } from './synth';

type Resource = { Type: string; Properties: Record<string, unknown>; Metadata?: Record<string, unknown> };
type Statement = { Action: string | string[]; Resource: unknown; Effect: string };

const resources = (s: Synthesized, type: string) =>
  Object.entries(s.template.toJSON().Resources as Record<string, Resource>).filter(([, r]) => r.Type === type);
const statements = (s: Synthesized): Statement[] =>
  resources(s, 'AWS::IAM::Policy').flatMap(
    ([, r]) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement,
  );
const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

describe('the pipeline stack (example environment)', () => {
  let synth: Synthesized;
  beforeAll(() => {
    synth = synthesize();
  }, 120_000);

  it('deploys each processor as a Node 24 arm64 function, minified bundle with source maps, timeout under 14 minutes', () => {
    const functions = resources(synth, 'AWS::Lambda::Function');
    expect(functions).toHaveLength(3);
    for (const name of DEMO_FUNCTIONS) {
      synth.template.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: `pipeline-example-${name}`,
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        Timeout: Match.anyValue(),
        // Cost allocation by processor, and how dev/lambda/ finds each function in the template.
        Tags: Match.arrayWith([{ Key: 'processor', Value: name }]),
        VpcConfig: { SubnetIds: Match.arrayWith(['subnet-0a1b2c3d4e5f60711']), SecurityGroupIds: Match.anyValue() },
        Environment: {
          Variables: Match.objectLike({
            FUNCTION_NAME: `pipeline-example-${name}`,
            NODE_OPTIONS: '--enable-source-maps',
            SCYLLA_CONTACT_POINTS:
              'node-0.scylla.internal:9142,node-1.scylla.internal:9142,node-2.scylla.internal:9142',
            SCYLLA_LOCAL_DC: 'eu-west-1',
            SCYLLA_KEYSPACE: 'pipeline',
            SCYLLA_TLS: 'on',
            SCYLLA_CREDENTIALS_SECRET_ID: { Ref: Match.stringLikeRegexp('^ScyllaCredentials') },
            SCHEMA_REGISTRY_URLS: 'https://schema-registry.internal:8081',
            REPORT_BATCH_ITEM_FAILURES: 'on',
            DEAD_LETTER_SINK: 'sqs',
            DEAD_LETTER_QUEUE_URL: { Ref: Match.stringLikeRegexp('^DeadLetters') },
          }),
        },
      });
    }
    for (const [, fn] of functions) expect(fn.Properties.Timeout as number).toBeLessThanOrEqual(840);
    synth.template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'pipeline-example-navigation-enricher',
      MemorySize: 1769,
      LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('^NavigationEnricherLogs') } },
    });
    synth.template.resourceCountIs('AWS::Logs::LogGroup', 3);
    synth.template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it('maps each function to its MSK topic: own consumer group, provisioned pollers, partial batch responses, retried until it succeeds', () => {
    const config = exampleConfig();
    for (const name of DEMO_FUNCTIONS) {
      const f = config.functions[name] as { topic: string; batchSize: number; provisionedPollers: object };
      synth.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: (config.kafka as { clusterArn: string }).clusterArn,
        Topics: [f.topic],
        AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: `pipeline-example-${name}` },
        StartingPosition: 'TRIM_HORIZON',
        BatchSize: f.batchSize,
        MaximumBatchingWindowInSeconds: 1,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        // AWS's -1 (infinite) is CloudFormation's absent property; no destination, which would cap it at 10.
        MaximumRetryAttempts: Match.absent(),
        MaximumRecordAgeInSeconds: Match.absent(),
        DestinationConfig: Match.absent(),
        BisectBatchOnFunctionError: false,
        ProvisionedPollerConfig: {
          MinimumPollers: (f.provisionedPollers as { minimum: number }).minimum,
          MaximumPollers: (f.provisionedPollers as { maximum: number }).maximum,
        },
        MetricsConfig: { Metrics: ['EventCount', 'ErrorCount', 'KafkaMetrics'] },
      });
    }
    synth.template.resourceCountIs('AWS::Lambda::EventSourceMapping', 3);
    synth.template.resourceCountIs('AWS::S3::Bucket', 0);
    // Nothing in the example can send a record out of the pipeline on an outage: no warning.
    expect(Annotations.fromStack(synth.stack).findWarning('*', Match.stringLikeRegexp('outage'))).toEqual([]);
  });

  it('with an S3 destination, sends batches out of retries to a private bucket, and warns that an outage diverts records', () => {
    const s3 = synthesize(withFailedBatchesTo('s3'));
    s3.template.allResourcesProperties('AWS::Lambda::EventSourceMapping', {
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('^FailedBatches'), 'Arn'] } },
      },
    });
    s3.template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: Match.anyValue(),
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
    // What Lambda needs (PutObject, ListBucket), not the read/write/delete of S3OnFailureDestination.
    const granted = statements(s3)
      .filter((s) => actions(s).some((a) => a.startsWith('s3:')))
      .flatMap(actions);
    expect(new Set(granted)).toEqual(new Set(['s3:PutObject', 's3:ListBucket']));
    const warnings = Annotations.fromStack(s3.stack)
      .findWarning('*', Match.anyValue())
      .map((w) => String(w.entry.data));
    for (const name of DEMO_FUNCTIONS)
      expect(warnings).toContainEqual(
        expect.stringContaining(
          `${name}: an outage that outlasts 11 invocations of a batch has its records sent to the s3 on-failure destination`,
        ),
      );
  });

  it('warns about a finite retry budget with no destination (records dropped) and a record age under the outage to ride out', () => {
    const raw = exampleConfig();
    raw.functions['segment-builder'].retryAttempts = 3;
    raw.functions['identity-linker'].maxRecordAgeSeconds = 300;
    const warnings = Annotations.fromStack(synthesize(raw).stack)
      .findWarning('*', Match.anyValue())
      .map((w) => String(w.entry.data));
    expect(warnings).toEqual([
      expect.stringContaining(
        'identity-linker: records older than 300 s are dropped by the mapping (no on-failure destination), shorter than the 10-minute outage to ride out',
      ),
      expect.stringContaining(
        'segment-builder: an outage that outlasts 4 invocations of a batch has its records dropped by the mapping',
      ),
    ]);
  });

  it('grants no IAM action on Resource "*", and MSK IAM access only to its cluster, its topic and its group', () => {
    const all = statements(synth);
    expect(all.length).toBeGreaterThan(0);
    for (const statement of all) expect(statement.Resource).not.toBe('*');
    const kafka = all.filter((s) => actions(s).some((a) => a.startsWith('kafka-cluster:')));
    const resourcesFor = (action: string) =>
      kafka.filter((s) => actions(s).includes(action)).map((s) => s.Resource as string);
    const cluster = 'arn:aws:kafka:eu-west-1:111122223333:cluster/events/5a9c2f4e-1b7d-4c1e-9d8a-0f6b3e2a1c4d-3';
    expect(new Set(resourcesFor('kafka-cluster:Connect'))).toEqual(new Set([cluster]));
    expect(resourcesFor('kafka-cluster:ReadData').sort()).toEqual([
      'arn:aws:kafka:eu-west-1:111122223333:topic/events/5a9c2f4e-1b7d-4c1e-9d8a-0f6b3e2a1c4d-3/identity-links',
      'arn:aws:kafka:eu-west-1:111122223333:topic/events/5a9c2f4e-1b7d-4c1e-9d8a-0f6b3e2a1c4d-3/navigation',
      'arn:aws:kafka:eu-west-1:111122223333:topic/events/5a9c2f4e-1b7d-4c1e-9d8a-0f6b3e2a1c4d-3/navigation',
    ]);
    expect(resourcesFor('kafka-cluster:AlterGroup').sort()).toEqual(
      DEMO_FUNCTIONS.map(
        (name) =>
          `arn:aws:kafka:eu-west-1:111122223333:group/events/5a9c2f4e-1b7d-4c1e-9d8a-0f6b3e2a1c4d-3/pipeline-example-${name}`,
      ),
    );
    // No failed-batch bucket in the example: no S3 action at all.
    expect(all.filter((s) => actions(s).some((a) => a.startsWith('s3:')))).toEqual([]);
    // Secrets: read the Scylla credentials, nothing else.
    const secretActions = all.filter((s) => actions(s).some((a) => a.startsWith('secretsmanager:'))).flatMap(actions);
    expect(new Set(secretActions)).toEqual(new Set(['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret']));
    // Remote write to the stack's own AMP workspace only.
    const aps = all.filter((s) => actions(s).includes('aps:RemoteWrite'));
    expect(aps).toHaveLength(3);
    for (const s of aps) expect(s.Resource).toEqual({ 'Fn::GetAtt': ['Prometheus', 'Arn'] });
  });

  it('lets the functions out only to HTTPS, the registry port and Scylla inside the VPC, and opens Scylla to them', () => {
    synth.template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      SecurityGroupEgress: [
        Match.objectLike({ CidrIp: '0.0.0.0/0', FromPort: 443, ToPort: 443, IpProtocol: 'tcp' }),
        Match.objectLike({ CidrIp: '10.20.0.0/16', FromPort: 9142, ToPort: 9142, IpProtocol: 'tcp' }),
        Match.objectLike({ CidrIp: '0.0.0.0/0', FromPort: 8081, ToPort: 8081, IpProtocol: 'tcp' }),
      ],
    });
    synth.template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: 'sg-0a1b2c3d4e5f60799',
      FromPort: 9142,
      ToPort: 9142,
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^FunctionsSecurityGroup'), 'GroupId'] },
    });
  });

  it('keeps dead letters in an encrypted, TLS-only SQS queue and creates the Scylla secret when none is given', () => {
    synth.template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 1_209_600,
    });
    synth.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    synth.template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({ GenerateStringKey: 'password' }),
    });
  });

  it('alarms on offset lag, error rate, batch duration P95, dead letters, records leaving the path, stalled partitions, a silent mapping and throttles of each function through a KMS-encrypted topic', () => {
    const alarms = resources(synth, 'AWS::CloudWatch::Alarm');
    expect(alarms).toHaveLength(24);
    const names = alarms.map(([, a]) => a.Properties.AlarmName as string).sort();
    expect(names).toEqual(
      DEMO_FUNCTIONS.flatMap((name) =>
        [
          'batch-duration-p95',
          'dead-letters',
          'error-rate',
          'not-invoked',
          'offset-lag',
          'partitions-retrying',
          'records-left-pipeline',
          'throttles',
        ].map((kind) => `pipeline-example-${name}-${kind}`),
      ).sort(),
    );
    // P95 of the batch durations the functions emit as distributions, against 80 % of the function timeout.
    synth.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'pipeline-example-identity-linker-batch-duration-p95',
      MetricName: 'batch_ms',
      Namespace: 'KafkaProcessors',
      ExtendedStatistic: 'p95',
      Threshold: 120 * 1000 * 0.8,
      Dimensions: Match.arrayWith([{ Name: 'outcome', Value: 'ok' }]),
    });
    for (const [, alarm] of alarms) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^ObservabilityAlarmTopic/) }]);
    }
    synth.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'pipeline-example-navigation-enricher-offset-lag',
      MetricName: 'OffsetLag',
      Namespace: 'AWS/Lambda',
      Statistic: 'Maximum',
      Threshold: 100_000,
      EvaluationPeriods: 3,
    });
    synth.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'pipeline-example-segment-builder-dead-letters',
      MetricName: 'dead_letters',
      Namespace: 'KafkaProcessors',
      Dimensions: Match.arrayWith([{ Name: 'function', Value: 'pipeline-example-segment-builder' }]),
      Threshold: 0,
    });
    // Records the mapping gave up on (AWS, "Lambda metrics types": its EventCount group, by EventSourceMappingUUID).
    const mappingOf = (name: string) =>
      resources(synth, 'AWS::Lambda::EventSourceMapping').find(([, r]) =>
        (r.Properties.Tags as { Key: string; Value: string }[]).some((t) => t.Value === name),
      )?.[0];
    synth.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'pipeline-example-navigation-enricher-records-left-pipeline',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      Metrics: Match.arrayWith(
        ['OnFailureDestinationDeliveredEventCount', 'DroppedEventCount'].map((metricName) =>
          Match.objectLike({
            MetricStat: Match.objectLike({
              Metric: {
                Namespace: 'AWS/Lambda',
                MetricName: metricName,
                Dimensions: [{ Name: 'EventSourceMappingUUID', Value: { Ref: mappingOf('navigation-enricher') } }],
              },
            }),
          }),
        ),
      ),
    });
    // Partial responses sustained: 15 minutes in a row with records sent back to the mapping.
    synth.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'pipeline-example-identity-linker-partitions-retrying',
      MetricName: 'records',
      Namespace: 'KafkaProcessors',
      Dimensions: Match.arrayWith([{ Name: 'stage', Value: 'retried_later' }]),
      EvaluationPeriods: 15,
      DatapointsToAlarm: 15,
    });
    // A mapping that never invokes: no data is a breach.
    synth.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'pipeline-example-segment-builder-not-invoked',
      MetricName: 'Invocations',
      Namespace: 'AWS/Lambda',
      Period: 1800,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    });
    synth.template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    synth.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
    });
  });

  it('draws a dashboard with invocations, duration, OffsetLag, records by stage and dead letters per function', () => {
    const [[, dashboard] = ['', undefined]] = resources(synth, 'AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(dashboard?.Properties.DashboardBody);
    for (const needle of ['OffsetLag', 'Invocations', 'Duration', 'dead_letters', 'statement_avg_ms', 'records']) {
      expect(body).toContain(needle);
    }
  });

  it('acknowledges each cdk-nag finding with a reason, written into the template', () => {
    const suppressions = resources(synth, 'AWS::IAM::Role').flatMap(
      ([, r]) =>
        (r.Metadata?.cdk_nag as { rules_to_suppress?: { id: string; reason: string }[] } | undefined)
          ?.rules_to_suppress ?? [],
    );
    expect(suppressions.length).toBeGreaterThan(0);
    for (const s of suppressions) expect(s.reason.length).toBeGreaterThan(30);
  });

  it('matches the snapshot (asset hashes normalized)', () => {
    const json = JSON.stringify(synth.template.toJSON(), null, 1).replace(/"[0-9a-f]{64}\.zip"/g, '"<asset>.zip"');
    expect(JSON.parse(json)).toMatchSnapshot();
  });
});

describe('a first deploy in a fresh account', () => {
  let synth: Synthesized;
  beforeAll(() => {
    synth = synthesize(withFailedBatchesTo('s3'));
  }, 120_000);
  const template = () => synth.template.toJSON() as { Resources: Record<string, Resource & Record<string, unknown>> };

  it('reserves no concurrency unless asked: a new account may not have 100 executions to spare', () => {
    for (const [, fn] of resources(synth, 'AWS::Lambda::Function'))
      expect(fn.Properties.ReservedConcurrentExecutions).toBeUndefined();
  });

  it('warns when the functions reserve over half of what the quota lets them, and refuses what it cannot give', () => {
    const raw = exampleConfig();
    raw.lambdaConcurrencyQuota = 400;
    raw.functions['navigation-enricher'].reservedConcurrency = 100;
    raw.functions['segment-builder'].reservedConcurrency = 60;
    const warned = synthesize(raw);
    const warnings = Annotations.fromStack(warned.stack).findWarning('*', Match.anyValue());
    expect(warnings.map((w) => String(w.entry.data))).toEqual([
      expect.stringContaining("reserve 160 of the account's 400 concurrent executions"),
    ]);
    raw.functions['identity-linker'].reservedConcurrency = 141;
    expect(() => synthesize(raw)).toThrow(
      /functions: reserve 301 executions in all, but a quota of 400 leaves 300 to reserve/,
    );
  });

  it('leaves nothing behind when the first create rolls back: no Retain, no fixed log group or queue name', () => {
    const retained = Object.entries(template().Resources).filter(([, r]) => r.DeletionPolicy === 'Retain');
    expect(retained.map(([id]) => id)).toEqual([]);
    for (const [, r] of [...resources(synth, 'AWS::Logs::LogGroup'), ...resources(synth, 'AWS::SQS::Queue')]) {
      expect(r.Properties.LogGroupName ?? r.Properties.QueueName).toBeUndefined();
    }
    synth.template.allResources('AWS::Logs::LogGroup', {
      DeletionPolicy: 'RetainExceptOnCreate',
      UpdateReplacePolicy: 'Retain',
    });
    synth.template.allResources('AWS::S3::Bucket', { DeletionPolicy: 'RetainExceptOnCreate' });
  });

  // The second review of the template (issue 28): network paths and the records' safety.
  it("puts the S3 gateway endpoint on the MSK cluster's route tables, where the mapping sends from, and refuses create without them", () => {
    // AWS, "Create an MSK event source mapping": the mapping's network interfaces are in the cluster's subnets.
    const [[, endpoint] = ['', undefined]] = resources(synth, 'AWS::EC2::VPCEndpoint');
    expect(endpoint?.Properties.RouteTableIds).toEqual(exampleConfig().vpc.kafkaRouteTableIds);
    expect(endpoint?.Properties.RouteTableIds).not.toEqual(exampleConfig().vpc.privateRouteTableIds);

    const missing = withFailedBatchesTo('s3');
    delete missing.vpc.kafkaRouteTableIds;
    expect(() => synthesize(missing)).toThrow(/vpc\.kafkaRouteTableIds: is required to create the S3 gateway endpoint/);
    // A route table holds one S3 gateway route: when the cluster's already have one, the VPC has the endpoint.
    missing.vpc.onFailureEndpoint = 'exists';
    expect(resources(synthesize(missing), 'AWS::EC2::VPCEndpoint')).toEqual([]);

    // Self-managed Kafka: the mapping runs in the functions' subnets, so their route tables carry the route.
    const selfManaged = withFailedBatchesTo('s3');
    selfManaged.kafka = {
      type: 'self-managed',
      bootstrapServers: ['b-1.kafka.internal:9096'],
      secretArn: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:kafka-scram-AbCdEf',
    };
    const [[, own] = ['', undefined]] = resources(synthesize(selfManaged), 'AWS::EC2::VPCEndpoint');
    expect(own?.Properties.RouteTableIds).toEqual(exampleConfig().vpc.privateRouteTableIds);
  });

  it("creates the SQS endpoint with private DNS only in a VPC stated to resolve it, open to HTTPS from the cluster's groups only", () => {
    const unstated = withFailedBatchesTo('sqs');
    delete unstated.vpc.enableDnsSupport;
    unstated.vpc.enableDnsHostnames = false;
    delete unstated.kafka.securityGroupIds;
    const error = (() => {
      try {
        synthesize(unstated);
      } catch (e) {
        return String(e);
      }
      return '';
    })();
    expect(error).toMatch(/vpc\.enableDnsSupport: must be true to create the SQS endpoint with private DNS/);
    expect(error).toMatch(/vpc\.enableDnsHostnames: must be true/);
    expect(error).toMatch(/kafka\.securityGroupIds: is required to create the SQS endpoint/);

    const stated = synthesize(withFailedBatchesTo('sqs'));
    const ingress = resources(stated, 'AWS::EC2::SecurityGroupIngress').filter(
      ([, r]) => r.Properties.FromPort === 443,
    );
    expect(ingress.map(([, r]) => r.Properties.SourceSecurityGroupId).sort()).toEqual(['sg-0c1d2e3f4a5b60701']);
    // Nothing else reaches it: no CIDR rule on the endpoint's group.
    for (const [, group] of resources(stated, 'AWS::EC2::SecurityGroup'))
      for (const rule of (group.Properties.SecurityGroupIngress as { CidrIp?: string }[] | undefined) ?? [])
        expect(rule.CidrIp).toBeUndefined();
  });

  it('keeps the dead-letter queues when the stack is deleted or they are replaced: they hold records nobody replayed', () => {
    synth.template.allResources('AWS::SQS::Queue', {
      DeletionPolicy: 'RetainExceptOnCreate',
      UpdateReplacePolicy: 'Retain',
    });
    const stated = synthesize(withFailedBatchesTo('sqs')); // the failed-batch queue too
    stated.template.resourceCountIs('AWS::SQS::Queue', 2);
    stated.template.allResources('AWS::SQS::Queue', {
      DeletionPolicy: 'RetainExceptOnCreate',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it("refuses TLS with no CA secret (Node's public roots sign no private CA) unless publicCa says a public CA signs the nodes", () => {
    synth.template.allResourcesProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          SCYLLA_TLS: 'on',
          SCYLLA_TLS_CA_SECRET_ID: exampleConfig().scylla.tlsCaSecretArn,
        }),
      },
    });
    const noCa = exampleConfig();
    delete noCa.scylla.tlsCaSecretArn;
    expect(() => synthesize(noCa)).toThrow(/scylla\.tlsCaSecretArn: is required with tls: .*SCYLLA_TLS_REFUSED/);
    noCa.scylla.publicCa = true;
    synthesize(noCa).template.allResourcesProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ SCYLLA_TLS: 'on', SCYLLA_TLS_CA_SECRET_ID: Match.absent() }) },
    });
    const both = exampleConfig();
    both.scylla.publicCa = true;
    expect(() => synthesize(both)).toThrow(/scylla\.publicCa: means TLS with no CA secret/);
  });

  it('refuses the JSON log format: the peak-memory filter reads the plain-text REPORT line', () => {
    expect(() =>
      synthesize(exampleConfig(), (stack) => {
        const fn = stack.processors[0]?.function.node.defaultChild as CfnFunction;
        fn.loggingConfig = { ...(fn.loggingConfig as object), logFormat: 'JSON' };
      }),
    ).toThrow(/LogFormat JSON is not supported: the Max Memory Used metric filter reads the plain-text REPORT line/);
  });

  it("puts the failed-batch destination's VPC endpoint in the cluster's VPC, or refuses a destination without one", () => {
    synth.template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      ServiceName: 'com.amazonaws.eu-west-1.s3',
      RouteTableIds: ['rtb-0f9e8d7c6b5a40311', 'rtb-0f9e8d7c6b5a40322', 'rtb-0f9e8d7c6b5a40333'],
    });

    const sqs = withFailedBatchesTo('sqs');
    synthesize(sqs).template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Interface',
      ServiceName: 'com.amazonaws.eu-west-1.sqs',
      PrivateDnsEnabled: true,
      SubnetIds: ['subnet-0a1b2c3d4e5f60711', 'subnet-0a1b2c3d4e5f60722', 'subnet-0a1b2c3d4e5f60733'],
    });

    const silent = withFailedBatchesTo('s3');
    delete silent.vpc.onFailureEndpoint;
    expect(() => synthesize(silent)).toThrow(/vpc\.onFailureEndpoint: is required with esmFailureDestination s3/);
    silent.vpc.onFailureEndpoint = 'exists';
    expect(resources(synthesize(silent), 'AWS::EC2::VPCEndpoint')).toEqual([]);
  });

  it("lets CloudWatch publish this stack's alarms to the alarm topic, and nobody else's", () => {
    synth.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Condition: {
              ArnLike: {
                'aws:SourceArn': {
                  'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp(':alarm:pipeline-example-\\*$')])],
                },
              },
              StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
            },
          }),
        ]),
      },
    });
    for (const [, alarm] of resources(synth, 'AWS::CloudWatch::Alarm'))
      expect(alarm.Properties.AlarmName).toMatch(/^pipeline-example-/);
  });

  it('does not tell operators to open MSK to the functions group (an MSK mapping polls from the cluster side)', () => {
    const output = (template() as unknown as { Outputs: Record<string, { Description: string }> }).Outputs
      .FunctionsSecurityGroupId;
    expect(output?.Description).toContain("cluster's own subnets and security groups");
    expect(output?.Description).not.toMatch(/into Scylla .* and MSK$/);
  });

  it('writes metrics to the AMP workspace endpoint without doubling /api/v1/', () => {
    expect(exampleConfig().metrics).toEqual({ remoteWrite: { target: 'amp' } });
    // The workspace's PrometheusEndpoint already ends in /api/v1/ (AMP API reference, WorkspaceDescription).
    const remoteWriteUrl = {
      'Fn::Join': [
        '',
        [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^Prometheus'), 'PrometheusEndpoint'] }, 'remote_write'],
      ],
    };
    synth.template.allResourcesProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ METRICS_REMOTE_WRITE_URL: remoteWriteUrl }) },
    });
  });
});

describe('the CloudWatch dashboard', () => {
  it("draws statement retries beside the errors, and every widget's title names what it draws", () => {
    const drawn = new Map<string, string[]>();
    for (const widget of dashboardBody(synthesize().template.toJSON()).widgets) {
      if (widget.type !== 'metric') continue;
      const names = (widget.properties.metrics ?? []).flatMap((entry) => {
        const last = entry[entry.length - 1] as { expression?: string } | string;
        if (typeof last === 'object' && last.expression !== undefined)
          return [...last.expression.matchAll(/MetricName="(\w+)"|\b(\w+) \/ 1048576/g)].map((m) => m[1] ?? `${m[2]}`);
        return [String(entry[1])];
      });
      drawn.set(widget.properties.title ?? '', [
        ...new Set([...(drawn.get(widget.properties.title ?? '') ?? []), ...names]),
      ]);
    }
    expect(Object.fromEntries(drawn)).toEqual({
      'Invocations, errors, throttles': ['Invocations', 'Errors', 'Throttles'],
      'Duration (ms)': ['Duration'],
      'OffsetLag (ESM)': ['OffsetLag'],
      'Records by stage; dead letters (right)': ['records', 'dead_letters'],
      'Statement latency P95 by kind, and mean (ms)': ['statement_ms', 'statement_avg_ms'],
      'Batch duration P50 / P95 / P99, decode mean (ms)': ['batch_ms', 'decode_avg_ms'],
      'Memory (MB)': expect.arrayContaining([expect.stringMatching(/-max-memory-used$/)]),
      'Hedged requests (speculative executions)': ['speculative_executions', 'speculative_wins'],
      'Statement errors by kind and type, retries by kind': ['statement_errors', 'statement_retries'],
      'Records the mapping gave up on; records retried later (right)': [
        'OnFailureDestinationDeliveredEventCount',
        'DroppedEventCount',
        'records',
      ],
    });
  });
});

describe('memory on the CloudWatch dashboard', () => {
  // Lambda's REPORT lines as its documentation prints them (text log format), warm and cold.
  const reportLines = [
    'REPORT RequestId: c793869b-ee49-115b-a5b6-4fd21e8dedac\tDuration: 170.19 ms\tBilled Duration: 171 ms\tMemory Size: 128 MB\tMax Memory Used: 73 MB',
    'REPORT RequestId: 5002d846-892a-4bfe-83bb-b0c32406c482\tDuration: 741.17 ms\tBilled Duration: 800 ms\tMemory Size: 1769 MB\tMax Memory Used: 284 MB\tInit Duration: 345.65 ms',
  ];

  it("reads the peak memory from the REPORT line's fields by position, warm or cold", () => {
    for (const line of reportLines) {
      const tokens = line.split(/\s+/);
      const field = (name: string) => tokens[REPORT_FIELDS.indexOf(name)];
      expect(field('type')).toBe('REPORT');
      expect(field('maxMemoryUsedLabel')).toBe('Used:');
      expect(Number(field('maxMemoryUsed'))).toBe(Number(/Max Memory Used: (\d+) MB/.exec(line)?.[1]));
    }
  });

  it('charts Lambda max memory used (a metric filter per log group) and the container RSS against MemorySize', () => {
    const synth = synthesize();
    synth.template.resourceCountIs('AWS::Logs::MetricFilter', 3);
    synth.template.hasResourceProperties('AWS::Logs::MetricFilter', {
      LogGroupName: { Ref: Match.stringLikeRegexp('^NavigationEnricherLogs') },
      FilterPattern: Match.stringLikeRegexp(
        '^\\[type = "REPORT", .*maxMemoryUsedLabel = "Used:", maxMemoryUsed, \\.\\.\\.\\]$',
      ),
      MetricTransformations: [
        Match.objectLike({
          MetricNamespace: 'KafkaProcessors/Lambda',
          MetricName: 'pipeline-example-navigation-enricher-max-memory-used',
          MetricValue: '$maxMemoryUsed',
          Unit: 'Megabytes',
        }),
      ],
    });
    const [[, dashboard] = ['', undefined]] = resources(synth, 'AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(dashboard?.Properties.DashboardBody);
    for (const needle of [
      'Memory (MB)',
      'memory_rss_bytes',
      'pipeline-example-navigation-enricher-max-memory-used',
      'MemorySize',
    ])
      expect(body).toContain(needle);
  });
});

describe('cdk-nag', () => {
  it('fails the synth on a finding nobody acknowledged', () => {
    expect(() =>
      synthesize(exampleConfig(), (stack) => {
        new Queue(stack, 'Unencrypted', { encryption: QueueEncryption.UNENCRYPTED });
      }),
    ).toThrow(/AwsSolutions-SQS4|Validation failed/);
  }, 120_000);
});

describe('the self-managed Kafka variant', () => {
  it('polls the brokers through the VPC with SASL/SCRAM and gets no MSK permissions', () => {
    const raw = withFailedBatchesTo('sqs');
    raw.kafka = {
      type: 'self-managed',
      bootstrapServers: ['b-1.kafka.internal:9096', 'b-2.kafka.internal:9096'],
      authentication: 'sasl-scram-512',
      secretArn: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:kafka-scram-AbCdEf',
      secretKeyArn: 'arn:aws:kms:eu-west-1:111122223333:key/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d',
    };
    raw.deadLetters = { sink: 'scylla' };
    raw.metrics = { remoteWrite: { target: 'url', url: 'https://prometheus.internal/api/v1/write' } };
    const synth = synthesize(raw);
    synth.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      SelfManagedEventSource: {
        Endpoints: { KafkaBootstrapServers: ['b-1.kafka.internal:9096', 'b-2.kafka.internal:9096'] },
      },
      SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: 'pipeline-example-navigation-enricher' },
      SourceAccessConfigurations: Match.arrayWith([
        { Type: 'SASL_SCRAM_512_AUTH', URI: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:kafka-scram-AbCdEf' },
        { Type: 'VPC_SECURITY_GROUP', URI: Match.anyValue() },
        { Type: 'VPC_SUBNET', URI: 'subnet-0a1b2c3d4e5f60711' },
      ]),
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('^FailedBatches'), 'Arn'] } },
      },
    });
    const all = statements(synth);
    expect(all.some((s) => actions(s).some((a) => a.startsWith('kafka')))).toBe(false);
    // The SCRAM secret's customer-managed key: decrypt, on that key only, for each function's ESM.
    const decrypt = all.filter((s) => actions(s).includes('kms:Decrypt'));
    expect(decrypt.map((s) => s.Resource)).toEqual(
      Array(3).fill('arn:aws:kms:eu-west-1:111122223333:key/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d'),
    );
    expect(all.some((s) => actions(s).includes('aps:RemoteWrite'))).toBe(false);
    synth.template.resourceCountIs('AWS::APS::Workspace', 0);
    synth.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          DEAD_LETTER_SINK: 'scylla',
          METRICS_REMOTE_WRITE_URL: 'https://prometheus.internal/api/v1/write',
        }),
      },
    });
    // The ESM's ENIs use the functions' group: it may reach the brokers' port inside the VPC.
    synth.template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      SecurityGroupEgress: Match.arrayWith([Match.objectLike({ CidrIp: '10.20.0.0/16', FromPort: 9096 })]),
    });
  }, 120_000);
});

describe("the mapping's own schema registry", () => {
  it('configures SOURCE or JSON delivery, validating values, against the Confluent or Glue registry of the environment', () => {
    // AWS::Lambda::EventSourceMapping SchemaRegistryConfig (CloudFormation reference).
    const raw = exampleConfig();
    Object.assign(raw.schemaRegistry as object, {
      glueRegistryArn: 'arn:aws:glue:eu-west-1:123456789012:registry/events',
    });
    const secret = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:registry-AbCdEf';
    raw.functions['navigation-enricher'].mappingSchemaRegistry = {
      registry: 'confluent',
      eventRecordFormat: 'SOURCE',
      basicAuthSecretArn: secret,
    };
    raw.functions['segment-builder'].mappingSchemaRegistry = { registry: 'glue', eventRecordFormat: 'JSON' };
    const s = synthesize(raw);
    const configs = resources(s, 'AWS::Lambda::EventSourceMapping').map(
      ([, r]) =>
        (r.Properties.AmazonManagedKafkaEventSourceConfig as { SchemaRegistryConfig?: Record<string, unknown> })
          .SchemaRegistryConfig,
    );
    expect(configs.filter((c) => c === undefined)).toHaveLength(1); // identity-linker decodes framed values itself
    expect(configs).toContainEqual({
      SchemaRegistryURI: 'https://schema-registry.internal:8081',
      EventRecordFormat: 'SOURCE',
      AccessConfigs: [{ Type: 'BASIC_AUTH', URI: secret }],
      SchemaValidationConfigs: [{ Attribute: 'VALUE' }],
    });
    expect(configs).toContainEqual(
      expect.objectContaining({
        SchemaRegistryURI: 'arn:aws:glue:eu-west-1:123456789012:registry/events',
        EventRecordFormat: 'JSON',
        SchemaValidationConfigs: [{ Attribute: 'VALUE' }],
      }),
    );
    expect(statements(s)).toContainEqual(
      expect.objectContaining({
        Action: 'glue:GetRegistry',
        Resource: 'arn:aws:glue:eu-west-1:123456789012:registry/events',
      }),
    );
  });
});

describe('dead letters to a Kafka topic', () => {
  it('points the functions at the topic and lets them write only that topic over MSK IAM', () => {
    const raw = exampleConfig();
    raw.deadLetters = {
      sink: 'kafka',
      topic: 'processors.dead-letters',
      bootstrapServers: ['b-1.events.kafka.eu-west-1.amazonaws.com:9098'],
    };
    const synth = synthesize(raw);
    synth.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          DEAD_LETTER_SINK: 'kafka',
          DEAD_LETTER_TOPIC: 'processors.dead-letters',
          DEAD_LETTER_KAFKA_BROKERS: 'b-1.events.kafka.eu-west-1.amazonaws.com:9098',
          DEAD_LETTER_KAFKA_AUTH: 'msk-iam',
          DEAD_LETTER_KAFKA_TLS: 'on',
        }),
      },
    });
    const writes = statements(synth).filter((s) => actions(s).includes('kafka-cluster:WriteData'));
    expect(writes.map((s) => s.Resource)).toEqual(
      Array(3).fill(
        'arn:aws:kafka:eu-west-1:111122223333:topic/events/5a9c2f4e-1b7d-4c1e-9d8a-0f6b3e2a1c4d-3/processors.dead-letters',
      ),
    );
    synth.template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      SecurityGroupEgress: Match.arrayWith([Match.objectLike({ CidrIp: '10.20.0.0/16', FromPort: 9098 })]),
    });
    synth.template.resourceCountIs('AWS::SQS::Queue', 0);
  }, 120_000);
});

describe('a table sink declared in the environment', () => {
  const sinkSettings = {
    topic: 'page-views',
    table: 'page_views',
    columns: { event_id: 'key', url: 'value.url', region: 'header.region' },
    ttl: 86_400,
    provisionedPollers: { minimum: 1, maximum: 4 },
  };

  it('deploys it like any function, from the table-sink bundle, its mapping in SINK_CONFIG', () => {
    const raw = exampleConfig() as ReturnType<typeof exampleConfig> & { sinks?: unknown };
    raw.sinks = { 'views-sink': sinkSettings };
    const { template } = synthesize(raw);
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'pipeline-example-views-sink',
      Tags: Match.arrayWith([{ Key: 'processor', Value: 'views-sink' }]),
      Environment: {
        Variables: Match.objectLike({
          SINK_NAME: 'views-sink',
          SINK_CONFIG: JSON.stringify({
            table: 'page_views',
            columns: sinkSettings.columns,
            ttl: 86_400,
          }),
          REPORT_BATCH_ITEM_FAILURES: 'on',
        }),
      },
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      Topics: ['page-views'],
      AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: 'pipeline-example-views-sink' },
      ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 4 },
    });
    expect(JSON.stringify(dashboardBody(template.toJSON()))).toContain('pipeline-example-views-sink');
  });

  it('fails the synth on a mapping its function would refuse at cold start, naming the path', () => {
    const raw = exampleConfig() as ReturnType<typeof exampleConfig> & { sinks?: unknown };
    raw.sinks = { 'views-sink': { ...sinkSettings, columns: { event_id: 'key', url: 'body.url' } } };
    expect(() => synthesize(raw)).toThrow(/sinks\.views-sink\.columns\.url: "body\.url" is not a source/);
    raw.sinks = { 'navigation-enricher': sinkSettings };
    expect(() => synthesize(raw)).toThrow(/sinks\.navigation-enricher: is the name of a function of the catalog/);
  });
});
