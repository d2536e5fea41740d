import { Annotations, Stack, Token, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { DefaultSecurityGroupLockdown } from './private/default-sg-lockdown';
import { DEFAULTS } from './private/defaults';
import { StagingValidationError } from './private/errors';
import { statefulLifecycle } from './private/lifecycle';
import { acknowledge, acknowledgeStagingLogGroup, GUARD } from './private/posture';
import { parseIpv4Cidr, propName, validateExclusive, validateIntegerRange } from './private/validation';

/**
 * The kinds of egress a `NatStrategy` gives the private subnets.
 */
export enum NatStrategyKind {
  /** One NAT gateway in every AZ: no cross-AZ egress, highest cost. */
  GATEWAY_PER_AZ = 'GATEWAY_PER_AZ',
  /** One NAT gateway shared by every AZ: the staging default. */
  SINGLE_GATEWAY = 'SINGLE_GATEWAY',
  /** One small NAT instance shared by every AZ: cheapest egress, you patch it. */
  INSTANCE = 'INSTANCE',
  /** No NAT at all: services run in public subnets with public IPs. */
  NONE = 'NONE',
}

/**
 * Options for `NatStrategy.instance`.
 */
export interface NatInstanceOptions {
  /**
   * Instance type of the NAT instance.
   *
   * Its architecture picks the Amazon Linux 2023 image (arm64 for Graviton types).
   *
   * @default - t4g.nano (Graviton, the smallest size)
   */
  readonly instanceType?: ec2.InstanceType;

  /**
   * Image of the NAT instance.
   *
   * It must be Amazon Linux 2023 for the architecture of the instance type (`instanceType` /
   * `instance_type`): the instance turns itself into a NAT at boot with `yum install
   * iptables-services` and iptables rules. A new image replaces the instance (a short egress
   * outage; the Elastic IP stays).
   *
   * @default - the newest Amazon Linux 2023 image when the stack is first synthesized, kept in
   * `cdk.context.json` so that a later deploy never replaces the instance by itself; reset it with
   * `cdk context --reset` to move to a newer one. A stack without an account and region cannot look
   * it up and reads the newest image on every deploy instead (with a warning).
   */
  readonly machineImage?: ec2.IMachineImage;
}

/**
 * How the private subnets of a `StagingNetwork` reach the internet.
 *
 * Staging rarely needs a NAT gateway per AZ: one gateway (the default) costs half of two and
 * an AZ outage in staging is an inconvenience, not an incident.
 */
export class NatStrategy {
  /** One NAT gateway in each AZ (the production layout). */
  public static gatewayPerAz(): NatStrategy {
    return new NatStrategy(NatStrategyKind.GATEWAY_PER_AZ);
  }

  /** One NAT gateway for the whole VPC (default). */
  public static singleGateway(): NatStrategy {
    return new NatStrategy(NatStrategyKind.SINGLE_GATEWAY);
  }

  /**
   * One NAT instance for the whole VPC: a small Graviton instance that requires IMDSv2,
   * has an encrypted root volume, an Elastic IP and an image pinned between deploys, and admits
   * traffic only from the VPC.
   */
  public static instance(options: NatInstanceOptions = {}): NatStrategy {
    return new NatStrategy(NatStrategyKind.INSTANCE, options.instanceType ?? new ec2.InstanceType(DEFAULTS.natInstanceType), options.machineImage);
  }

  /**
   * No NAT: the private subnets are isolated, and services run in the public subnets with
   * public IPs (still admitting traffic only from the load balancer).
   */
  public static none(): NatStrategy {
    return new NatStrategy(NatStrategyKind.NONE);
  }

  /**
   * @param kind which strategy this is
   * @param instanceType the NAT instance type, for `NatStrategyKind.INSTANCE`
   * @param machineImage the NAT instance image given, for `NatStrategyKind.INSTANCE`
   */
  private constructor(
    /** Which strategy this is. */
    public readonly kind: NatStrategyKind,
    /** The NAT instance type, set for `NatStrategyKind.INSTANCE` only. */
    public readonly instanceType?: ec2.InstanceType,
    /** The NAT instance image given to `NatStrategy.instance()`; unset when the library picks it. */
    public readonly machineImage?: ec2.IMachineImage,
  ) {}
}

/**
 * Properties of a `StagingNetwork`.
 */
export interface StagingNetworkProps {
  /**
   * An existing VPC to use instead of creating one.
   *
   * It must span at least 2 AZs and, unless the NAT strategy is `NatStrategy.none()`, have private
   * subnets with egress. Nothing is created in it except what you ask for (interface endpoints,
   * flow logs).
   *
   * @default - a new VPC
   */
  readonly vpc?: ec2.IVpc;

  /**
   * IPv4 CIDR block of the new VPC, a /16 to a /20.
   *
   * Each AZ gets a public subnet of prefix + 8 (a /24 below a /16) and a private subnet of
   * prefix + 3 (a /19 below a /16: room for thousands of Fargate tasks).
   *
   * @default '10.0.0.0/16'
   */
  readonly cidr?: string;

  /**
   * Number of AZs the new VPC spans, at least 2.
   *
   * @default 2
   */
  readonly maxAzs?: number;

  /**
   * How the private subnets reach the internet.
   *
   * With an existing `vpc`, describes it: `NatStrategy.none()` places services in its public
   * subnets, any other strategy in its private subnets.
   *
   * @default - `NatStrategy.singleGateway()` / `single_gateway()`: one NAT gateway
   */
  readonly natStrategy?: NatStrategy;

  /**
   * Send VPC flow logs (all traffic) to a CloudWatch log group.
   *
   * @default - true for a new VPC; false for an existing one, which usually has its own
   */
  readonly flowLogs?: boolean;

  /**
   * How long flow log records are kept.
   *
   * @default logs.RetentionDays.TWO_WEEKS
   */
  readonly flowLogRetention?: logs.RetentionDays;

  /**
   * Customer-managed KMS key to encrypt the flow log group with.
   *
   * Its key policy must let the CloudWatch Logs service principal of the region use it.
   *
   * @default - encrypted by CloudWatch Logs with a service-owned key
   */
  readonly flowLogEncryptionKey?: kms.IKey;

  /**
   * Create interface endpoints for ECR (api and dkr), CloudWatch Logs, Secrets Manager and SSM in
   * the service subnets, so that pulling images, writing logs and reading secrets never leaves
   * the VPC.
   *
   * Each endpoint costs about USD 7 a month per AZ: leave off unless you need private egress.
   *
   * @default false
   */
  readonly interfaceEndpoints?: boolean;

  /**
   * Delete the flow log group with the stack instead of retaining it.
   *
   * @default false
   */
  readonly ephemeral?: boolean;
}

/**
 * The network of a staging environment: a VPC over 2+ AZs with a public
 * and a private subnet per AZ, an internet gateway, one route table per subnet, the chosen NAT
 * strategy, flow logs and a free S3 gateway endpoint.
 *
 * Public subnets do not give instances public IPs on launch: only what asks for one gets one.
 */
export class StagingNetwork extends Construct {
  /** The VPC, created or imported. */
  public readonly vpc: ec2.IVpc;

  /** The NAT strategy in force. */
  public readonly natStrategy: NatStrategy;

  /** The subnets Fargate services must run in: private with egress, or public under `NatStrategy.none()`. */
  public readonly serviceSubnets: ec2.SubnetSelection;

  /** Whether Fargate tasks need a public IP (true only under `NatStrategy.none()`). */
  public readonly assignPublicIp: boolean;

  /** Number of NAT gateways created (0 for an imported VPC, a NAT instance or no NAT). */
  public readonly natGatewayCount: number;

  /** The flow log group, when flow logs are on. */
  public readonly flowLogGroup?: logs.ILogGroup;

  /** The NAT instance provider, under `NatStrategy.instance()` with a new VPC. */
  public readonly natInstanceProvider?: ec2.NatInstanceProviderV2;

  /** The VPC CIDR as a literal where known (so that rules and checkers can read it), else a reference. */
  private readonly vpcCidr?: string;

  constructor(scope: Construct, id: string, props: StagingNetworkProps = {}) {
    super(scope, id);

    validateExclusive(this, 'vpc', props.vpc, 'cidr', props.cidr, 'set the CIDR on the VPC you bring, or drop `vpc` to create one');
    validateExclusive(this, 'vpc', props.vpc, 'maxAzs', props.maxAzs, 'the VPC you bring already decides its AZs; drop `maxAzs`');
    validateIntegerRange(this, 'maxAzs', props.maxAzs, 2, 6, 'a staging VPC needs at least 2 AZs and a region has at most 6');

    this.natStrategy = props.natStrategy ?? NatStrategy.singleGateway();
    const hasNat = this.natStrategy.kind !== NatStrategyKind.NONE;
    this.assignPublicIp = !hasNat;
    this.serviceSubnets = { subnetType: hasNat ? ec2.SubnetType.PRIVATE_WITH_EGRESS : ec2.SubnetType.PUBLIC };

    if (props.vpc) {
      this.vpc = props.vpc;
      this.natGatewayCount = 0;
      // Read only when needed: a VPC imported without its CIDR (valid CDK) throws on access.
      this.vpcCidr = props.interfaceEndpoints ? importedVpcCidr(this, props.vpc) : undefined;
      this.validateImportedVpc(props.vpc, hasNat);
    } else {
      const { vpc, natGatewayCount, natInstanceProvider } = this.createVpc(props, hasNat);
      this.vpc = vpc;
      this.natGatewayCount = natGatewayCount;
      this.natInstanceProvider = natInstanceProvider;
      this.vpcCidr = props.cidr ?? DEFAULTS.vpcCidr;
      // Free, and keeps image layers (ECR stores them in S3) and S3 traffic off the NAT.
      vpc.addGatewayEndpoint('S3Endpoint', { service: ec2.GatewayVpcEndpointAwsService.S3 });
    }

    if (props.flowLogs ?? !props.vpc) {
      this.flowLogGroup = this.addFlowLogs(props);
    }
    if (props.interfaceEndpoints) {
      this.addInterfaceEndpoints();
    }
  }

  /** Flow logs of the VPC, every packet accepted or rejected, to a log group of their own. */
  private addFlowLogs(props: StagingNetworkProps): logs.LogGroup {
    const retention = props.flowLogRetention ?? DEFAULTS.flowLogRetention;
    const logGroup = new logs.LogGroup(this, 'FlowLogGroup', {
      retention,
      encryptionKey: props.flowLogEncryptionKey,
      removalPolicy: statefulLifecycle(props.ephemeral).removalPolicy,
    });
    acknowledgeStagingLogGroup(logGroup, retention, props.flowLogEncryptionKey !== undefined, 'flowLogEncryptionKey', 'flowLogRetention');
    new ec2.FlowLog(this, 'FlowLog', {
      resourceType: ec2.FlowLogResourceType.fromVpc(this.vpc),
      destination: ec2.FlowLogDestination.toCloudWatchLogs(logGroup),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });
    return logGroup;
  }

  /** Interface endpoints for what a task needs at start (ECR, logs, secrets, parameters), open to the VPC on 443. */
  private addInterfaceEndpoints(): void {
    const services: Array<[string, ec2.InterfaceVpcEndpointAwsService]> = [
      ['EcrApi', ec2.InterfaceVpcEndpointAwsService.ECR],
      ['EcrDocker', ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER],
      ['Logs', ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS],
      ['SecretsManager', ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER],
      ['Ssm', ec2.InterfaceVpcEndpointAwsService.SSM],
    ];
    for (const [name, service] of services) {
      const endpoint = new ec2.InterfaceVpcEndpoint(this, `${name}Endpoint`, {
        vpc: this.vpc,
        service,
        subnets: this.serviceSubnets,
        privateDnsEnabled: true,
        open: false,
      });
      endpoint.connections.allowFrom(ec2.Peer.ipv4(this.vpcCidr!), ec2.Port.tcp(443), 'HTTPS from the VPC');
    }
  }

  private createVpc(props: StagingNetworkProps, hasNat: boolean) {
    const cidr = props.cidr ?? DEFAULTS.vpcCidr;
    const prefix = this.vpcPrefix(cidr);
    const maxAzs = props.maxAzs ?? DEFAULTS.maxAzs;
    const { natGateways, natInstanceProvider } = this.natLayout(maxAzs);
    const vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(cidr),
      maxAzs,
      natGateways,
      natGatewayProvider: natInstanceProvider,
      // Locked down below by the library's own function instead (same outcome, cheaper synth).
      restrictDefaultSecurityGroup: false,
      subnetConfiguration: [
        {
          name: 'Public',
          subnetType: ec2.SubnetType.PUBLIC,
          cidrMask: prefix + DEFAULTS.publicSubnetPrefixOffset,
          mapPublicIpOnLaunch: false,
        },
        {
          name: 'Private',
          subnetType: hasNat ? ec2.SubnetType.PRIVATE_WITH_EGRESS : ec2.SubnetType.PRIVATE_ISOLATED,
          cidrMask: prefix + DEFAULTS.privateSubnetPrefixOffset,
        },
      ],
    });

    // Nothing uses the default security group; at deploy time it loses every rule.
    new DefaultSecurityGroupLockdown(this, 'DefaultSecurityGroupLockdown', { vpc, ephemeral: props.ephemeral ?? false });

    if (natInstanceProvider) {
      hardenNatInstances(natInstanceProvider, vpc, cidr);
    }

    // CDK caps NAT gateways at the AZs it really got (2 for an environment-agnostic stack).
    const natGatewayCount = this.natStrategy.kind === NatStrategyKind.INSTANCE ? 0 : Math.min(natGateways, vpc.availabilityZones.length);
    return { vpc, natGatewayCount, natInstanceProvider };
  }

  /** The prefix length of the VPC's CIDR, checked: 16 when the CIDR is a token. */
  private vpcPrefix(cidr: string): number {
    if (Token.isUnresolved(cidr)) {
      return 16;
    }
    const parsed = parseIpv4Cidr(cidr);
    if (!parsed) {
      throw new StagingValidationError(this, `cidr must be an IPv4 CIDR block such as '10.0.0.0/16' with no host bits set (got '${cidr}')`);
    }
    if (parsed.prefix < DEFAULTS.minVpcPrefix || parsed.prefix > DEFAULTS.maxVpcPrefix) {
      throw new StagingValidationError(this,
        `cidr must be a /${DEFAULTS.minVpcPrefix} to a /${DEFAULTS.maxVpcPrefix} (got '${cidr}'); AWS allows /16 at most, and public subnets of prefix + ${DEFAULTS.publicSubnetPrefixOffset} need a /20 or larger`);
    }
    return parsed.prefix;
  }

  /** The NAT gateways the strategy asks for, or its NAT instance provider. */
  private natLayout(maxAzs: number): { natGateways: number; natInstanceProvider?: ec2.NatInstanceProviderV2 } {
    switch (this.natStrategy.kind) {
      case NatStrategyKind.GATEWAY_PER_AZ:
        return { natGateways: maxAzs };
      case NatStrategyKind.SINGLE_GATEWAY:
        return { natGateways: 1 };
      case NatStrategyKind.INSTANCE:
        return {
          natGateways: 1,
          natInstanceProvider: ec2.NatProvider.instanceV2({
            instanceType: this.natStrategy.instanceType!,
            machineImage: this.natStrategy.machineImage ?? this.pinnedNatImage(this.natStrategy.instanceType!),
            // Public subnets do not map public IPs on launch: the NAT instance asks for one itself.
            associatePublicIpAddress: true,
            // Burst credits are enough for staging egress and never bill extra.
            creditSpecification: ec2.CpuCredits.STANDARD,
            // Admits nothing by default; the VPC is allowed in below.
            defaultAllowedTraffic: ec2.NatTrafficDirection.OUTBOUND_ONLY,
          }),
        };
      default:
        return { natGateways: 0 };
    }
  }

  /**
   * The Amazon Linux 2023 image of the NAT instance, looked up once and kept in `cdk.context.json`.
   *
   * Without it, the image comes from an SSM parameter that CloudFormation reads again on every
   * deploy: a new Amazon Linux release replaces the NAT instance on an unrelated deploy. The CDK
   * CLI looks the value up once, with credentials, and keeps it until `cdk context --reset`:
   * https://docs.aws.amazon.com/cdk/v2/guide/context.html
   */
  private pinnedNatImage(instanceType: ec2.InstanceType): ec2.IMachineImage | undefined {
    const stack = Stack.of(this);
    if (Token.isUnresolved(stack.account) || Token.isUnresolved(stack.region)) {
      Annotations.of(this).addWarningV2('cdk-ecs-staging:nat-image-unpinned',
        'The NAT instance reads the newest Amazon Linux 2023 image on every deploy, because the stack has no account and region to look the image up once: '
        + 'a new image release replaces the instance (a short egress outage) on an unrelated deploy. Give the stack an env with account and region, '
        + 'or pass NatStrategy.instance({ machineImage }) (NatStrategy.instance(machine_image=...)) with a fixed image.');
      // undefined: the provider's own default, the same SSM parameter resolved at deploy time.
      return undefined;
    }
    return ec2.MachineImage.latestAmazonLinux2023({
      cpuType: instanceType.architecture === ec2.InstanceArchitecture.ARM_64 ? ec2.AmazonLinuxCpuType.ARM_64 : ec2.AmazonLinuxCpuType.X86_64,
      cachedInContext: true,
    });
  }

  private validateImportedVpc(vpc: ec2.IVpc, hasNat: boolean): void {
    const azs = vpc.availabilityZones;
    if (!Token.isUnresolved(azs) && azs.length > 0 && azs.length < 2) {
      throw new StagingValidationError(this, `vpc must span at least 2 AZs (got ${azs.length}: ${azs.join(', ')}); bring a VPC with subnets in 2 or more AZs`);
    }
    // The load balancer is internet-facing: "You must specify subnets from at least two Availability
    // Zones" (Elastic Load Balancing API reference, CreateLoadBalancer Subnets:
    // https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html).
    if (vpc.publicSubnets.length === 0) {
      throw new StagingValidationError(this,
        `vpc has no public subnets (got ${vpc.privateSubnets.length} private, ${vpc.isolatedSubnets.length} isolated), and the environment's internet-facing load balancer `
        + 'needs public subnets in 2 or more AZs; import them as publicSubnetIds');
    }
    const publicAzs = vpc.publicSubnets.map((subnet) => subnet.availabilityZone);
    if (!publicAzs.some((az) => Token.isUnresolved(az)) && new Set(publicAzs).size < 2) {
      throw new StagingValidationError(this,
        `vpc has public subnets in ${new Set(publicAzs).size} AZ (${[...new Set(publicAzs)].join(', ')}), and an Application Load Balancer needs subnets in 2 or more AZs; `
        + 'import a public subnet of a second AZ as well');
    }
    if (hasNat && vpc.privateSubnets.length === 0) {
      // Isolated subnets are not made to work: with interface endpoints, tasks there could reach ECR,
      // CloudWatch Logs, SSM and Secrets Manager, but not the placeholder image every new service
      // starts from (ghcr.io), nor anything else the app calls on the internet. One clear failure
      // beats a service that never becomes healthy.
      const isolated = vpc.isolatedSubnets.length > 0
        ? ' Isolated subnets cannot run the services: without a NAT their tasks cannot pull the placeholder image from ghcr.io, and interface endpoints reach AWS services only.'
        : '';
      throw new StagingValidationError(this,
        `${propName('vpc')} has no private subnets with egress (got ${vpc.publicSubnets.length} public, ${vpc.isolatedSubnets.length} isolated), which ${propName('natStrategy')} `
        + `${this.natStrategy.kind} needs for the services.${isolated} Import the subnets that route to a NAT as privateSubnetIds (private_subnet_ids), `
        + 'or pass natStrategy: NatStrategy.none() (nat_strategy=NatStrategy.none()) to run the services in the public subnets with public IPs');
    }
  }
}

