import { CfnOutput, Duration, NestedStack, Stack, Tags, Token } from 'aws-cdk-lib';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { Construct } from 'constructs';
import { StagingDomainOptions, StagingEdge } from './edge';
import { StagingNetwork, StagingNetworkProps } from './networking';
import { StagingObservability, StagingObservabilityOptions } from './observability';
import type { StagingPreviewsOptions } from './preview';
import { DEFAULTS } from './private/defaults';
import { ERROR_PREFIX, StagingValidationError } from './private/errors';
import { registerPreviewFacts } from './private/preview-facts';
import {
  EnvironmentPreviews, PreviewServiceDefinition, resolvePreviews, ResolvedPreviews, ServicePreviewRoles,
} from './private/preview-publication';
import { StagingPreviewReaper } from './private/preview-reaper';
import { publishEnvironment, publishServiceManifest } from './private/published';
import { checkPreviewQuotas, checkTemplateQuotas } from './private/quotas';
import { resolveSchedule } from './private/schedule-binding';
import { propName, validateParameterName, validateServiceName, validateTag } from './private/validation';
import { StagingSchedule } from './schedule';
import { StagingService, StagingServiceOptions } from './service';

/**
 * Options of the environment's ECS cluster.
 */
export interface StagingClusterOptions {
  /**
   * Turn on Container Insights (task- and service-level CPU, memory, network metrics).
   *
   * @default true
   */
  readonly containerInsights?: boolean;
}

/**
 * Options of the environment's load balancer.
 */
export interface StagingEdgeOptions {
  /** IPv4 CIDR blocks allowed to reach the load balancer. @default - anywhere */
  readonly allowedCidrs?: string[];
  /** Protect the load balancer from deletion. @default false */
  readonly deletionProtection?: boolean;
  /** Idle timeout of the load balancer's connections. @default Duration.seconds(60) */
  readonly idleTimeout?: Duration;
  /** Days the access logs are kept. @default 30 */
  readonly accessLogsExpirationDays?: number;
}

/**
 * Properties of an `EcsStagingEnvironment`.
 */
export interface EcsStagingEnvironmentProps {
  /**
   * Name of the environment: lowercase letters, digits and hyphens, at most 16 characters. Tags
   * every resource and prefixes physical names (`/<environment>/<service>/...`).
   *
   * @default 'staging'
   */
  readonly environmentName?: string;

  /**
   * Serve HTTPS on this domain.
   *
   * @default - HTTP on the load balancer's DNS name only (a synth warning says so)
   */
  readonly domain?: StagingDomainOptions;

  /**
   * The network: options of a new one, or `vpc` to use an existing VPC.
   *
   * @default - a new VPC over 2 AZs with one NAT gateway
   */
  readonly network?: StagingNetworkProps;

  /** Options of the ECS cluster. @default - Container Insights on */
  readonly cluster?: StagingClusterOptions;

  /** Options of the load balancer. @default - open to anywhere, no deletion protection */
  readonly edge?: StagingEdgeOptions;

  /**
   * Alarms, failed-deployment notices and the dashboard, and who hears of them.
   *
   * @default - a new alarm topic without subscribers (a synth warning says so), every alarm, the dashboard
   */
  readonly observability?: StagingObservabilityOptions;

  /**
   * Delete the stateful resources (ECR repositories, log groups, access logs) with the stack.
   *
   * Without it they are retained, so that deleting a stack never loses images or logs.
   *
   * @default false
   */
  readonly ephemeral?: boolean;

  /**
   * More tags for every taggable resource of the environment, at most 47, beside `environment`,
   * `managed-by` and AWS CDK's `Name` (no key may repeat one of those, or another key, in other
   * capitals: IAM compares keys without case). Keys of 1-128 and values of up to 256 characters:
   * letters, digits, spaces, `_ . : / = + -` and the at sign, not starting with `aws:`.
   *
   * @default - the `environment` and `managed-by` tags only
   */
  readonly tags?: { [key: string]: string };

