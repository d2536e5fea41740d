import { Annotations, CfnResource, Duration, Size, Token, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { StagingEdge, StagingRouteOptions } from './edge';
import { StagingServiceAlarmOptions, StagingServiceAlarms } from './observability';
import { GitHubActionsDeployOptions, GitHubActionsDeployRole, StagingPipeline, StagingPipelineOptions } from './pipeline';
import { DEFAULTS, FARGATE_MEMORY_BY_CPU } from './private/defaults';
import { StagingValidationError } from './private/errors';
import { StatefulLifecycle, statefulLifecycle } from './private/lifecycle';
import { acknowledge, acknowledgeStagingLogGroup, GUARD } from './private/posture';
import { bindRevisionToService } from './private/revision-binding';
import { applyWorkingHours, DaytimeCapacity, ResolvedWorkingHours, resolveSchedule } from './private/schedule-binding';
import { validateIntegerRange, validateParameterName, validateServiceName } from './private/validation';
import { StagingSchedule } from './schedule';
import { StagingSecrets, StagingSecretsOptions } from './secrets';
import { IStagingService } from './service-contract';

/**
 * Target tracking autoscaling of a service.
 */
export interface StagingAutoScalingOptions {
  /** Fewest tasks. @default 1 */
  readonly minCapacity?: number;
  /** Most tasks. */
  readonly maxCapacity: number;
  /** Average CPU the service is scaled to hold (60 % leaves headroom for a burst while a new task starts). @default 60 */
  readonly targetCpuPercent?: number;
  /** Average memory the service is scaled to hold. @default - no memory scaling */
  readonly targetMemoryPercent?: number;
  /** Requests per target per minute the service is scaled to hold. @default - no request scaling */
  readonly targetRequestsPerTarget?: number;
}

/**
 * What one app needs to run as a service of a staging environment.
 */
export interface StagingServiceOptions extends StagingRouteOptions, StagingSecretsOptions {
  /**
   * The container image.
   *
   * @default - the service's own ECR repository, through the `/<environment>/<service>/image-uri`
   * parameter, which holds a placeholder that answers the health check until the pipeline pushes
   * the app and writes the parameter
   */
  readonly image?: ecs.ContainerImage;

  /** Port the container listens on (1-65535). @default 80 */
  readonly containerPort?: number;

  /** Task CPU units: 256, 512, 1024, 2048, 4096, 8192 or 16384. @default 512 */
  readonly cpu?: number;

  /** Task memory, a valid Fargate pair with `cpu`. @default 1024 */
  readonly memoryLimitMiB?: number;

  /** CPU architecture of the task. @default ecs.CpuArchitecture.X86_64 */
  readonly cpuArchitecture?: ecs.CpuArchitecture;

  /**
   * Tasks to run. Staging usually runs 1-2; 1 has no redundancy (a synth warning says so).
   * With auto scaling, the template leaves the count to the scaler so a deploy never resets it.
   *
   * @default 1
   */
  readonly desiredCount?: number;

  /**
   * When the service runs: `StagingSchedule.workingHours()` / `working_hours()` (e.g. 08:00 to 20:00)
   * scales it to zero tasks outside those hours and back to its daytime capacity (the desired count, or
   * the auto scaling minimum and maximum) at the start of each working day; `StagingSchedule.alwaysOn()`
   * / `always_on()` keeps it running when the environment has a schedule.
   *
   * @default - the environment's `schedule`; without one, the service runs around the clock
   */
  readonly schedule?: StagingSchedule;

  /** Path the load balancer probes for health; must start with `/`. @default '/health' */
  readonly healthCheckPath?: string;

  /** Time new tasks get before health checks count. @default Duration.seconds(60) */
  readonly healthCheckGracePeriod?: Duration;

  /** Time a deregistering target keeps its connections. @default Duration.seconds(30) */
  readonly deregistrationDelay?: Duration;

  /** Plain, non-secret environment variables. @default - none */
  readonly environment?: { [key: string]: string };

  /**
   * Mount the container's root filesystem read-only, with a writable `/tmp` volume.
   *
   * @default true
   */
  readonly readonlyRootFilesystem?: boolean;

  /**
   * User (and group) the container runs as, e.g. `1000` or `1000:1000`. Set it to run as non-root.
   *
   * @default - the image's user
   */
  readonly user?: string;

  /** Container health check, in addition to the load balancer's. @default - the load balancer's only */
  readonly containerHealthCheck?: ecs.HealthCheck;

  /** Allow `aws ecs execute-command` into the tasks. @default false */
  readonly enableExecuteCommand?: boolean;

  /** Run the tasks on Fargate Spot (up to 70 % cheaper, may be interrupted). @default false */
  readonly spot?: boolean;

  /** Autoscaling on CPU (and optionally memory and requests). @default - a fixed desired count */
  readonly autoScaling?: StagingAutoScalingOptions;

  /**
   * The service's alarms: thresholds, each alarm able to be turned off (0), and rollback.
   *
   * @default - errors 5 a minute, unhealthy 3 minutes, below minimum 5 minutes, CPU and memory 90 %, rollback on
   */
  readonly alarms?: StagingServiceAlarmOptions;

  /**
   * An existing ECR repository to run from instead of creating one, e.g. the repository retained
   * from a deleted environment (`ecr.Repository.fromRepositoryName()` / `from_repository_name()`), so that
   * re-creating the environment keeps its images.
   *
   * @default - a new repository, retained on stack deletion unless `ephemeral`
   */
  readonly repository?: ecr.IRepository;

  /**
   * Make the ECR repository's tags immutable: every push gets a new tag (the pipeline tags images
   * with the commit), so a tag always names the same image.
   *
   * @default true
   */
  readonly imageTagImmutable?: boolean;

  /** Images the ECR repository keeps. @default 20 */
  readonly maxImageCount?: number;

  /**
   * Customer-managed KMS key to encrypt the new ECR repository with. Set it when the repository is
   * created: ECR cannot change a repository's encryption, so adding it later replaces the
   * repository (and its images).
   *
   * @default - AES-256 encryption by ECR
   */
  readonly repositoryEncryptionKey?: kms.IKey;

  /** Retention of the service's log group (14-30 days suits staging). @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;

  /**
   * Customer-managed KMS key to encrypt the service's log group with. Its key policy must let the
   * CloudWatch Logs service principal of the region use it.
   *
   * @default - encrypted by CloudWatch Logs with a service-owned key
   */
  readonly logEncryptionKey?: kms.IKey;
}

/**
 * Properties of a `StagingService`.
 */
export interface StagingServiceProps extends StagingServiceOptions {
  /** Name of the service: lowercase letters, digits and hyphens, starting with a letter, at most 24 characters. */
  readonly serviceName: string;
  /** Name of the environment, used in physical names (`/<environment>/<service>/...`). */
  readonly environmentName: string;
  /** The cluster the service runs in. */
  readonly cluster: ecs.ICluster;
  /** The edge the service is routed by. */
  readonly edge: StagingEdge;
  /** Subnets the tasks run in. */
  readonly subnets: ec2.SubnetSelection;
  /** Give the tasks public IPs (only without NAT). @default false */
  readonly assignPublicIp?: boolean;
  /** Delete the repository and log group with the stack. @default false */
  readonly ephemeral?: boolean;
  /** Where the service's alarms send their notices. @default - no notices (the alarms still roll deployments back) */
  readonly alarmTopic?: sns.ITopic;
  /**
   * Whether the cluster has Container Insights, whose desired-task count lets a service that sleeps
   * on `schedule` keep its below-minimum alarm.
   *
   * @default true
   */
  readonly containerInsights?: boolean;
}

/**
 * One app of a staging environment: its ECR repository,
 * log group, execution and task roles, task definition, Fargate service, target group, listener
 * rule and autoscaling.
 */
export class StagingService extends Construct implements IStagingService {
  /** The service's name. */
  public readonly serviceName: string;
  /** The name of the environment the service belongs to. */
  public readonly environmentName: string;
  /** The ECR repository the pipeline pushes the app to: created, or the one passed in. */
  public readonly repository: ecr.IRepository;
  /** The log group of the container. */
  public readonly logGroup: logs.LogGroup;
  /** Role the app assumes at run time: empty, grant it what the app needs. */
  public readonly taskRole: iam.Role;
  /** Role ECS uses to pull the image and write logs. */
  public readonly executionRole: iam.Role;
  /** The task definition. */
  public readonly taskDefinition: ecs.FargateTaskDefinition;
  /** The app container. */
  public readonly container: ecs.ContainerDefinition;
  /** The Fargate service. */
  public readonly fargateService: ecs.FargateService;
  /** The service's own security group: admits the load balancer only, on the container port. */
  public readonly securityGroup: ec2.SecurityGroup;
  /** The target group behind the listener rule. */
  public readonly targetGroup: elbv2.ApplicationTargetGroup;
  /** The parameter that holds the image URI, when the service runs from its own repository. */
  public readonly imageParameter?: ssm.StringParameter;
  /** The scalable task count, with auto scaling or a working-hours schedule. */
  public readonly scalableTaskCount?: ecs.ScalableTaskCount;
  /**
   * The command that wakes the service outside its working hours (until the next end of a working
   * day), with a working-hours `schedule`.
   */
  public readonly wakeCommand?: string;
  /** The config and secrets injected into the container. */
  public readonly secrets: StagingSecrets;
  /** The service's alarm pack. */
  public readonly alarms: StagingServiceAlarms;

  private readonly injectedSecrets = new Map<string, ecs.Secret>();

  constructor(scope: Construct, id: string, props: StagingServiceProps) {
    super(scope, id);
    validateServiceProps(this, props);
    this.serviceName = props.serviceName;
    this.environmentName = props.environmentName;
    const containerPort = props.containerPort ?? DEFAULTS.containerPort;
    const lifecycle = statefulLifecycle(props.ephemeral);
    const parameterPath = `/${props.environmentName}/${props.serviceName}`;

    this.repository = props.repository ?? this.createRepository(props, lifecycle);
    this.logGroup = this.createLogGroup(props, lifecycle);
    this.executionRole = this.createTaskRole('ExecutionRole', `Pulls the image and writes the logs of ${parameterPath}`);
    this.taskRole = this.createTaskRole('TaskRole', `Run-time permissions of ${parameterPath} (empty by default)`);
    this.taskDefinition = this.createTaskDefinition(props);
    const source: ImageSource = props.image ? { image: props.image } : this.createImageParameter(parameterPath);
    this.imageParameter = source.imageParameter;
    const environment = appEnvironment(props, containerPort);
    this.container = this.addAppContainer(props, source.image, environment, containerPort);
    this.recordInjectedSecrets();
    this.secrets = this.attachSecrets(props, parameterPath, Object.keys(environment));
    this.addWritablePaths(props);
    this.securityGroup = this.createSecurityGroup(props, parameterPath);

    const capacity = resolveCapacity(this, props);
    this.fargateService = this.createFargateService(props, capacity);
    warnOnTaskCount(this, props, capacity);
    this.targetGroup = this.createTargetGroup(props, containerPort);
    this.attachToEdge(props, containerPort);
    this.scalableTaskCount = this.createScaling(props, capacity);
    this.wakeCommand = capacity.workingHours ? wakeCommand(props.cluster.clusterName, this.fargateService.serviceName, capacity.daytime) : undefined;

    this.alarms = new StagingServiceAlarms(this, 'Alarms', {
      ...props.alarms,
      service: this,
      minimumHealthyTasks: props.autoScaling ? capacity.minCapacity : capacity.desiredCount,
      alarmTopic: props.alarmTopic,
      sleepsOnSchedule: capacity.workingHours !== undefined,
      containerInsights: props.containerInsights,
    });
    acknowledgeService(this, props, Object.keys(environment).length > 0);
  }

  /** The ECR repository the pipeline pushes to: scanned on push, tags immutable, old images expired. */
  private createRepository(props: StagingServiceProps, lifecycle: StatefulLifecycle): ecr.Repository {
    const repository = new ecr.Repository(this, 'Repository', {
      imageScanOnPush: true,
      imageTagMutability: (props.imageTagImmutable ?? true) ? ecr.TagMutability.IMMUTABLE : ecr.TagMutability.MUTABLE,
      lifecycleRules: [
        { description: 'Expire untagged images after 7 days', tagStatus: ecr.TagStatus.UNTAGGED, maxImageAge: Duration.days(7), rulePriority: 1 },
        { description: 'Keep the last images', tagStatus: ecr.TagStatus.ANY, maxImageCount: props.maxImageCount ?? DEFAULTS.maxImageCount, rulePriority: 2 },
      ],
      removalPolicy: lifecycle.removalPolicy,
      emptyOnDelete: lifecycle.emptyOnDelete,
      encryption: props.repositoryEncryptionKey ? ecr.RepositoryEncryption.KMS : undefined,
      encryptionKey: props.repositoryEncryptionKey,
    });
    if (!props.repositoryEncryptionKey) {
      acknowledge(repository, {
        reason: 'ECR encrypts images at rest with AES-256. Pass repositoryEncryptionKey when the repository is created where a customer-managed key is required.',
        checkov: ['CKV_AWS_136'],
      });
    }
    return repository;
  }

  /** The container's log group, with the staging retention. */
  private createLogGroup(props: StagingServiceProps, lifecycle: StatefulLifecycle): logs.LogGroup {
    const logRetention = props.logRetention ?? DEFAULTS.serviceLogRetention;
    const logGroup = new logs.LogGroup(this, 'LogGroup', { retention: logRetention, encryptionKey: props.logEncryptionKey, removalPolicy: lifecycle.removalPolicy });
    acknowledgeStagingLogGroup(logGroup, logRetention, props.logEncryptionKey !== undefined, 'logEncryptionKey', 'logRetention');
    return logGroup;
  }

  /** A role that ECS tasks assume (the execution role, or the app's task role). */
  private createTaskRole(id: string, description: string): iam.Role {
    return new iam.Role(this, id, { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'), description });
  }

  /** The Fargate task definition: size, CPU architecture and the two roles. */
  private createTaskDefinition(props: StagingServiceProps): ecs.FargateTaskDefinition {
    return new ecs.FargateTaskDefinition(this, 'TaskDefinition', {
      cpu: props.cpu ?? DEFAULTS.cpu,
      memoryLimitMiB: props.memoryLimitMiB ?? DEFAULTS.memoryLimitMiB,
      runtimePlatform: {
        cpuArchitecture: props.cpuArchitecture ?? ecs.CpuArchitecture.X86_64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
      executionRole: this.executionRole,
      taskRole: this.taskRole,
    });
  }

  /**
   * The image-uri parameter of a service that runs from its own repository, and the image that
   * reads it. The parameter starts as the placeholder; the pipeline writes the pushed image's URI.
   * A later `cdk deploy` does not touch its value, and re-resolves it whenever the task definition
   * changes.
   */
  private createImageParameter(parameterPath: string): ImageSource {
    validateParameterName(this, 'environmentName', undefined, `${parameterPath}/image-uri`, 'shorten environmentName or the service\'s name');
    const imageParameter = new ssm.StringParameter(this, 'ImageParameter', {
      parameterName: `${parameterPath}/image-uri`,
      stringValue: DEFAULTS.placeholderImage,
      description: `Image URI of ${parameterPath}: written by the delivery pipeline after each push to its ECR repository`,
    });
    // An update of Type, Value, Description, Tier, DataType or AllowedPattern writes the Value (the
    // placeholder) back over the image the pipeline wrote; tag changes do not (the SSM resource
    // provider tags and untags). So these properties never change between releases: a test pins them.
    // Built on the parameter's Ref, so CloudFormation resolves it when it creates the task definition,
    // after the parameter exists (a literal reference would be resolved before the parameter is created).
    const image = ecs.ContainerImage.fromRegistry(`{{resolve:ssm:${imageParameter.parameterName}}}`);
    this.repository.grantPull(this.executionRole);
    return { image, imageParameter };
  }

  /** The app container: its port, environment, user, filesystem, health check and logs. */
  private addAppContainer(
    props: StagingServiceProps, image: ecs.ContainerImage, environment: { [key: string]: string }, containerPort: number,
  ): ecs.ContainerDefinition {
    const readonlyRootFilesystem = props.readonlyRootFilesystem ?? true;
    const container = this.taskDefinition.addContainer('App', {
      containerName: 'app',
      image,
      essential: true,
      portMappings: [{ containerPort, protocol: ecs.Protocol.TCP, name: 'http' }],
      environment,
      memoryLimitMiB: appMemoryMiB(props.memoryLimitMiB ?? DEFAULTS.memoryLimitMiB, readonlyRootFilesystem && !runsAsRoot(props.user)),
      readonlyRootFilesystem,
      user: props.user,
      // The placeholder runs as uid 1000, like a non-root user.
      systemControls: unprivilegedPortControls(props.image ? props.user : props.user ?? PLACEHOLDER_USER, containerPort),
      healthCheck: props.containerHealthCheck,
      logging: ecs.LogDrivers.awsLogs({
        logGroup: this.logGroup,
        streamPrefix: props.serviceName,
        mode: ecs.AwsLogDriverMode.NON_BLOCKING,
        maxBufferSize: Size.mebibytes(25),
      }),
    });
    if (this.imageParameter) {
      this.taskDefinition.node.addDependency(this.imageParameter);
    }
    return container;
  }

  /**
   * Keeps what is injected into the app container by variable name, so that the environment can
   * grant a preview's execution role the config and the secrets previews may get, and nothing else.
   */
  private recordInjectedSecrets(): void {
    const container = this.container;
    const add = container.addSecret.bind(container);
    container.addSecret = (name: string, secret: ecs.Secret) => {
      this.injectedSecrets.set(name, secret);
      add(name, secret);
    };
  }

  /**
   * The ECS secrets injected into the app container (config and secrets), by variable name.
   *
   * @internal
   */
  public _injectedSecrets(): Map<string, ecs.Secret> {
    return new Map(this.injectedSecrets);
  }

  /** The config and secrets, injected into the app container. */
  private attachSecrets(props: StagingServiceProps, parameterPath: string, reservedNames: string[]): StagingSecrets {
    return new StagingSecrets(this, 'Secrets', {
      container: this.container,
      parameterPath,
      config: props.config,
      configFromParameters: props.configFromParameters,
      secrets: props.secrets,
      taskRole: this.taskRole,
      ephemeral: props.ephemeral,
      reservedNames,
    });
  }

  /**
   * With a read-only root filesystem: writable scratch space for the app, and with ECS Exec for the
   * SSM agent ECS injects, which writes its state, logs and binaries there and dies on a read-only
   * root without them (https://github.com/aws/containers-roadmap/issues/1359).
   */
  private addWritablePaths(props: StagingServiceProps): void {
    if (!(props.readonlyRootFilesystem ?? true)) {
      return;
    }
    const writable = props.enableExecuteCommand ? { ...WRITABLE_PATHS, ...ECS_EXEC_WRITABLE_PATHS } : WRITABLE_PATHS;
    for (const [sourceVolume, containerPath] of Object.entries(writable)) {
      this.taskDefinition.addVolume({ name: sourceVolume });
      this.container.addMountPoints({ containerPath, sourceVolume, readOnly: false });
    }
    if (!runsAsRoot(props.user)) {
      openWritablePaths(this.container, this.logGroup, props.serviceName);
    }
  }

  /** The service's own security group; it admits the load balancer once the target group exists. */
  private createSecurityGroup(props: StagingServiceProps, parameterPath: string): ec2.SecurityGroup {
    return new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.cluster.vpc,
      description: `Tasks of ${parameterPath}: admits the load balancer only`,
      allowAllOutbound: true,
    });
  }

  /** The Fargate service: rolling deploys with the circuit breaker, in the service's and the edge's security groups. */
  private createFargateService(props: StagingServiceProps, capacity: ServiceCapacity): ecs.FargateService {
    const service = new ecs.FargateService(this, 'Service', {
      cluster: props.cluster,
      taskDefinition: this.taskDefinition,
      desiredCount: capacity.scaled ? undefined : capacity.desiredCount,
      vpcSubnets: props.subnets,
      assignPublicIp: props.assignPublicIp ?? false,
      securityGroups: [this.securityGroup, props.edge.servicesSecurityGroup],
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { enable: true, rollback: true },
      healthCheckGracePeriod: props.healthCheckGracePeriod ?? DEFAULTS.healthCheckGracePeriod,
      enableExecuteCommand: props.enableExecuteCommand ?? false,
      propagateTags: ecs.PropagatedTagSource.SERVICE,
      capacityProviderStrategies: props.spot ? [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }] : undefined,
      // The service names the revision CloudFormation registered (its ARN), never the family: a rollback
      // re-applies the previous ARN, which stays ACTIVE until the update's cleanup. See bindRevisionToService.
    });
    if (props.spot) {
      // FARGATE_SPOT must be associated with the cluster before the service asks for it (and stay until it is gone).
      service.node.addDependency(props.cluster);
    }
    if (capacity.scaled) {
      // No DesiredCount in the template: CloudFormation then never resets what the scaler (or the
      // schedule) chose. A new service starts with 1 task; the scalable target takes it from there.
      (service.node.defaultChild as ecs.CfnService).addPropertyDeletionOverride('DesiredCount');
    }
    return service;
  }

  /** The target group the load balancer probes and sends to, with the staging health check. */
  private createTargetGroup(props: StagingServiceProps, containerPort: number): elbv2.ApplicationTargetGroup {
    return new elbv2.ApplicationTargetGroup(this, 'TargetGroup', {
      vpc: props.cluster.vpc,
      port: containerPort,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targetType: elbv2.TargetType.IP,
      deregistrationDelay: props.deregistrationDelay ?? DEFAULTS.deregistrationDelay,
      healthCheck: {
        path: props.healthCheckPath ?? DEFAULTS.healthCheckPath,
        interval: Duration.seconds(10),
        timeout: Duration.seconds(5),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 3,
        healthyHttpCodes: '200-299',
      },
      targets: [withoutLoadBalancerRules(this.fargateService.loadBalancerTarget({ containerName: 'app', containerPort }))],
    });
  }

  /**
   * Connects the service to the edge: binds the revision to the service, opens the way from the
   * load balancer on the container port, and routes to the target group by a listener rule.
   */
  private attachToEdge(props: StagingServiceProps, containerPort: number): void {
    bindRevisionToService(this.container, this.fargateService, {
      clusterName: props.cluster.clusterName,
      securityGroupIds: [this.securityGroup.securityGroupId, props.edge.servicesSecurityGroup.securityGroupId],
      subnetIds: props.cluster.vpc.selectSubnets(props.subnets).subnetIds,
      targetGroupArn: this.targetGroup.targetGroupArn,
    });
    this.securityGroup.addIngressRule(props.edge.securityGroup, ec2.Port.tcp(containerPort), 'From the load balancer');
    props.edge.allowServicePort(containerPort);
    // The load balancer's egress rule for this port exists before the service registers targets.
    this.fargateService.node.addDependency(props.edge.securityGroup);

    const route = props.edge.reserveRoute(props.serviceName, props);
    const conditions = [];
    if (route.hostHeaders.length > 0) conditions.push(elbv2.ListenerCondition.hostHeaders(route.hostHeaders));
    if (route.pathPatterns.length > 0) conditions.push(elbv2.ListenerCondition.pathPatterns(route.pathPatterns));
    const rule = new elbv2.ApplicationListenerRule(this, 'ListenerRule', {
      listener: props.edge.listener,
      priority: route.priority,
      conditions,
      action: elbv2.ListenerAction.forward([this.targetGroup]),
    });
    // Tasks start only once the execution role may pull the image and read every secret.
    this.fargateService.node.addDependency(this.executionRole);
    // The service must not register targets before the rule exists.
    this.fargateService.node.addDependency(rule);
  }

  /**
   * The scalable task count, with auto scaling or working hours: the daytime capacity, the
   * working-hours schedule and the target tracking policies.
   */
  private createScaling(props: StagingServiceProps, capacity: ServiceCapacity): ecs.ScalableTaskCount | undefined {
    if (!capacity.scaled) {
      return undefined;
    }
    // With working hours the target's own minimum is 0, so that CloudFormation registering it
    // again (any change of its properties) never wakes a sleeping service; the schedule's hourly
    // "Awake" action holds the daytime minimum (see applyWorkingHours).
    const scaling = this.fargateService.autoScaleTaskCount({
      minCapacity: capacity.workingHours ? 0 : capacity.daytime.minCapacity,
      maxCapacity: capacity.daytime.maxCapacity,
    });
    // aws-cdk-lib names the ECS service-linked role of Application Auto Scaling, which a new account
    // does not have yet (aws/aws-cdk#4108). Without RoleARN, Application Auto Scaling uses that role
    // and creates it on the account's first RegisterScalableTarget for ECS, if it does not exist
    // (Application Auto Scaling user guide, service-linked roles:
    // https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-service-linked-roles.html).
    const target = scaling.node.findChild('Target').node.defaultChild as CfnResource;
    target.addPropertyDeletionOverride('RoleARN');
    if (capacity.workingHours) {
      applyWorkingHours(scaling, capacity.workingHours, capacity.daytime);
    }
    const autoScaling = props.autoScaling;
    if (autoScaling) {
      scaling.scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: autoScaling.targetCpuPercent ?? DEFAULTS.targetCpuPercent });
      if (autoScaling.targetMemoryPercent !== undefined) {
        scaling.scaleOnMemoryUtilization('Memory', { targetUtilizationPercent: autoScaling.targetMemoryPercent });
      }
      if (autoScaling.targetRequestsPerTarget !== undefined) {
        scaling.scaleOnRequestCount('Requests', { requestsPerTarget: autoScaling.targetRequestsPerTarget, targetGroup: this.targetGroup });
      }
    }
    return scaling;
  }

  /**
   * Lets a GitHub Actions workflow deploy this service over OIDC: see `GitHubActionsDeployRole`
   * and its `renderWorkflow()` (Python: `render_workflow()`).
   *
   * @param options the repository and the branch (or GitHub environment) that deploy
   * @returns the deploy role
   */
  public addGithubActionsDeployRole(options: GitHubActionsDeployOptions): GitHubActionsDeployRole {
    this.checkNoPipeline('a GitHub Actions deploy role');
    return new GitHubActionsDeployRole(this, 'GitHubActionsDeploy', { ...options, service: this });
  }

  /**
   * Adds the service's delivery pipeline on CodePipeline: see `StagingPipeline`.
   *
   * @param options the source and the pipeline's settings
   * @returns the pipeline
   */
  public addPipeline(options: StagingPipelineOptions): StagingPipeline {
    this.checkNoPipeline('a pipeline');
    return new StagingPipeline(this, 'Pipeline', { ...options, service: this });
  }

  /** One way delivers a service: two would race over the image-uri parameter and the service. */
  private checkNoPipeline(adding: string): void {
    const existing = ['GitHubActionsDeploy', 'Pipeline'].find((id) => this.node.tryFindChild(id));
    if (existing) {
      const what = existing === 'Pipeline' ? 'a pipeline' : 'a GitHub Actions deploy role';
      throw new StagingValidationError(this, `service '${this.serviceName}' has ${what} already (got ${adding} too); one pipeline deploys a service: keep one`);
    }
  }
}

