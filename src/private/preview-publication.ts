import { ArnFormat, Duration, Lazy, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { CfnScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { Construct, IConstruct } from 'constructs';
import { notify } from './alarm-actions';
import { FARGATE_MEMORY_BY_CPU } from './defaults';
import { StagingValidationError } from './errors';
import { statefulLifecycle } from './lifecycle';
import { acknowledge, acknowledgeStagingLogGroup } from './posture';
import { PREVIEW_TAGS, previewServiceParameterName, PreviewsKey, previewsParameterName } from './preview-facts';
import { ResolvedWorkingHours, resolveSchedule } from './schedule-binding';
import { validateIntegerRange } from './validation';
import type { StagingSchedule } from '../schedule';

/**
 * What an environment that allows previews publishes for them, and the IAM it makes for them, so
 * that a preview stack (deployed beside the environment, by its name alone) creates no IAM, log
 * group, security group or network of its own:
 *
 * - `/<env>/_previews/settings` (JSON), `cloudformation-role-arn`, `log-group-name`, `security-group-id`;
 * - per previewable service `/<env>/<service>/preview-execution-role-arn`, `preview-task-role-arn`,
 *   `preview-repository-uri` and one `preview-secret/<NAME>` per secret previews may get.
 *
 * A service's config keys are environment variable names (no hyphen), so no config parameter
 * (`/<env>/<service>/<KEY>`) can take a `preview-...` name.
 */
/** `/<environmentName>/<service>/preview-secret/<variable>`: the `valueFrom` of a secret previews may get. */
export function previewSecretParameterName(environmentName: string, serviceName: string, variable: string): string {
  return `/${environmentName}/${serviceName}/preview-secret/${variable}`;
}

/**
 * Listener rule priorities of the previews: 48001-49000, after every derived priority of the
 * services (1-48000, src/private/routing.ts) and before the catch-all's 49001-50000; a service may
 * not take one explicitly while previews are on. Slot `s` owns `PRIORITY_BASE + s * PRIORITIES_PER_SLOT`
 * and the 99 after it, so a change of the previewable services never moves a rule into another
 * slot's range.
 */
export const PREVIEW_PRIORITY_BASE = 48001;
export const PREVIEW_PRIORITIES_PER_SLOT = 100;
/** The slots the band holds: 1000 priorities / 100 a slot. */
export const MAX_PREVIEWS = 10;

/** The role path of the preview roles: the CloudFormation role passes roles under it only. */
export function previewRolePath(environmentName: string): string {
  return `/cdk-ecs-staging/${environmentName}/preview/`;
}

/** Resolved preview settings of an environment. */
export interface ResolvedPreviews {
  readonly maxPreviews: number;
  readonly expireAfter: Duration;
  /** Names allowed, as given; undefined: every service. */
  readonly services?: string[];
  readonly secrets: string[];
  readonly cpu: number;
  readonly memoryLimitMiB: number;
  readonly spot: boolean;
  readonly logRetention: logs.RetentionDays;
  /** When previews run; undefined: around the clock. */
  readonly workingHours?: ResolvedWorkingHours;
}

/** What a preview stack needs to know of one previewable service, known at synth. */
export interface PreviewServiceDefinition {
  readonly serviceName: string;
  readonly containerPort: number;
  readonly healthCheckPath: string;
  readonly healthCheckGracePeriod: Duration;
  readonly deregistrationDelay: Duration;
  readonly environment: { [key: string]: string };
  /** Config keys (parameters `/<env>/<service>/<KEY>`). */
  readonly configKeys: string[];
  /** Config from existing parameters: variable -> parameter name. */
  readonly configFromParameters: { [key: string]: string };
  /** Secrets previews may get (their `valueFrom` is published). */
  readonly secretKeys: string[];
  readonly readonlyRootFilesystem: boolean;
  readonly user?: string;
  readonly cpuArchitecture: ecs.CpuArchitecture;
  readonly containerHealthCheck?: ecs.HealthCheck;
}

/** The defaults of `StagingPreviewsOptions`. */
export const PREVIEW_DEFAULTS = {
  maxPreviews: 3,
  expireAfter: Duration.days(3),
  cpu: 256,
  memoryLimitMiB: 512,
  spot: true,
  /** One log group for every preview: a preview lives days, its logs a week. */
  logRetention: logs.RetentionDays.ONE_WEEK,
} as const;

/** The options of previews as the environment takes them (`StagingPreviewsOptions`, src/preview.ts). */
export interface PreviewsInput {
  readonly maxPreviews?: number;
  readonly expireAfter?: Duration;
  readonly services?: string[];
  readonly secrets?: string[];
  readonly cpu?: number;
  readonly memoryLimitMiB?: number;
  readonly spot?: boolean;
  readonly schedule?: StagingSchedule;
}

/** Checks the options and fills in the defaults. */
export function resolvePreviews(
  scope: Construct, options: PreviewsInput, domainName: string | undefined, environmentSchedule: StagingSchedule | undefined,
): ResolvedPreviews {
  if (domainName === undefined) {
    throw new StagingValidationError(scope, 'previews needs a domain (got previews without domain): each preview answers on its own host, pr-<number>-<service>.<domain>, '
      + 'which the certificate and DNS of the domain cover; set domain (domainName and hostedZone) on the environment, or drop previews');
  }
  const maxPreviews = options.maxPreviews ?? PREVIEW_DEFAULTS.maxPreviews;
  validateIntegerRange(scope, 'previews.maxPreviews', maxPreviews, 1, MAX_PREVIEWS,
    `the listener priorities reserved for previews (${PREVIEW_PRIORITY_BASE}-${PREVIEW_PRIORITY_BASE + MAX_PREVIEWS * PREVIEW_PRIORITIES_PER_SLOT - 1}) hold ${MAX_PREVIEWS} previews of up to ${PREVIEW_PRIORITIES_PER_SLOT - 1} services`);
  const expireAfter = options.expireAfter ?? PREVIEW_DEFAULTS.expireAfter;
  const hours = expireAfter.toHours({ integral: false });
  if (!Token.isUnresolved(expireAfter.toMinutes()) && (hours < 1 || hours > 30 * 24)) {
    throw new StagingValidationError(scope, `previews.expireAfter must be from 1 hour to 30 days (got ${expireAfter.toHumanString()}); the reaper looks hourly, e.g. Duration.days(3)`);
  }
  const services = options.services;
  if (services !== undefined) {
    if (services.length === 0) {
      throw new StagingValidationError(scope, 'previews.services is empty (got []): no service could have a preview; list the services that may, leave it out for every service, or drop previews');
    }
    const repeated = services.find((s, i) => services.indexOf(s) !== i);
    if (repeated !== undefined) {
      throw new StagingValidationError(scope, `previews.services names '${repeated}' twice (got [${services.join(', ')}]); name each service once`);
    }
  }
  const secrets = options.secrets ?? [];
  const badSecret = secrets.find((name) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name));
  if (badSecret !== undefined) {
    throw new StagingValidationError(scope, `previews.secrets holds '${badSecret}', which is no variable name (letters, digits and underscores, not starting with a digit); list the names of the services' secrets previews may get`);
  }
  const cpu = options.cpu ?? PREVIEW_DEFAULTS.cpu;
  const memoryLimitMiB = options.memoryLimitMiB ?? PREVIEW_DEFAULTS.memoryLimitMiB;
  if (!Token.isUnresolved(cpu) && !Token.isUnresolved(memoryLimitMiB)) {
    const valid = FARGATE_MEMORY_BY_CPU[cpu];
    if (!valid) {
      throw new StagingValidationError(scope, `previews.cpu must be one of ${Object.keys(FARGATE_MEMORY_BY_CPU).join(', ')} (got ${cpu}); Fargate has no other task sizes (256 suits a preview)`);
    }
    if (!valid.includes(memoryLimitMiB)) {
      throw new StagingValidationError(scope, `previews.memoryLimitMiB must be a valid Fargate pair with previews.cpu ${cpu} (got ${memoryLimitMiB}); with cpu ${cpu} use one of ${valid.join(', ')}`);
    }
  }
  const spot = options.spot ?? PREVIEW_DEFAULTS.spot;
  const workingHours = options.schedule !== undefined
    ? resolveSchedule(scope, 'previews.schedule', options.schedule)
    : resolveSchedule(scope, 'schedule', environmentSchedule);
  return { maxPreviews, expireAfter, services, secrets, cpu, memoryLimitMiB, spot, logRetention: PREVIEW_DEFAULTS.logRetention, workingHours };
}

/** The environment's part of previews: log group, CloudFormation role, published settings. */
export interface EnvironmentPreviewsProps {
  readonly environmentName: string;
  readonly settings: ResolvedPreviews;
  readonly domainName: string;
  readonly clusterName: string;
  readonly listenerArn: string;
  /** The security group every preview task joins (outbound allowed, the load balancer admitted). */
  readonly securityGroupId: string;
  /** The load balancer's full name, `app/<name>/<id>`: its rules' ARNs start with it. */
  readonly loadBalancerFullName: string;
  readonly ephemeral: boolean;
  /** The names of the services that may have previews, read at synth (services are added later). */
  readonly previewableServices: () => string[];
  /** The environment's alarm topic, when its alarms are on: a dropped wake or sleep call is sent there. */
  readonly alarmTopic?: sns.ITopic;
}

/**
 * The environment's side of previews, in the environment's stack: the previews' log group, the role
 * CloudFormation deploys preview stacks with, and the published settings.
 */
export class EnvironmentPreviews extends Construct {
  public readonly logGroup: logs.LogGroup;
  public readonly cloudFormationRole: iam.Role;

  constructor(scope: Construct, id: string, props: EnvironmentPreviewsProps) {
    super(scope, id);
    const name = props.environmentName;
    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.settings.logRetention,
      // Previews hold nothing worth keeping: their logs go with the environment unless it is kept.
      removalPolicy: props.ephemeral ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });
    acknowledgeStagingLogGroup(this.logGroup, props.settings.logRetention, false, 'previews', 'previews');
    // Kept with or without working hours: a preview deployed on working hours holds schedules, which
    // its next update or its deletion removes with these permissions after the hours are turned off.
    const schedules = createPreviewSchedules(this, props);
    this.cloudFormationRole = createCloudFormationRole(this, props, schedules);

    const parameters: Array<[PreviewsKey, string, string]> = [
      ['settings', Lazy.string({ produce: () => JSON.stringify(publishedSettings(props)) }), 'Preview settings (JSON)'],
      ['cloudformation-role-arn', this.cloudFormationRole.roleArn, 'The role CloudFormation deploys preview stacks with'],
      ['log-group-name', this.logGroup.logGroupName, 'The log group of every preview'],
      ['security-group-id', props.securityGroupId, 'The security group every preview task joins'],
      ['schedule-group-name', schedules.groupName, 'The schedule group of the previews\' wake and sleep schedules'],
      ['scheduler-role-arn', schedules.role.roleArn, 'The role EventBridge Scheduler wakes previews and puts them to sleep with'],
    ];
    let previous: Construct | undefined;
    for (const [key, value, what] of parameters) {
      const parameter = new ssm.StringParameter(this, key, {
        parameterName: previewsParameterName(name, key),
        stringValue: value,
        description: `${what}: published for preview stacks (cdk-ecs-staging environment ${name})`,
      });
      // One at a time: Parameter Store throttles parallel PutParameter calls.
      if (previous) parameter.node.addDependency(previous);
      previous = parameter;
    }
  }
}

