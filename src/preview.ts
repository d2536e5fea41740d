import { Aws, CfnOutput, CfnParameter, DefaultStackSynthesizer, Duration, Environment, Size, Stack, Tags, Token } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { CfnSchedule } from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';
import { DEFAULTS } from './private/defaults';
import { ERROR_PREFIX, StagingValidationError } from './private/errors';
import { acknowledge } from './private/posture';
import { PREVIEW_TAGS, previewServiceParameterName, previewsParameterName } from './private/preview-facts';
import {
  assignRulePlaces, checkRulePlaces, formatRulePlaces, parseRulePlacesContext, RULE_PLACES_CONTEXT_KEY, RULE_PLACES_OUTPUT,
} from './private/preview-places';
import {
  PREVIEW_PRIORITIES_PER_SLOT, PREVIEW_PRIORITY_BASE, PreviewServiceDefinition,
  previewSecretParameterName, ResolvedPreviews,
} from './private/preview-publication';
import { environmentParameterName } from './private/published';
import { templateBytes } from './private/quotas';
import { WakeAndSleepExpressions, wakeAndSleepExpressions } from './private/schedule-binding';
import { validateDnsName } from './private/validation';
import type { StagingSchedule } from './schedule';
import type { EcsStagingEnvironment } from './staging-environment';

/**
 * Preview environments of an `EcsStagingEnvironment`: a stack per pull request
 * (`StagingPreviewStack`) that runs the pull request's images beside the environment, on the
 * environment's cluster and load balancer, each previewed service on its own host
 * `pr-<number>-<service>.<domain>`.
 */
export interface StagingPreviewsOptions {
  /**
   * The most previews at once (1-10): each takes a slot of listener rule priorities, and the
   * services plus `maxPreviews` (`max_previews`) times the previewable services must fit the 100 target groups and
   * rules of the load balancer.
   *
   * @default 3
   */
  readonly maxPreviews?: number;

  /**
   * Time after which a preview whose stack was not updated is removed, should the pull request's
   * close event be lost (1 hour to 30 days).
   *
   * @default Duration.days(3)
   */
  readonly expireAfter?: Duration;

  /**
   * The services that may have previews, by name.
   *
   * @default - every service of the environment
   */
  readonly services?: string[];

  /**
   * Names of the services' secrets a preview gets. A preview gets the service's plain `environment`
   * and its `config` and `configFromParameters` (`config_from_parameters`), and of its `secrets` only these.
   *
   * @default - none of the services' secrets
   */
  readonly secrets?: string[];

  /**
   * Task CPU units of a previewed service.
   *
   * @default 256
   */
  readonly cpu?: number;

  /**
   * Task memory of a previewed service, a valid Fargate pair with `cpu`.
   *
   * @default 512
   */
  readonly memoryLimitMiB?: number;

  /**
   * Run previews on Fargate Spot.
   *
   * @default true
   */
  readonly spot?: boolean;

  /**
   * When previews run: `StagingSchedule.workingHours()` / `working_hours()` puts every preview to sleep
   * (0 tasks) at `end` each day and wakes it at `start` on the working days, with two EventBridge
   * Scheduler schedules per previewed service; a push outside working hours wakes the preview until
   * the next `end`. `StagingSchedule.alwaysOn()` / `always_on()` runs previews around the clock.
   *
   * @default - the environment's `schedule` (a service's own `schedule` does not apply to its previews)
   */
  readonly schedule?: StagingSchedule;
}

/**
 * Properties of a `StagingPreviewStack`.
 */
export interface StagingPreviewStackProps {
  /**
   * The environment the preview runs beside, defined in the same app: the preview takes the
   * definitions of its services from it, and the environment's resources by name (published SSM
   * parameters), never by cross-stack reference.
   */
  readonly environment: EcsStagingEnvironment;

  /** The pull request's number: a positive integer. */
  readonly pullRequest: number;

  /** The preview's slot, from 0 to `previews.maxPreviews` (`previews.max_previews`) - 1: the range of its listener rule priorities. */
  readonly slot: number;

  /**
   * The tag of the images in the services' repositories, e.g. `pr-42-0123456789ab`
   * (`pr-<pull request>-<12 characters of the commit>`): the repositories expire `pr-` tags.
   */
  readonly imageTag: string;

