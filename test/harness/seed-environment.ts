/**
 * Builds, in moto, what an environment's template creates and what `validate` reads: the VPC (public
 * and private subnets in 2 AZs, route tables, internet and NAT gateway), the load balancer with its
 * listeners, rules and target groups (targets registered), the ECS cluster and services, the ECR
 * repositories and images, parameters, secrets, log groups with events, the alarm topic with a
 * subscription, alarms, the execution roles, the stack, and the parameters the environment publishes
 * (src/private/published.ts). The names follow the environment's name, so that several environments
 * live side by side in one moto server; a test breaks one of them the way a check guards against.
 */
import { ACMClient, RequestCertificateCommand } from '@aws-sdk/client-acm';
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, PutMetricAlarmCommand } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import {
  AllocateAddressCommand, AssociateRouteTableCommand, AttachInternetGatewayCommand, CreateInternetGatewayCommand, CreateNatGatewayCommand,
  CreateRouteCommand, CreateRouteTableCommand, CreateSecurityGroupCommand, CreateSubnetCommand, CreateVpcCommand, EC2Client,
} from '@aws-sdk/client-ec2';
import { CreateRepositoryCommand, ECRClient, PutImageCommand } from '@aws-sdk/client-ecr';
import { CreateClusterCommand, CreateServiceCommand, ECSClient, RegisterTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import {
  CreateListenerCommand, CreateLoadBalancerCommand, CreateRuleCommand, CreateTargetGroupCommand, ElasticLoadBalancingV2Client, RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { FAKE_CREDENTIALS, MOTO_ACCOUNT, MOTO_REGION } from './moto';
import { PUBLISHED_SCHEMA_VERSION, ServiceManifest, environmentParameterName, serviceManifestParameterName } from '../../src/private/published-names';

/** The SDK clients the seeding (and the breaking) uses, all pointed at moto. */
export function motoClients(endpoint: string) {
  const config = { endpoint, region: MOTO_REGION, credentials: FAKE_CREDENTIALS };
  return {
    acm: new ACMClient(config),
    cloudformation: new CloudFormationClient(config),
    cloudwatch: new CloudWatchClient(config),
    logs: new CloudWatchLogsClient(config),
    ec2: new EC2Client(config),
    ecr: new ECRClient(config),
    ecs: new ECSClient(config),
    elb: new ElasticLoadBalancingV2Client(config),
    iam: new IAMClient(config),
    secretsManager: new SecretsManagerClient(config),
    sns: new SNSClient(config),
    ssm: new SSMClient(config),
  };
}
export type MotoClients = ReturnType<typeof motoClients>;

/** A service to seed. */
export interface SeedService {
  readonly name: string;
  /** @default 2 (moto's running count: see startMoto) */
  readonly desiredCount?: number;
  /** Working hours, as the service manifest holds them. @default - around the clock */
  readonly workingHours?: { startMinutes: number; endMinutes: number; days: string[]; timeZone: string };
  /** Write an event to its log group after the service starts. @default true */
  readonly logEvents?: boolean;
  /** The target group's health check path. @default '/health' */
  readonly healthCheckPath?: string;
  /** The listener rule's path patterns. @default - by host with a domain, else `/<name>/*` */
  readonly pathPatterns?: string[];
}

export interface SeedOptions {
  readonly name: string;
  /** Serve HTTPS on this domain; services get `<service>.<domain>`. @default - HTTP only, services by path */
  readonly domain?: string;
  readonly services: SeedService[];
  /** Subscribe an email address to the alarm topic. @default true */
  readonly subscription?: boolean;
  /** The manifest's vpcImported. @default false */
  readonly vpcImported?: boolean;
}

export interface SeededService {
  readonly name: string;
  readonly ecsServiceName: string;
  readonly targetGroupArn: string;
  readonly repositoryName: string;
  readonly imageUri: string;
  readonly imageParameterName: string;
  readonly secretArn: string;
  readonly parameterName: string;
  readonly logGroupName: string;
  readonly executionRoleArn: string;
  readonly alarmName: string;
  readonly host: string;
}

export interface SeededEnvironment {
  readonly name: string;
  readonly stackName: string;
  readonly vpcId: string;
  readonly publicSubnetIds: string[];
  readonly privateSubnetIds: string[];
  readonly clusterName: string;
  readonly topicArn: string;
  readonly subscriptionArn?: string;
  readonly services: { [name: string]: SeededService };
}

const AZS = [`${MOTO_REGION}a`, `${MOTO_REGION}b`];
const PORT = 8080;
const HEALTH_PATH = '/health';

/** A Docker image manifest (schema 2), as `docker push` writes it. */
function imageManifest(seed: string): string {
  const digest = (n: number) => `sha256:${(seed + n).padEnd(64, '0').replace(/[^0-9a-f]/g, 'a').slice(0, 64)}`;
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: 1000, digest: digest(1) },
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: 2000, digest: digest(2) }],
  });
}