/** The image the app container runs, and the parameter it is read from when the service runs from its own repository. */
interface ImageSource {
  readonly image: ecs.ContainerImage;
  readonly imageParameter?: ssm.StringParameter;
}

/** How many tasks a service runs, and who owns the count. */
interface ServiceCapacity {
  /** The desired count (0: paused). */
  readonly desiredCount: number;
  /** With autoScaling, the fewest tasks: minCapacity, or desiredCount standing for it. */
  readonly minCapacity: number;
  /** The working hours, unless the service runs around the clock (or is paused). */
  readonly workingHours?: ResolvedWorkingHours;
  /** The scaler owns the count (autoScaling or working hours): the template then holds no DesiredCount. */
  readonly scaled: boolean;
  /** The capacity during working hours: the desired count, or the auto scaling minimum and maximum. */
  readonly daytime: DaytimeCapacity;
}

function resolveCapacity(scope: Construct, props: StagingServiceProps): ServiceCapacity {
  const desiredCount = props.desiredCount ?? DEFAULTS.desiredCount;
  const minCapacity = props.autoScaling?.minCapacity ?? desiredCount;
  // A paused service (desiredCount 0) has no working hours to keep.
  const workingHours = desiredCount === 0 ? undefined : resolveSchedule(scope, 'schedule', props.schedule);
  return {
    desiredCount,
    minCapacity,
    workingHours,
    scaled: props.autoScaling !== undefined || workingHours !== undefined,
    daytime: { minCapacity, maxCapacity: props.autoScaling?.maxCapacity ?? desiredCount },
  };
}

