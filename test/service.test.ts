import { CfnElement, Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { EcsStagingEnvironment, EcsStagingEnvironmentProps, NatStrategy, StagingService, StagingServiceOptions } from '../src';
import { testStack } from './harness/apps';

const NGINX = 'public.ecr.aws/nginx/nginx:1.27';
const SINGLE_TASK_WARNING = "Service 'web' runs 1 task: no redundancy, and a task replacement briefly leaves it with none healthy. "
  + 'Set desiredCount (desired_count): 2 for a redundant staging service. [ack: cdk-ecs-staging:single-task]';
/** What the placeholder (static-web-server) reads: the port, and maintenance mode answering 200 on every path. */
const PLACEHOLDER_ENVIRONMENT = (port: string) => [
  { Name: 'SERVER_PORT', Value: port },
  { Name: 'SERVER_MAINTENANCE_MODE', Value: 'true' },
  { Name: 'SERVER_MAINTENANCE_MODE_STATUS', Value: '200' },
];
const SINGLE_TASK_SCALING_WARNING = "Service 'web' runs 1 task: no redundancy, and a task replacement briefly leaves it with none healthy. "
  + 'Set autoScaling.minCapacity (min_capacity): 2 for a redundant staging service. [ack: cdk-ecs-staging:single-task]';

/** Synthesizes an environment with one service 'web' in a fresh env-specific stack. */
/**
 * Synthesizes an environment with one service 'web' in a fresh env-specific stack. `stack` and
 * `template` are the service's nested stack and its template; `parent` holds the environment.
 */
function synthService(options: StagingServiceOptions = {}, envProps: EcsStagingEnvironmentProps = {}) {
  const parent = testStack();
  const env = new EcsStagingEnvironment(parent, 'Staging', envProps);
  const web = env.addService('web', options);
  const stack = Stack.of(web);
  return { parent, stack, env, web, template: Template.fromStack(stack), parentTemplate: Template.fromStack(parent) };
}

/** The app container's definition. */
function containerOf(template: Template, name = 'app'): Record<string, any> {
  const [taskDefinition] = Object.values(template.findResources('AWS::ECS::TaskDefinition'));
  return taskDefinition.Properties.ContainerDefinitions.find((c: any) => c.Name === name);
}

/** The statements of every policy attached to `role`. */
function statementsOf(stack: Stack, template: Template, role: iam.IRole): Array<Record<string, any>> {
  const roleRef = JSON.stringify(stack.resolve(role.roleName));
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => p.Properties.Roles.some((r: unknown) => JSON.stringify(r) === roleRef))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
}

function logicalId(stack: Stack, construct: { node: { defaultChild?: unknown } }): string {
  return stack.getLogicalId(construct.node.defaultChild as CfnElement);
}