/** Where the previews' working-hours schedules live, and the role they run with. */
interface PreviewSchedules {
  /** The schedule group every preview's schedules are created in. */
  readonly groupName: string;
  /** The group's ARN. */
  readonly groupArn: string;
  /** The role EventBridge Scheduler calls ecs:UpdateService with. */
  readonly role: iam.Role;
}

/**
 * The schedule group of the previews' working-hours schedules and the role EventBridge
 * Scheduler assumes to set the desired count of preview services (ECS UpdateService through the
 * universal target `aws-sdk:ecs:updateService`:
 * https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-targets-universal.html). The role
 * changes services named `pr-*` in the environment's cluster and nothing else, and trusts
 * EventBridge Scheduler only for schedules of this group (confused deputy prevention with
 * aws:SourceAccount and aws:SourceArn:
 * https://docs.aws.amazon.com/scheduler/latest/UserGuide/cross-service-confused-deputy-prevention.html).
 * A schedule group holds no state; deleting it deletes the schedules left in it.
 */
function createPreviewSchedules(scope: Construct, props: EnvironmentPreviewsProps): PreviewSchedules {
  const stack = Stack.of(scope);
  const group = new CfnScheduleGroup(scope, 'ScheduleGroup', {});
  const role = new iam.Role(scope, 'SchedulerRole', {
    assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com').withConditions({
      StringEquals: { 'aws:SourceAccount': stack.account, 'aws:SourceArn': group.attrArn },
    }),
    description: `EventBridge Scheduler wakes the previews of the ${props.environmentName} environment and puts them to sleep with it (cdk-ecs-staging)`,
  });
  const previewServices = stack.formatArn({
    partition: knownPartition(stack), service: 'ecs', resource: 'service', resourceName: `${props.clusterName}/pr-*`, arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
  });
  role.addToPolicy(new iam.PolicyStatement({ sid: 'WakeAndSleepPreviews', actions: ['ecs:UpdateService'], resources: [previewServices] }));
  const finding = nagResource(stack, previewServices);
  acknowledgeVerbatim(role.node.findChild('DefaultPolicy'), finding ? [`AwsSolutions-IAM5[Resource::${finding}]`] : [],
    'EventBridge Scheduler sets the desired count of the preview services, whose names are known only when a preview is deployed: services pr-* of the environment\'s cluster.');
  if (props.alarmTopic) {
    // A call that still fails when the retry policy runs out is dropped (AWS/Scheduler
    // InvocationDroppedCount, by schedule group:
    // https://docs.aws.amazon.com/scheduler/latest/UserGuide/monitoring-cloudwatch.html): previews then
    // run outside working hours, or do not wake, unseen but for this alarm.
    const dropped = new cloudwatch.Alarm(scope, 'PreviewSchedulesDropped', {
      alarmDescription: `A wake or sleep call of a preview of the ${props.environmentName} environment failed for an hour and was dropped: `
        + 'read the schedule group\'s metrics (AWS/Scheduler TargetErrorCount) and the preview services\' desired count; OK only means no call was dropped since',
      metric: new cloudwatch.Metric({
        namespace: 'AWS/Scheduler',
        metricName: 'InvocationDroppedCount',
        dimensionsMap: { ScheduleGroup: group.ref },
        statistic: 'Sum',
        period: Duration.minutes(5),
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    notify(dropped, props.alarmTopic);
  }
  return { groupName: group.ref, groupArn: group.attrArn, role };
}

/** The settings a preview workflow reads: `/<env>/_previews/settings`. */
export function publishedSettings(
  props: { settings: ResolvedPreviews; domainName: string; previewableServices: () => string[] },
): { [key: string]: unknown } {
  return {
    maxPreviews: props.settings.maxPreviews,
    expireAfterHours: props.settings.expireAfter.toHours({ integral: false }),
    services: [...props.previewableServices()].sort(),
    domainName: props.domainName,
    priorityBase: PREVIEW_PRIORITY_BASE,
    prioritiesPerSlot: PREVIEW_PRIORITIES_PER_SLOT,
  };
}

/**
 * The role CloudFormation assumes to create, update and delete preview stacks: what a preview stack
 * holds and nothing else. The actions are those the CloudFormation resource types' handlers call
 * (their schemas' `handlers.*.permissions`, e.g. AWS::ECS::Service create: ecs:CreateService,
 * ecs:DescribeServices, ecs:DescribeServiceDeployments, ecs:ListServiceDeployments, iam:PassRole,
 * ecs:TagResource); each is scoped to preview resources where the service authorization reference
 * gives it resource types or condition keys
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html,
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_elasticloadbalancingv2.html):
 * - ECS services named `pr-*` in the environment's cluster, task definitions of the families `<env>-pr-*`;
 * - rules of the environment's listener and target groups tagged `cdk-ecs-staging:environment=<env>`
 *   (a preview stack tags each of its resources so; the environment's own carry no such tag);
 * - iam:PassRole of the roles under the preview path, to ecs-tasks.amazonaws.com only;
 * - ssm:GetParameters under `/<env>/`, which CloudFormation calls for the stack's SSM parameter types.
 * DescribeTaskDefinition, DeregisterTaskDefinition and the Describe calls of Elastic Load
 * Balancing have no resource types: `*`.
 */
function createCloudFormationRole(scope: Construct, props: EnvironmentPreviewsProps, schedules: PreviewSchedules): iam.Role {
  const name = props.environmentName;
  const stack = Stack.of(scope);
  const role = new iam.Role(scope, 'CloudFormationRole', {
    assumedBy: new iam.ServicePrincipal('cloudformation.amazonaws.com'),
    description: `CloudFormation deploys the preview stacks (${name}-preview-pr-*) of the ${name} environment with it (cdk-ecs-staging)`,
  });
  const partition = knownPartition(stack);
  const arn = (service: string, resource: string, resourceName: string, arnFormat = ArnFormat.SLASH_RESOURCE_NAME) =>
    stack.formatArn({ partition, service, resource, resourceName, arnFormat });
  const ecsService = arn('ecs', 'service', `${props.clusterName}/pr-*`);
  const serviceDeployment = arn('ecs', 'service-deployment', `${props.clusterName}/pr-*`);
  const family = arn('ecs', 'task-definition', `${name}-pr-*`);
  // listener-rule/app/<name>/<id>/<listener id>/<rule id>: the rules of the load balancer's listeners
  // (only the one services attach to has rules; the other redirects).
  const listenerRules = arn('elasticloadbalancing', 'listener-rule', `${props.loadBalancerFullName}/*`);
  const targetGroups = arn('elasticloadbalancing', 'targetgroup', '*');
  const previewRoles = stack.formatArn({ partition, service: 'iam', region: '', resource: 'role', resourceName: `${previewRolePath(name).slice(1)}*` });
  const ownedByPreviews = { StringEquals: { [`aws:ResourceTag/${PREVIEW_TAGS.environment}`]: name } };
  const taggedAsPreview = { StringEquals: { [`aws:RequestTag/${PREVIEW_TAGS.environment}`]: name } };
  const statements = [
    new iam.PolicyStatement({
      sid: 'PreviewServices',
      actions: ['ecs:CreateService', 'ecs:UpdateService', 'ecs:DeleteService', 'ecs:DescribeServices', 'ecs:DescribeServiceDeployments',
        'ecs:ListServiceDeployments', 'ecs:StopServiceDeployment', 'ecs:TagResource', 'ecs:UntagResource', 'ecs:ListTagsForResource'],
      resources: [ecsService, serviceDeployment],
    }),
    new iam.PolicyStatement({
      sid: 'PreviewTaskDefinitions',
      actions: ['ecs:RegisterTaskDefinition', 'ecs:TagResource', 'ecs:UntagResource', 'ecs:ListTagsForResource'],
      resources: [`${family}:*`],
    }),
    new iam.PolicyStatement({
      sid: 'TaskDefinitionsWithoutResourceTypes',
      actions: ['ecs:DescribeTaskDefinition', 'ecs:DeregisterTaskDefinition'],
      resources: ['*'],
    }),
    new iam.PolicyStatement({
      sid: 'PassPreviewRoles',
      actions: ['iam:PassRole'],
      resources: [previewRoles],
      conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
    }),
    new iam.PolicyStatement({ sid: 'ReadPreviewRoles', actions: ['iam:GetRole'], resources: [previewRoles] }),
    new iam.PolicyStatement({
      sid: 'CreatePreviewRules',
      actions: ['elasticloadbalancing:CreateRule'],
      resources: [props.listenerArn],
      conditions: taggedAsPreview,
    }),
    new iam.PolicyStatement({
      sid: 'CreatePreviewTargetGroups',
      actions: ['elasticloadbalancing:CreateTargetGroup'],
      resources: [targetGroups],
      conditions: taggedAsPreview,
    }),
    new iam.PolicyStatement({
      sid: 'TagPreviewResourcesOnCreate',
      actions: ['elasticloadbalancing:AddTags'],
      resources: [listenerRules, targetGroups],
      conditions: { StringEquals: { ...taggedAsPreview.StringEquals, 'elasticloadbalancing:CreateAction': ['CreateRule', 'CreateTargetGroup'] } },
    }),
    new iam.PolicyStatement({
      sid: 'ChangePreviewRules',
      // No elasticloadbalancing:SetRulePriorities: it takes no condition key, so the tag condition
      // would refuse it anyway; a rule never changes its priority in place (its logical ID names its
      // slot and its place in the slot, src/private/preview-places.ts).
      actions: ['elasticloadbalancing:ModifyRule', 'elasticloadbalancing:DeleteRule',
        'elasticloadbalancing:AddTags', 'elasticloadbalancing:RemoveTags'],
      resources: [listenerRules],
      conditions: ownedByPreviews,
    }),
    new iam.PolicyStatement({
      sid: 'ChangePreviewTargetGroups',
      actions: ['elasticloadbalancing:ModifyTargetGroup', 'elasticloadbalancing:ModifyTargetGroupAttributes', 'elasticloadbalancing:DeleteTargetGroup',
        'elasticloadbalancing:RegisterTargets', 'elasticloadbalancing:DeregisterTargets', 'elasticloadbalancing:AddTags', 'elasticloadbalancing:RemoveTags'],
      resources: [targetGroups],
      conditions: ownedByPreviews,
    }),
    new iam.PolicyStatement({
      sid: 'DescribeWithoutResourceTypes',
      actions: ['elasticloadbalancing:DescribeRules', 'elasticloadbalancing:DescribeTags', 'elasticloadbalancing:DescribeTargetGroups',
        'elasticloadbalancing:DescribeTargetGroupAttributes', 'elasticloadbalancing:DescribeTargetHealth', 'ec2:DescribeVpcs'],
      resources: ['*'],
    }),
    new iam.PolicyStatement({
      sid: 'ReadPublishedParameters',
      actions: ['ssm:GetParameters', 'ssm:GetParameter'],
      resources: [arn('ssm', 'parameter', `${name}/*`)],
    }),
    // Each previewed service's wake and sleep schedules (with working hours), in the previews'
    // schedule group only, run with the scheduler role only.
    new iam.PolicyStatement({
      sid: 'PreviewSchedules',
      actions: ['scheduler:CreateSchedule', 'scheduler:UpdateSchedule', 'scheduler:DeleteSchedule', 'scheduler:GetSchedule'],
      resources: [arn('scheduler', 'schedule', `${schedules.groupName}/*`)],
    }),
    new iam.PolicyStatement({
      sid: 'PassSchedulerRole',
      actions: ['iam:PassRole'],
      resources: [schedules.role.roleArn],
      conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
    }),
  ];
  for (const statement of statements) {
    role.addToPolicy(statement);
  }
  const policy = role.node.tryFindChild('DefaultPolicy');
  if (policy) {
    const named = statements.flatMap((st) => st.resources).filter((r) => r !== '*').map((r) => nagResource(stack, r))
      .filter((r): r is string => r !== undefined && r.includes('*'));
    acknowledgeVerbatim(policy, [...new Set(named)].map((r) => `AwsSolutions-IAM5[Resource::${r}]`),
      'A preview stack\'s resources get their names when it is deployed: the statement names their pattern (services pr-*, families <env>-pr-*, '
      + 'the preview roles\' path, the load balancer\'s rules and target groups tagged with the environment, the environment\'s parameters), nothing else.');
    acknowledge(policy, {
      reason: 'The preview stacks\' CloudFormation role: ecs:DescribeTaskDefinition, ecs:DeregisterTaskDefinition and the Describe calls of Elastic Load Balancing '
        + 'have no resource-level permissions; the other statements name the preview services (pr-*), task definition families (<env>-pr-*), the listener, and '
        + 'target groups and rules tagged with the environment, and pass only the preview roles.',
      nag: ['AwsSolutions-IAM5[Resource::*]'],
      checkov: ['CKV_AWS_111', 'CKV_AWS_356'],
    });
  }
  return role;
}

/**
 * The stack's partition where its region is known at synth, so that cdk-nag's findings name no
 * `<AWS::Partition>` (an acknowledgement's id cannot hold its `::`), as the pipeline's roles do.
 */
function knownPartition(stack: Stack): string | undefined {
  return Token.isUnresolved(stack.region) ? undefined : RegionInfo.get(stack.region).partition;
}

/**
 * Acknowledges findings whose ids hold more than one `::` (an IAM ARN's empty region, `<AWS::AccountId>`),
 * which `Validations.acknowledge` refuses as ids of another prefix: the same record it writes (the
 * construct's `Validations.ACKNOWLEDGED_RULES_METADATA_KEY` metadata, id -> reason), which cdk-nag reads.
 * An id without a token of the account that is unresolved (an environment-agnostic stack) stays acknowledged
 * only in that form.
 */
function acknowledgeVerbatim(scope: IConstruct, ids: string[], reason: string): void {
  if (ids.length === 0) return;
  const key = Validations.ACKNOWLEDGED_RULES_METADATA_KEY;
  const previous = [...scope.node.metadata].reverse().find((m) => m.type === key)?.data ?? {};
  scope.node.addMetadata(key, { ...previous, ...Object.fromEntries(ids.map((id) => [id, reason])) });
}

/**
 * A resource as cdk-nag names it in a finding: tokens become `<LogicalId>`, `<LogicalId.Attribute>`
 * or `<AWS::Pseudo>`. Undefined when it holds anything else.
 */
function nagResource(stack: Stack, resource: string): string | undefined {
  const render = (value: unknown): string | undefined => {
    if (typeof value === 'string') return value;
    if (value && typeof value === 'object') {
      const v = value as { 'Ref'?: string; 'Fn::GetAtt'?: string[]; 'Fn::Join'?: [string, unknown[]] };
      if (v.Ref !== undefined) return `<${v.Ref}>`;
      if (v['Fn::GetAtt']) return `<${v['Fn::GetAtt'].join('.')}>`;
      if (v['Fn::Join']) {
        const parts = v['Fn::Join'][1].map(render);
        return parts.some((p) => p === undefined) ? undefined : parts.join(v['Fn::Join'][0]);
      }
    }
    return undefined;
  };
  return render(stack.resolve(resource));
}

/** What the environment hands a previewable service's preview roles. */
export interface ServicePreviewRolesProps {
  readonly environmentName: string;
  readonly serviceName: string;
  /** Preview images are kept this long after their push: a preview untouched for longer is reaped. */
  readonly expireAfter: Duration;
  /** Delete the preview repository (and its images) with the stack. */
  readonly ephemeral: boolean;
  readonly logGroup: logs.ILogGroup;
  /** The ECS secrets of the service's container a preview gets: variable -> secret. */
  readonly injected: Map<string, ecs.Secret>;
  /** The variables a preview gets from `injected`. */
  readonly variables: string[];
  /** The variables among them whose secret the app reads at run time too. */
  readonly runtimeVariables: string[];
  /** Variables whose `valueFrom` is published (secrets; config is read by name). */
  readonly publishedVariables: string[];
}

/**
 * A previewable service's preview roles, beside the service: an execution role that pulls from the
 * service's repository, writes to the previews' log group and reads the config and the secrets
 * previews may get (no other secret of the service), and an empty task role (plus the run-time
 * read of those secrets the service's own task role has). Both under the preview path, which the
 * CloudFormation role passes. Their ARNs, the repository URI and the secrets' `valueFrom` are published.
 */
export class ServicePreviewRoles extends Construct {
  public readonly executionRole: iam.Role;
  public readonly taskRole: iam.Role;
  /** The repository preview images are pushed to and run from. */
  public readonly repository: ecr.Repository;

  constructor(scope: Construct, id: string, props: ServicePreviewRolesProps) {
    super(scope, id);
    const where = `/${props.environmentName}/${props.serviceName}`;
    const path = previewRolePath(props.environmentName);
    this.executionRole = new iam.Role(this, 'ExecutionRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      path,
      description: `Pulls the image and writes the logs of the previews of ${where}`,
    });
    this.taskRole = new iam.Role(this, 'TaskRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      path,
      description: `Run-time permissions of the previews of ${where} (empty but for the secrets previews may read)`,
    });
    this.repository = createPreviewRepository(this, props);
    this.repository.grantPull(this.executionRole);
    props.logGroup.grantWrite(this.executionRole);
    for (const variable of props.variables) {
      const secret = props.injected.get(variable);
      if (!secret) {
        throw new StagingValidationError(this, `previews.secrets names '${variable}', which service '${props.serviceName}' does not inject; list only names of its secrets`);
      }
      secret.grantRead(this.executionRole);
      if (props.runtimeVariables.includes(variable)) {
        secret.grantRead(this.taskRole);
      }
    }
    const policy = this.executionRole.node.tryFindChild('DefaultPolicy');
    if (policy) {
      acknowledge(policy, {
        reason: 'ecr:GetAuthorizationToken has no resource-level permissions and must be granted on *; every other statement of the preview execution role names its repository, log group, parameter or secret.',
        nag: ['AwsSolutions-IAM5[Resource::*]'],
      });
    }

    const values: Array<[string, string, string]> = [
      [previewServiceParameterName(props.environmentName, props.serviceName, 'preview-execution-role-arn'), this.executionRole.roleArn, 'The execution role of its previews'],
      [previewServiceParameterName(props.environmentName, props.serviceName, 'preview-task-role-arn'), this.taskRole.roleArn, 'The task role of its previews'],
      [previewServiceParameterName(props.environmentName, props.serviceName, 'preview-repository-uri'), this.repository.repositoryUri, 'The repository its previews run from'],
      ...props.publishedVariables.map((variable): [string, string, string] =>
        [previewSecretParameterName(props.environmentName, props.serviceName, variable), props.injected.get(variable)!.arn, `The valueFrom of ${variable} in its previews`]),
    ];
    let previous: Construct | undefined;
    values.forEach(([parameterName, value, what], i) => {
      const parameter = new ssm.StringParameter(this, `Parameter${i === 0 ? 'ExecutionRole' : i === 1 ? 'TaskRole' : i === 2 ? 'Repository' : `Secret${props.publishedVariables[i - 3]}`}`, {
        parameterName,
        stringValue: value,
        description: `${what}: published for preview stacks (cdk-ecs-staging service ${where})`,
      });
      if (previous) parameter.node.addDependency(previous);
      previous = parameter;
    });
  }
}

/**
 * The repository of a service's preview images, apart from the service's own: ECR cannot limit a push
 * by tag in IAM (its actions take the repository as their only resource,
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerregistry.html),
 * so a role that pushes previews to the service's repository could push any tag there, an image the
 * staging delivery then takes for a commit of the main branch included; and preview images would count
 * toward the service's "keep the last images" rule, expiring what staging runs. Images expire a day after
 * the longest a preview may stay untouched; tags are immutable (`pr-<number>-<commit>` names one build).
 */
function createPreviewRepository(scope: Construct, props: ServicePreviewRolesProps): ecr.Repository {
  const lifecycle = statefulLifecycle(props.ephemeral);
  const days = Math.ceil(props.expireAfter.toHours({ integral: false }) / 24) + 1;
  const repository = new ecr.Repository(scope, 'Repository', {
    imageScanOnPush: true,
    imageTagMutability: ecr.TagMutability.IMMUTABLE,
    lifecycleRules: [
      { description: `Expire preview images ${days} days after their push`, tagStatus: ecr.TagStatus.ANY, maxImageAge: Duration.days(days), rulePriority: 1 },
    ],
    removalPolicy: lifecycle.removalPolicy,
    emptyOnDelete: lifecycle.emptyOnDelete,
  });
  acknowledge(repository, {
    reason: 'ECR encrypts images at rest with AES-256; preview images are built from pull requests and expire within days.',
    checkov: ['CKV_AWS_136'],
  });
  return repository;
}