/** Warns of a paused service, and of one that runs a single task (no redundancy). */
function warnOnTaskCount(scope: Construct, props: StagingServiceProps, capacity: ServiceCapacity): void {
  if (capacity.desiredCount === 0) {
    Annotations.of(scope).addWarningV2('cdk-ecs-staging:paused',
      `Service '${props.serviceName}' is paused: desiredCount (desired_count) is 0, so no task runs and its load balancer route answers 503. `
      + 'Set desiredCount to 1 or more to run it again.');
  } else if ((props.autoScaling ? capacity.minCapacity : capacity.desiredCount) === 1) {
    const fix = props.autoScaling ? 'autoScaling.minCapacity (min_capacity): 2' : 'desiredCount (desired_count): 2';
    Annotations.of(scope).addWarningV2('cdk-ecs-staging:single-task',
      `Service '${props.serviceName}' runs 1 task: no redundancy, and a task replacement briefly leaves it with none healthy. Set ${fix} for a redundant staging service.`);
  }
}

/**
 * The app's plain environment: the user's variables and, while the service runs the placeholder
 * (no image given), the placeholder's. The placeholder listens on the container port and answers
 * 200 on every path. These variables stay in the task definition when the pipeline swaps the
 * image; only static-web-server reads them (SERVER_PORT matches the container port anyway).
 */