export async function seedEnvironment(aws: MotoClients, options: SeedOptions): Promise<SeededEnvironment> {
  const env = options.name;
  const stackName = `${env}-stack`;

  // The network: 2 public and 2 private subnets, one NAT gateway (SINGLE_GATEWAY).
  const vpcId = (await aws.ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }))).Vpc!.VpcId!;
  const igw = (await aws.ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway!.InternetGatewayId!;
  await aws.ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpcId }));
  const subnet = async (cidr: string, az: string) =>
    (await aws.ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: cidr, AvailabilityZone: az }))).Subnet!.SubnetId!;
  const publicSubnetIds = await Promise.all(AZS.map((az, i) => subnet(`10.0.${i}.0/24`, az)));
  const privateSubnetIds = await Promise.all(AZS.map((az, i) => subnet(`10.0.${i + 2}.0/24`, az)));
  const publicTable = (await aws.ec2.send(new CreateRouteTableCommand({ VpcId: vpcId }))).RouteTable!.RouteTableId!;
  await aws.ec2.send(new CreateRouteCommand({ RouteTableId: publicTable, DestinationCidrBlock: '0.0.0.0/0', GatewayId: igw }));
  for (const id of publicSubnetIds) await aws.ec2.send(new AssociateRouteTableCommand({ RouteTableId: publicTable, SubnetId: id }));
  const eip = (await aws.ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }))).AllocationId!;
  const nat = (await aws.ec2.send(new CreateNatGatewayCommand({ SubnetId: publicSubnetIds[0], AllocationId: eip }))).NatGateway!.NatGatewayId!;
  for (const id of privateSubnetIds) {
    const table = (await aws.ec2.send(new CreateRouteTableCommand({ VpcId: vpcId }))).RouteTable!.RouteTableId!;
    await aws.ec2.send(new CreateRouteCommand({ RouteTableId: table, DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: nat }));
    await aws.ec2.send(new AssociateRouteTableCommand({ RouteTableId: table, SubnetId: id }));
  }
  const lbGroup = (await aws.ec2.send(new CreateSecurityGroupCommand({ VpcId: vpcId, GroupName: `${env}-lb`, Description: 'load balancer' }))).GroupId!;
  const servicesGroup = (await aws.ec2.send(new CreateSecurityGroupCommand({ VpcId: vpcId, GroupName: `${env}-services`, Description: 'services' }))).GroupId!;

  // The edge.
  const lb = (await aws.elb.send(new CreateLoadBalancerCommand({ Name: `${env}-lb`, Subnets: publicSubnetIds, SecurityGroups: [lbGroup], Scheme: 'internet-facing', Type: 'application' }))).LoadBalancers![0];
  let listenerArn: string;
  if (options.domain) {
    const certificateArn = (await aws.acm.send(new RequestCertificateCommand({ DomainName: options.domain, SubjectAlternativeNames: [`*.${options.domain}`], ValidationMethod: 'DNS' }))).CertificateArn!;
    listenerArn = (await aws.elb.send(new CreateListenerCommand({
      LoadBalancerArn: lb.LoadBalancerArn,
      Port: 443,
      Protocol: 'HTTPS',
      Certificates: [{ CertificateArn: certificateArn }],
      DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404', ContentType: 'text/plain' } }],
    }))).Listeners![0].ListenerArn!;
    await aws.elb.send(new CreateListenerCommand({
      LoadBalancerArn: lb.LoadBalancerArn,
      Port: 80,
      Protocol: 'HTTP',
      DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' } }],
    }));
  } else {
    listenerArn = (await aws.elb.send(new CreateListenerCommand({
      LoadBalancerArn: lb.LoadBalancerArn,
      Port: 80,
      Protocol: 'HTTP',
      DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404', ContentType: 'text/plain' } }],
    }))).Listeners![0].ListenerArn!;
  }

  // Observability: the alarm topic and a subscriber.
  const topicArn = (await aws.sns.send(new CreateTopicCommand({ Name: `${env}-alarms` }))).TopicArn!;
  const subscriptionArn = options.subscription ?? true
    ? (await aws.sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'email', Endpoint: 'team@example.com' }))).SubscriptionArn
    : undefined;

  const clusterName = `${env}-cluster`;
  await aws.ecs.send(new CreateClusterCommand({ clusterName }));

  const services: { [name: string]: SeededService } = {};
  await Promise.all(options.services.map(async (service, index) => {
    const name = service.name;
    const host = options.domain ? `${name}.${options.domain}` : lb.DNSName!;
    const targetGroupArn = (await aws.elb.send(new CreateTargetGroupCommand({
      Name: `${env}-${name}`.slice(0, 32),
      Protocol: 'HTTP',
      Port: PORT,
      VpcId: vpcId,
      TargetType: 'ip',
      HealthCheckPath: service.healthCheckPath ?? HEALTH_PATH,
      HealthCheckPort: 'traffic-port',
      Matcher: { HttpCode: '200-299' },
    }))).TargetGroups![0].TargetGroupArn!;
    await aws.elb.send(new RegisterTargetsCommand({ TargetGroupArn: targetGroupArn, Targets: [{ Id: `10.0.2.${10 + index}`, Port: PORT }, { Id: `10.0.3.${10 + index}`, Port: PORT }] }));
    await aws.elb.send(new CreateRuleCommand({
      ListenerArn: listenerArn,
      Priority: index + 1,
      Conditions: service.pathPatterns
        ? [...options.domain ? [{ Field: 'host-header', Values: [host] }] : [], { Field: 'path-pattern', Values: service.pathPatterns }]
        : options.domain ? [{ Field: 'host-header', Values: [host] }] : [{ Field: 'path-pattern', Values: [`/${name}/*`] }],
      Actions: [{ Type: 'forward', TargetGroupArn: targetGroupArn }],
    }));

    const repositoryName = `${env}-${name}`;
    const registry = (await aws.ecr.send(new CreateRepositoryCommand({ repositoryName }))).repository!;
    await aws.ecr.send(new PutImageCommand({ repositoryName, imageManifest: imageManifest(`${env}${name}`), imageTag: 'v1' }));
    const imageUri = `${registry.repositoryUri}:v1`;

    const executionRoleArn = (await aws.iam.send(new CreateRoleCommand({
      RoleName: `${env}-${name}-execution`,
      AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:AssumeRole' }] }),
    }))).Role!.Arn!;
    const logGroupName = `${env}-${name}-logs`;
    await aws.logs.send(new CreateLogGroupCommand({ logGroupName }));
    const parameterName = `/${env}/${name}/API_KEY`;
    await aws.ssm.send(new PutParameterCommand({ Name: parameterName, Type: 'SecureString', Value: 'key' }));
    const imageParameterName = `/${env}/${name}/image-uri`;
    await aws.ssm.send(new PutParameterCommand({ Name: imageParameterName, Type: 'String', Value: imageUri }));
    const secretArn = (await aws.secretsManager.send(new CreateSecretCommand({ Name: `${env}/${name}/db`, SecretString: 'password' }))).ARN!;
    await aws.iam.send(new PutRolePolicyCommand({
      RoleName: `${env}-${name}-execution`,
      PolicyName: 'execution',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: ['ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage'], Resource: registry.repositoryArn },
          { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
          { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: `arn:aws:logs:${MOTO_REGION}:${MOTO_ACCOUNT}:log-group:${logGroupName}:*` },
          { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: secretArn },
          { Effect: 'Allow', Action: 'ssm:GetParameters', Resource: `arn:aws:ssm:${MOTO_REGION}:${MOTO_ACCOUNT}:parameter${parameterName}` },
        ],
      }),
    }));

    const taskDefinitionArn = (await aws.ecs.send(new RegisterTaskDefinitionCommand({
      family: `${env}-${name}`,
      requiresCompatibilities: ['FARGATE'],
      networkMode: 'awsvpc',
      cpu: '256',
      memory: '512',
      executionRoleArn,
      containerDefinitions: [{
        name: 'app',
        image: imageUri,
        essential: true,
        portMappings: [{ containerPort: PORT }],
        secrets: [
          { name: 'DB_PASSWORD', valueFrom: secretArn },
          { name: 'API_KEY', valueFrom: `arn:aws:ssm:${MOTO_REGION}:${MOTO_ACCOUNT}:parameter${parameterName}` },
        ],
        logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': logGroupName, 'awslogs-region': MOTO_REGION, 'awslogs-stream-prefix': name } },
      }],
    }))).taskDefinition!.taskDefinitionArn!;
    const ecsServiceName = `${env}-${name}`;
    await aws.ecs.send(new CreateServiceCommand({
      cluster: clusterName,
      serviceName: ecsServiceName,
      taskDefinition: taskDefinitionArn,
      desiredCount: service.desiredCount ?? 2,
      launchType: 'FARGATE',
      networkConfiguration: { awsvpcConfiguration: { subnets: privateSubnetIds, securityGroups: [servicesGroup], assignPublicIp: 'DISABLED' } },
      loadBalancers: [{ targetGroupArn, containerName: 'app', containerPort: PORT }],
      deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: true }, minimumHealthyPercent: 100, maximumPercent: 200 },
    }));
    if (service.logEvents ?? true) {
      const logStreamName = `${name}/app/0123456789abcdef`;
      await aws.logs.send(new CreateLogStreamCommand({ logGroupName, logStreamName }));
      await aws.logs.send(new PutLogEventsCommand({ logGroupName, logStreamName, logEvents: [{ timestamp: Date.now() + 1000, message: 'listening on 8080' }] }));
    }
    const alarmName = `${env}-${name}-target-5xx`;
    await aws.cloudwatch.send(new PutMetricAlarmCommand({
      AlarmName: alarmName,
      Namespace: 'AWS/ApplicationELB',
      MetricName: 'HTTPCode_Target_5XX_Count',
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 5,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [topicArn],
      OKActions: [topicArn],
    }));
    // The manifest as the environment writes it (src/private/published.ts): the same type.
    const manifest: ServiceManifest = {
      serviceName: name,
      ecsServiceName,
      clusterName,
      repositoryName,
      imageParameterName,
      logGroupName,
      executionRoleArn,
      taskRoleArn: executionRoleArn.replace('-execution', '-task'),
      targetGroupArn,
      paused: service.desiredCount === 0 && !service.workingHours,
      workingHours: service.workingHours ?? null,
      wakeCommand: service.workingHours
        ? 'aws application-autoscaling register-scalable-target --service-namespace ecs --scalable-dimension ecs:service:DesiredCount '
          + `--resource-id service/${clusterName}/${ecsServiceName} --min-capacity 2 --max-capacity 2`
        : null,
    };
    await aws.ssm.send(new PutParameterCommand({
      Name: serviceManifestParameterName(env, name), Type: 'String', Value: JSON.stringify({ schema: PUBLISHED_SCHEMA_VERSION, ...manifest }),
    }));
    services[name] = {
      name,
      ecsServiceName,
      targetGroupArn,
      repositoryName,
      imageUri,
      imageParameterName,
      secretArn,
      parameterName,
      logGroupName,
      executionRoleArn,
      alarmName,
      host,
    };
  }));

  await aws.cloudformation.send(new CreateStackCommand({
    StackName: stackName,
    TemplateBody: JSON.stringify({ Resources: { Handle: { Type: 'AWS::CloudFormation::WaitConditionHandle' } } }),
  }));
  const published: Array<[Parameters<typeof environmentParameterName>[1], string, 'String' | 'StringList']> = [
    ['stack-name', stackName, 'String'],
    ['cluster-name', clusterName, 'String'],
    ['vpc-id', vpcId, 'String'],
    ['service-subnet-ids', privateSubnetIds.join(','), 'StringList'],
    ['assign-public-ip', 'DISABLED', 'String'],
    ['listener-arn', listenerArn, 'String'],
    ['services-security-group-id', servicesGroup, 'String'],
    ['load-balancer-arn', lb.LoadBalancerArn!, 'String'],
    ['alarm-topic-arn', topicArn, 'String'],
    ['services', options.services.length ? options.services.map((s) => s.name).sort().join(',') : '-', 'StringList'],
    ['manifest', JSON.stringify({
      schema: 1, environmentName: env, domainName: options.domain ?? null, natStrategy: 'SINGLE_GATEWAY', natGateways: 1, vpcImported: options.vpcImported ?? false, ephemeral: false,
    }), 'String'],
  ];
  await Promise.all(published.map(([key, value, type]) =>
    aws.ssm.send(new PutParameterCommand({ Name: environmentParameterName(env, key), Value: value, Type: type }))));
  return { name: env, stackName, vpcId, publicSubnetIds, privateSubnetIds, clusterName, topicArn, subscriptionArn, services };
}