  /**
   * The place in the slot of each listener rule the deployed preview stack has, by service name:
   * the stack's `RulePlaces` output (`api=0 web=1`), which the preview workflow hands back through
   * the context (`StagingPreviewStack.fromContext()` / `from_context()`). A service's rule has the priority
   * `48001 + 100 × slot + place`, place 0-99.
   *
   * A service listed here keeps its place (its rule stays as it is); every other service takes the
   * lowest place that no service listed here holds, in name order: listed services that are no
   * longer previewed included, since CloudFormation deletes their rules only after it has created
   * the new ones. The places are honoured whatever slot they were recorded in: a preview that
   * changes slots gets new rules (their logical IDs name the slot) in the new slot's range, apart
   * from the old ones.
   *
   * @default - no deployed stack: places 0, 1, 2... in the order of the services' names
   */
  readonly rulePlaces?: { [service: string]: number };

  /**
   * The account and region of the preview stack: the environment's.
   *
   * @default - the account and region of the environment's stack, each where left out
   */
  readonly env?: Environment;
}

/** The context keys `StagingPreviewStack.fromContext()` needs; it also reads `RULE_PLACES_CONTEXT_KEY` when set. */
const CONTEXT_KEYS = { pullRequest: 'previewPullRequest', slot: 'previewSlot', imageTag: 'previewImageTag' } as const;

/** The image and memory of the container that opens /tmp: the service's own (src/private/defaults.ts). */
const WRITABLE_PATHS_IMAGE = DEFAULTS.writablePathsImage;
const WRITABLE_PATHS_MEMORY_MIB = DEFAULTS.writablePathsMemoryMiB;

/** Stack names hold 128 characters (CloudFormation CreateStack StackName). */
const MAX_STACK_NAME = 128;

/**
 * The largest template `aws cloudformation deploy --template-file` sends without `--s3-bucket`: the
 * preview workflow deploys so, with the role that reads nothing but the environment's parameters
 * (https://docs.aws.amazon.com/cli/latest/reference/cloudformation/deploy/index.html: "--s3-bucket ...
 * required for deployments of templates sized greater than 51,200 bytes").
 */
const MAX_INLINE_TEMPLATE_BYTES = 51_200;

/**
 * A preview environment of one pull request: for each service that may have previews, a Fargate
 * service in the environment's cluster (Fargate Spot, 256 CPU units and 512 MiB by default, 1 task), its
 * task definition, a target group and a listener rule on the environment's listener for
 * `pr-<number>-<service>.<domain>`; with working hours (`previews.schedule`, by default the
 * environment's `schedule`), two EventBridge Scheduler schedules that wake the service at the start of
 * each working day and put it to sleep (0 tasks) at the end of every day.
 *
 * It reaches the environment by name alone: SSM parameter types (`AWS::SSM::Parameter::Value<...>`)
 * read the cluster, subnets, listener, previews security group, roles, log group and schedule group the
 * environment publishes.
 * It creates no IAM, log group, security group, NAT, load balancer or endpoint, and retains nothing:
 * deleting the stack leaves nothing behind. Its stack name is `<environment>-preview-pr-<number>`.
 */