function appEnvironment(props: StagingServiceProps, containerPort: number): { [key: string]: string } {
  return props.image ? { ...props.environment } : { ...props.environment, ...placeholderEnvironment(containerPort), ...props.environment };
}

/**
 * The target as aws-cdk-lib attaches it, minus the security-group rules it would add between the
 * load balancer and each service's own security group: one egress rule a service on the load
 * balancer's group, which holds 60. The edge opens the way once per container port instead, to the
 * services security group every task joins, and each service admits the load balancer itself.
 */
function withoutLoadBalancerRules(target: elbv2.IApplicationLoadBalancerTarget): elbv2.IApplicationLoadBalancerTarget {
  return {
    attachToApplicationTargetGroup: (targetGroup) => target.attachToApplicationTargetGroup(new Proxy(targetGroup, {
      get: (group, property) => (property === 'registerConnectable' ? () => undefined : Reflect.get(group, property, group)),
    })),
  };
}

/** The user the placeholder image declares. */
const PLACEHOLDER_USER = '1000';

/** Environment of the placeholder: 200 on every path, on the container port. */
function placeholderEnvironment(containerPort: number): { [key: string]: string } {
  return {
    SERVER_PORT: String(containerPort),
    SERVER_MAINTENANCE_MODE: 'true',
    SERVER_MAINTENANCE_MODE_STATUS: '200',
  };
}

