import { createHash } from 'crypto';
import { Aws, CfnResource, CustomResource, Duration, ITaggable, TagManager, TagType } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { DEFAULTS } from './defaults';
import { statefulLifecycle } from './lifecycle';
import { acknowledge } from './posture';

/**
 * The function's source, deployed inline (CloudFormation writes `ZipFile` to `index.js`), so the
 * environment needs no file asset and no bootstrap bucket upload for it.
 *
 * It lists the default group's rules and revokes each by its rule ID: whatever rules the group
 * holds (IPv4, IPv6, the self reference) go, and a rule that does not match cannot slip through as
 * "not found". Create and Update lock the group down (idempotent); Delete changes nothing, so a
 * group once locked stays locked. Async handler only: the nodejs24.x runtime dropped callback
 * handlers, and `cfn-response` (which calls `context.done`) with them; the reply is a plain PUT to
 * the presigned response URL, whose signature covers no content type
 * (docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html).
 */
const LOCKDOWN_HANDLER_SOURCE = `'use strict';
const ec2 = require('@aws-sdk/client-ec2');
const client = new ec2.EC2Client({});
const NOT_YET_AUTHORIZED = ['UnauthorizedOperation', 'AccessDenied', 'AccessDeniedException'];

// The role's policy is seconds old on the first run and IAM is eventually consistent:
// an authorization error is retried after 1, 2, 4 and 8 s (15 s of the 60 s timeout).
async function send(command) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await client.send(command);
    } catch (error) {
      if (attempt >= 4 || !NOT_YET_AUTHORIZED.includes(error.name)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1000 * 2 ** attempt));
    }
  }
}

async function lockDown(groupId) {
  const ingress = [];
  const egress = [];
  let NextToken;
  do {
    const page = await send(new ec2.DescribeSecurityGroupRulesCommand({
      Filters: [{ Name: 'group-id', Values: [groupId] }], MaxResults: 1000, NextToken,
    }));
    for (const rule of page.SecurityGroupRules || []) {
      (rule.IsEgress ? egress : ingress).push(rule.SecurityGroupRuleId);
    }
    NextToken = page.NextToken;
  } while (NextToken);
  if (ingress.length > 0) {
    await send(new ec2.RevokeSecurityGroupIngressCommand({ GroupId: groupId, SecurityGroupRuleIds: ingress }));
  }
  if (egress.length > 0) {
    await send(new ec2.RevokeSecurityGroupEgressCommand({ GroupId: groupId, SecurityGroupRuleIds: egress }));
  }
  console.log(JSON.stringify({ groupId, revokedIngress: ingress, revokedEgress: egress }));
}

exports.handler = async (event) => {
  const groupId = event.ResourceProperties.GroupId;
  let physicalId = event.PhysicalResourceId || groupId;
  let status = 'SUCCESS';
  let reason;
  try {
    if (event.RequestType !== 'Delete') {
      await lockDown(groupId);
      physicalId = groupId;
    }
  } catch (error) {
    console.error(error);
    status = 'FAILED';
    reason = String(error.name + ': ' + error.message).slice(0, 1000);
  }
  const response = await fetch(event.ResponseURL, {
    method: 'PUT',
    headers: { 'content-type': '' },
    body: JSON.stringify({
      Status: status,
      Reason: reason,
      PhysicalResourceId: physicalId,
      StackId: event.StackId,
      RequestId: event.RequestId,
      LogicalResourceId: event.LogicalResourceId,
    }),
  });
  if (!response.ok) {
    throw new Error('the CloudFormation response URL answered HTTP ' + response.status);
  }
};
`;

/** Lambda runtime of the function: async handlers, AWS SDK for JavaScript v3 and fetch built in. */
const RUNTIME = 'nodejs24.x';

/** Props of `DefaultSecurityGroupLockdown`. */
export interface DefaultSecurityGroupLockdownProps {
  /** The VPC whose default security group loses every rule. */
  readonly vpc: ec2.Vpc;
  /** Whether the function's log group goes with the stack. */
  readonly ephemeral: boolean;
}

/**
 * Removes every rule of a VPC's default security group at deploy time, so nothing launched into it
 * by mistake can talk to anything (AWS Security Hub control EC2.2).
 *
 * The same outcome as aws-cdk-lib's `restrictDefaultSecurityGroup`, built from L1 resources with
 * the function's code inline: that provider stages a file asset and loads aws-cdk-lib's file-copy
 * and runtime-lookup code at synth, which was about a third of the default environment's synth
 * overhead over a plain aws-ecs-patterns service. Here the function also writes to a log group of
 * its own with a retention, and CloudFormation stops waiting for it after 5 minutes instead of an hour.
 */
