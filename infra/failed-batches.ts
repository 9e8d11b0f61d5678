import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { DlqDestinationConfig, IEventSourceDlq, IEventSourceMapping, IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IBucket } from 'aws-cdk-lib/aws-s3';

/**
 * An S3 bucket as the on-failure destination of a Kafka event-source mapping: Lambda writes each discarded batch
 * there with its records (SQS and SNS destinations get metadata only), so nothing is lost after retries run out.
 *
 * aws-cdk-lib's `S3OnFailureDestination` grants the function read, write and delete on the whole bucket; Lambda
 * needs only `s3:PutObject` and `s3:ListBucket` (lambda/latest/dg/kafka-on-failure), so this grants just those.
 */
export class FailedBatchesBucket implements IEventSourceDlq {
  constructor(private readonly bucket: IBucket) {}

  bind(_mapping: IEventSourceMapping, target: IFunction): DlqDestinationConfig {
    target.addToRolePolicy(new PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }));
    target.addToRolePolicy(
      new PolicyStatement({ actions: ['s3:PutObject'], resources: [this.bucket.arnForObjects('*')] }),
    );
    return { destination: this.bucket.bucketArn };
  }
}