/** Writable volumes of a read-only root filesystem: volume name -> container path. */
const WRITABLE_PATHS: { [volume: string]: string } = { tmp: '/tmp' };
// The parent directories, not /var/log/amazon/ssm itself: the ECS agent bind-mounts that path, and
// two mounts on one destination are rejected (amazon-ecs-agent execcmd, ContainerLogDir).
const ECS_EXEC_WRITABLE_PATHS: { [volume: string]: string } = {
  'ecs-exec-lib': '/var/lib/amazon',
  'ecs-exec-log': '/var/log/amazon',
  'ecs-exec-agents': '/managed-agents',
};

/**
 * The app container's memory limit: the task's, less what the writable-paths container takes when
 * there is one. A task memory given as a token cannot be reduced at synth, so the app container then
 * has no limit of its own and the task's applies (on Fargate the container limit is optional).
 */
function appMemoryMiB(taskMemoryMiB: number, withWritablePaths: boolean): number | undefined {
  if (!withWritablePaths) {
    return taskMemoryMiB;
  }
  return Token.isUnresolved(taskMemoryMiB) ? undefined : taskMemoryMiB - DEFAULTS.writablePathsMemoryMiB;
}

/** Whether `user` names root explicitly (a root app writes to root-owned volumes as they are). */
function runsAsRoot(user: string | undefined): boolean {
  if (user === undefined || Token.isUnresolved(user)) {
    return false;
  }
  const name = user.split(':')[0];
  return name === '0' || name === 'root';
}

