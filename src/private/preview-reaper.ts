import { Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { Construct } from 'constructs';
import { StagingValidationError } from './errors';
import { statefulLifecycle } from './lifecycle';
import { acknowledge, acknowledgeStagingLogGroup } from './posture';
import { previewStackPrefix } from './preview-facts';

/**
 * The reaper's code, inlined into the function (no asset) and run as it is by the unit tests. It
 * runs on the Node.js 22 runtime, whose AWS SDK for JavaScript v3 it uses
 * (https://docs.aws.amazon.com/lambda/latest/dg/lambda-nodejs.html).
 *
 * It lists the stacks (ListStacks, paginated; its summaries carry CreationTime and
 * LastUpdatedTime, https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackSummary.html),
 * keeps those named `$STACK_PREFIX<number>` that no operation is changing (no `*_IN_PROGRESS`
 * status but REVIEW_IN_PROGRESS: a stack that holds only a change set, refused or never executed,
 * changes no more), and deletes each whose last update (or creation) is older than
 * `$EXPIRE_AFTER_SECONDS` (a REVIEW_IN_PROGRESS stack: its creation, when that change set was made).
 * A DeleteStack that fails (throttled, or refused) is logged and the others go on; the next hour's
 * run tries it again. It passes no role, so it needs no iam:PassRole: without RoleARN,
 * "CloudFormation uses the role that was previously associated with the stack"
 * (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteStack.html), and
 * "provided that users have permission to operate on the stack, CloudFormation uses this role even if
 * the users don't have permission to pass it"
 * (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html, RoleARN).
 * Each decision is one JSON log line. `reap` is exported for the tests, which hand it a client.
 *
 * CloudFormation takes inline Node.js code of up to 4096 characters (ZipFile,
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-lambda-function-code.html).
 */
export const REAPER_SOURCE = `'use strict';
const LIVE = ['REVIEW_IN_PROGRESS', 'CREATE_COMPLETE', 'CREATE_FAILED', 'ROLLBACK_COMPLETE', 'ROLLBACK_FAILED', 'DELETE_FAILED', 'UPDATE_COMPLETE',
  'UPDATE_FAILED', 'UPDATE_ROLLBACK_COMPLETE', 'UPDATE_ROLLBACK_FAILED', 'IMPORT_COMPLETE', 'IMPORT_ROLLBACK_COMPLETE', 'IMPORT_ROLLBACK_FAILED'];

async function reap({ client, commands, prefix, expireAfterSeconds, now, log }) {
  const deleted = [];
  const kept = [];
  const failed = [];
  const cutoff = now.getTime() - expireAfterSeconds * 1000;
  let token;
  do {
    const page = await client.send(new commands.ListStacksCommand({ StackStatusFilter: LIVE, NextToken: token }));
    for (const stack of page.StackSummaries || []) {
      const name = stack.StackName;
      if (!name.startsWith(prefix) || !/^[0-9]+$/.test(name.slice(prefix.length))) continue;
      const review = stack.StackStatus === 'REVIEW_IN_PROGRESS';
      const touched = new Date(review ? stack.CreationTime : stack.LastUpdatedTime || stack.CreationTime);
      const entry = { stack: name, status: stack.StackStatus, lastTouched: touched.toISOString() };
      if (/_IN_PROGRESS$/.test(stack.StackStatus) && !review) {
        log(JSON.stringify({ ...entry, action: 'skipped', reason: 'an operation is under way' }));
        kept.push(name);
      } else if (touched.getTime() > cutoff) {
        log(JSON.stringify({ ...entry, action: 'kept', reason: 'touched within ' + expireAfterSeconds + ' s' }));
        kept.push(name);
      } else {
        try {
          await client.send(new commands.DeleteStackCommand({ StackName: name }));
        } catch (e) {
          log(JSON.stringify({ ...entry, action: 'failed', reason: String(e && e.name) + ': ' + String(e && e.message) }));
          failed.push(name);
          continue;
        }
        log(JSON.stringify({ ...entry, action: 'deleted', reason: 'untouched for more than ' + expireAfterSeconds + ' s' }));
        deleted.push(name);
      }
    }
    token = page.NextToken;
  } while (token);
  log(JSON.stringify({ action: 'done', deleted: deleted.length, kept: kept.length, failed: failed.length }));
  return { deleted, kept, failed };
}

exports.reap = reap;
exports.handler = async () => {
  const sdk = require('@aws-sdk/client-cloudformation');
  return reap({
    client: new sdk.CloudFormationClient({}),
    commands: sdk,
    prefix: process.env.STACK_PREFIX,
    expireAfterSeconds: Number(process.env.EXPIRE_AFTER_SECONDS),
    now: new Date(),
    log: (line) => console.log(line),
  });
};
`;

/**
 * Properties of a `StagingPreviewReaper`.
 */
export interface StagingPreviewReaperProps {
  /** The environment's name: the reaper deletes stacks named `<environmentName>-preview-pr-<number>`. */
  readonly environmentName: string;
  /** A preview stack untouched (not updated) for longer is deleted. */
  readonly expireAfter: Duration;
  /**
   * How long the reaper's logs are kept.
   *
   * @default logs.RetentionDays.TWO_WEEKS
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Delete the reaper's log group with the stack, as the environment's other log groups when it is ephemeral.
   *
   * @default false
   */
  readonly ephemeral?: boolean;
}

/**
 * Deletes the environment's preview stacks that nobody has updated for `expireAfter`, so that a
 * lost `closed` event costs at most that long (plus the hour between runs): an hourly EventBridge
 * rule invokes a small function (inline code), whose role may list stacks and delete preview stacks,
 * nothing else.
 */
export class StagingPreviewReaper extends Construct {
  /** The function that lists and deletes the preview stacks. */
  public readonly function: lambda.Function;
  /** The hourly rule that invokes it. */
  public readonly rule: events.Rule;
  /** The function's log group. */
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: StagingPreviewReaperProps) {
    super(scope, id);
    const expireAfterSeconds = props.expireAfter.toSeconds();
    if (!Token.isUnresolved(expireAfterSeconds) && expireAfterSeconds < 3600) {
      throw new StagingValidationError(this, `previews.expireAfter must be at least 1 hour (got ${props.expireAfter.toHumanString()}); `
        + 'the reaper runs hourly, and a preview must outlive the time between two pushes: for example Duration.days(3)');
    }
    const prefix = previewStackPrefix(props.environmentName);
    const retention = props.logRetention ?? logs.RetentionDays.TWO_WEEKS;
    this.logGroup = new logs.LogGroup(this, 'LogGroup', { retention, removalPolicy: statefulLifecycle(props.ephemeral).removalPolicy });
    acknowledgeStagingLogGroup(this.logGroup, retention, false, 'the reaper\'s log group', 'the reaper\'s log retention');

    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Deletes the expired preview stacks of ${props.environmentName} (${prefix}*)`,
    });
    this.function = new lambda.Function(this, 'Function', {
      description: `Deletes ${prefix}* stacks untouched for ${props.expireAfter.toHumanString()} (cdk-ecs-staging)`,
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline(REAPER_SOURCE),
      role,
      logGroup: this.logGroup,
      timeout: Duration.minutes(1),
      memorySize: 128,
      environment: { STACK_PREFIX: prefix, EXPIRE_AFTER_SECONDS: String(expireAfterSeconds) },
    });
    this.logGroup.grantWrite(role);
    grantReap(role, this, prefix);

    this.rule = new events.Rule(this, 'Hourly', {
      description: `Deletes the expired preview stacks of ${props.environmentName}`,
      schedule: events.Schedule.rate(Duration.hours(1)),
      targets: [new targets.LambdaFunction(this.function, { retryAttempts: 2 })],
    });
    acknowledgeReaper(this, prefix);
  }
}

/**
 * ListStacks has no resource-level permissions; DeleteStack is granted on the preview stacks' ARN
 * pattern only (Service Authorization Reference, AWS CloudFormation,
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscloudformation.html).
 */
function grantReap(role: iam.Role, scope: Construct, prefix: string): void {
  role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['cloudformation:ListStacks'], resources: ['*'] }));
  role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['cloudformation:DeleteStack'], resources: [previewStacksArn(scope, prefix)] }));
}

/** `arn:<partition>:cloudformation:<region>:<account>:stack/<prefix>*\/*`, the partition spelled out where the region is known. */
export function previewStacksArn(scope: Construct, prefix: string): string {
  const stack = Stack.of(scope);
  const partition = Token.isUnresolved(stack.region) ? stack.partition : RegionInfo.get(stack.region).partition ?? stack.partition;
  return `arn:${partition}:cloudformation:${stack.region}:${stack.account}:stack/${prefix}*/*`;
}

function acknowledgeReaper(reaper: StagingPreviewReaper, prefix: string): void {
  const policy = reaper.function.role!.node.tryFindChild('DefaultPolicy');
  if (policy) {
    Validations.of(policy).acknowledge(
      { id: 'AwsSolutions-IAM5[Resource::*]', reason: 'cloudformation:ListStacks has no resource-level permissions; the reaper may delete only the stacks named ' + prefix + '<number>.' },
    );
    const stacks = previewStacksArn(reaper, prefix);
    if (!Token.isUnresolved(stacks)) {
      Validations.of(policy).acknowledge({ id: `AwsSolutions-IAM5[Resource::${stacks}]`, reason: `The preview stacks are named ${prefix}<pull request>; the wildcard covers those names and their stack IDs only.` });
    }
  }
  Validations.of(reaper.function).acknowledge({
    id: 'AwsSolutions-L1',
    reason: 'The reaper runs on Node.js 22 (LTS), whose AWS SDK v3 it uses; it is a few lines that list and delete stacks.',
  });
  acknowledge(reaper.function.node.defaultChild!, {
    reason: 'The reaper calls only the CloudFormation API and holds no data: it needs no VPC (and no NAT to reach the API from one).',
    guard: ['lambda_inside_vpc_check'],
    checkov: ['CKV_AWS_117'],
  }, {
    reason: 'An hourly rule invokes the reaper and retries it; a failed run is repeated by the next hour\'s, so a dead-letter queue would hold nothing to act on.',
    checkov: ['CKV_AWS_116'],
  }, {
    reason: 'No reserved concurrency: a new account\'s concurrency quota (10) leaves none to reserve, and one hourly invocation cannot crowd out other functions.',
    checkov: ['CKV_AWS_115'],
  }, {
    reason: 'Its environment holds a stack name prefix and a number of seconds, nothing secret: the AWS managed key encrypts them.',
    checkov: ['CKV_AWS_173'],
  });
}