export class StagingPreviewStack extends Stack {
  /**
   * The preview stack the context asks for: with the three context keys of a preview (the pull
   * request's number, the slot and the image tag), a new `StagingPreviewStack`; without any of them,
   * undefined. The preview workflow synthesizes with them, and, once the stack is deployed, with a
   * fourth key that hands back the stack's `RulePlaces` output (`rulePlaces` / `rule_places`):
   *
   * ```sh
   * npx cdk synth -c previewPullRequest=42 -c previewSlot=0 -c previewImageTag=pr-42-0123456789ab -c previewRulePlaces='web=0'
   * ```
   *
   * @param scope the app
   * @param environment the environment the preview runs beside
   * @param env the account and region of the preview stack (default: the environment's stack's)
   */
  public static fromContext(scope: Construct, environment: EcsStagingEnvironment, env?: Environment): StagingPreviewStack | undefined {
    const values = Object.entries(CONTEXT_KEYS).map(([prop, key]) => [prop, key, scope.node.tryGetContext(key)] as const);
    const given = values.filter(([, , value]) => value !== undefined && value !== '');
    const placesValue = scope.node.tryGetContext(RULE_PLACES_CONTEXT_KEY);
    // `None` is what `aws ... --query ... --output text` prints for a stack without the output.
    const placesGiven = placesValue !== undefined && placesValue !== '' && placesValue !== 'None';
    if (given.length === 0 && !placesGiven) {
      return undefined;
    }
    if (given.length < values.length) {
      const missing = values.filter((v) => !given.includes(v)).map(([, key]) => key);
      const set = [...given.map(([, key, value]) => [key, value] as const),
        ...(placesGiven ? [[RULE_PLACES_CONTEXT_KEY, placesValue] as const] : [])];
      throw new StagingValidationError(scope, `the context sets ${set.map(([key]) => key).join(', ')} but not ${missing.join(', ')}: a preview needs all three `
        + `(got ${set.map(([key, value]) => `${key}=${value}`).join(', ')}); pass -c ${Object.values(CONTEXT_KEYS).map((k) => `${k}=...`).join(' -c ')}`);
    }
    const number = (key: string, value: unknown) => {
      const text = String(value);
      if (!/^\d+$/.test(text)) {
        throw new StagingValidationError(scope, `the context value ${key} must be a whole number (got '${text}'); pass e.g. -c ${key}=42`);
      }
      return Number(text);
    };
    const pullRequest = number(CONTEXT_KEYS.pullRequest, values[0][2]);
    const slot = number(CONTEXT_KEYS.slot, values[1][2]);
    const imageTag = String(values[2][2]);
    const rulePlaces = placesGiven ? parseRulePlacesContext(scope, placesValue) : undefined;
    const name = environment.environmentName;
    return new StagingPreviewStack(scope, `${name}-preview-pr-${pullRequest}`, { env, environment, pullRequest, slot, imageTag, rulePlaces });
  }

  /** The environment's name. */
  public readonly environmentName: string;
  /** The pull request's number. */
  public readonly pullRequest: number;
  /** The preview's slot. */
  public readonly slot: number;
  /** The URL of each previewed service, by service name: `https://pr-<number>-<service>.<domain>`. */
  public readonly urls: { [service: string]: string };
  /**
   * The place of each previewed service's listener rule in the slot, by service name (its priority
   * is `48001 + 100 × slot + place`), as the stack's `RulePlaces` output records it.
   */
  public readonly rulePlaces: { [service: string]: number };

  constructor(scope: Construct, id: string, props: StagingPreviewStackProps) {
    const environment = props.environment;
    const environmentStack = Stack.of(environment);
    const stackName = `${environment.environmentName}-preview-pr-${props.pullRequest}`;
    validatePullRequest(scope, props.pullRequest);
    super(scope, id, {
      // Each of account and region defaults to the environment's: Python passes an empty Environment
      // for a trailing struct argument left out (from_context(app, env)).
      env: { account: props.env?.account ?? environmentStack.account, region: props.env?.region ?? environmentStack.region },
      description: `Preview of pull request ${props.pullRequest} beside the ${environment.environmentName} staging environment (cdk-ecs-staging)`,
      // Deployed with `aws cloudformation deploy` and the environment's CloudFormation role, which
      // reads parameters under /<environment>/ only: no check of the CDK bootstrap version (a
      // parameter under /cdk-bootstrap/), and nothing to upload (the images are in the repositories).
      synthesizer: new DefaultStackSynthesizer({ generateBootstrapVersionRule: false }),
      // Sent inline (51,200 bytes at most, see MAX_INLINE_TEMPLATE_BYTES): without indentation a
      // template is about a quarter smaller, so more services fit in a preview.
      suppressTemplateIndentation: true,
      stackName,
    });
    this.environmentName = environment.environmentName;
    this.pullRequest = props.pullRequest;
    this.slot = props.slot;

    const plan = environment._previewPlan();
    if (!plan) {
      throw new StagingValidationError(this, `environment '${environment.environmentName}' does not allow previews (got no previews prop); set previews on the EcsStagingEnvironment, e.g. previews: { maxPreviews: 3 } (Python: previews=StagingPreviewsOptions(max_previews=3))`);
    }
    validatePreviewProps(this, props, plan.settings, stackName);
    if (plan.services.length === 0) {
      throw new StagingValidationError(this, `environment '${environment.environmentName}' has no service that may have previews (got services [${environment.services.map((s) => s.serviceName).join(', ')}]); `
        + 'add services before the preview stack, and list them in previews.services (or leave it out)');
    }

    const places = this.placeRules(plan.services.map((d) => d.serviceName), props.rulePlaces);
    const shared = new EnvironmentReferences(this, 'Environment', this.environmentName, plan.settings.workingHours !== undefined);
    const urls: { [service: string]: string } = {};
    plan.services.forEach((definition) => {
      const host = previewHost(props.pullRequest, definition.serviceName, plan.domainName);
      validateDnsName(this, 'pullRequest', host, 'use the pull request\'s number, e.g. 42');
      new PreviewedService(this, definition.serviceName, {
        definition,
        settings: plan.settings,
        shared,
        environmentName: this.environmentName,
        pullRequest: props.pullRequest,
        imageTag: props.imageTag,
        host,
        slot: props.slot,
        place: places[definition.serviceName],
      });
      urls[definition.serviceName] = `https://${host}`;
    });
    this.urls = urls;
    this.rulePlaces = places;
    new CfnOutput(this, RULE_PLACES_OUTPUT, {
      value: formatRulePlaces(places),
      description: `The place of each service's listener rule in slot ${props.slot} (priority ${PREVIEW_PRIORITY_BASE} + ${PREVIEW_PRIORITIES_PER_SLOT} x slot + place): `
        + `the next synth of this preview takes it back as -c '${RULE_PLACES_CONTEXT_KEY}=<value>'`,
    });

    this.node.addValidation({ validate: () => this.checkTemplateBytes(plan.services.length) });

    Tags.of(this).add(PREVIEW_TAGS.environment, this.environmentName);
    Tags.of(this).add(PREVIEW_TAGS.pullRequest, String(props.pullRequest));
    Tags.of(this).add(PREVIEW_TAGS.slot, String(props.slot));
  }