/**
 * Makes the app's writable volumes writable for any user. A Fargate bind mount starts empty, owned by
 * root with mode 0755, unless the image declares a VOLUME at that path (ECS developer guide, bind mounts:
 * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/bind-mounts.html), so an app that runs as
 * a non-root user (its `user`, or its image's USER) could not write to `/tmp`. A container of the
 * task runs `chmod 1777` on them (world-writable with the sticky bit, as `/tmp` is on any Linux) and
 * exits; the app starts only once it succeeded (ContainerDependency SUCCESS). It needs root for the
 * chmod, has a read-only root filesystem and no port, and logs to the service's log group.
 */
function openWritablePaths(app: ecs.ContainerDefinition, logGroup: logs.ILogGroup, serviceName: string): void {
  const mounts = app.mountPoints.filter((m) => Object.keys(WRITABLE_PATHS).includes(m.sourceVolume));
  const opener = app.taskDefinition.addContainer('WritablePaths', {
    containerName: 'writable-paths',
    image: ecs.ContainerImage.fromRegistry(DEFAULTS.writablePathsImage),
    essential: false,
    user: '0',
    entryPoint: ['chmod', '1777', ...mounts.map((m) => m.containerPath)],
    readonlyRootFilesystem: true,
    memoryLimitMiB: DEFAULTS.writablePathsMemoryMiB,
    logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: `${serviceName}-writable-paths`, mode: ecs.AwsLogDriverMode.NON_BLOCKING }),
  });
  opener.addMountPoints(...mounts);
  app.addContainerDependencies({ container: opener, condition: ecs.ContainerDependencyCondition.SUCCESS });
}

