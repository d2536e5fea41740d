/**
 * Scenario: the default staging network (walkthrough steps 1-2).
 *
 * A VPC over 2 AZs with a public and a private subnet per AZ, one NAT gateway, flow logs, the S3
 * gateway endpoint and a default security group without rules. The assertions are the checklist's
 * first line, "VPC/subnets/RTs/NAT are correct across 2+ AZs", asked of the EC2 API after deployment.
 */
import { ExpectedResult, IntegTest, Match } from '@aws-cdk/integ-tests-alpha';
import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { NatStrategy, StagingNetwork } from '../src';

const app = new App();
const stack = new Stack(app, 'StagingNetworkInteg');
const network = new StagingNetwork(stack, 'Network', {
  natStrategy: NatStrategy.singleGateway(),
  // The integ stack is torn down after the test: do not leave its flow log group behind.
  ephemeral: true,
});

const integ = new IntegTest(app, 'NetworkTest', { testCases: [stack] });
const inVpc = [{ Name: 'vpc-id', Values: [network.vpc.vpcId] }];

// Four subnets over two AZs; none maps public IPs on launch.
integ.assertions
  .awsApiCall('EC2', 'describeSubnets', { Filters: inVpc })
  .expect(ExpectedResult.objectLike({
    Subnets: Match.arrayWith([
      Match.objectLike({ CidrBlock: '10.0.0.0/24', MapPublicIpOnLaunch: false }),
      Match.objectLike({ CidrBlock: '10.0.1.0/24', MapPublicIpOnLaunch: false }),
      Match.objectLike({ CidrBlock: '10.0.32.0/19', MapPublicIpOnLaunch: false }),
      Match.objectLike({ CidrBlock: '10.0.64.0/19', MapPublicIpOnLaunch: false }),
    ]),
  }));

// One NAT gateway, available.
integ.assertions
  .awsApiCall('EC2', 'describeNatGateways', { Filter: [...inVpc, { Name: 'state', Values: ['available'] }] })
  .expect(ExpectedResult.objectLike({ NatGateways: [Match.objectLike({ State: 'available' })] }));

// Private route tables send their default route to that NAT gateway.
integ.assertions
  .awsApiCall('EC2', 'describeRouteTables', { Filters: [...inVpc, { Name: 'route.nat-gateway-id', Values: ['nat-*'] }] })
  .expect(ExpectedResult.objectLike({
    RouteTables: Match.arrayWith([
      Match.objectLike({ Routes: Match.arrayWith([Match.objectLike({ DestinationCidrBlock: '0.0.0.0/0', State: 'active' })]) }),
    ]),
  }));

// Flow logs are delivered.
integ.assertions
  .awsApiCall('EC2', 'describeFlowLogs', { Filter: [{ Name: 'resource-id', Values: [network.vpc.vpcId] }] })
  .expect(ExpectedResult.objectLike({ FlowLogs: [Match.objectLike({ FlowLogStatus: 'ACTIVE', TrafficType: 'ALL' })] }));

// The default security group holds no rule at all: nothing launched into it can talk to anything.
integ.assertions
  .awsApiCall('EC2', 'describeSecurityGroupRules', {
    Filters: [{ Name: 'group-id', Values: [(network.vpc as ec2.Vpc).vpcDefaultSecurityGroup] }],
  })
  .expect(ExpectedResult.objectLike({ SecurityGroupRules: [] }));

app.synth();
