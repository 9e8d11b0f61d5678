import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  MathExpression,
  Metric,
  TextWidget,
  TreatMissingData,
  Unit,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { FilterPattern, MetricFilter } from 'aws-cdk-lib/aws-logs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import type { Processor } from './processor';

export interface ObservabilityProps {
  readonly prefix: string;
  readonly processors: readonly Processor[];
  /** The EMF namespace the functions write to (METRICS_NAMESPACE). */
  readonly namespace: string;
  readonly email?: string;
  readonly offsetLagThreshold: number;
  readonly errorRatePercent: number;
}

const PERIOD = Duration.minutes(1);
/** The leading space-delimited fields of Lambda's REPORT line, up to the peak memory. */
export const REPORT_FIELDS = [
  'type',
  'requestIdLabel',
  'requestId',
  'durationLabel',
  'duration',
  'durationUnit',
  'billedLabel',
  'billedDurationLabel',
  'billedDuration',
  'billedUnit',
  'memoryLabel',
  'memorySizeLabel',
  'memorySize',
  'memorySizeUnit',
  'maxLabel',
  'maxMemoryLabel',
  'maxMemoryUsedLabel',
  'maxMemoryUsed',
];
/** The dimensions lib/metrics puts on every EMF metric (`service` from Powertools, `function` the function name). */
const SERVICE = 'kafka-processors';

/**
 * The CloudWatch side of operating the pipeline: one dashboard (Lambda, the ESM's OffsetLag, and the functions'
 * own EMF metrics) and alarms that page through one SNS topic. CloudWatch gets means, counts, the ESM's view and
 * the batch and statement P95 (EMF distributions); every stage's full histogram lives in Prometheus.
 */