/**
 * A non-root process may not bind a port below 1024. On Fargate (platform 1.4.0+) a task may set
 * any `net.*` kernel parameter of its network namespace (ECS API reference, SystemControl:
 * https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_SystemControl.html), so a service
 * that runs as a non-root `user` on such a port lowers `net.ipv4.ip_unprivileged_port_start` to it.
 */
function unprivilegedPortControls(user: string | undefined, containerPort: number): ecs.SystemControl[] | undefined {
  if (user === undefined || Token.isUnresolved(user) || Token.isUnresolved(containerPort) || containerPort >= 1024) {
    return undefined;
  }
  if (runsAsRoot(user)) {
    return undefined;
  }
  return [{ namespace: 'net.ipv4.ip_unprivileged_port_start', value: String(containerPort) }];
}

/**
 * The AWS CLI command that wakes a sleeping service: registering its scalable target with the
 * daytime minimum moves the task count into range at once
 * (https://docs.aws.amazon.com/autoscaling/application/APIReference/API_RegisterScalableTarget.html).
 * The next "Asleep" action puts it back to sleep.
 */
function wakeCommand(clusterName: string, serviceName: string, daytime: DaytimeCapacity): string {
  return 'aws application-autoscaling register-scalable-target --service-namespace ecs --scalable-dimension ecs:service:DesiredCount'
    + ` --resource-id service/${clusterName}/${serviceName} --min-capacity ${daytime.minCapacity} --max-capacity ${daytime.maxCapacity}`;
}

function validateServiceProps(scope: Construct, props: StagingServiceProps): void {
  validateServiceName(scope, props.serviceName);
  validateIntegerRange(scope, 'containerPort', props.containerPort, 1, 65535, 'use the port the container listens on');
  validateIntegerRange(scope, 'desiredCount', props.desiredCount, 0, 100, 'run 1-2 tasks in staging, or 0 to pause the service');
  validateIntegerRange(scope, 'maxImageCount', props.maxImageCount, 1, 1000, 'keep 1 to 1000 images');
  const newRepositoryOptions = [props.imageTagImmutable, props.maxImageCount, props.repositoryEncryptionKey];
  if (props.repository && newRepositoryOptions.some((option) => option !== undefined)) {
    throw new StagingValidationError(scope,
      'repository cannot be combined with imageTagImmutable, maxImageCount or repositoryEncryptionKey (got both); those configure a new repository: set them on the repository you bring, or drop repository');
  }
  validateTaskSize(scope, props);

  // spot with ARM64 is allowed: the ECS API reference (CapacityProviderStrategyItem, current) says
  // "FARGATE_SPOT supports Linux tasks with the ARM64 architecture on platform version 1.4.0 or later"
  // (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CapacityProviderStrategyItem.html);
  // the developer guide's older "X86_64 only" line predates it. Services run on LATEST (1.4.0).

  const path = props.healthCheckPath;
  if (path !== undefined && !Token.isUnresolved(path) && (!path.startsWith('/') || path.length > 1024)) {
    throw new StagingValidationError(scope, `healthCheckPath must start with '/' (got '${path}'); for example '/health'`);
  }

  validateIntegerRange(scope, 'deregistrationDelay (seconds)', props.deregistrationDelay?.toSeconds(), 0, 3600, 'the ALB accepts 0 to 3600 seconds (staging default: 30)');
  validateEnvironment(scope, props);
  if (props.autoScaling) {
    validateAutoScaling(scope, props.autoScaling, props.desiredCount);
  }
}

/** A Fargate task size: cpu and memoryLimitMiB, a valid pair. */
function validateTaskSize(scope: Construct, props: StagingServiceProps): void {
  const cpu = props.cpu ?? DEFAULTS.cpu;
  const memory = props.memoryLimitMiB ?? DEFAULTS.memoryLimitMiB;
  if (!Token.isUnresolved(cpu) && !Token.isUnresolved(memory)) {
    const valid = FARGATE_MEMORY_BY_CPU[cpu];
    if (!valid) {
      throw new StagingValidationError(scope, `cpu must be one of ${Object.keys(FARGATE_MEMORY_BY_CPU).join(', ')} (got ${cpu}); Fargate has no other task sizes`);
    }
    if (!valid.includes(memory)) {
      throw new StagingValidationError(scope,
        `memoryLimitMiB must be a valid Fargate pair with cpu ${cpu} (got ${memory}); with cpu ${cpu} use ${valid[0]} to ${valid[valid.length - 1]} (${valid.length > 6 ? `in steps of ${valid[1] - valid[0]}` : valid.join(', ')})`);
    }
  }
}

/** Plain environment variables: names the shell accepts, none reserved by the placeholder, none that look like a secret. */
function validateEnvironment(scope: Construct, props: StagingServiceProps): void {
  for (const key of Object.keys(props.environment ?? {})) {
    if (!props.image && Object.keys(placeholderEnvironment(0)).includes(key)) {
      throw new StagingValidationError(scope, `environment.${key} is set by the placeholder image this service starts with (got a reserved name); rename the variable, or pass image`);
    }
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      throw new StagingValidationError(scope, `environment keys must be letters, digits and underscores, not starting with a digit (got '${key}'); rename the variable, e.g. '${key.replace(/[^A-Za-z0-9_]/g, '_').replace(/^(\d)/, '_$1')}'`);
    }
    if (/(SECRET|PASSWORD|TOKEN|PRIVATE_KEY|API_KEY)/i.test(key)) {
      throw new StagingValidationError(scope, `environment.${key} looks like a secret (got a plain value); secrets do not belong in plain environment variables: pass it in secrets, e.g. secrets: { ${key}: StagingSecret.generate() } (Python: secrets={"${key}": StagingSecret.generate()})`);
    }
  }
}