  /**
   * Emit the values you need to check a deployed environment as stack outputs: URL, ALB DNS name,
   * cluster name and VPC on the environment's stack, and per service its name, ECR repository URI,
   * log group, task and execution role ARNs on the service's nested stack.
   *
   * @default true
   */
  readonly emitOutputs?: boolean;

  /**
   * When the services run: `StagingSchedule.workingHours()` / `working_hours()` (e.g. 08:00 to 20:00 in Europe/Berlin)
   * scales every service to zero tasks outside those hours (Monday to Friday by default) and back at
   * the start of each working day. A service's own `schedule` wins.
   *
   * @default - services run around the clock
   */
  readonly schedule?: StagingSchedule;

  /**
   * Allow preview environments: a `StagingPreviewStack` per pull request beside the environment,
   * whose services answer on `pr-<number>-<service>.<domain>`. The environment then covers
   * `*.<domain>` with its certificate and DNS, keeps listener priorities 48001-49000 for the
   * previews, and makes what previews need (a log group, the roles of the previewed services, the
   * role CloudFormation deploys preview stacks with), published under `/<environment>/_previews/`.
   * Needs `domain`.
   *
   * @default - no previews
   */
  readonly previews?: StagingPreviewsOptions;
}

/** Tags a user may add: AWS takes 50 a resource, and the environment and AWS CDK set 3 (`environment`, `managed-by`, `Name`). */
const MAX_USER_TAGS = 47;

/**
 * A production-like staging environment on ECS Fargate: network, cluster, edge and services,
 * staging-grade by default (one NAT gateway, HTTPS with redirect, fast and safe rollouts,
 * retained state, posture-clean).
 */
export class EcsStagingEnvironment extends Construct {
  /** The environment's name. */
  public readonly environmentName: string;
  /** The network. */
  public readonly network: StagingNetwork;
  /** The ECS cluster (Fargate and Fargate Spot). */
  public readonly cluster: ecs.Cluster;
  /** The load balancer and its listeners. */
  public readonly edge: StagingEdge;
  /** The alarm topic, failed-deployment notices and the dashboard. */
  public readonly observability: StagingObservability;

  private readonly _services: StagingService[] = [];
  private readonly ephemeral: boolean;
  private readonly emitOutputs: boolean;
  private readonly schedule?: StagingSchedule;
  private readonly containerInsights: boolean;
  private readonly previewSettings?: ResolvedPreviews;
  private readonly previewSupport?: EnvironmentPreviews;
  private readonly previewDefinitions: PreviewServiceDefinition[] = [];
  private readonly previewRoles: Array<{ serviceName: string; repository: ecr.IRepository }> = [];

