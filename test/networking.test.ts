import { App, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { EcsStagingEnvironment, NatStrategy, NatStrategyKind, StagingNetwork, StagingNetworkProps } from '../src';
import { TEST_ENV, testApp, testStack } from './harness/apps';
import { formatFindings, postureFindings } from './harness/posture';

/** Synthesizes one network in a fresh env-specific stack (3 AZs available). */
function synthNetwork(props: StagingNetworkProps = {}) {
  const stack = testStack();
  const network = new StagingNetwork(stack, 'Network', props);
  return { stack, network, template: Template.fromStack(stack) };
}

/** Default routes (0.0.0.0/0) of the given route-table logical IDs, as {table -> target}. */
function defaultRoutes(template: Template): Record<string, { NatGatewayId?: unknown; InstanceId?: unknown; GatewayId?: unknown }> {
  const routes = template.findResources('AWS::EC2::Route', { Properties: { DestinationCidrBlock: '0.0.0.0/0' } });
  const result: Record<string, any> = {};
  for (const route of Object.values(routes)) {
    result[route.Properties.RouteTableId.Ref] = route.Properties;
  }
  return result;
}

/** The SSM parameter of the newest Amazon Linux 2023 image for an architecture (arm64, x86_64). */
const AL2023_PARAMETER = (arch: string) => `/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-${arch}`;
/** The context key under which the CDK CLI keeps that parameter's value once looked up. */
const AL2023_CONTEXT_KEY = (arch: string) => `ssm:account=${TEST_ENV.account}:parameterName=${AL2023_PARAMETER(arch)}:region=${TEST_ENV.region}`;
/** The images the CLI would have written to cdk.context.json on the first synth. */
const PINNED_IMAGES = { arm64: 'ami-0a1b2c3d4e5f60718', x86_64: 'ami-0f1e2d3c4b5a69788' };

/** A `testApp()` whose cdk.context.json already pins the Amazon Linux 2023 images, plus `context`. */
function natApp(context: Record<string, unknown> = {}): App {
  const app = testApp();
  for (const [arch, ami] of Object.entries(PINNED_IMAGES)) {
    app.node.setContext(AL2023_CONTEXT_KEY(arch), ami);
  }
  for (const [key, value] of Object.entries(context)) {
    app.node.setContext(key, value);
  }
  return app;
}

/** Synthesizes one network with a NAT instance in an env-specific stack whose images are pinned. */
function synthNatNetwork(natStrategy: NatStrategy = NatStrategy.instance()) {
  const stack = new Stack(natApp(), 'Test', { env: TEST_ENV });
  const network = new StagingNetwork(stack, 'Network', { natStrategy });
  return { stack, network, template: Template.fromStack(stack) };
}

function privateRouteTables(template: Template): string[] {
  return Object.keys(template.findResources('AWS::EC2::RouteTable')).filter((id) => id.includes('PrivateSubnet'));
}

describe('StagingNetwork', () => {
  describe('with the defaults', () => {
    let network: StagingNetwork;
    let template: Template;
    beforeAll(() => {
      ({ network, template } = synthNetwork());
    });

    test('applies the documented defaults', () => {
      // THEN: 10.0.0.0/16 over 2 AZs, a public /24 and a private /19 per AZ, one NAT gateway
      template.hasResourceProperties('AWS::EC2::VPC', { CidrBlock: '10.0.0.0/16', EnableDnsHostnames: true, EnableDnsSupport: true });
      template.resourceCountIs('AWS::EC2::Subnet', 4);
      template.resourceCountIs('AWS::EC2::NatGateway', 1);
      template.resourceCountIs('AWS::EC2::EIP', 1);
      template.resourceCountIs('AWS::EC2::InternetGateway', 1);
      template.resourceCountIs('AWS::EC2::VPCGatewayAttachment', 1);
      template.resourceCountIs('AWS::EC2::Instance', 0);
      template.resourceCountIs('AWS::EC2::FlowLog', 1);
      template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 14 });
      // The default security group loses all its rules at deploy time (test/default-sg-lockdown.test.ts).
      template.resourceCountIs('Custom::DefaultSecurityGroupLockdown', 1);
      expect(network.natStrategy.kind).toBe(NatStrategyKind.SINGLE_GATEWAY);
      expect(network.natGatewayCount).toBe(1);
      expect(network.assignPublicIp).toBe(false);
      expect(network.serviceSubnets).toEqual({ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS });
      expect(network.vpc.availabilityZones).toEqual(['us-east-1a', 'us-east-1b']);
    });

    test('lays out a public /24 and a private /19 per AZ', () => {
      const subnets = Object.values(template.findResources('AWS::EC2::Subnet')).map((s) => s.Properties);
      expect(subnets.map((s) => s.CidrBlock).sort()).toEqual(['10.0.0.0/24', '10.0.1.0/24', '10.0.32.0/19', '10.0.64.0/19']);
      expect(new Set(subnets.map((s) => s.AvailabilityZone))).toEqual(new Set(['us-east-1a', 'us-east-1b']));
    });

    test('public subnets do not auto-assign public IPs', () => {
      const subnets = Object.values(template.findResources('AWS::EC2::Subnet')).map((s) => s.Properties);
      expect(subnets.every((s) => s.MapPublicIpOnLaunch === false)).toBe(true);
    });

    test('has one route table per subnet, public ones routed to the IGW and private ones to the NAT gateway', () => {
      template.resourceCountIs('AWS::EC2::RouteTable', 4);
      template.resourceCountIs('AWS::EC2::SubnetRouteTableAssociation', 4);
      const routes = defaultRoutes(template);
      const privateTables = privateRouteTables(template);
      expect(privateTables).toHaveLength(2);
      const natTargets = privateTables.map((table) => JSON.stringify(routes[table]?.NatGatewayId));
      expect(natTargets.every((target) => target !== undefined && target !== JSON.stringify(undefined))).toBe(true);
      // One gateway shared by both AZs.
      expect(new Set(natTargets).size).toBe(1);
      const publicTables = Object.keys(routes).filter((t) => t.includes('PublicSubnet'));
      expect(publicTables).toHaveLength(2);
      expect(publicTables.every((t) => routes[t].GatewayId !== undefined)).toBe(true);
    });

    test('sends all traffic to a retained flow log group', () => {
      template.hasResourceProperties('AWS::EC2::FlowLog', {
        ResourceType: 'VPC',
        TrafficType: 'ALL',
        LogDestinationType: 'cloud-watch-logs',
        LogGroupName: { Ref: Match.stringLikeRegexp('FlowLogGroup') },
      });
      template.hasResource('AWS::Logs::LogGroup', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    });

    test('adds a free S3 gateway endpoint on every route table and no interface endpoints', () => {
      template.resourceCountIs('AWS::EC2::VPCEndpoint', 1);
      template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        VpcEndpointType: 'Gateway',
        ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.s3']] },
        RouteTableIds: Match.arrayWith([{ Ref: Match.stringLikeRegexp('PrivateSubnet1RouteTable') }]),
      });
    });

    test('acknowledges the flow log group findings with reasons', () => {
      const acks = acknowledgementsOf(network.flowLogGroup!);
      expect(Object.keys(acks).sort()).toEqual([
        'cdk-validator-cfnguard::cloudwatch_log_group_encrypted_check',
        'cdk-validator-cfnguard::cloudwatch_log_group_retention_period_check',
      ]);
      expect(Object.values(acks).every((reason) => reason.length > 40)).toBe(true);
    });
  });

  test('creates a NAT gateway per AZ with gatewayPerAz()', () => {
    // GIVEN / WHEN
    const { template, network } = synthNetwork({ maxAzs: 3, natStrategy: NatStrategy.gatewayPerAz() });
    // THEN
    template.resourceCountIs('AWS::EC2::NatGateway', 3);
    template.resourceCountIs('AWS::EC2::EIP', 3);
    template.resourceCountIs('AWS::EC2::Subnet', 6);
    expect(network.natGatewayCount).toBe(3);
    const routes = defaultRoutes(template);
    const targets = privateRouteTables(template).map((t) => JSON.stringify(routes[t].NatGatewayId));
    expect(new Set(targets).size).toBe(3);
  });

  test('counts the NAT gateways CDK really creates when an environment-agnostic stack caps the AZs at 2', () => {
    const stack = new Stack(new App(), 'Agnostic');
    const network = new StagingNetwork(stack, 'Network', { maxAzs: 3, natStrategy: NatStrategy.gatewayPerAz() });
    Template.fromStack(stack).resourceCountIs('AWS::EC2::NatGateway', 2);
    expect(network.natGatewayCount).toBe(2);
  });

  describe('with NatStrategy.instance()', () => {
    let template: Template;
    let network: StagingNetwork;
    beforeAll(() => {
      ({ template, network } = synthNatNetwork());
    });

    test('creates one Graviton NAT instance and no NAT gateway', () => {
      template.resourceCountIs('AWS::EC2::NatGateway', 0);
      template.resourceCountIs('AWS::EC2::Instance', 1);
      template.hasResourceProperties('AWS::EC2::Instance', {
        InstanceType: 't4g.nano',
        SourceDestCheck: false,
        CreditSpecification: { CPUCredits: 'standard' },
        NetworkInterfaces: [Match.objectLike({ AssociatePublicIpAddress: true, DeviceIndex: '0' })],
      });
      expect(network.natGatewayCount).toBe(0);
      expect(network.natInstanceProvider?.gatewayInstances).toHaveLength(1);
    });

    test('requires IMDSv2 on the instance itself and encrypts the root volume', () => {
      template.hasResourceProperties('AWS::EC2::Instance', {
        BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { Encrypted: true, VolumeType: 'gp3', DeleteOnTermination: true } }],
        MetadataOptions: { HttpTokens: 'required' },
        LaunchTemplate: Match.absent(),
      });
      template.resourceCountIs('AWS::EC2::LaunchTemplate', 0);
    });

    test('runs the Amazon Linux 2023 image pinned in the context, not one read again on every deploy', () => {
      // THEN: the image ID is a literal of cdk.context.json, and no SSM parameter feeds the template
      template.hasResourceProperties('AWS::EC2::Instance', { ImageId: PINNED_IMAGES.arm64 });
      expect(Object.keys(template.toJSON().Parameters ?? {}).filter((p) => p.startsWith('SsmParameterValue'))).toEqual([]);
    });

    test('egresses through an Elastic IP that follows the instance', () => {
      const [instanceId] = Object.keys(template.findResources('AWS::EC2::Instance'));
      const eips = template.findResources('AWS::EC2::EIP');
      expect(Object.values(eips).map((eip) => eip.Properties)).toEqual([{ Domain: 'vpc', InstanceId: { Ref: instanceId }, Tags: expect.any(Array) }]);
      // The address waits for its subnet's route to the internet gateway, which waits for the gateway
      // attachment (AWS::EC2::EIP, Domain).
      const [eip] = Object.values(eips);
      const routeToIgw = Object.entries(template.findResources('AWS::EC2::Route', { Properties: { GatewayId: Match.anyValue() } }))
        .find(([, route]) => route.DependsOn?.some((d: string) => /VPCGW/.test(d)));
      expect(routeToIgw).toBeDefined();
      expect(eip.DependsOn).toEqual(expect.arrayContaining([routeToIgw![0]]));
    });

    test('its security group admits only the VPC', () => {
      const groups = template.findResources('AWS::EC2::SecurityGroup', { Properties: { GroupDescription: 'Security Group for NAT instances' } });
      const [group] = Object.values(groups);
      expect(group.Properties.SecurityGroupIngress).toEqual([
        { CidrIp: '10.0.0.0/16', Description: 'Egress of the VPC through the NAT instance', IpProtocol: '-1' },
      ]);
    });

    test('routes both private subnets through the instance', () => {
      const routes = defaultRoutes(template);
      const targets = privateRouteTables(template).map((t) => routes[t].InstanceId);
      expect(targets).toHaveLength(2);
      expect(targets.every((t) => t !== undefined)).toBe(true);
    });

    test('takes another instance type, and pins the image of its architecture', () => {
      const other = synthNatNetwork(NatStrategy.instance({ instanceType: new ec2.InstanceType('t3.micro') }));
      other.template.hasResourceProperties('AWS::EC2::Instance', { InstanceType: 't3.micro', ImageId: PINNED_IMAGES.x86_64 });
    });

    test('takes an image of your choosing', () => {
      // GIVEN: an image fixed by ID
      const machineImage = ec2.MachineImage.genericLinux({ [TEST_ENV.region]: 'ami-0123456789abcdef0' });
      // WHEN
      const other = synthNatNetwork(NatStrategy.instance({ machineImage }));
      // THEN
      other.template.hasResourceProperties('AWS::EC2::Instance', { ImageId: 'ami-0123456789abcdef0' });
      expect(other.network.natStrategy.machineImage).toBe(machineImage);
    });

    test('asks the CLI to look the image up on the first synth of a stack without it in cdk.context.json', () => {
      // GIVEN: a fresh app, no image in its context
      const app = testApp();
      new StagingNetwork(new Stack(app, 'Test', { env: TEST_ENV }), 'Network', { natStrategy: NatStrategy.instance() });
      // WHEN
      const missing = app.synth().manifest.missing ?? [];
      // THEN: the CLI looks it up (with credentials) and writes it to cdk.context.json
      expect(missing.map((m) => m.key)).toContain(AL2023_CONTEXT_KEY('arm64'));
    });

    test('reads the image at every deploy, with a warning, in a stack without account and region', () => {
      // GIVEN / WHEN
      const stack = new Stack(new App(), 'Agnostic');
      new StagingNetwork(stack, 'Network', { natStrategy: NatStrategy.instance() });
      // THEN
      Template.fromStack(stack).hasResourceProperties('AWS::EC2::Instance', { ImageId: { Ref: Match.stringLikeRegexp('al2023amikernel.*arm64') } });
      Annotations.fromStack(stack).hasWarning('/Agnostic/Network',
        Match.stringLikeRegexp('NatStrategy.instance\\(\\{ machineImage \\}\\).*\\[ack: cdk-ecs-staging:nat-image-unpinned\\]'));
    });

    test('warns of nothing when the image is pinned or given', () => {
      // GIVEN: a pinned image in an env-specific stack, and a given image in an environment-agnostic one
      const pinned = synthNatNetwork().stack;
      const agnostic = new Stack(new App(), 'Agnostic');
      new StagingNetwork(agnostic, 'Network', { natStrategy: NatStrategy.instance({ machineImage: ec2.MachineImage.genericLinux({ 'us-east-1': 'ami-0123456789abcdef0' }) }) });
      // THEN
      for (const stack of [pinned, agnostic]) {
        Annotations.fromStack(stack).hasNoWarning('*', Match.stringLikeRegexp('nat-image-unpinned'));
      }
    });
  });

  describe('two environments with NatStrategy.instance() in one account and region', () => {
    test.each([
      ['without', {}],
      ['with', { '@aws-cdk/aws-ec2:uniqueImdsv2TemplateName': true }],
    ])('%s the unique launch template name flag in cdk.json, require IMDSv2 and share no launch template name', (_label, flags) => {
      // GIVEN: one app (flags as cdk.json context), two environments side by side
      const app = natApp(flags);
      const stacks = ['StagingA', 'StagingB'].map((id) => {
        const stack = new Stack(app, id, { env: TEST_ENV });
        new EcsStagingEnvironment(stack, 'Staging', { environmentName: id.toLowerCase(), network: { natStrategy: NatStrategy.instance() } });
        return stack;
      });
      // WHEN
      const templates = stacks.map((stack) => Template.fromStack(stack));
      // THEN: every NAT instance requires IMDSv2, and no launch template name appears twice in the region
      const names: string[] = [];
      for (const template of templates) {
        const instances = Object.values(template.findResources('AWS::EC2::Instance'));
        expect(instances).toHaveLength(1);
        expect(instances[0].Properties.MetadataOptions).toEqual({ HttpTokens: 'required' });
        for (const lt of Object.values(template.findResources('AWS::EC2::LaunchTemplate'))) {
          if (lt.Properties.LaunchTemplateName !== undefined) {
            names.push(JSON.stringify(lt.Properties.LaunchTemplateName));
          }
        }
      }
      expect(names.filter((name, i) => names.indexOf(name) !== i)).toEqual([]);
    });
  });

  test('with NatStrategy.none() isolates the private subnets and puts services in public subnets', () => {
    // GIVEN / WHEN
    const { template, network } = synthNetwork({ natStrategy: NatStrategy.none() });
    // THEN
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::EC2::Instance', 0);
    const routes = defaultRoutes(template);
    expect(privateRouteTables(template).every((t) => routes[t] === undefined)).toBe(true);
    expect(network.assignPublicIp).toBe(true);
    expect(network.serviceSubnets).toEqual({ subnetType: ec2.SubnetType.PUBLIC });
    expect(network.vpc.isolatedSubnets).toHaveLength(2);
  });

  test('creates the interface endpoints in the service subnets, open to the VPC only', () => {
    // GIVEN / WHEN
    const { template } = synthNetwork({ interfaceEndpoints: true });
    // THEN
    const endpoints = Object.values(template.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Interface' } }));
    const services = endpoints.map((e) => JSON.stringify(e.Properties.ServiceName)).sort();
    expect(services).toEqual([
      'com.amazonaws.us-east-1.ecr.api',
      'com.amazonaws.us-east-1.ecr.dkr',
      'com.amazonaws.us-east-1.logs',
      'com.amazonaws.us-east-1.secretsmanager',
      'com.amazonaws.us-east-1.ssm',
    ].map((s) => JSON.stringify(s)));
    expect(endpoints.every((e) => e.Properties.PrivateDnsEnabled === true)).toBe(true);
    expect(endpoints.every((e) => e.Properties.SubnetIds.every((s: { Ref: string }) => s.Ref.includes('PrivateSubnet')))).toBe(true);
    const groups = Object.values(template.findResources('AWS::EC2::SecurityGroup'));
    expect(groups).toHaveLength(5);
    for (const group of groups) {
      expect(group.Properties.SecurityGroupIngress).toEqual([
        { CidrIp: '10.0.0.0/16', Description: 'HTTPS from the VPC', FromPort: 443, IpProtocol: 'tcp', ToPort: 443 },
      ]);
    }
  });

  test('lays out subnets below a custom CIDR', () => {
    const { template } = synthNetwork({ cidr: '172.20.0.0/20' });
    template.hasResourceProperties('AWS::EC2::VPC', { CidrBlock: '172.20.0.0/20' });
    const cidrs = Object.values(template.findResources('AWS::EC2::Subnet')).map((s) => s.Properties.CidrBlock).sort();
    expect(cidrs).toEqual(['172.20.0.0/28', '172.20.0.16/28', '172.20.2.0/23', '172.20.4.0/23']);
  });

  test('deletes the flow log group with the stack when ephemeral, and keeps the retention asked', () => {
    const { template } = synthNetwork({ ephemeral: true, flowLogRetention: logs.RetentionDays.ONE_MONTH });
    template.hasResource('AWS::Logs::LogGroup', { DeletionPolicy: 'Delete', Properties: { RetentionInDays: 30 } });
  });

  test('encrypts the flow log group with a given key and no longer acknowledges CT.CLOUDWATCH.PR.3', () => {
    const stack = testStack();
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const network = new StagingNetwork(stack, 'Network', { flowLogEncryptionKey: key, flowLogRetention: logs.RetentionDays.ONE_YEAR });
    Template.fromStack(stack).hasResourceProperties('AWS::Logs::LogGroup', { KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('Key'), 'Arn'] }, RetentionInDays: 365 });
    expect(acknowledgementsOf(network.flowLogGroup!)).toEqual({});
  });

  describe('with an existing VPC', () => {
    function importedVpc(stack: Stack, options: { azs?: string[]; privateSubnets?: boolean; publicSubnets?: boolean } = {}) {
      const azs = options.azs ?? ['us-east-1a', 'us-east-1b'];
      return ec2.Vpc.fromVpcAttributes(stack, 'Existing', {
        vpcId: 'vpc-0123456789abcdef0',
        vpcCidrBlock: '10.50.0.0/16',
        availabilityZones: azs,
        publicSubnetIds: options.publicSubnets === false ? undefined : azs.map((_, i) => `subnet-public${i}`),
        privateSubnetIds: options.privateSubnets === false ? undefined : azs.map((_, i) => `subnet-private${i}`),
      });
    }

    test('creates nothing in it by default', () => {
      const stack = testStack();
      const vpc = importedVpc(stack);
      const network = new StagingNetwork(stack, 'Network', { vpc });
      const template = Template.fromStack(stack);
      expect(Object.keys(template.toJSON().Resources ?? {})).toEqual([]);
      expect(network.vpc).toBe(vpc);
      expect(network.natGatewayCount).toBe(0);
      expect(network.serviceSubnets).toEqual({ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS });
    });

    test('adds flow logs and interface endpoints when asked', () => {
      const stack = testStack();
      new StagingNetwork(stack, 'Network', { vpc: importedVpc(stack), flowLogs: true, interfaceEndpoints: true });
      const template = Template.fromStack(stack);
      template.hasResourceProperties('AWS::EC2::FlowLog', { ResourceId: 'vpc-0123456789abcdef0', ResourceType: 'VPC' });
      template.resourceCountIs('AWS::EC2::VPCEndpoint', 5);
      template.hasResourceProperties('AWS::EC2::SecurityGroup', {
        SecurityGroupIngress: [Match.objectLike({ CidrIp: '10.50.0.0/16', FromPort: 443 })],
      });
    });

    test('runs services in its public subnets under NatStrategy.none()', () => {
      const stack = testStack();
      const network = new StagingNetwork(stack, 'Network', { vpc: importedVpc(stack, { privateSubnets: false }), natStrategy: NatStrategy.none() });
      expect(network.assignPublicIp).toBe(true);
      expect(network.vpc.selectSubnets(network.serviceSubnets).subnetIds).toEqual(['subnet-public0', 'subnet-public1']);
    });

    test('fails when it spans a single AZ', () => {
      const stack = testStack();
      expect(() => new StagingNetwork(stack, 'Network', { vpc: importedVpc(stack, { azs: ['us-east-1a'] }) }))
        .toThrow('Test/Network: vpc must span at least 2 AZs (got 1: us-east-1a); bring a VPC with subnets in 2 or more AZs');
    });

    test('fails when a NAT strategy needs private subnets it lacks', () => {
      const stack = testStack();
      expect(() => new StagingNetwork(stack, 'Network', { vpc: importedVpc(stack, { privateSubnets: false }) }))
        .toThrow(/`vpc` has no private subnets with egress \(got 2 public, 0 isolated\), which `natStrategy` \/ `nat_strategy` SINGLE_GATEWAY needs.*pass natStrategy: NatStrategy.none\(\)/);
    });

    test('fails when the load balancer has no public subnets, whatever the NAT strategy', () => {
      for (const natStrategy of [NatStrategy.none(), NatStrategy.singleGateway()]) {
        const stack = testStack();
        expect(() => new StagingNetwork(stack, 'Network', { vpc: importedVpc(stack, { publicSubnets: false }), natStrategy }))
          .toThrow(/vpc has no public subnets \(got 2 private, 0 isolated\), and the environment's internet-facing load balancer needs public subnets in 2 or more AZs/);
      }
    });

    test('fails when cidr or maxAzs is given too', () => {
      const stack = testStack();
      const vpc = importedVpc(stack);
      expect(() => new StagingNetwork(stack, 'A', { vpc, cidr: '10.0.0.0/16' }))
        .toThrow('Test/A: vpc and cidr cannot be used together (got both); set the CIDR on the VPC you bring, or drop `vpc` to create one');
      expect(() => new StagingNetwork(stack, 'B', { vpc, maxAzs: 2 }))
        .toThrow('Test/B: vpc and maxAzs cannot be used together (got both); the VPC you bring already decides its AZs; drop `maxAzs`');
    });
  });

  describe('fails at synth on bad input', () => {
    test.each([
      [1, 'got 1'],
      [0, 'got 0'],
      [7, 'got 7'],
      [2.5, 'got 2.5'],
    ])('fails when maxAzs is %p', (maxAzs, got) => {
      const stack = testStack();
      expect(() => new StagingNetwork(stack, 'Network', { maxAzs }))
        .toThrow(`Test/Network: maxAzs must be an integer from 2 to 6 (${got}); a staging VPC needs at least 2 AZs and a region has at most 6 [Python: max_azs]`);
    });

    test.each(['banana', '10.0.0/16', '10.0.0.256/16', '10.0.0.0/33', '10.0.0.1/16'])('fails when cidr is %p', (cidr) => {
      const stack = testStack();
      expect(() => new StagingNetwork(stack, 'Network', { cidr }))
        .toThrow(`Test/Network: cidr must be an IPv4 CIDR block such as '10.0.0.0/16' with no host bits set (got '${cidr}')`);
    });

    test.each(['10.0.0.0/8', '10.0.0.0/15', '10.0.0.0/21', '10.0.0.0/24'])('fails when cidr is the wrong size: %p', (cidr) => {
      const stack = testStack();
      expect(() => new StagingNetwork(stack, 'Network', { cidr }))
        .toThrow(`Test/Network: cidr must be a /16 to a /20 (got '${cidr}')`);
    });
  });

  describe('posture', () => {
    test.each([
      ['singleGateway', NatStrategy.singleGateway()],
      ['gatewayPerAz', NatStrategy.gatewayPerAz()],
      ['instance', NatStrategy.instance()],
      ['none', NatStrategy.none()],
    ])('is clean under cdk-nag AwsSolutions and the Control Tower controls with %s()', (_name, natStrategy) => {
      // GIVEN
      const app = new App();
      const stack = new Stack(app, 'Posture');
      new StagingNetwork(stack, 'Network', { natStrategy, interfaceEndpoints: true });
      // WHEN
      const findings = postureFindings(app);
      // THEN
      expect(formatFindings(findings)).toBe('');
    });
  });
});

/** The acknowledgements recorded on a construct, rule id -> reason. */
function acknowledgementsOf(construct: { node: { metadata: Array<{ type: string; data: any }> } }): Record<string, string> {
  // aws-cdk-lib 2.257 writes one entry per call holding every rule so far; newer releases (2.275) one entry per rule.
  const entries = construct.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY);
  return Object.assign({}, ...entries.map((e) => e.data));
}