  /**
   * The place of each service's rule in the slot: sticky, from the places the deployed stack
   * records (src/private/preview-places.ts), so that no new rule takes a priority that a rule of
   * the deployed stack still holds while CloudFormation updates it.
   */
  private placeRules(services: string[], given: { [service: string]: number } | undefined): { [service: string]: number } {
    const fix = `pass the deployed preview stack's ${RULE_PLACES_OUTPUT} output (e.g. { api: 0, web: 1 } for 'api=0 web=1'), or leave rulePlaces out for a stack not deployed yet`;
    if (given !== undefined) {
      checkRulePlaces(this, 'rulePlaces', given, fix);
    }
    const places = assignRulePlaces(services, given);
    if (places === undefined) {
      const unplaced = services.filter((s) => !Object.prototype.hasOwnProperty.call(given ?? {}, s));
      throw new StagingValidationError(this, `rulePlaces holds ${Object.keys(given ?? {}).length} places (got '${formatRulePlaces(given ?? {})}'), and of the ${PREVIEW_PRIORITIES_PER_SLOT} places of a slot `
        + `too few are left for ${unplaced.join(', ')}; deploy the preview with fewer services first, or delete its stack and deploy it afresh`);
    }
    return places;
  }

  /** The template must fit what the preview workflow's `aws cloudformation deploy` sends inline. */
  private checkTemplateBytes(services: number): string[] {
    const bytes = templateBytes(this);
    if (bytes === undefined || bytes <= MAX_INLINE_TEMPLATE_BYTES) {
      return [];
    }
    const each = Math.ceil(bytes / services);
    return [`${ERROR_PREFIX}${this.node.path}: the preview's template is ${bytes} bytes (${services} previewed services, about ${each} bytes each), over the ${MAX_INLINE_TEMPLATE_BYTES} bytes `
      + 'that aws cloudformation deploy --template-file sends without --s3-bucket, as the preview workflow deploys it; '
      + `list fewer services in previews.services (the same name in Python), about ${Math.max(1, Math.floor(MAX_INLINE_TEMPLATE_BYTES / each))} fit`];
  }
}

/** `pr-<pullRequest>-<service>.<domain>`: one label below the domain, which the wildcard certificate covers. */
function previewHost(pullRequest: number, service: string, domainName: string): string {
  return `pr-${pullRequest}-${service}.${domainName}`;
}

function validatePullRequest(scope: Construct, n: number): void {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) {
    throw new StagingValidationError(scope, `pullRequest must be a positive integer (got ${n}); pass the pull request's number, e.g. 42`);
  }
}