/**
 * An Elastic IP for the NAT instance, so that the VPC's egress address survives the instance's
 * replacement (new image or type): the instance's own public IP is released with it. CloudFormation
 * moves the address to the new instance by updating `InstanceId`, which "reassociates the address on
 * its associated resource" without replacing it:
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-eip.html
 * The same page asks for a dependency on the VPC's gateway attachment: the address waits for the
 * public subnet's route to the internet gateway, which waits for the attachment.
 */
function addNatElasticIp(instance: ec2.Instance, vpc: ec2.Vpc): void {
  const eip = new ec2.CfnEIP(instance, 'ElasticIp', {
    domain: 'vpc',
    instanceId: instance.instanceId,
  });
  // NatInstanceProviderV2 creates each instance inside its public subnet.
  const subnet = vpc.publicSubnets.find((s) => s === instance.node.scope);
  eip.node.addDependency(subnet?.internetConnectivityEstablished ?? vpc.internetConnectivityEstablished);
}

/** The findings a NAT instance raises by being a NAT instance, each with the reason it stays. */
function acknowledgeNatInstance(instance: ec2.Instance): void {
  acknowledge(instance, {
    reason: 'A NAT instance forwards the private subnets\' egress to the internet and needs a public IP to do so; its security group admits traffic from the VPC CIDR only.',
    guard: ['ec2_instance_no_public_ip_check'],
    checkov: ['CKV_AWS_88'],
  });
  const monitoring = 'Basic 5-minute metrics are enough for a staging NAT instance; detailed monitoring would cost more than the t4g.nano itself. Use NatStrategy.singleGateway() for a managed NAT.';
  Validations.of(instance).acknowledge(
    { id: 'AwsSolutions-EC28', reason: monitoring },
    { id: `${GUARD}::ec2_instance_detailed_monitoring_enabled_check`, reason: monitoring },
    { id: `${GUARD}::ec2_launch_template_monitoring_enabled_check`, reason: monitoring },
    {
      id: 'AwsSolutions-EC29',
      reason: 'The NAT instance is disposable: CloudFormation replaces it when its image or type changes, which termination protection would block. It holds no data.',
    },
    {
      id: `${GUARD}::ec2_instance_nitro_encryption_in_transit_check`,
      reason: 'The NAT instance forwards traffic to the internet, where instance-to-instance Nitro encryption does not apply; the Graviton types that support it cost 10x a t4g.nano. Application traffic carries its own TLS.',
    },
  );
}