describe('StagingService', () => {
  describe('with the defaults', () => {
    let parent: Stack;
    let stack: Stack;
    let env: EcsStagingEnvironment;
    let web: StagingService;
    let template: Template;
    beforeAll(() => {
      // GIVEN / WHEN
      ({ parent, stack, env, web, template } = synthService());
    });

    test('applies the documented defaults', () => {
      // THEN: placeholder image through SSM, 512 CPU / 1024 MiB X86_64, port 80, read-only root, 1 task, /health, 30-day logs, 20 images kept
      expect(web.serviceName).toBe('web');
      expect(web.imageParameter).toBeDefined();
      expect(web.scalableTaskCount).toBeUndefined();
      template.resourceCountIs('AWS::ECR::Repository', 1);
      template.hasResourceProperties('AWS::ECR::Repository', { ImageScanningConfiguration: { ScanOnPush: true }, ImageTagMutability: 'IMMUTABLE' });
      template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30, KmsKeyId: Match.absent() });
      template.hasResourceProperties('AWS::ECS::TaskDefinition', {
        Cpu: '512',
        Memory: '1024',
        RuntimePlatform: { CpuArchitecture: 'X86_64', OperatingSystemFamily: 'LINUX' },
        RequiresCompatibilities: ['FARGATE'],
        NetworkMode: 'awsvpc',
      });
      expect(containerOf(template)).toMatchObject({
        Name: 'app',
        Essential: true,
        Image: { 'Fn::Join': ['', ['{{resolve:ssm:', { Ref: expect.stringMatching(/ImageParameter/) }, '}}']] },
        // The task's 1024 MiB less the 16 MiB of the container that opens /tmp.
        Memory: 1008,
        PortMappings: [{ ContainerPort: 80, Protocol: 'tcp', Name: 'http' }],
        ReadonlyRootFilesystem: true,
      });
      expect(containerOf(template).User).toBeUndefined();
      expect(containerOf(template).HealthCheck).toBeUndefined();
      template.hasResourceProperties('AWS::ECS::Service', {
        LaunchType: 'FARGATE',
        DesiredCount: 1,
        EnableExecuteCommand: false,
        HealthCheckGracePeriodSeconds: 60,
        PropagateTags: 'SERVICE',
        CapacityProviderStrategy: Match.absent(),
      });
      template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
        HealthCheckPath: '/health',
        Port: 80,
        TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: '30' }]),
      });
      template.resourceCountIs('AWS::ApplicationAutoScaling::ScalableTarget', 0);
    });

    test('opens /tmp to every user before the app starts: a Fargate bind mount is root-owned 0755', () => {
      const opener = containerOf(template, 'writable-paths');
      expect(opener).toMatchObject({
        Essential: false,
        User: '0',
        EntryPoint: ['chmod', '1777', '/tmp'],
        ReadonlyRootFilesystem: true,
        Memory: 16,
        MountPoints: [{ ContainerPath: '/tmp', SourceVolume: 'tmp', ReadOnly: false }],
        LogConfiguration: { LogDriver: 'awslogs' },
      });
      // The pinned placeholder image (Alpine: BusyBox's chmod), from a registry without pull quotas.
      expect(opener.Image).toBe('ghcr.io/static-web-server/static-web-server:2.44.0-alpine');
      expect(containerOf(template).DependsOn).toEqual([{ ContainerName: 'writable-paths', Condition: 'SUCCESS' }]);
      // The two containers fit the task's memory.
      expect(containerOf(template).Memory + opener.Memory).toBe(1024);
    });

    test('keeps images in an ECR repository that scans on push, has immutable tags and expires old images', () => {
      const [repository] = Object.values(template.findResources('AWS::ECR::Repository'));
      expect(JSON.parse(repository.Properties.LifecyclePolicy.LifecyclePolicyText)).toEqual({
        rules: [
          {
            rulePriority: 1,
            description: 'Expire untagged images after 7 days',
            selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countNumber: 7, countUnit: 'days' },
            action: { type: 'expire' },
          },
          {
            rulePriority: 2,
            description: 'Keep the last images',
            selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 20 },
            action: { type: 'expire' },
          },
        ],
      });
    });

    test('retains the repository and the log group when the stack is deleted', () => {
      template.hasResource('AWS::ECR::Repository', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
      template.hasResourceProperties('AWS::ECR::Repository', { EmptyOnDelete: Match.absent() });
      const logGroupId = logicalId(stack, web.logGroup);
      expect(template.toJSON().Resources[logGroupId]).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    });

    test('mounts the root filesystem read-only with a writable tmp volume at /tmp', () => {
      template.hasResourceProperties('AWS::ECS::TaskDefinition', { Volumes: [{ Name: 'tmp' }] });
      expect(containerOf(template)).toMatchObject({
        ReadonlyRootFilesystem: true,
        MountPoints: [{ ContainerPath: '/tmp', SourceVolume: 'tmp', ReadOnly: false }],
      });
    });

    test('writes the logs to its log group through a non-blocking awslogs driver prefixed with the service name', () => {
      expect(containerOf(template).LogConfiguration).toEqual({
        LogDriver: 'awslogs',
        Options: {
          'awslogs-group': stack.resolve(web.logGroup.logGroupName),
          'awslogs-stream-prefix': 'web',
          'awslogs-region': 'us-east-1',
          'mode': 'non-blocking',
          'max-buffer-size': '26214400b',
        },
      });
    });

    test('runs the placeholder image through the /staging/web/image-uri parameter until the pipeline writes it', () => {
      // The image parameter, and the service's manifest (published for validate).
      template.resourceCountIs('AWS::SSM::Parameter', 2);
      template.hasResourceProperties('AWS::SSM::Parameter', { Name: '/staging/web/image-uri', Type: 'String', Value: 'ghcr.io/static-web-server/static-web-server:2.44.0-alpine' });
      // Resolved through the parameter's Ref (its name), so only once the parameter exists.
      expect(containerOf(template).Image).toEqual({ 'Fn::Join': ['', ['{{resolve:ssm:', { Ref: logicalId(stack, web.imageParameter!) }, '}}']] });
      // Pinned: a change to any of these (but Tags) would write the placeholder back over the image the pipeline wrote.
      const [parameter] = Object.values(template.findResources('AWS::SSM::Parameter'));
      expect(Object.keys(parameter.Properties).sort()).toEqual(['Description', 'Name', 'Tags', 'Type', 'Value']);
      expect(parameter.Properties).toMatchObject({
        Description: 'Image URI of /staging/web: written by the delivery pipeline after each push to its ECR repository',
        Name: '/staging/web/image-uri',
        Type: 'String',
        Value: 'ghcr.io/static-web-server/static-web-server:2.44.0-alpine',
      });
      // The parameter exists before the task definition resolves it.
      template.hasResource('AWS::ECS::TaskDefinition', { DependsOn: Match.arrayWith([logicalId(stack, web.imageParameter!)]) });
      // The placeholder listens on the container port and answers 200 on every path; as uid 1000, it may bind port 80.
      expect(containerOf(template).Environment).toEqual(PLACEHOLDER_ENVIRONMENT('80'));
      expect(containerOf(template).SystemControls).toEqual([{ Namespace: 'net.ipv4.ip_unprivileged_port_start', Value: '80' }]);
    });

    test('rolls out with 100-200 % healthy tasks and a circuit breaker that rolls back', () => {
      template.hasResourceProperties('AWS::ECS::Service', {
        DeploymentConfiguration: Match.objectLike({
          MinimumHealthyPercent: 100,
          MaximumPercent: 200,
          DeploymentCircuitBreaker: { Enable: true, Rollback: true },
        }),
        HealthCheckGracePeriodSeconds: 60,
      });
    });

    test('runs one task and warns at synth that it has no redundancy', () => {
      template.hasResourceProperties('AWS::ECS::Service', { DesiredCount: 1 });
      Annotations.fromStack(parent).hasWarning('/Test/Staging/web/Service', SINGLE_TASK_WARNING);
    });

    test('runs the tasks in the private subnets without public IPs', () => {
      template.hasResourceProperties('AWS::ECS::Service', {
        NetworkConfiguration: {
          AwsvpcConfiguration: {
            AssignPublicIp: 'DISABLED',
            // The parent's private subnets and services security group, passed in as parameters of the service's nested stack.
            Subnets: env.network.vpc.privateSubnets.map(() => ({ Ref: Match.stringLikeRegexp('PrivateSubnet') })),
            SecurityGroups: [stack.resolve(web.securityGroup.securityGroupId), { Ref: Match.stringLikeRegexp('EdgeServicesSecurityGroup') }],
          },
        },
      });
    });

    test('admits only the load balancer, on the container port', () => {
      template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 1);
      template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
        GroupId: stack.resolve(web.securityGroup.securityGroupId),
        SourceSecurityGroupId: stack.resolve(env.edge.securityGroup.securityGroupId),
        IpProtocol: 'tcp',
        FromPort: 80,
        ToPort: 80,
      });
      template.hasResourceProperties('AWS::EC2::SecurityGroup', {
        GroupDescription: 'Tasks of /staging/web: admits the load balancer only',
        SecurityGroupIngress: Match.absent(),
      });
    });

    test('registers the tasks by IP in a target group that probes /health', () => {
      template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
        Protocol: 'HTTP',
        Port: 80,
        TargetType: 'ip',
        HealthCheckPath: '/health',
        HealthCheckIntervalSeconds: 10,
        HealthCheckTimeoutSeconds: 5,
        HealthyThresholdCount: 2,
        UnhealthyThresholdCount: 3,
        Matcher: { HttpCode: '200-299' },
        TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: '30' }]),
      });
      template.hasResourceProperties('AWS::ECS::Service', {
        LoadBalancers: [{ ContainerName: 'app', ContainerPort: 80, TargetGroupArn: stack.resolve(web.targetGroup.targetGroupArn) }],
      });
    });

    test('creates the service after its listener rule', () => {
      template.hasResource('AWS::ECS::Service', { DependsOn: Match.arrayWith([logicalId(stack, web.node.findChild('ListenerRule'))]) });
    });

    test('grants the execution role its log group and its repository, and * only for ecr:GetAuthorizationToken', () => {
      const statements = statementsOf(stack, template, web.executionRole);
      expect(statements.filter((s) => s.Resource === '*')).toEqual([{ Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' }]);
      expect(statements).toContainEqual({
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: stack.resolve(web.logGroup.logGroupArn),
      });
      expect(statements).toContainEqual({
        Effect: 'Allow',
        Action: ['ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage'],
        Resource: stack.resolve(web.repository.repositoryArn),
      });
      expect(statements).toHaveLength(3);
    });

    test('leaves the task role without any permission', () => {
      expect(statementsOf(stack, template, web.taskRole)).toEqual([]);
      const role = template.toJSON().Resources[logicalId(stack, web.taskRole)];
      expect(role.Properties.Policies).toBeUndefined();
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
      expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
        { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' } },
      ]);
    });
  });

  test('runs a given image directly, without the parameter or repository grants', () => {
    // GIVEN / WHEN
    const { stack, web, template } = synthService({ image: ecs.ContainerImage.fromRegistry(NGINX) });
    // THEN
    expect(containerOf(template).Image).toBe(NGINX);
    expect(containerOf(template).Environment).toBeUndefined();
    // The service's manifest only (published for validate).
    expect(Object.values(template.findResources('AWS::SSM::Parameter')).map((p) => p.Properties.Name)).toEqual(['/staging/web/service-manifest']);
    expect(web.imageParameter).toBeUndefined();
    const actions = statementsOf(stack, template, web.executionRole).flatMap((s) => [s.Action].flat());
    expect(actions).not.toContain('ecr:BatchGetImage');
  });

  test('pulls an image of its own repository with the repository grants', () => {
    const stack = testStack();
    const env = new EcsStagingEnvironment(stack, 'Staging');
    const other = env.addService('other', { pathPatterns: ['/other/*'] });
    const web = env.addService('web', { image: ecs.ContainerImage.fromEcrRepository(other.repository, 'v1') });
    const template = Template.fromStack(Stack.of(web));
    // The other service's repository, passed in from its nested stack through the parent.
    expect(statementsOf(Stack.of(web), template, web.executionRole)).toContainEqual(expect.objectContaining({
      Action: ['ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage'],
      Resource: { Ref: expect.stringMatching(/^referenceto.*otherServiceRepository.*Arn$/) },
    }));
  });

  test('keeps environment variables and tells the placeholder the container port', () => {
    // GIVEN / WHEN
    const { stack, env, web, template } = synthService({ containerPort: 8080, environment: { LOG_LEVEL: 'debug' } });
    // THEN
    expect(containerOf(template).Environment).toEqual([{ Name: 'LOG_LEVEL', Value: 'debug' }, ...PLACEHOLDER_ENVIRONMENT('8080')]);
    expect(containerOf(template).SystemControls).toBeUndefined();
    expect(containerOf(template).PortMappings).toEqual([{ ContainerPort: 8080, Protocol: 'tcp', Name: 'http' }]);
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', { Port: 8080 });
    template.hasResourceProperties('AWS::ECS::Service', { LoadBalancers: [Match.objectLike({ ContainerPort: 8080 })] });
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      SourceSecurityGroupId: stack.resolve(env.edge.securityGroup.securityGroupId),
      GroupId: stack.resolve(web.securityGroup.securityGroupId),
      FromPort: 8080,
      ToPort: 8080,
    });
  });

  test('runs on ARM64', () => {
    const { template } = synthService({ cpuArchitecture: ecs.CpuArchitecture.ARM64 });
    template.hasResourceProperties('AWS::ECS::TaskDefinition', { RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' } });
  });

  test('takes another valid Fargate size', () => {
    const { template } = synthService({ cpu: 1024, memoryLimitMiB: 3072 });
    template.hasResourceProperties('AWS::ECS::TaskDefinition', { Cpu: '1024', Memory: '3072' });
    expect(containerOf(template).Memory).toBe(3072 - 16);
  });

  test('opens /tmp for a non-root user, and gives the app the whole task without a read-only root filesystem', () => {
    const nonRoot = synthService({ user: '101' }).template;
    expect(containerOf(nonRoot).User).toBe('101');
    expect(containerOf(nonRoot, 'writable-paths').EntryPoint).toEqual(['chmod', '1777', '/tmp']);
    expect(containerOf(nonRoot).DependsOn).toEqual([{ ContainerName: 'writable-paths', Condition: 'SUCCESS' }]);
    // A root app writes to the root-owned volume as it is: no container runs before it.
    const root = synthService({ user: '0' }).template;
    expect(containerOf(root, 'writable-paths')).toBeUndefined();
    expect(containerOf(root).Memory).toBe(1024);
    // A task memory known only at deploy cannot be split at synth: the app container then takes the task's limit.
    const tokenMemory = synthService({ memoryLimitMiB: Token.asNumber({ Ref: 'TaskMemory' }) }).template;
    expect(containerOf(tokenMemory).Memory).toBeUndefined();
    expect(containerOf(tokenMemory, 'writable-paths').Memory).toBe(16);
    const writable = synthService({ readonlyRootFilesystem: false }).template;
    expect(containerOf(writable, 'writable-paths')).toBeUndefined();
    expect(containerOf(writable).Memory).toBe(1024);
  });

  test('mounts no volume with a writable root filesystem', () => {
    const { template } = synthService({ readonlyRootFilesystem: false });
    template.hasResourceProperties('AWS::ECS::TaskDefinition', { Volumes: Match.absent() });
    expect(containerOf(template).ReadonlyRootFilesystem).toBe(false);
    expect(containerOf(template).MountPoints).toBeUndefined();
  });

  test('runs as the given user', () => {
    const { template } = synthService({ user: '1000:1000' });
    expect(containerOf(template).User).toBe('1000:1000');
  });

  test('adds a container health check', () => {
    const { template } = synthService({ containerHealthCheck: { command: ['CMD-SHELL', 'wget -q -O- localhost/health || exit 1'] } });
    expect(containerOf(template).HealthCheck).toMatchObject({ Command: ['CMD-SHELL', 'wget -q -O- localhost/health || exit 1'] });
  });

  test('allows ECS Exec and gives the task role the channels it needs', () => {
    const { stack, web, template } = synthService({ enableExecuteCommand: true });
    template.hasResourceProperties('AWS::ECS::Service', { EnableExecuteCommand: true });
    const actions = statementsOf(stack, template, web.taskRole).flatMap((s) => [s.Action].flat());
    expect(actions).toEqual(expect.arrayContaining(['ssmmessages:CreateControlChannel', 'ssmmessages:OpenDataChannel']));
  });

  test('runs ARM64 tasks on Fargate Spot, which the ECS API reference documents for platform 1.4.0', () => {
    const { template } = synthService({ spot: true, cpuArchitecture: ecs.CpuArchitecture.ARM64 });
    template.hasResourceProperties('AWS::ECS::TaskDefinition', { RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' } });
    template.hasResourceProperties('AWS::ECS::Service', { CapacityProviderStrategy: [{ CapacityProvider: 'FARGATE_SPOT', Weight: 1 }] });
  });

  test('gives the ECS Exec agent writable paths on the read-only root filesystem', () => {
    // GIVEN / WHEN
    const { template } = synthService({ enableExecuteCommand: true });
    // THEN: the agent ECS injects writes its state, logs and binaries; a read-only root without these kills it
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      Volumes: [{ Name: 'tmp' }, { Name: 'ecs-exec-lib' }, { Name: 'ecs-exec-log' }, { Name: 'ecs-exec-agents' }],
    });
    expect(containerOf(template).ReadonlyRootFilesystem).toBe(true);
    expect(containerOf(template).MountPoints).toEqual([
      { ContainerPath: '/tmp', SourceVolume: 'tmp', ReadOnly: false },
      { ContainerPath: '/var/lib/amazon', SourceVolume: 'ecs-exec-lib', ReadOnly: false },
      { ContainerPath: '/var/log/amazon', SourceVolume: 'ecs-exec-log', ReadOnly: false },
      { ContainerPath: '/managed-agents', SourceVolume: 'ecs-exec-agents', ReadOnly: false },
    ]);
  });

  test('gives ECS Exec no extra volume on a writable root filesystem', () => {
    const { template } = synthService({ enableExecuteCommand: true, readonlyRootFilesystem: false });
    template.hasResourceProperties('AWS::ECS::TaskDefinition', { Volumes: Match.absent() });
  });

  test('lets a non-root user bind a port below 1024 through the unprivileged-port kernel parameter', () => {
    const { template } = synthService({ user: '101', containerPort: 80 });
    expect(containerOf(template).SystemControls).toEqual([{ Namespace: 'net.ipv4.ip_unprivileged_port_start', Value: '80' }]);
  });

  test.each([
    ['root on port 80', { user: '0:0', containerPort: 80 }],
    ['a non-root user on port 1024', { user: '1000', containerPort: 1024 }],
    ['an image of the user\'s own, with its user', { containerPort: 80, image: ecs.ContainerImage.fromRegistry('public.ecr.aws/nginx/nginx:1.27') }],
  ])('sets no kernel parameter for %s', (_, options) => {
    const { template } = synthService(options);
    expect(containerOf(template).SystemControls).toBeUndefined();
  });

  test('runs on Fargate Spot', () => {
    const { template, parentTemplate } = synthService({ spot: true });
    template.hasResourceProperties('AWS::ECS::Service', {
      CapacityProviderStrategy: [{ CapacityProvider: 'FARGATE_SPOT', Weight: 1 }],
      LaunchType: Match.absent(),
    });
    // The capacity providers are associated with the cluster before the service uses one: the service's nested stack waits for them.
    const [association] = Object.keys(parentTemplate.findResources('AWS::ECS::ClusterCapacityProviderAssociations'));
    parentTemplate.hasResource('AWS::CloudFormation::Stack', { DependsOn: Match.arrayWith([association]) });
  });

  test('takes the health check path, grace period, deregistration delay and two tasks without a warning', () => {
    // GIVEN / WHEN
    const { parent, template } = synthService({
      healthCheckPath: '/healthz',
      healthCheckGracePeriod: Duration.seconds(120),
      deregistrationDelay: Duration.seconds(5),
      desiredCount: 2,
    });
    // THEN
    template.hasResourceProperties('AWS::ECS::Service', { DesiredCount: 2, HealthCheckGracePeriodSeconds: 120 });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      HealthCheckPath: '/healthz',
      TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: '5' }]),
    });
    Annotations.fromStack(parent).hasNoWarning('*', Match.stringLikeRegexp('cdk-ecs-staging:single-task'));
  });

  test('takes mutable tags, another image count and another log retention', () => {
    const { template } = synthService({ imageTagImmutable: false, maxImageCount: 5, logRetention: logs.RetentionDays.TWO_WEEKS });
    template.hasResourceProperties('AWS::ECR::Repository', { ImageTagMutability: 'MUTABLE' });
    const [repository] = Object.values(template.findResources('AWS::ECR::Repository'));
    expect(JSON.parse(repository.Properties.LifecyclePolicy.LifecyclePolicyText).rules[1].selection.countNumber).toBe(5);
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 14, KmsKeyId: Match.absent() });
  });

  test('encrypts the log group with a given key and no longer acknowledges CT.CLOUDWATCH.PR.3', () => {
    // GIVEN
    const stack = testStack();
    const key = new kms.Key(stack, 'LogKey', { enableKeyRotation: true });
    // WHEN
    const web = new EcsStagingEnvironment(stack, 'Staging').addService('web', { logEncryptionKey: key, logRetention: logs.RetentionDays.ONE_YEAR });
    // THEN
    Template.fromStack(Stack.of(web)).hasResourceProperties('AWS::Logs::LogGroup', {
      KmsKeyId: { Ref: 'referencetoTestLogKeyC87D4BACArn' },
      RetentionInDays: 365,
    });
    const acknowledged = web.logGroup.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY);
    expect(acknowledged).toEqual([]);
  });

  test('runs from a repository retained from an earlier environment', () => {
    // GIVEN: the repository a deleted environment left behind
    const stack = testStack();
    const retained = ecr.Repository.fromRepositoryName(stack, 'Retained', 'staging-web-retained');
    // WHEN
    const web = new EcsStagingEnvironment(stack, 'Staging').addService('web', { repository: retained });
    // THEN: no new repository, and the execution role may pull from the retained one
    const template = Template.fromStack(Stack.of(web));
    template.resourceCountIs('AWS::ECR::Repository', 0);
    expect(web.repository).toBe(retained);
    const pull = statementsOf(Stack.of(web), template, web.executionRole).find((st) => JSON.stringify(st.Action).includes('ecr:BatchGetImage'));
    expect(JSON.stringify(pull?.Resource)).toContain('repository/staging-web-retained');
  });

  test('encrypts a new repository with the key given, and then needs no checkov skip', () => {
    const stack = testStack();
    const key = kms.Key.fromKeyArn(stack, 'RepoKey', 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555');
    const web = new EcsStagingEnvironment(stack, 'Staging').addService('web', { repositoryEncryptionKey: key });
    Template.fromStack(Stack.of(web)).hasResource('AWS::ECR::Repository', {
      Properties: Match.objectLike({ EncryptionConfiguration: { EncryptionType: 'KMS', KmsKey: Match.anyValue() } }),
      Metadata: Match.absent(),
    });
  });

  test('fails when a brought repository is combined with options of a new one', () => {
    const stack = testStack();
    const retained = ecr.Repository.fromRepositoryName(stack, 'Retained', 'staging-web-retained');
    expect(() => new EcsStagingEnvironment(stack, 'Staging').addService('web', { repository: retained, maxImageCount: 5 })).toThrow(
      'Test/Staging/web/Service: repository cannot be combined with imageTagImmutable, maxImageCount or repositoryEncryptionKey (got both); those configure a new repository: '
      + 'set them on the repository you bring, or drop repository');
  });

  test('names the image parameter after the environment', () => {
    const { template } = synthService({}, { environmentName: 'qa-2' });
    template.hasResourceProperties('AWS::SSM::Parameter', { Name: '/qa-2/web/image-uri' });
    expect(JSON.stringify(containerOf(template).Image)).toMatch(/\{\{resolve:ssm:.*ImageParameter/);
  });

  test('gives the tasks public IPs in the public subnets under NatStrategy.none()', () => {
    // GIVEN / WHEN
    const { stack, env, template } = synthService({}, { network: { natStrategy: NatStrategy.none() } });
    // THEN
    template.hasResourceProperties('AWS::ECS::Service', {
      NetworkConfiguration: {
        AwsvpcConfiguration: Match.objectLike({
          AssignPublicIp: 'ENABLED',
          Subnets: stack.resolve(env.network.vpc.publicSubnets.map((s) => s.subnetId)),
        }),
      },
    });
  });

  test('deletes the repository with its images and the log group when ephemeral', () => {
    const { stack, web, template } = synthService({}, { ephemeral: true });
    template.hasResource('AWS::ECR::Repository', { DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete', Properties: Match.objectLike({ EmptyOnDelete: true }) });
    expect(template.toJSON().Resources[logicalId(stack, web.logGroup)]).toMatchObject({ DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
  });

  describe('with autoScaling', () => {
    let parent: Stack;
    let web: StagingService;
    let template: Template;
    beforeAll(() => {
      ({ parent, web, template } = synthService({
        autoScaling: { minCapacity: 2, maxCapacity: 6, targetMemoryPercent: 70, targetRequestsPerTarget: 500 },
      }));
    });

    test('scales the desired count between minCapacity and maxCapacity', () => {
      template.resourceCountIs('AWS::ApplicationAutoScaling::ScalableTarget', 1);
      template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
        MinCapacity: 2,
        MaxCapacity: 6,
        ScalableDimension: 'ecs:service:DesiredCount',
        ServiceNamespace: 'ecs',
        // No RoleARN: Application Auto Scaling uses (and in a new account creates) its ECS service-linked role itself.
        RoleARN: Match.absent(),
      });
      expect(web.scalableTaskCount).toBeDefined();
    });

    test('tracks 60 % CPU, and the memory and requests asked for', () => {
      template.resourceCountIs('AWS::ApplicationAutoScaling::ScalingPolicy', 3);
      const tracking = (metric: string, value: number, extra: Record<string, unknown> = {}) => ({
        PolicyType: 'TargetTrackingScaling',
        TargetTrackingScalingPolicyConfiguration: Match.objectLike({
          PredefinedMetricSpecification: { PredefinedMetricType: metric, ...extra },
          TargetValue: value,
        }),
      });
      template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', tracking('ECSServiceAverageCPUUtilization', 60));
      template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', tracking('ECSServiceAverageMemoryUtilization', 70));
      template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy',
        tracking('ALBRequestCountPerTarget', 500, { ResourceLabel: Match.anyValue() }));
    });

    test('leaves the desired count to the scaler, without a warning', () => {
      template.hasResourceProperties('AWS::ECS::Service', { DesiredCount: Match.absent() });
      Annotations.fromStack(parent).hasNoWarning('*', Match.stringLikeRegexp('cdk-ecs-staging:single-task'));
    });
  });

  test('starts at desiredCount with autoScaling: desiredCount stands for minCapacity', () => {
    // GIVEN / WHEN: the README's Python example, desired_count=2 and max_capacity=4
    const { parent, template } = synthService({ desiredCount: 2, autoScaling: { maxCapacity: 4 } });
    // THEN: the scaler keeps at least 2 tasks (a new service without DesiredCount starts with 1, and the scalable target raises it to its minimum)
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 2, MaxCapacity: 4 });
    template.hasResourceProperties('AWS::ECS::Service', { DesiredCount: Match.absent() });
    Annotations.fromStack(parent).hasNoWarning('*', Match.stringLikeRegexp('cdk-ecs-staging:single-task'));
  });

  test('scales on CPU only, from 1 task, by default, and warns that 1 task has no redundancy', () => {
    const { parent, template } = synthService({ autoScaling: { maxCapacity: 3, targetCpuPercent: 75 } });
    Annotations.fromStack(parent).hasWarning('/Test/Staging/web/Service', SINGLE_TASK_SCALING_WARNING);
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 1, MaxCapacity: 3 });
    template.resourceCountIs('AWS::ApplicationAutoScaling::ScalingPolicy', 1);
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({ TargetValue: 75 }),
    });
    template.hasResourceProperties('AWS::ECS::Service', { DesiredCount: Match.absent() });
  });

  describe('fails at synth on bad input', () => {
    function addWeb(options: StagingServiceOptions) {
      return () => new EcsStagingEnvironment(testStack(), 'Staging').addService('web', options);
    }

    test.each(['Web', '1web', 'web-', 'abcdefghijklmnopqrstuvwxy', 'web_app'])('fails when the service name is %p', (name) => {
      const env = new EcsStagingEnvironment(testStack(), 'Staging');
      expect(() => env.addService(name)).toThrow(
        `service name must be 1-24 lowercase letters, digits and hyphens, start with a letter and not end with a hyphen (got '${name}'); `
        + 'it is used in DNS-safe and target-group names');
    });

    // validateServiceProps runs, so the user gets no prop, value or fix. Validate the name in addService before `new StagingService`.
    test('fails when the service name is empty', () => {
      const env = new EcsStagingEnvironment(testStack(), 'Staging');
      expect(() => env.addService('')).toThrow(
        "service name must be 1-24 lowercase letters, digits and hyphens, start with a letter and not end with a hyphen (got ''); "
        + 'it is used in DNS-safe and target-group names');
    });

    test('rejects the name on the environment, before any construct is made', () => {
      const env = new EcsStagingEnvironment(testStack(), 'Staging');
      expect(() => env.addService('Web')).toThrow(/^\[cdk-ecs-staging\] Test\/Staging: service name must be .*\(got 'Web'\)/);
      expect(env.node.tryFindChild('Web')).toBeUndefined();
    });

    test('accepts a 24-character name', () => {
      const env = new EcsStagingEnvironment(testStack(), 'Staging');
      expect(env.addService('abcdefghijklmnopqrstuvwx').serviceName).toHaveLength(24);
    });

    test.each([0, 70000, 80.5])('fails when containerPort is %p', (containerPort) => {
      expect(addWeb({ containerPort })).toThrow(
        `Test/Staging/web/Service: containerPort must be an integer from 1 to 65535 (got ${containerPort}); use the port the container listens on`);
    });

    test('fails when cpu is not a Fargate size', () => {
      expect(addWeb({ cpu: 300 })).toThrow(
        'Test/Staging/web/Service: cpu must be one of 256, 512, 1024, 2048, 4096, 8192, 16384 (got 300); Fargate has no other task sizes');
    });

    test('fails when memoryLimitMiB does not pair with cpu', () => {
      expect(addWeb({ cpu: 1024, memoryLimitMiB: 512 })).toThrow(
        'Test/Staging/web/Service: memoryLimitMiB must be a valid Fargate pair with cpu 1024 (got 512); with cpu 1024 use 2048 to 8192 (in steps of 1024)');
      expect(addWeb({ cpu: 256, memoryLimitMiB: 4096 })).toThrow(
        'Test/Staging/web/Service: memoryLimitMiB must be a valid Fargate pair with cpu 256 (got 4096); with cpu 256 use 512 to 2048 (512, 1024, 2048)');
      expect(addWeb({ memoryLimitMiB: 512 })).toThrow(
        'Test/Staging/web/Service: memoryLimitMiB must be a valid Fargate pair with cpu 512 (got 512); with cpu 512 use 1024 to 4096 (1024, 2048, 3072, 4096)');
    });

    test('fails when desiredCount is negative (0 pauses the service)', () => {
      expect(addWeb({ desiredCount: -1 })).toThrow(
        'Test/Staging/web/Service: desiredCount must be an integer from 0 to 100 (got -1); run 1-2 tasks in staging, or 0 to pause the service [Python: desired_count]');
    });

    test('fails when deregistrationDelay exceeds what the ALB accepts', () => {
      expect(addWeb({ deregistrationDelay: Duration.seconds(3601) })).toThrow(
        'Test/Staging/web/Service: deregistrationDelay (seconds) must be an integer from 0 to 3600 (got 3601); the ALB accepts 0 to 3600 seconds (staging default: 30)');
    });

    test.each([
      ['LOG-LEVEL', 'LOG_LEVEL'],
      ['1X', '_1X'],
      ['', ''],
    ])('fails when an environment key is %p', (key, fixed) => {
      expect(addWeb({ environment: { [key]: 'x' } })).toThrow(
        `Test/Staging/web/Service: environment keys must be letters, digits and underscores, not starting with a digit (got '${key}'); rename the variable, e.g. '${fixed}'`);
    });

    test('fails when healthCheckPath does not start with /', () => {
      expect(addWeb({ healthCheckPath: 'health' })).toThrow(
        "Test/Staging/web/Service: healthCheckPath must start with '/' (got 'health'); for example '/health'");
    });

    test.each(['DB_PASSWORD', 'api_key', 'GITHUB_TOKEN', 'JWT_SECRET'])('fails when environment has %p', (key) => {
      expect(addWeb({ environment: { LOG_LEVEL: 'debug', [key]: 'hunter2' } })).toThrow(
        `Test/Staging/web/Service: environment.${key} looks like a secret (got a plain value); secrets do not belong in plain environment variables: `
        + `pass it in secrets, e.g. secrets: { ${key}: StagingSecret.generate() } (Python: secrets={"${key}": StagingSecret.generate()})`);
    });

    test('fails when environment sets a variable the placeholder reads', () => {
      expect(addWeb({ environment: { SERVER_PORT: '9000' } })).toThrow(
        'Test/Staging/web/Service: environment.SERVER_PORT is set by the placeholder image this service starts with (got a reserved name); rename the variable, or pass image');
    });

    test('fails when autoScaling.minCapacity exceeds maxCapacity', () => {
      expect(addWeb({ autoScaling: { minCapacity: 3, maxCapacity: 2 } })).toThrow(
        'Test/Staging/web/Service: autoScaling.minCapacity (3) must not exceed autoScaling.maxCapacity (2); raise maxCapacity or lower autoScaling.minCapacity');
    });

    test.each([1, 5])('fails when desiredCount %p disagrees with autoScaling.minCapacity 2', (desiredCount) => {
      expect(addWeb({ desiredCount, autoScaling: { minCapacity: 2, maxCapacity: 4 } })).toThrow(
        `Test/Staging/web/Service: desiredCount (${desiredCount}) and autoScaling.minCapacity (2) differ; with autoScaling the service runs minCapacity tasks `
        + 'until the scaler adds more: leave desiredCount out, or set it equal to minCapacity');
    });

    test('fails when desiredCount, standing for minCapacity, exceeds autoScaling.maxCapacity', () => {
      expect(addWeb({ desiredCount: 5, autoScaling: { maxCapacity: 4 } })).toThrow(
        'Test/Staging/web/Service: desiredCount (5) must not exceed autoScaling.maxCapacity (4); raise maxCapacity or lower desiredCount');
    });

    test.each([5, 96])('fails when autoScaling.targetCpuPercent is %p', (targetCpuPercent) => {
      expect(addWeb({ autoScaling: { maxCapacity: 2, targetCpuPercent } })).toThrow(
        `Test/Staging/web/Service: autoScaling.targetCpuPercent must be an integer from 10 to 95 (got ${targetCpuPercent}); target 10-95 % (60 suits staging) [Python: auto_scaling.target_cpu_percent]`);
    });

    test('fails when autoScaling.maxCapacity is 0', () => {
      expect(addWeb({ autoScaling: { maxCapacity: 0 } })).toThrow(
        'Test/Staging/web/Service: autoScaling.maxCapacity must be an integer from 1 to 1000 (got 0); cap the tasks at 1 to 1000');
    });

    test('fails when a service name is added twice', () => {
      const env = new EcsStagingEnvironment(testStack(), 'Staging');
      env.addService('web');
      expect(() => env.addService('web', { pathPatterns: ['/other/*'] })).toThrow(
        "Test/Staging: service 'web' is added twice (got a duplicate name); give each service a unique name");
    });

    test('fails when environmentName is not lowercase letters, digits and hyphens', () => {
      expect(() => new EcsStagingEnvironment(testStack(), 'Staging', { environmentName: 'Staging_1' })).toThrow(
        "Test/Staging: environmentName must be 1-16 lowercase letters, digits and hyphens, start with a letter and not end with a hyphen (got 'Staging_1'); "
        + "for example 'staging'");
    });
  });
});