function validatePreviewProps(
  scope: Construct, props: StagingPreviewStackProps, settings: ResolvedPreviews, stackName: string,
): void {
  const n = props.pullRequest;
  const slot = props.slot;
  if (typeof slot !== 'number' || !Number.isInteger(slot) || slot < 0 || slot >= settings.maxPreviews) {
    throw new StagingValidationError(scope, `slot must be an integer from 0 to ${settings.maxPreviews - 1} (got ${slot}): the environment allows previews.maxPreviews (${settings.maxPreviews}) previews at once; `
      + 'use a free slot (the lowest slot no preview stack holds)');
  }
  if (stackName.length > MAX_STACK_NAME) {
    throw new StagingValidationError(scope, `the stack name '${stackName}' is ${stackName.length} characters, over CloudFormation's ${MAX_STACK_NAME}; use the pull request's number as pullRequest`);
  }
  const tag = props.imageTag;
  // A Docker tag: up to 128 letters, digits, underscores, periods and hyphens, not starting with a
  // period or hyphen (https://docs.docker.com/reference/cli/docker/image/tag/).
  if (typeof tag !== 'string' || (!Token.isUnresolved(tag) && !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag))) {
    throw new StagingValidationError(scope, `imageTag must be a Docker tag, up to 128 letters, digits, _ . and -, not starting with . or - (got '${tag}'); e.g. 'pr-${n}-0123456789ab'`);
  }
  if (!Token.isUnresolved(tag) && !tag.startsWith(`pr-${n}-`)) {
    throw new StagingValidationError(scope, `imageTag must start with 'pr-${n}-' (got '${tag}'): the repositories expire preview images by their pr- tags; tag the images pr-${n}-<12 characters of the commit>`);
  }
}

/**
 * The environment's values a preview reads, as parameters of SSM parameter types: CloudFormation
 * reads them when it deploys (and re-reads them on each update), so the preview stack names the
 * environment's resources without a cross-stack reference
 * (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html#aws-ssm-parameter-types).
 */
class EnvironmentReferences extends Construct {
  public readonly clusterName: string;
  public readonly vpcId: string;
  public readonly subnetIds: string[];
  public readonly assignPublicIp: string;
  public readonly listenerArn: string;
  public readonly securityGroupId: string;
  public readonly logGroupName: string;
  /** With working hours: the previews' schedule group and the role EventBridge Scheduler runs their schedules with. */
  public readonly schedules?: { readonly groupName: string; readonly roleArn: string };
  private readonly environmentName: string;

  constructor(scope: Construct, id: string, environmentName: string, workingHours: boolean) {
    super(scope, id);
    this.environmentName = environmentName;
    this.clusterName = this.read('ClusterName', environmentParameterName(environmentName, 'cluster-name'));
    this.vpcId = this.read('VpcId', environmentParameterName(environmentName, 'vpc-id'));
    this.subnetIds = new CfnParameter(this, 'SubnetIds', {
      type: 'AWS::SSM::Parameter::Value<List<String>>',
      default: environmentParameterName(environmentName, 'service-subnet-ids'),
      description: 'Published by the environment: the subnets of the tasks',
    }).valueAsList;
    this.assignPublicIp = this.read('AssignPublicIp', environmentParameterName(environmentName, 'assign-public-ip'));
    this.listenerArn = this.read('ListenerArn', environmentParameterName(environmentName, 'listener-arn'));
    // The previews' own group, which allows outbound traffic: the services group has no egress rule.
    this.securityGroupId = this.read('PreviewsSecurityGroupId', previewsParameterName(environmentName, 'security-group-id'));
    this.logGroupName = this.read('LogGroupName', previewsParameterName(environmentName, 'log-group-name'));
    if (workingHours) {
      this.schedules = {
        groupName: this.read('ScheduleGroupName', previewsParameterName(environmentName, 'schedule-group-name')),
        roleArn: this.read('SchedulerRoleArn', previewsParameterName(environmentName, 'scheduler-role-arn')),
      };
    }
  }

  /** A String parameter the environment published, read when the stack is deployed. */
  public read(id: string, parameterName: string): string {
    return new CfnParameter(this, id, {
      type: 'AWS::SSM::Parameter::Value<String>',
      default: parameterName,
      description: `Published by the ${this.environmentName} environment: ${parameterName}`,
    }).valueAsString;
  }
}

interface PreviewedServiceProps {
  readonly definition: PreviewServiceDefinition;
  readonly settings: ResolvedPreviews;
  readonly shared: EnvironmentReferences;
  readonly environmentName: string;
  readonly pullRequest: number;
  readonly imageTag: string;
  readonly host: string;
  readonly slot: number;
  /** The rule's place in the slot, 0-99. */
  readonly place: number;
}