  constructor(scope: Construct, id: string, props: EcsStagingEnvironmentProps = {}) {
    super(scope, id);

    this.environmentName = props.environmentName ?? 'staging';
    const name = this.environmentName;
    validateEnvironmentName(this, name);
    this.ephemeral = props.ephemeral ?? false;
    this.emitOutputs = props.emitOutputs ?? true;
    // Checked here too, so a bad environment schedule fails even before the first service.
    resolveSchedule(this, 'schedule', props.schedule);
    this.schedule = props.schedule;
    this.containerInsights = props.cluster?.containerInsights ?? true;
    if (props.network?.ephemeral !== undefined && props.network.ephemeral !== this.ephemeral) {
      throw new StagingValidationError(this, `network.ephemeral (${props.network.ephemeral}) differs from ephemeral (${this.ephemeral}); set ephemeral on the environment only`);
    }

    const tags = environmentTags(this, name, props.tags ?? {});
    validateTag(this, 'environmentName', 'environment', name);
    // The first level of every parameter the environment creates (`/<environmentName>/<service>/...`).
    validateParameterName(this, 'environmentName', undefined, `/${name}/service/image-uri`, 'choose a name that does not start with aws or ssm, e.g. \'staging\'');
    for (const [key, value] of Object.entries(tags)) {
      Tags.of(this).add(key, value);
    }

    this.previewSettings = props.previews && resolvePreviews(this, props.previews, props.domain?.domainName.replace(/\.$/, ''), props.schedule);

    this.network = new StagingNetwork(this, 'Network', { ...props.network, ephemeral: this.ephemeral });
    this.cluster = this.createCluster();
    this.edge = new StagingEdge(this, 'Edge', {
      vpc: this.network.vpc,
      domain: props.domain,
      ephemeral: this.ephemeral,
      ...props.edge,
      previews: this.previewSettings !== undefined,
    });

    this.observability = new StagingObservability(this, 'Observability', {
      ...props.observability,
      environmentName: name,
      cluster: this.cluster,
      loadBalancer: this.edge.loadBalancer,
      // Previews answer 503 too: asleep outside their working hours, or with no healthy task (a pull
      // request's broken build), which must not page the environment's on-call.
      servicesSleep: props.schedule?.hours !== undefined || this.previewSettings !== undefined,
    });

    this.publish(props);
    this.previewSupport = this.createPreviews();
    this.node.addValidation({ validate: () => checkTemplateQuotas(this) });
    if (this.emitOutputs) {
      this.addOutputs();
    }
  }

  /** The cluster: Fargate and Fargate Spot, Container Insights unless turned off. */
  private createCluster(): ecs.Cluster {
    return new ecs.Cluster(this, 'Cluster', {
      vpc: this.network.vpc,
      enableFargateCapacityProviders: true,
      containerInsightsV2: this.containerInsights ? ecs.ContainerInsights.ENABLED : ecs.ContainerInsights.DISABLED,
    });
  }

  /**
   * What `cdk-ecs-staging validate` and preview stacks read of the environment, by its name:
   * parameters under `/<environmentName>/_environment/` (src/private/published.ts).
   */
  private publish(props: EcsStagingEnvironmentProps): void {
    const network = this.network;
    publishEnvironment(new Construct(this, 'Published'), {
      environmentName: this.environmentName,
      clusterName: this.cluster.clusterName,
      vpcId: network.vpc.vpcId,
      serviceSubnetIds: network.vpc.selectSubnets(network.serviceSubnets).subnetIds,
      assignPublicIp: network.assignPublicIp,
      listenerArn: this.edge.listener.listenerArn,
      servicesSecurityGroupId: this.edge.servicesSecurityGroup.securityGroupId,
      loadBalancerArn: this.edge.loadBalancer.loadBalancerArn,
      alarmTopicArn: this.observability.alarmTopic.topicArn,
      serviceNames: () => this._services.map((s) => s.serviceName),
      manifest: () => ({
        environmentName: this.environmentName,
        domainName: this.edge.domainName ?? null,
        natStrategy: props.network?.vpc ? null : network.natStrategy.kind,
        natGateways: network.natGatewayCount,
        vpcImported: props.network?.vpc !== undefined,
        ephemeral: this.ephemeral,
      }),
    });
  }