/** The CIDR of an imported VPC, or a clear error when it was imported without one. */
function importedVpcCidr(scope: Construct, vpc: ec2.IVpc): string {
  try {
    return vpc.vpcCidrBlock;
  } catch (e) {
    // Vpc.fromLookup answers from the cdk.context.json of an older CLI, which did not record the CIDR.
    const lookedUp = e instanceof Error && /looking up/.test(e.message);
    throw new StagingValidationError(scope,
      `interfaceEndpoints needs the CIDR of the VPC you bring (got a VPC ${lookedUp ? 'looked up without its CIDR' : 'imported without vpcCidrBlock'}), to admit it to the endpoints; `
      + (lookedUp
        ? 'remove the vpc-provider entry from cdk.context.json (cdk context --reset <key>) so that the CLI looks the VPC up again, or leave interfaceEndpoints off'
        : 'pass vpcCidrBlock to ec2.Vpc.fromVpcAttributes, or leave interfaceEndpoints off'));
  }
}

/** The NAT instance: admits the VPC, encrypted gp3 root volume, IMDSv2, an Elastic IP, and its acknowledgements. */
function hardenNatInstances(natInstanceProvider: ec2.NatInstanceProviderV2, vpc: ec2.Vpc, cidr: string): void {
  natInstanceProvider.connections.allowFrom(ec2.Peer.ipv4(cidr), ec2.Port.allTraffic(), 'Egress of the VPC through the NAT instance');
  for (const instance of natInstanceProvider.gatewayInstances) {
    instance.instance.blockDeviceMappings = [{ deviceName: '/dev/xvda', ebs: { encrypted: true, volumeType: 'gp3', deleteOnTermination: true } }];
    // IMDSv2 on the instance itself, not through aws-cdk-lib's InstanceRequireImdsv2Aspect: without
    // the app-level flag @aws-cdk/aws-ec2:uniqueImdsv2TemplateName, the aspect names its launch
    // template `NatInstanceLaunchTemplate` in every stack, and launch template names are unique per
    // region, so a second environment in the account and region failed to create. HttpTokens on
    // AWS::EC2::Instance MetadataOptions updates without interruption:
    // https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-ec2-instance-metadataoptions.html
    instance.instance.metadataOptions = { httpTokens: 'required' };
    addNatElasticIp(instance, vpc);
    acknowledgeNatInstance(instance);
  }
}