export class Observability extends Construct {
  readonly alarmTopic: Topic;
  readonly alarms: Alarm[] = [];
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    // CloudWatch can only publish to an encrypted topic whose key lets it: AWS-managed SNS keys do not.
    const key = new Key(this, 'AlarmTopicKey', {
      description: `${props.prefix} alarm topic encryption`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    });
    key.grant(new ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    this.alarmTopic = new Topic(this, 'AlarmTopic', {
      topicName: `${props.prefix}-alarms`,
      masterKey: key,
      enforceSSL: true,
    });
    // A topic policy replaces SNS's default one, and enforceSSL writes one (a Deny only): without this Allow,
    // CloudWatch is "not authorized to perform: SNS:Publish" and no alarm reaches anyone. Only this stack's alarms.
    const stack = Stack.of(this);
    this.alarmTopic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowThisStacksAlarmsToPublish',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.alarmTopic.topicArn],
        conditions: {
          ArnLike: {
            'aws:SourceArn': `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:${props.prefix}-*`,
          },
          StringEquals: { 'aws:SourceAccount': stack.account },
        },
      }),
    );
    if (props.email) this.alarmTopic.addSubscription(new EmailSubscription(props.email));
    const action = new SnsAction(this.alarmTopic);

    this.dashboard = new Dashboard(this, 'Dashboard', { dashboardName: `${props.prefix}-processors` });
    this.dashboard.addWidgets(
      new TextWidget({
        markdown: `# ${props.prefix}\nEvery stage's full histograms: Prometheus / Grafana (dashboards/processors.json).`,
        width: 24,
        height: 2,
      }),
    );

    for (const processor of props.processors) {
      const fn = processor.function;
      const emf = (metricName: string, statistic: string, extra: Record<string, string> = {}) =>
        new Metric({
          namespace: props.namespace,
          metricName,
          statistic,
          period: PERIOD,
          dimensionsMap: { service: SERVICE, function: processor.functionName, ...extra },
        });
      const invocations = fn.metricInvocations({ period: PERIOD, statistic: 'Sum' });
      const errors = fn.metricErrors({ period: PERIOD, statistic: 'Sum' });
      const throttles = fn.metricThrottles({ period: PERIOD, statistic: 'Sum' });
      const offsetLag = fn.metric('OffsetLag', { period: PERIOD, statistic: 'Maximum' });
      const deadLetters = emf('dead_letters', 'Sum');
      // The mapping's own EventCount group (MetricsConfig), by EventSourceMappingUUID (AWS, "Lambda metrics types",
      // event source mapping metrics): records it gave up on, sent to the on-failure destination or dropped.
      const mappingMetric = (metricName: string) =>
        new Metric({
          namespace: 'AWS/Lambda',
          metricName,
          statistic: 'Sum',
          period: PERIOD,
          dimensionsMap: { EventSourceMappingUUID: processor.eventSourceMappingId },
        });
      const diverted = mappingMetric('OnFailureDestinationDeliveredEventCount');
      const dropped = mappingMetric('DroppedEventCount');
      // Records a partial response sent back to the mapping: a partition that keeps retrying is stalled.
      const retriedLater = emf('records', 'Sum', { stage: 'retried_later' });
      // Lambda's own peak memory per invocation, read from its REPORT line ("REPORT RequestId: <id> Duration: <n> ms
      // Billed Duration: <n> ms Memory Size: <n> MB Max Memory Used: <n> MB ..."; text log format) by position.
      const maxMemoryUsed = new MetricFilter(this, `${processor.node.id}MaxMemoryUsed`, {
        logGroup: processor.logGroup,
        filterPattern: FilterPattern.spaceDelimited(...REPORT_FIELDS, '...')
          .whereString('type', '=', 'REPORT')
          .whereString('maxMemoryUsedLabel', '=', 'Used:'),
        metricNamespace: `${props.namespace}/Lambda`,
        metricName: `${processor.functionName}-max-memory-used`,
        metricValue: '$maxMemoryUsed',
        unit: Unit.MEGABYTES,
      }).metric({ statistic: 'Maximum', period: PERIOD, label: 'max memory used (Lambda REPORT)' });
      const rssMb = new MathExpression({
        expression: 'rss / 1048576',
        usingMetrics: { rss: emf('memory_rss_bytes', 'Maximum') },
        label: 'RSS at flush',
        period: PERIOD,
      });
      const errorRate = new MathExpression({
        expression: 'IF(invocations > 0, 100 * errors / invocations, 0)',
        usingMetrics: { invocations, errors },
        period: PERIOD,
        label: 'error %',
      });

      this.dashboard.addWidgets(
        new TextWidget({ markdown: `## ${processor.functionName} ← \`${processor.topic}\``, width: 24, height: 1 }),
        new GraphWidget({ title: 'Invocations, errors, throttles', left: [invocations, errors, throttles], width: 6 }),
        new GraphWidget({
          title: 'Duration (ms)',
          left: ['p50', 'p99', 'Maximum'].map((statistic) => fn.metricDuration({ period: PERIOD, statistic })),
          width: 6,
        }),
        new GraphWidget({ title: 'OffsetLag (ESM)', left: [offsetLag], width: 6 }),
        new GraphWidget({
          title: 'Records by stage; dead letters (right)',
          left: [
            ...['received', 'written'].map((stage) => emf('records', 'Sum', { stage }).with({ label: stage })),
            // Skipped records carry their reason as a dimension too: one series per reason, summed.
            new MathExpression({
              expression: `SUM(SEARCH('{${props.namespace},service,function,stage,reason} MetricName="records" function="${processor.functionName}" stage="skipped"', 'Sum', 60))`,
              label: 'skipped',
              period: PERIOD,
            }),
          ],
          right: [deadLetters.with({ label: 'dead letters' })],
          width: 6,
        }),
        new GraphWidget({
          title: 'Statement latency P95 by kind, and mean (ms)',
          left: [
            new MathExpression({
              expression: `SEARCH('{${props.namespace},service,function,kind} MetricName="statement_ms" function="${processor.functionName}"', 'p95', 60)`,
              label: 'P95',
              period: PERIOD,
            }),
            new MathExpression({
              expression: `SEARCH('{${props.namespace},service,function,kind} MetricName="statement_avg_ms" function="${processor.functionName}"', 'Average', 60)`,
              label: 'mean',
              period: PERIOD,
            }),
          ],
          width: 8,
        }),
        new GraphWidget({
          title: 'Batch duration P50 / P95 / P99, decode mean (ms)',
          left: [
            ...['p50', 'p95', 'p99'].map((statistic) =>
              emf('batch_ms', statistic, { outcome: 'ok' }).with({ label: `batch ${statistic}` }),
            ),
            emf('decode_avg_ms', 'Average').with({ label: 'decode, per partition batch' }),
          ],
          leftAnnotations: [{ value: processor.timeoutSeconds * 1000, label: 'function timeout' }],
          width: 8,
        }),
        new GraphWidget({
          title: 'Memory (MB)',
          left: [maxMemoryUsed, rssMb],
          leftAnnotations: [{ value: processor.memorySizeMb, label: 'MemorySize' }],
          width: 6,
        }),
        new GraphWidget({
          title: 'Hedged requests (speculative executions)',
          left: [
            emf('speculative_executions', 'Sum').with({ label: 'sent' }),
            emf('speculative_wins', 'Sum').with({ label: 'won first' }),
          ],
          width: 6,
        }),
        new GraphWidget({
          title: 'Records the mapping gave up on; records retried later (right)',
          left: [diverted.with({ label: 'to the on-failure destination' }), dropped.with({ label: 'dropped' })],
          right: [retriedLater.with({ label: 'retried later (partial responses)' })],
          width: 8,
        }),
        new GraphWidget({
          title: 'Statement errors by kind and type, retries by kind',
          left: [
            new MathExpression({
              expression: `SEARCH('{${props.namespace},service,function,kind,error_type} MetricName="statement_errors" function="${processor.functionName}"', 'Sum', 60)`,
              label: 'errors',
              period: PERIOD,
            }),
            new MathExpression({
              expression: `SEARCH('{${props.namespace},service,function,kind} MetricName="statement_retries" function="${processor.functionName}"', 'Sum', 60)`,
              label: 'retries',
              period: PERIOD,
            }),
          ],
          width: 8,
        }),
      );

      const alarm = (name: string, description: string, alarmProps: ConstructorParameters<typeof Alarm>[2]) => {
        const created = new Alarm(this, `${processor.node.id}${name}`, {
          ...alarmProps,
          alarmName: `${processor.functionName}-${name}`,
          alarmDescription: description,
        });
        created.addAlarmAction(action);
        created.addOkAction(action);
        this.alarms.push(created);
      };
      alarm('offset-lag', `Consumer lag on ${processor.topic} above ${props.offsetLagThreshold} for 15 minutes`, {
        metric: offsetLag.with({ period: Duration.minutes(5) }),
        threshold: props.offsetLagThreshold,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      alarm('error-rate', `More than ${props.errorRatePercent}% of invocations failed in 3 of 5 minutes`, {
        metric: errorRate,
        threshold: props.errorRatePercent,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 5,
        datapointsToAlarm: 3,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      alarm(
        'batch-duration-p95',
        `Batch duration P95 above 80% of the ${processor.timeoutSeconds} s function timeout in 3 of 5 minutes`,
        {
          metric: emf('batch_ms', 'p95', { outcome: 'ok' }),
          threshold: processor.timeoutSeconds * 1000 * 0.8,
          comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 5,
          datapointsToAlarm: 3,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        },
      );
      alarm('dead-letters', 'Poison records were dead-lettered: see the dead-letter sink for reasons', {
        metric: deadLetters.with({ period: Duration.minutes(5) }),
        threshold: 0,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      alarm(
        'records-left-pipeline',
        'The event-source mapping sent records to its on-failure destination or dropped them: they are out of the pipeline (npm run dlq -- replay --destination <the destination> brings the delivered ones back; dropped ones only Kafka still holds)',
        {
          metric: new MathExpression({
            expression: 'FILL(diverted, 0) + FILL(dropped, 0)',
            usingMetrics: {
              diverted: diverted.with({ period: Duration.minutes(5) }),
              dropped: dropped.with({ period: Duration.minutes(5) }),
            },
            period: Duration.minutes(5),
            label: 'records out of the pipeline',
          }),
          threshold: 0,
          comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        },
      );
      alarm(
        'partitions-retrying',
        'Records sent back to the mapping for 15 minutes in a row: a partition is stalled on Scylla or the registry',
        {
          metric: retriedLater,
          threshold: 0,
          comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 15,
          datapointsToAlarm: 15,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        },
      );
      alarm('not-invoked', `No invocation for 30 minutes: the mapping of ${processor.topic} is not delivering`, {
        metric: invocations.with({ period: Duration.minutes(30) }),
        threshold: 1,
        comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.BREACHING,
      });
      alarm('throttles', 'Invocations were throttled: raise reserved concurrency or lower pollers', {
        metric: throttles.with({ period: Duration.minutes(5) }),
        threshold: 0,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
    }
  }
}