  /**
   * With `previews`: the previews' log group, the role CloudFormation deploys preview stacks with,
   * the published settings, and the checks that need every service (names in `previews.services`
   * and `previews.secrets`, the load balancer's quotas).
   */
  private createPreviews(): EnvironmentPreviews | undefined {
    const settings = this.previewSettings;
    if (!settings) {
      return undefined;
    }
    const support = new EnvironmentPreviews(this, 'Previews', {
      environmentName: this.environmentName,
      settings,
      domainName: this.edge.domainName!,
      clusterName: this.cluster.clusterName,
      listenerArn: this.edge.listener.listenerArn,
      loadBalancerFullName: this.edge.loadBalancer.loadBalancerFullName,
      securityGroupId: this.edge.previewsSecurityGroup!.securityGroupId,
      ephemeral: this.ephemeral,
      previewableServices: () => this.previewDefinitions.map((d) => d.serviceName),
      alarmTopic: this.observability.alarmsEnabled ? this.observability.alarmTopic : undefined,
    });
    // What GitHubActionsPreviewRole reads of the previews, and the reaper that removes the previews
    // a lost close event leaves behind.
    registerPreviewFacts(this, {
      maxPreviews: settings.maxPreviews,
      expireAfter: settings.expireAfter,
      services: settings.services,
      cloudFormationRoleArn: support.cloudFormationRole.roleArn,
      repositories: () => Object.fromEntries(this.previewRoles.map((r) => [r.serviceName, r.repository])),
    });
    new StagingPreviewReaper(this, 'PreviewReaper', { environmentName: this.environmentName, expireAfter: settings.expireAfter, ephemeral: this.ephemeral });
    this.node.addValidation({
      validate: () => {
        const names = this._services.map((s) => s.serviceName);
        const unknown = (settings.services ?? []).filter((name) => !names.includes(name));
        const messages = unknown.map((name) => `${ERROR_PREFIX}${this.node.path}: previews.services names '${name}', which is no service of the environment (got services [${names.join(', ')}]); `
          + 'list names given to addService, or leave previews.services out for every service');
        const secretNames = new Set(this.previewDefinitions.flatMap((d) => d.secretKeys));
        for (const secret of settings.secrets.filter((name) => !secretNames.has(name))) {
          messages.push(`${ERROR_PREFIX}${this.node.path}: previews.secrets names '${secret}', which is no secret of a service that may have previews; list names of the services' secrets`);
        }
        return [...messages, ...checkPreviewQuotas(this._services.length, this.previewDefinitions.length, settings.maxPreviews)];
      },
    });
    return support;
  }

  /**
   * What a preview stack needs of the environment: the preview settings, the domain and the
   * definitions of the services that may have previews, sorted by name. Undefined without `previews`.
   *
   * @internal
   */
  public _previewPlan(): { settings: ResolvedPreviews; domainName: string; services: PreviewServiceDefinition[] } | undefined {
    if (!this.previewSettings) {
      return undefined;
    }
    const services = [...this.previewDefinitions].sort((a, b) => (a.serviceName < b.serviceName ? -1 : a.serviceName > b.serviceName ? 1 : 0));
    return { settings: this.previewSettings, domainName: this.edge.domainName!, services };
  }

  /** Makes a service previewable when previews are on and allowed for it: its preview roles and published values. */
  private addPreviewOf(serviceStack: Construct, service: StagingService, options: StagingServiceOptions): void {
    const settings = this.previewSettings;
    if (!settings || !this.previewSupport || (settings.services !== undefined && !settings.services.includes(service.serviceName))) {
      return;
    }
    const containerPort = options.containerPort ?? DEFAULTS.containerPort;
    const configKeys = Object.keys(options.config ?? {}).sort();
    const configFromParameters = { ...options.configFromParameters };
    const secretKeys = Object.keys(options.secrets ?? {}).filter((key) => settings.secrets.includes(key)).sort();
    this.edge.allowPreviewPort(containerPort);
    const roles = new ServicePreviewRoles(serviceStack, 'Preview', {
      environmentName: this.environmentName,
      serviceName: service.serviceName,
      expireAfter: settings.expireAfter,
      ephemeral: this.ephemeral,
      logGroup: this.previewSupport.logGroup,
      injected: service._injectedSecrets(),
      variables: [...configKeys, ...Object.keys(configFromParameters).sort(), ...secretKeys],
      runtimeVariables: secretKeys.filter((key) => options.secrets![key].runtimeAccess),
      publishedVariables: secretKeys,
    });
    this.previewRoles.push({ serviceName: service.serviceName, repository: roles.repository });
    this.previewDefinitions.push({
      serviceName: service.serviceName,
      containerPort,
      healthCheckPath: options.healthCheckPath ?? DEFAULTS.healthCheckPath,
      healthCheckGracePeriod: options.healthCheckGracePeriod ?? DEFAULTS.healthCheckGracePeriod,
      deregistrationDelay: options.deregistrationDelay ?? DEFAULTS.deregistrationDelay,
      environment: { ...options.environment },
      configKeys,
      configFromParameters,
      secretKeys,
      readonlyRootFilesystem: options.readonlyRootFilesystem ?? true,
      user: options.user,
      cpuArchitecture: options.cpuArchitecture ?? ecs.CpuArchitecture.X86_64,
      containerHealthCheck: options.containerHealthCheck,
    });
  }