export class DefaultSecurityGroupLockdown extends Construct {
  constructor(scope: Construct, id: string, props: DefaultSecurityGroupLockdownProps) {
    super(scope, id);
    const groupId = props.vpc.vpcDefaultSecurityGroup;

    const logGroup = new logs.CfnLogGroup(this, 'LogGroup', { retentionInDays: DEFAULTS.helperLogRetention });
    logGroup.applyRemovalPolicy(statefulLifecycle(props.ephemeral).removalPolicy);
    acknowledge(logGroup, {
      reason: `The log of a one-shot deploy-time function: a few lines per deploy, kept ${DEFAULTS.helperLogRetention} days and encrypted with CloudWatch Logs' service-owned key.`,
      guard: ['cloudwatch_log_group_retention_period_check', 'cloudwatch_log_group_encrypted_check'],
      checkov: ['CKV_AWS_158'],
    });

    const role = new iam.CfnRole(this, 'Role', {
      assumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
      },
      policies: [{
        policyName: 'LockDownDefaultSecurityGroup',
        policyDocument: {
          Version: '2012-10-17',
          Statement: [
            // Describe* actions support no resource-level permissions (Service Authorization Reference, Amazon EC2).
            { Effect: 'Allow', Action: 'ec2:DescribeSecurityGroupRules', Resource: '*' },
            {
              Effect: 'Allow',
              Action: ['ec2:RevokeSecurityGroupIngress', 'ec2:RevokeSecurityGroupEgress'],
              Resource: `arn:${Aws.PARTITION}:ec2:${Aws.REGION}:${Aws.ACCOUNT_ID}:security-group/${groupId}`,
            },
            { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: logGroup.attrArn },
          ],
        },
      }],
    });
    acknowledge(role, {
      reason: 'ec2:DescribeSecurityGroupRules supports no resource-level permissions, so it is granted on `*`; the revoke actions are limited to the VPC\'s default security group.',
      nag: ['AwsSolutions-IAM5[Resource::*]'],
    });

    const handler = new InlineFunction(this, 'Function', {
      Description: 'Removes every rule of the VPC default security group (cdk-ecs-staging)',
      Runtime: RUNTIME,
      Handler: 'index.handler',
      Code: { ZipFile: LOCKDOWN_HANDLER_SOURCE },
      Role: role.attrArn,
      Timeout: 60,
      MemorySize: 128,
      LoggingConfig: { LogGroup: logGroup.ref },
    });
    const reason = 'A one-shot function of the environment that removes the rules of the VPC\'s default security group. It calls only the EC2 API and holds no data, so it runs outside the VPC; CloudFormation alone invokes it and reports its failures, so a dead-letter queue or reserved concurrency would add nothing.';
    acknowledge(handler, { reason, guard: ['lambda_inside_vpc_check'], checkov: ['CKV_AWS_117', 'CKV_AWS_115', 'CKV_AWS_116'] });

    new CustomResource(this, 'Resource', {
      resourceType: 'Custom::DefaultSecurityGroupLockdown',
      serviceToken: handler.getAtt('Arn').toString(),
      // A function that never answers fails the deploy after 5 minutes, not CloudFormation's default hour.
      serviceTimeout: Duration.minutes(5),
      properties: {
        GroupId: groupId,
        // A changed handler runs once more on the next deploy (it is idempotent).
        HandlerVersion: createHash('sha256').update(LOCKDOWN_HANDLER_SOURCE).digest('hex').slice(0, 16),
      },
    });
  }
}

/**
 * An `AWS::Lambda::Function` as a plain CfnResource, as aws-cdk-lib's own providers build theirs:
 * the typed aws-lambda module costs more synth time and memory than this one function is worth to
 * the environment. It stays taggable, so the environment's tags reach it like every other resource.
 */
class InlineFunction extends CfnResource implements ITaggable {
  /** Tags rendered into the function's `Tags` property. */
  public readonly tags = new TagManager(TagType.KEY_VALUE, 'AWS::Lambda::Function', undefined, { tagPropertyName: 'Tags' });

  constructor(scope: Construct, id: string, properties: Record<string, unknown>) {
    super(scope, id, { type: 'AWS::Lambda::Function', properties });
  }
}
