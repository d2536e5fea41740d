import { Stack, Validations } from 'aws-cdk-lib';
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
      reason: `Staging logs serve debugging, not audit: they are kept ${retention} days (the walkthrough asks 14-30 for staging) to keep cost down. Set ${retentionProp} to a year or more where CT.CLOUDWATCH.PR.2 is enforced.`,
    });
  }
  if (!encryptedWithCmk) {
    rules.push({
      id: `${GUARD}::cloudwatch_log_group_encrypted_check`,
      reason: `CloudWatch Logs encrypts this log group at rest with a service-owned key. A customer-managed KMS key costs extra and needs a key policy for the logs service: pass ${keyProp} where CT.CLOUDWATCH.PR.3 is enforced.`,
    });
  }
  if (rules.length > 0) {
    Validations.of(logGroup).acknowledge(...rules);
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
    Validations.of(provider).acknowledge({ id: `${GUARD}::lambda_inside_vpc_check`, reason });
  }
}