  /** The environment's outputs that the walkthrough's validation steps look up. */
  private addOutputs(): void {
    new CfnOutput(this, 'Url', { value: this.edge.url, description: `URL of the ${this.environmentName} environment` });
    new CfnOutput(this, 'LoadBalancerDnsName', { value: this.edge.loadBalancer.loadBalancerDnsName, description: 'DNS name of the load balancer' });
    new CfnOutput(this, 'ClusterName', { value: this.cluster.clusterName, description: 'ECS cluster name' });
    new CfnOutput(this, 'VpcId', { value: this.network.vpc.vpcId, description: 'VPC ID' });
    // The package's bin (README, "Validate a deployed environment"): finds the environment by its name and region.
    new CfnOutput(this, 'ValidateCommand', {
      value: `npx cdk-ecs-staging validate ${this.environmentName} --region ${Stack.of(this).region}`,
      description: `Checks the deployed ${this.environmentName} environment (read-only AWS calls)`,
    });
  }

  /** What `cdk-ecs-staging validate` reads of a service: `/<environmentName>/<service>/service-manifest`. */
  private publishService(service: StagingService, options: StagingServiceOptions): void {
    const hours = resolveSchedule(service, 'schedule', options.schedule ?? this.schedule);
    publishServiceManifest(service, this.environmentName, {
      serviceName: service.serviceName,
      ecsServiceName: service.fargateService.serviceName,
      clusterName: this.cluster.clusterName,
      repositoryName: service.repository.repositoryName,
      imageParameterName: service.imageParameter?.parameterName ?? null,
      logGroupName: service.logGroup.logGroupName,
      executionRoleArn: service.executionRole.roleArn,
      taskRoleArn: service.taskRole.roleArn,
      targetGroupArn: service.targetGroup.targetGroupArn,
      paused: options.desiredCount === 0,
      workingHours: hours && options.desiredCount !== 0
        ? { startMinutes: hours.startMinutes, endMinutes: hours.endMinutes, days: [...hours.days], timeZone: hours.timeZone.timezoneName }
        : null,
      wakeCommand: service.wakeCommand ?? null,
    });
  }

  /** The services added so far, in order. */
  public get services(): StagingService[] {
    return [...this._services];
  }

