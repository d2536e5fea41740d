import { CfnResource, Stack, Validations } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { IConstruct } from 'constructs';

/**
 * Acknowledgements of posture findings that the library's design makes inherent.
 *
 * Each is recorded with `Validations.of(construct).acknowledge` on the construct that raises the
 * finding (never app-wide), with a reason written for the user who reads the validation report.
 * cdk-nag reads them; so does the CDK validation framework for plugins such as cfn-guard.
 */

/** Rule IDs of the Control Tower proactive controls, as `@cdklabs/cdk-validator-cfnguard` reports them. */
export const GUARD = 'cdk-validator-cfnguard';

/** Log retention below which CT.CLOUDWATCH.PR.2 fails. */
const ONE_YEAR_DAYS = 365;

/**
 * Acknowledges the Control Tower log-group controls a staging log group raises by design:
 * retention under a year (CT.CLOUDWATCH.PR.2) and, without a customer-managed key, encryption
 * with the service-owned key (CT.CLOUDWATCH.PR.3). Each only when it applies.
 */
export function acknowledgeStagingLogGroup(
  logGroup: IConstruct,
  retention: logs.RetentionDays,
  encryptedWithCmk: boolean,
  keyProp: string,
  retentionProp: string,
): void {
  const rules = [];
  if (retention !== logs.RetentionDays.INFINITE && retention < ONE_YEAR_DAYS) {
    rules.push({
      id: `${GUARD}::cloudwatch_log_group_retention_period_check`,
      reason: `Staging logs serve debugging, not audit: they are kept ${retention} days (14-30 days suits staging) to keep cost down. Set ${retentionProp} to a year or more where CT.CLOUDWATCH.PR.2 is enforced.`,
    });
  }
  if (rules.length > 0) {
    Validations.of(logGroup).acknowledge(...rules);
  }
  if (!encryptedWithCmk) {
    acknowledge(logGroup, {
      reason: `CloudWatch Logs encrypts this log group at rest with a service-owned key. A customer-managed KMS key costs extra and needs a key policy for the logs service: pass ${keyProp} where a key is required.`,
      guard: ['cloudwatch_log_group_encrypted_check'],
      checkov: ['CKV_AWS_158'],
    });
  }
}

/**
 * Acknowledges CT.LAMBDA.PR.3 (Lambda in a VPC) on one of AWS CDK's stack-level custom-resource
 * providers, if the stack of `scope` has it. These functions call one AWS API and hold no data.
 *
 * @param providerId the provider's construct ID under the stack, e.g. `Custom::S3AutoDeleteObjectsCustomResourceProvider`
 * @param reason what the provider does, for the user who reads the report
 */
export function acknowledgeCdkProviderOutsideVpc(scope: IConstruct, providerId: string, reason: string): void {
  const provider = Stack.of(scope).node.tryFindChild(providerId);
  if (provider) {
    acknowledge(provider, { reason, guard: ['lambda_inside_vpc_check'] });
    const handler = provider.node.tryFindChild('Handler');
    if (handler && CfnResource.isCfnResource(handler)) {
      acknowledge(handler,
        { reason, checkov: ['CKV_AWS_117'] },
        {
          reason: 'AWS CDK\'s one-shot function, invoked by CloudFormation alone, which retries and reports its failures: a dead-letter queue or reserved concurrency would add nothing.',
          checkov: ['CKV_AWS_115', 'CKV_AWS_116'],
        });
    }
  }
}

/**
 * One trade-off, acknowledged for every scanner with one reason: cdk-nag and the Control Tower
 * controls through `Validations.acknowledge`, checkov through its skip metadata on the resource
 * (`Metadata.checkov.skip[].comment`), so that the reasons cannot drift apart.
 */
export interface Acknowledgement {
  /** Why the finding stays, and how the user lifts it. */
  readonly reason: string;
  /** cdk-nag rule IDs, e.g. `AwsSolutions-S1`. */
  readonly nag?: string[];
  /** Control Tower control rule names as cfn-guard reports them, e.g. `s3_bucket_logging_enabled_check`. */
  readonly guard?: string[];
  /** checkov check IDs, e.g. `CKV_AWS_18`. */
  readonly checkov?: string[];
}

/** Records the acknowledgements on `construct` (its CloudFormation resource, for checkov). */
export function acknowledge(construct: IConstruct, ...acknowledgements: Acknowledgement[]): void {
  const rules = acknowledgements.flatMap((a) => [
    ...(a.nag ?? []).map((id) => ({ id, reason: a.reason })),
    ...(a.guard ?? []).map((rule) => ({ id: `${GUARD}::${rule}`, reason: a.reason })),
  ]);
  if (rules.length > 0) {
    Validations.of(construct).acknowledge(...rules);
  }
  const skips = acknowledgements.flatMap((a) => (a.checkov ?? []).map((id) => ({ id, comment: a.reason })));
  if (skips.length > 0) {
    const resource = CfnResource.isCfnResource(construct) ? construct : construct.node.defaultChild;
    if (!CfnResource.isCfnResource(resource)) {
      throw new Error(`acknowledge: ${construct.node.path} has no CloudFormation resource to carry checkov's skip metadata`);
    }
    const existing: Array<{ id: string; comment: string }> = resource.getMetadata('checkov')?.skip ?? [];
    const added = skips.filter((skip) => !existing.some((e) => e.id === skip.id));
    resource.addMetadata('checkov', { skip: [...existing, ...added] });
  }
}