/** One previewed service: task definition, Fargate service, target group and listener rule. */
class PreviewedService extends Construct {
  constructor(scope: Construct, id: string, props: PreviewedServiceProps) {
    super(scope, id);
    const d = props.definition;
    const env = props.environmentName;
    const shared = props.shared;
    const read = (key: 'preview-execution-role-arn' | 'preview-task-role-arn' | 'preview-repository-uri', parameterId: string) =>
      shared.read(`${d.serviceName}${parameterId}`, previewServiceParameterName(env, d.serviceName, key));
    const executionRole = iam.Role.fromRoleArn(this, 'ExecutionRole', read('preview-execution-role-arn', 'ExecutionRoleArn'), { mutable: false });
    const taskRole = iam.Role.fromRoleArn(this, 'TaskRole', read('preview-task-role-arn', 'TaskRoleArn'), { mutable: false });
    const repositoryUri = read('preview-repository-uri', 'RepositoryUri');
    const name = `pr-${props.pullRequest}-${d.serviceName}`;

    const taskDefinition = new ecs.FargateTaskDefinition(this, 'TaskDefinition', {
      family: `${env}-${name}`,
      cpu: props.settings.cpu,
      memoryLimitMiB: props.settings.memoryLimitMiB,
      runtimePlatform: { cpuArchitecture: d.cpuArchitecture, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
      executionRole,
      taskRole,
    });
    const logGroup = logs.LogGroup.fromLogGroupName(this, 'LogGroup', shared.logGroupName);
    const opensTmp = d.readonlyRootFilesystem && !runsAsRoot(d.user);
    const container = taskDefinition.addContainer('App', {
      containerName: 'app',
      image: ecs.ContainerImage.fromRegistry(`${repositoryUri}:${props.imageTag}`),
      essential: true,
      portMappings: [{ containerPort: d.containerPort, protocol: ecs.Protocol.TCP, name: 'http' }],
      environment: Object.keys(d.environment).length > 0 ? { ...d.environment } : undefined,
      secrets: previewSecrets(this, env, d),
      memoryLimitMiB: props.settings.memoryLimitMiB - (opensTmp ? WRITABLE_PATHS_MEMORY_MIB : 0),
      readonlyRootFilesystem: d.readonlyRootFilesystem,
      user: d.user,
      systemControls: d.user !== undefined && !runsAsRoot(d.user) && d.containerPort < 1024
        ? [{ namespace: 'net.ipv4.ip_unprivileged_port_start', value: String(d.containerPort) }] : undefined,
      healthCheck: d.containerHealthCheck,
      logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: name, mode: ecs.AwsLogDriverMode.NON_BLOCKING, maxBufferSize: Size.mebibytes(25) }),
    });
    if (d.readonlyRootFilesystem) {
      taskDefinition.addVolume({ name: 'tmp' });
      container.addMountPoints({ containerPath: '/tmp', sourceVolume: 'tmp', readOnly: false });
    }
    if (opensTmp) {
      // As the service does: a Fargate volume is root-owned with mode 0755, so a container of the task
      // opens /tmp to every user (chmod 1777) and exits before the app starts (see StagingService).
      const opener = taskDefinition.addContainer('WritablePaths', {
        containerName: 'writable-paths',
        image: ecs.ContainerImage.fromRegistry(WRITABLE_PATHS_IMAGE),
        essential: false,
        user: '0',
        entryPoint: ['chmod', '1777', '/tmp'],
        readonlyRootFilesystem: true,
        memoryLimitMiB: WRITABLE_PATHS_MEMORY_MIB,
        logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: `${name}-writable-paths`, mode: ecs.AwsLogDriverMode.NON_BLOCKING }),
      });
      opener.addMountPoints({ containerPath: '/tmp', sourceVolume: 'tmp', readOnly: false });
      container.addContainerDependencies({ container: opener, condition: ecs.ContainerDependencyCondition.SUCCESS });
    }

    const targetGroup = new elbv2.CfnTargetGroup(this, 'TargetGroup', {
      vpcId: shared.vpcId,
      port: d.containerPort,
      protocol: 'HTTP',
      targetType: 'ip',
      healthCheckPath: d.healthCheckPath,
      healthCheckIntervalSeconds: 10,
      healthCheckTimeoutSeconds: 5,
      healthyThresholdCount: 2,
      unhealthyThresholdCount: 3,
      matcher: { httpCode: '200-299' },
      targetGroupAttributes: [{ key: 'deregistration_delay.timeout_seconds', value: String(d.deregistrationDelay.toSeconds()) }],
    });
    // The slot and the place in the logical ID: a rule whose priority changes is a new rule
    // (CloudFormation creates it, then deletes the old one in the cleanup), never one moved in place,
    // which would need elasticloadbalancing:SetRulePriorities, which the CloudFormation role lacks.
    const rule = new elbv2.CfnListenerRule(this, `ListenerRuleSlot${props.slot}Place${props.place}`, {
      listenerArn: shared.listenerArn,
      priority: PREVIEW_PRIORITY_BASE + props.slot * PREVIEW_PRIORITIES_PER_SLOT + props.place,
      conditions: [{ field: 'host-header', hostHeaderConfig: { values: [props.host] } }],
      actions: [{ type: 'forward', targetGroupArn: targetGroup.ref }],
    });
    // aws-cdk-lib's CfnListenerRule has no Tags yet; the resource type has (its schema's "Tags"), and
    // the CloudFormation role changes only rules tagged with the environment.
    rule.addPropertyOverride('Tags', [
      { Key: PREVIEW_TAGS.environment, Value: env },
      { Key: PREVIEW_TAGS.slot, Value: String(props.slot) },
      { Key: PREVIEW_TAGS.pullRequest, Value: String(props.pullRequest) },
    ]);

    const service = new ecs.CfnService(this, 'Service', {
      cluster: shared.clusterName,
      serviceName: name,
      taskDefinition: taskDefinition.taskDefinitionArn,
      desiredCount: 1,
      capacityProviderStrategy: [{ capacityProvider: props.settings.spot ? 'FARGATE_SPOT' : 'FARGATE', weight: 1 }],
      platformVersion: 'LATEST',
      networkConfiguration: {
        awsvpcConfiguration: { subnets: shared.subnetIds, securityGroups: [shared.securityGroupId], assignPublicIp: shared.assignPublicIp },
      },
      loadBalancers: [{ containerName: 'app', containerPort: d.containerPort, targetGroupArn: targetGroup.ref }],
      healthCheckGracePeriodSeconds: d.healthCheckGracePeriod.toSeconds(),
      deploymentConfiguration: {
        minimumHealthyPercent: 100,
        maximumPercent: 200,
        deploymentCircuitBreaker: { enable: true, rollback: true },
      },
      propagateTags: 'SERVICE',
      enableEcsManagedTags: true,
    });
    // The target group must be on the listener before the service registers targets in it.
    service.addDependency(rule);
    acknowledgePreviewService(taskDefinition, service, d);
    if (props.settings.workingHours && shared.schedules) {
      wakeAndSleep(this, service, shared.clusterName, name, wakeAndSleepExpressions(props.settings.workingHours), shared.schedules);
    }
  }
}