  /**
   * Adds an app as a Fargate service of the environment.
   *
   * @param name the service's name: lowercase letters, digits and hyphens, at most 24 characters;
   *             also its construct ID, so renaming it replaces the service and its repository
   * @param options what the app needs
   */
  public addService(name: string, options: StagingServiceOptions = {}): StagingService {
    validateServiceName(this, name);
    if (this._services.some((s) => s.serviceName === name)) {
      throw new StagingValidationError(this, `service '${name}' is added twice (got a duplicate name); give each service a unique name`);
    }
    // Each service in a nested stack of its own, from the first one on: the environment's template
    // then grows by one resource a service, and a service's resources never move between templates
    // (nor change logical IDs) as the environment grows.
    const serviceStack = new NestedStack(this, name, {
      description: `Service '${name}' of the ${this.environmentName} staging environment (cdk-ecs-staging)`,
    });
    const service = new StagingService(serviceStack, 'Service', {
      ...options,
      serviceName: name,
      environmentName: this.environmentName,
      cluster: this.cluster,
      edge: this.edge,
      subnets: this.network.serviceSubnets,
      assignPublicIp: this.network.assignPublicIp,
      ephemeral: this.ephemeral,
      alarmTopic: this.observability.alarmTopic,
      alarms: { ...options.alarms, enabled: this.observability.alarmsEnabled && (options.alarms?.enabled ?? true) },
      schedule: options.schedule ?? this.schedule,
      containerInsights: this.containerInsights,
    });
    this._services.push(service);
    this.observability.addService(service);
    this.publishService(service, options);
    this.addPreviewOf(serviceStack, service, options);

    if (this.emitOutputs) {
      const outputs: Array<[string, string, string]> = [
        ['ServiceName', service.fargateService.serviceName, 'ECS service name'],
        ['RepositoryUri', service.repository.repositoryUri, 'ECR repository URI'],
        ['LogGroupName', service.logGroup.logGroupName, 'CloudWatch log group'],
        ['TaskRoleArn', service.taskRole.roleArn, 'Task role ARN'],
        ['ExecutionRoleArn', service.executionRole.roleArn, 'Task execution role ARN'],
      ];
      if (service.wakeCommand) {
        outputs.push(['WakeCommand', service.wakeCommand, 'Wake-up command (AWS CLI)']);
      }
      for (const [id, value, description] of outputs) {
        new CfnOutput(service, id, { value, description: `${description} of service '${name}'` });
      }
    }
    return service;
  }
}

function validateEnvironmentName(scope: Construct, name: string): void {
  if (!Token.isUnresolved(name) && (!/^[a-z][a-z0-9-]*$/.test(name) || name.length > DEFAULTS.maxEnvironmentNameLength || name.endsWith('-'))) {
    throw new StagingValidationError(scope,
      `environmentName must be 1-${DEFAULTS.maxEnvironmentNameLength} lowercase letters, digits and hyphens, start with a letter and not end with a hyphen (got '${name}'); for example 'staging'`);
  }
}

/**
 * The environment's tags: `environment` and `managed-by`, then the user's, each checked against AWS's
 * tag rules; no key may repeat another (or AWS CDK's `Name`) in other capitals.
 */
function environmentTags(scope: Construct, name: string, given: { [key: string]: string }): { [key: string]: string } {
  const tags: { [key: string]: string } = { 'environment': name, 'managed-by': 'cdk-ecs-staging' };
  // Tag keys are case-insensitive to IAM ("Duplicate tag keys found. Please note that Tag keys are case
  // insensitive"), and AWS CDK tags some resources with `Name` itself (the VPC's, the flow-log role).
  const taken = new Map<string, [string, string]>([
    ['environment', ['environment', 'the environment sets itself']],
    ['managed-by', ['managed-by', 'the environment sets itself']],
    ['name', ['Name', 'AWS CDK sets']],
  ]);
  const userTags = Object.entries(given);
  // 50 tags a resource (ECS, IAM, EC2 and most services): the environment's two and CDK's Name leave 47.
  if (userTags.length > MAX_USER_TAGS) {
    throw new StagingValidationError(scope,
      `tags holds ${userTags.length} tags, and AWS takes 50 a resource, of which the environment and AWS CDK set 3; keep at most ${MAX_USER_TAGS}`);
  }
  for (const [key, value] of userTags) {
    const clash = Token.isUnresolved(key) ? undefined : taken.get(key.toLowerCase());
    if (clash !== undefined) {
      throw new StagingValidationError(scope, `${propName('tags', key)} would clash with the '${clash[0]}' tag ${clash[1]} `
        + `(got '${value}'; tag keys are case-insensitive to IAM); choose another key`);
    }
    validateTag(scope, 'tags', key, value);
    if (!Token.isUnresolved(key)) taken.set(key.toLowerCase(), [key, 'you set too']);
    tags[key] = value;
  }
  return tags;
}
