import { App, ContextProvider, Fn, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { EcsStagingEnvironment, EcsStagingEnvironmentProps, NatStrategy, StagingService } from '../src';
import { TEST_ENV } from './harness/apps';

/**
 * Every form in which CDK hands over an existing VPC, given to a whole environment with one service:
 * each either synthesizes, with the service in the subnets it should use, or fails at synth with one
 * StagingValidationError that names what is missing and the fix.
 */

const VPC_ID = 'vpc-0123456789abcdef0';
const AZS = ['us-east-1a', 'us-east-1b'];

/** What `cdk synth` stores in cdk.context.json for a VPC with public and private subnets in two AZs (VpcContextResponse). */
const LOOKED_UP_VPC = {
  vpcId: VPC_ID,
  vpcCidrBlock: '10.60.0.0/16',
  availabilityZones: [],
  subnetGroups: [
    {
      name: 'Public',
      type: 'Public',
      subnets: AZS.map((availabilityZone, i) => ({ subnetId: `subnet-pub${i}`, cidr: `10.60.${i}.0/24`, availabilityZone, routeTableId: `rtb-pub${i}` })),
    },
    {
      name: 'Private',
      type: 'Private',
      subnets: AZS.map((availabilityZone, i) => ({ subnetId: `subnet-priv${i}`, cidr: `10.60.${32 * (i + 1)}.0/19`, availabilityZone, routeTableId: `rtb-priv${i}` })),
    },
  ],
};

/** The context key under which `Vpc.fromLookup({ vpcId })` finds its answer, as aws-cdk-lib computes it. */
function lookupKey(vpcId: string): string {
  const stack = new Stack(new App(), 'KeyOnly', { env: TEST_ENV });
  return ContextProvider.getKey(stack, { provider: 'vpc-provider', props: { filter: { 'vpc-id': vpcId }, returnAsymmetricSubnets: true } }).key;
}

function appWith(context: Record<string, unknown> = {}): App {
  return new App({ context: { [`availability-zones:account=${TEST_ENV.account}:region=${TEST_ENV.region}`]: AZS, ...context } });
}

function environment(stack: Stack, vpc: ec2.IVpc, props: EcsStagingEnvironmentProps = {}): StagingService {
  return new EcsStagingEnvironment(stack, 'Staging', { ...props, network: { ...props.network, vpc } }).addService('web');
}

/** The service's subnets and public-IP setting, resolved in its (nested) template. */
function networkConfiguration(service: StagingService) {
  const services = Template.fromStack(Stack.of(service)).findResources('AWS::ECS::Service');
  return (Object.values(services)[0] as any).Properties.NetworkConfiguration.AwsvpcConfiguration;
}

describe('an imported VPC', () => {
  test('the key of the lookup context is the one aws-cdk-lib asks for', () => {
    expect(lookupKey(VPC_ID)).toBe(`vpc-provider:account=123456789012:filter.vpc-id=${VPC_ID}:region=us-east-1:returnAsymmetricSubnets=true`);
  });

  describe('Vpc.fromLookup', () => {
    test('runs the services in the private subnets it looked up, and admits its CIDR to the interface endpoints', () => {
      // GIVEN: the answer of a lookup, as cdk.context.json holds it
      const app = appWith({ [lookupKey(VPC_ID)]: LOOKED_UP_VPC });
      const stack = new Stack(app, 'Test', { env: TEST_ENV });
      const vpc = ec2.Vpc.fromLookup(stack, 'Vpc', { vpcId: VPC_ID });
      // WHEN
      const web = environment(stack, vpc, { network: { interfaceEndpoints: true } });
      // THEN
      expect(networkConfiguration(web)).toEqual(expect.objectContaining({ AssignPublicIp: 'DISABLED', Subnets: ['subnet-priv0', 'subnet-priv1'] }));
      const template = Template.fromStack(stack);
      template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Subnets: ['subnet-pub0', 'subnet-pub1'] });
      template.hasResourceProperties('AWS::EC2::SecurityGroup', { SecurityGroupIngress: [Match.objectLike({ CidrIp: '10.60.0.0/16', FromPort: 443 })] });
      expect(app.synth().manifest.missing).toBeUndefined();
    });

    test('fails when its public subnets lie in one AZ: the load balancer needs two', () => {
      const oneAzPublic = {
        ...LOOKED_UP_VPC,
        subnetGroups: LOOKED_UP_VPC.subnetGroups.map((g) => (g.type === 'Public' ? { ...g, subnets: g.subnets.slice(0, 1) } : g)),
      };
      const app = appWith({ [lookupKey(VPC_ID)]: oneAzPublic });
      const stack = new Stack(app, 'Test', { env: TEST_ENV });
      const vpc = ec2.Vpc.fromLookup(stack, 'Vpc', { vpcId: VPC_ID });
      expect(() => environment(stack, vpc)).toThrow(
        /^\[cdk-ecs-staging\] Test\/Staging\/Network: vpc has public subnets in 1 AZ \(us-east-1a\), and an Application Load Balancer needs subnets in 2 or more AZs/);
    });

    test('synthesizes before the lookup, so that the CLI can look the VPC up', () => {
      // GIVEN: no context yet; CDK answers with a placeholder VPC and records what is missing
      const app = appWith();
      const stack = new Stack(app, 'Test', { env: TEST_ENV });
      const vpc = ec2.Vpc.fromLookup(stack, 'Vpc', { vpcId: VPC_ID });
      // WHEN
      environment(stack, vpc);
      // THEN
      expect(app.synth().manifest.missing?.map((m) => m.key)).toEqual([lookupKey(VPC_ID)]);
    });

    test('fails with the fix when a lookup recorded by an older CLI has no CIDR and interface endpoints need it', () => {
      const { vpcCidrBlock, ...withoutCidr } = LOOKED_UP_VPC;
      expect(vpcCidrBlock).toBeDefined();
      const stack = new Stack(appWith({ [lookupKey(VPC_ID)]: withoutCidr }), 'Test', { env: TEST_ENV });
      const vpc = ec2.Vpc.fromLookup(stack, 'Vpc', { vpcId: VPC_ID });
      expect(() => environment(stack, vpc, { network: { interfaceEndpoints: true } })).toThrow(
        'Test/Staging/Network: interfaceEndpoints needs the CIDR of the VPC you bring (got a VPC looked up without its CIDR), to admit it to the endpoints; '
        + 'remove the vpc-provider entry from cdk.context.json (cdk context --reset <key>) so that the CLI looks the VPC up again, or leave interfaceEndpoints off');
    });
  });

  describe('Vpc.fromVpcAttributes', () => {
    const attributes = {
      vpcId: VPC_ID,
      availabilityZones: AZS,
      publicSubnetIds: ['subnet-pub0', 'subnet-pub1'],
      privateSubnetIds: ['subnet-priv0', 'subnet-priv1'],
    };

    test('with vpcCidrBlock: services in the private subnets, the CIDR admitted to the interface endpoints', () => {
      const stack = new Stack(appWith(), 'Test', { env: TEST_ENV });
      const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', { ...attributes, vpcCidrBlock: '10.50.0.0/16' });
      const web = environment(stack, vpc, { network: { interfaceEndpoints: true } });
      expect(networkConfiguration(web).Subnets).toEqual(['subnet-priv0', 'subnet-priv1']);
      Template.fromStack(stack).hasResourceProperties('AWS::EC2::SecurityGroup', { SecurityGroupIngress: [Match.objectLike({ CidrIp: '10.50.0.0/16', FromPort: 443 })] });
    });

    test('without vpcCidrBlock: works, and asks for the CIDR only for interface endpoints', () => {
      const stack = new Stack(appWith(), 'Test', { env: TEST_ENV });
      const web = environment(stack, ec2.Vpc.fromVpcAttributes(stack, 'Vpc', attributes));
      expect(networkConfiguration(web).Subnets).toEqual(['subnet-priv0', 'subnet-priv1']);
      const other = new Stack(appWith(), 'Test', { env: TEST_ENV });
      expect(() => environment(other, ec2.Vpc.fromVpcAttributes(other, 'Vpc', attributes), { network: { interfaceEndpoints: true } })).toThrow(
        'Test/Staging/Network: interfaceEndpoints needs the CIDR of the VPC you bring (got a VPC imported without vpcCidrBlock), to admit it to the endpoints; '
        + 'pass vpcCidrBlock to ec2.Vpc.fromVpcAttributes, or leave interfaceEndpoints off');
    });

    describe('with public and isolated subnets only', () => {
      const isolatedOnly = { vpcId: VPC_ID, vpcCidrBlock: '10.50.0.0/16', availabilityZones: AZS, publicSubnetIds: ['subnet-pub0', 'subnet-pub1'], isolatedSubnetIds: ['subnet-iso0', 'subnet-iso1'] };

      test.each([
        ['without interface endpoints', false],
        ['even with interface endpoints', true],
      ])('fails %s, naming the missing egress and both fixes', (_, interfaceEndpoints) => {
        const stack = new Stack(appWith(), 'Test', { env: TEST_ENV });
        expect(() => environment(stack, ec2.Vpc.fromVpcAttributes(stack, 'Vpc', isolatedOnly), { network: { interfaceEndpoints } })).toThrow(
          'Test/Staging/Network: `vpc` has no private subnets with egress (got 2 public, 2 isolated), which `natStrategy` / `nat_strategy` SINGLE_GATEWAY needs for the services. '
          + 'Isolated subnets cannot run the services: without a NAT their tasks cannot pull the placeholder image from ghcr.io, and interface endpoints reach AWS services only. '
          + 'Import the subnets that route to a NAT as privateSubnetIds (private_subnet_ids), '
          + 'or pass natStrategy: NatStrategy.none() (nat_strategy=NatStrategy.none()) to run the services in the public subnets with public IPs');
      });

      test('runs the services in the public subnets with NatStrategy.none()', () => {
        const stack = new Stack(appWith(), 'Test', { env: TEST_ENV });
        const web = environment(stack, ec2.Vpc.fromVpcAttributes(stack, 'Vpc', isolatedOnly), { network: { natStrategy: NatStrategy.none() } });
        expect(networkConfiguration(web)).toEqual(expect.objectContaining({ AssignPublicIp: 'ENABLED', Subnets: ['subnet-pub0', 'subnet-pub1'] }));
      });
    });

    test('with tokens of Fn.importValue and Fn.importListValue: synthesizes, validating none of them as literals', () => {
      // GIVEN: every attribute a token exported by another stack, the AZs picked by Fn.select
      const stack = new Stack(appWith(), 'Test', { env: TEST_ENV });
      const azs = Fn.getAzs();
      const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
        vpcId: Fn.importValue('Network-VpcId'),
        vpcCidrBlock: Fn.importValue('Network-VpcCidr'),
        availabilityZones: [Fn.select(0, azs), Fn.select(1, azs)],
        publicSubnetIds: Fn.importListValue('Network-PublicSubnets', 2),
        privateSubnetIds: Fn.importListValue('Network-PrivateSubnets', 2),
      });
      // WHEN
      const web = environment(stack, vpc, { network: { interfaceEndpoints: true, flowLogs: true } });
      // THEN: the imports reach the templates as they are
      const template = Template.fromStack(stack);
      template.hasResourceProperties('AWS::EC2::FlowLog', { ResourceId: { 'Fn::ImportValue': 'Network-VpcId' } });
      template.hasResourceProperties('AWS::EC2::SecurityGroup', { SecurityGroupIngress: [Match.objectLike({ CidrIp: { 'Fn::ImportValue': 'Network-VpcCidr' } })] });
      expect(JSON.stringify(networkConfiguration(web).Subnets)).toContain('Fn::Select');
    });

    test('with a list token of unknown length: CDK itself rejects it, before the environment sees it', () => {
      // Fn.split without a count is one token for the whole list; CDK needs one subnet ID per AZ.
      const stack = new Stack(appWith(), 'Test', { env: TEST_ENV });
      expect(() => ec2.Vpc.fromVpcAttributes(stack, 'Vpc', { ...attributes, privateSubnetIds: Fn.split(',', Fn.importValue('Network-PrivateSubnets')) }))
        .toThrow('Number of privateSubnetIds (1) must be a multiple of availability zones (2).');
    });
  });

  test('from another stack of the app: the services reference its subnets through exports', () => {
    // GIVEN: a plain ec2.Vpc in stack A
    const app = appWith();
    const networkStack = new Stack(app, 'A', { env: TEST_ENV });
    const vpc = new ec2.Vpc(networkStack, 'Vpc', { maxAzs: 2, natGateways: 1 });
    // WHEN: the environment in stack B uses it
    const servicesStack = new Stack(app, 'B', { env: TEST_ENV });
    const web = environment(servicesStack, vpc, { network: { interfaceEndpoints: true } });
    // THEN
    const assembly = app.synth();
    expect(assembly.getStackByName('B').dependencies.map((d) => d.id)).toContain('A');
    expect(JSON.stringify(networkConfiguration(web).Subnets)).toContain('Ref');
    Template.fromStack(servicesStack).hasResourceProperties('AWS::EC2::SecurityGroup', {
      SecurityGroupIngress: [Match.objectLike({ CidrIp: { 'Fn::ImportValue': Match.stringLikeRegexp('CidrBlock') } })],
    });
  });
});