/**
 * The preview's working hours: two EventBridge Scheduler schedules in the environment's schedule
 * group that set the service's desired count through ECS UpdateService (the universal target
 * `aws-sdk:ecs:updateService`, whose input is the API's request:
 * https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-targets-universal.html), 1 at the
 * start of each working day and 0 at the end of every day. The service keeps `DesiredCount: 1` in the
 * template, so each push (a new task definition, so an UpdateService with it) wakes its preview
 * until the next end of day. Both wait for the service; deleting the stack deletes them first.
 * EventBridge Scheduler retries a failed call for an hour, then drops it (an alarm of the environment pages).
 */
function wakeAndSleep(
  scope: Construct, service: ecs.CfnService, clusterName: string, serviceName: string,
  expressions: WakeAndSleepExpressions, schedules: { readonly groupName: string; readonly roleArn: string },
): void {
  const stack = Stack.of(scope);
  const schedule = (id: string, expression: string, desiredCount: number, what: string) => {
    const resource = new CfnSchedule(scope, id, {
      description: `${what} ${serviceName} (cdk-ecs-staging preview)`,
      groupName: schedules.groupName,
      scheduleExpression: expression,
      scheduleExpressionTimezone: expressions.timeZone,
      flexibleTimeWindow: { mode: 'OFF' },
      state: 'ENABLED',
      target: {
        arn: `arn:${Aws.PARTITION}:scheduler:::aws-sdk:ecs:updateService`,
        roleArn: schedules.roleArn,
        // The request's members as the AWS SDKs name them (Cluster, Service, DesiredCount), as in
        // the universal target examples of the EventBridge Scheduler user guide.
        input: stack.toJsonString({ Cluster: clusterName, Service: serviceName, DesiredCount: desiredCount }),
        // Retries for an hour (185 attempts, the most, so that the age is what ends them).
        retryPolicy: { maximumEventAgeInSeconds: 3600, maximumRetryAttempts: 185 },
      },
    });
    resource.addDependency(service);
  };
  schedule('Wake', expressions.wake, 1, 'Wakes');
  schedule('Sleep', expressions.sleep, 0, 'Puts to sleep');
}