/** Auto scaling's bounds and targets, and how desiredCount stands beside them. */
function validateAutoScaling(scope: Construct, scaling: StagingAutoScalingOptions, desired: number | undefined): void {
  validateIntegerRange(scope, 'autoScaling.minCapacity', scaling.minCapacity, 1, 1000, 'keep at least 1 task');
  validateIntegerRange(scope, 'autoScaling.maxCapacity', scaling.maxCapacity, 1, 1000, 'cap the tasks at 1 to 1000');
  const given = [desired, scaling.minCapacity, scaling.maxCapacity].every((n) => n === undefined || !Token.isUnresolved(n));
  // With autoScaling the template holds no DesiredCount (a deploy must not reset the scaler's
  // count): a new service starts with 1 task and the scalable target raises it to minCapacity.
  // desiredCount therefore stands for minCapacity, and the two may not disagree.
  if (given && desired !== undefined && scaling.minCapacity !== undefined && desired !== scaling.minCapacity) {
    throw new StagingValidationError(scope,
      `desiredCount (${desired}) and autoScaling.minCapacity (${scaling.minCapacity}) differ; with autoScaling the service runs minCapacity tasks until the scaler adds more: leave desiredCount out, or set it equal to minCapacity`);
  }
  if (desired === 0) {
    throw new StagingValidationError(scope,
      'desiredCount is 0 with autoScaling: a paused service does not scale; drop autoScaling while the service is paused, or set desiredCount to its minimum');
  }
  const min = scaling.minCapacity ?? desired ?? 1;
  if (given && min > scaling.maxCapacity) {
    const minProp = scaling.minCapacity !== undefined ? 'autoScaling.minCapacity' : 'desiredCount';
    throw new StagingValidationError(scope, `${minProp} (${min}) must not exceed autoScaling.maxCapacity (${scaling.maxCapacity}); raise maxCapacity or lower ${minProp}`);
  }
  validateIntegerRange(scope, 'autoScaling.targetCpuPercent', scaling.targetCpuPercent, 10, 95, 'target 10-95 % (60 suits staging)');
  validateIntegerRange(scope, 'autoScaling.targetMemoryPercent', scaling.targetMemoryPercent, 10, 95, 'target 10-95 %');
  validateIntegerRange(scope, 'autoScaling.targetRequestsPerTarget', scaling.targetRequestsPerTarget, 1, 1_000_000, 'use requests per target per minute');
}

/** Acknowledges what the service's own choices make inherent, each with its reason. */
function acknowledgeService(service: StagingService, props: StagingServiceProps, hasEnvironment: boolean): void {
  const policy = service.executionRole.node.tryFindChild('DefaultPolicy');
  if (policy) {
    Validations.of(policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken has no resource-level permissions and must be granted on *; every other statement of the execution role names its repository or log group.',
    });
  }
  acknowledgeTaskDefinition(service.taskDefinition, props, hasEnvironment);
  if (props.enableExecuteCommand) {
    const taskPolicy = service.taskRole.node.tryFindChild('DefaultPolicy');
    if (taskPolicy) {
      acknowledge(taskPolicy, {
        reason: 'enableExecuteCommand: ECS Exec needs ssmmessages:Create/OpenControlChannel and Create/OpenDataChannel, which have no resource-level permissions. Grant anything else to the task role on named resources.',
        nag: ['AwsSolutions-IAM5[Resource::*]'],
        checkov: ['CKV_AWS_111'],
      });
    }
  }
  if (props.assignPublicIp) {
    Validations.of(service.fargateService).acknowledge({
      id: `${GUARD}::ecs_service_assign_public_ip_disabled_check`,
      reason: 'NatStrategy.none() was chosen: without a NAT the tasks need public IPs to pull images and write logs. Their security group still admits the load balancer only. Pick a NAT strategy to run them without public IPs.',
    });
  }
  if (props.imageTagImmutable === false) {
    acknowledge(service.repository, {
      reason: 'Mutable tags were asked for (imageTagImmutable / image_tag_immutable false), so that a moving tag (e.g. staging) can be pushed again.',
      guard: ['ecr_private_tag_immutability_enabled_check'],
      checkov: ['CKV_AWS_51'],
    });
  }
}

/** The task definition's findings: a plain environment, the user the app runs as, a writable root filesystem. */
function acknowledgeTaskDefinition(taskDefinition: ecs.FargateTaskDefinition, props: StagingServiceProps, hasEnvironment: boolean): void {
  if (hasEnvironment) {
    Validations.of(taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason: 'The environment prop holds plain, non-secret configuration by contract (names that look like secrets are rejected at synth); secrets are injected from Secrets Manager, never as environment variables.',
    });
  }
  if (props.user === undefined) {
    Validations.of(taskDefinition).acknowledge({
      id: `${GUARD}::ecs_task_definition_nonroot_user_check`,
      reason: 'The container runs as the user its image declares, because many app images need theirs. Set user (e.g. \'1000\') to run as a named non-root user.',
    });
  } else if (taskDefinition.findContainer('writable-paths')) {
    Validations.of(taskDefinition).acknowledge({
      id: `${GUARD}::ecs_task_definition_nonroot_user_check`,
      reason: `The app runs as user ${props.user}. Only the writable-paths container runs as root, for one command (chmod 1777 /tmp) with a read-only root filesystem, and exits before the app starts: a Fargate volume is root-owned with mode 0755, and without it a non-root app could not write to /tmp. With readonlyRootFilesystem (readonly_root_filesystem) false there is no such container.`,
    });
  }
  if (props.readonlyRootFilesystem === false) {
    Validations.of(taskDefinition).acknowledge({
      id: `${GUARD}::ecs_containers_readonly_access_check`,
      reason: 'A writable root filesystem was asked for (readonlyRootFilesystem / readonly_root_filesystem false): the app writes outside /tmp. Prefer a writable volume for those paths and the read-only default.',
    });
  }
}