/**
 * The container's secrets: the service's config by parameter name (the config parameters
 * `/<env>/<service>/<KEY>` and the `configFromParameters` ones), and the secrets previews may get
 * through the `valueFrom` the environment published for them.
 */
function previewSecrets(scope: Construct, environmentName: string, d: PreviewServiceDefinition): { [key: string]: ecs.Secret } | undefined {
  const stack = Stack.of(scope);
  const parameterArn = (parameterName: string) => `arn:${Aws.PARTITION}:ssm:${stack.region}:${stack.account}:parameter/${parameterName.replace(/^\//, '')}`;
  const noGrant = (grantee: iam.IGrantable) => iam.Grant.drop(grantee, 'the environment granted the preview execution role');
  const secrets: { [key: string]: ecs.Secret } = {};
  for (const key of d.configKeys) {
    secrets[key] = { arn: parameterArn(`/${environmentName}/${d.serviceName}/${key}`), grantRead: noGrant };
  }
  for (const [key, parameterName] of Object.entries(d.configFromParameters)) {
    secrets[key] = { arn: parameterArn(parameterName), grantRead: noGrant };
  }
  for (const key of d.secretKeys) {
    const valueFrom = new CfnParameter(scope, `Secret${key}`, {
      type: 'AWS::SSM::Parameter::Value<String>',
      default: previewSecretParameterName(environmentName, d.serviceName, key),
      description: `Published by the ${environmentName} environment: where ${key} of ${d.serviceName} comes from`,
    }).valueAsString;
    secrets[key] = { arn: valueFrom, grantRead: noGrant };
  }
  const sorted = Object.keys(secrets).sort();
  return sorted.length === 0 ? undefined : Object.fromEntries(sorted.map((k) => [k, secrets[k]]));
}

/** What a preview's choices make inherent, acknowledged with their reasons. */
function acknowledgePreviewService(taskDefinition: ecs.FargateTaskDefinition, service: ecs.CfnService, d: PreviewServiceDefinition): void {
  if (Object.keys(d.environment).length > 0) {
    acknowledge(taskDefinition, {
      reason: 'A preview gets the service\'s plain environment, non-secret by contract (names that look like secrets are rejected at synth); secrets come from Secrets Manager or Parameter Store.',
      nag: ['AwsSolutions-ECS2'],
    });
  }
  if (d.user === undefined) {
    acknowledge(taskDefinition, {
      reason: 'The preview runs its service\'s image as the service does: as the user the image declares. Set user on the service to run both as a named non-root user.',
      guard: ['ecs_task_definition_nonroot_user_check'],
    });
  } else if (d.readonlyRootFilesystem && !runsAsRoot(d.user)) {
    acknowledge(taskDefinition, {
      reason: `The app runs as user ${d.user}. Only the writable-paths container runs as root, for one command (chmod 1777 /tmp) with a read-only root filesystem, and exits before the app starts, as in the service itself.`,
      guard: ['ecs_task_definition_nonroot_user_check'],
    });
  }
  if (!d.readonlyRootFilesystem) {
    acknowledge(taskDefinition, {
      reason: 'The service asked for a writable root filesystem (readonlyRootFilesystem false), and its preview runs as it does.',
      guard: ['ecs_containers_readonly_access_check'],
    });
  }
  acknowledge(service, {
    reason: 'AssignPublicIp is the environment\'s own published value (/<environment>/_environment/assign-public-ip): DISABLED, unless the environment runs without NAT (NatStrategy.none()), where its tasks need public IPs to pull images and write logs.',
    guard: ['ecs_service_assign_public_ip_disabled_check'],
  });
}

/** Whether `user` names root explicitly. */
function runsAsRoot(user: string | undefined): boolean {
  if (user === undefined || Token.isUnresolved(user)) {
    return false;
  }
  const name = user.split(':')[0];
  return name === '0' || name === 'root';
}
