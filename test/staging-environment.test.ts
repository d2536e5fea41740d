import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { EcsStagingEnvironment, NatStrategy, StagingNetwork } from '../src';
import { TEST_ENV, testApp, testStack, testZone } from './harness/apps';
import { formatFindings, postureFindings } from './harness/posture';

const NGINX = 'public.ecr.aws/nginx/nginx:1.27';

describe('EcsStagingEnvironment', () => {
  describe('with the defaults and one service', () => {
    let stack: Stack;
    let env: EcsStagingEnvironment;
    let template: Template;
    let webTemplate: Template;
    beforeAll(() => {
      // GIVEN
      stack = testStack();
      // WHEN
      env = new EcsStagingEnvironment(stack, 'Staging');
      const web = env.addService('web');
      template = Template.fromStack(stack);
      webTemplate = Template.fromStack(Stack.of(web));
    });

    test('applies the documented defaults', () => {
      expect(env.environmentName).toBe('staging');
      template.resourceCountIs('AWS::EC2::NatGateway', 1);
      template.resourceCountIs('AWS::ElasticLoadBalancingV2::Listener', 1);
      template.resourceCountIs('AWS::ECS::Service', 0);
      webTemplate.resourceCountIs('AWS::ECS::Service', 1);
      template.hasResourceProperties('AWS::ECS::Cluster', { ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }] });
      expect(env.services.map((s) => s.serviceName)).toEqual(['web']);
      expect(env.edge.httpsListener).toBeUndefined();
    });

    test('offers Fargate and Fargate Spot capacity providers', () => {
      template.hasResourceProperties('AWS::ECS::ClusterCapacityProviderAssociations', {
        CapacityProviders: ['FARGATE', 'FARGATE_SPOT'],
      });
    });

    test('tags every taggable resource with the environment and the library', () => {
      for (const type of ['AWS::EC2::VPC', 'AWS::ECS::Cluster', 'AWS::ElasticLoadBalancingV2::LoadBalancer', 'AWS::ECR::Repository', 'AWS::Logs::LogGroup',
        'AWS::ECS::Service', 'AWS::ECS::TaskDefinition', 'AWS::IAM::Role', 'AWS::S3::Bucket', 'AWS::EC2::SecurityGroup']) {
        // Resources of the environment (CDK's stack-level custom-resource provider is not ours to tag).
        const ours = [template, webTemplate].flatMap((t) => Object.entries(t.findResources(type))).filter(([id]) => id.startsWith('Staging') || id.startsWith('Service'));
        expect(ours.length).toBeGreaterThan(0);
        for (const [, resource] of ours) {
          expect(resource.Properties.Tags).toEqual(expect.arrayContaining([
            { Key: 'environment', Value: 'staging' },
            { Key: 'managed-by', Value: 'cdk-ecs-staging' },
          ]));
        }
      }
    });

    test('emits what the validation checklist looks up', () => {
      const outputs = Object.values(template.toJSON().Outputs as Record<string, { Description: string }>).map((o) => o.Description);
      expect(outputs).toEqual([
        'URL of the staging environment',
        'DNS name of the load balancer',
        'ECS cluster name',
        'VPC ID',
        'Checks the deployed staging environment (read-only AWS calls)',
      ]);
      // Per service, on the service's nested stack: they scale with the services, the parent's 200 outputs would not.
      const serviceOutputs = Object.values(webTemplate.toJSON().Outputs as Record<string, { Description: string }>).map((o) => o.Description);
      expect(serviceOutputs).toEqual(expect.arrayContaining([
        "ECS service name of service 'web'",
        "ECR repository URI of service 'web'",
        "CloudWatch log group of service 'web'",
        "Task role ARN of service 'web'",
        "Task execution role ARN of service 'web'",
      ]));
    });

    test('keeps stateful resources on stack deletion', () => {
      webTemplate.hasResource('AWS::ECR::Repository', { DeletionPolicy: 'Retain' });
      template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
      for (const logGroup of [template, webTemplate].flatMap((t) => Object.values(t.findResources('AWS::Logs::LogGroup')))) {
        expect(logGroup.DeletionPolicy).toBe('Retain');
      }
    });

    test('warns that it serves plain HTTP and that one task has no redundancy', () => {
      const annotations = Annotations.fromStack(stack);
      annotations.hasWarning('/Test/Staging/Edge', Match.stringLikeRegexp('serves plain HTTP on port 80'));
      annotations.hasWarning('/Test/Staging/web/Service', Match.stringLikeRegexp("Service 'web' runs 1 task"));
    });
  });

  test('turns Container Insights off, outputs off and deletes state when ephemeral', () => {
    const stack = testStack();
    const env = new EcsStagingEnvironment(stack, 'Staging', { cluster: { containerInsights: false }, emitOutputs: false, ephemeral: true });
    const web = env.addService('web');
    const template = Template.fromStack(stack);
    const webTemplate = Template.fromStack(Stack.of(web));
    template.hasResourceProperties('AWS::ECS::Cluster', { ClusterSettings: [{ Name: 'containerInsights', Value: 'disabled' }] });
    expect(template.toJSON().Outputs).toBeUndefined();
    // Only the references the environment's dashboard reads from the service's stack, none of ours (they carry a description).
    expect(Object.values(webTemplate.toJSON().Outputs ?? {}).filter((o: any) => o.Description !== undefined)).toEqual([]);
    webTemplate.hasResource('AWS::ECR::Repository', { DeletionPolicy: 'Delete' });
    for (const logGroup of [template, webTemplate].flatMap((t) => Object.values(t.findResources('AWS::Logs::LogGroup')))) {
      expect(logGroup.DeletionPolicy).toBe('Delete');
    }
  });

  test('puts the network in one stack and the services in another without cycles', () => {
    // GIVEN: a StagingNetwork in a networking stack
    const app = testApp();
    const networkStack = new Stack(app, 'Network', { env: TEST_ENV });
    const network = new StagingNetwork(networkStack, 'Network');
    const servicesStack = new Stack(app, 'Services', { env: TEST_ENV });
    // WHEN: the environment in a services stack uses its VPC
    const env = new EcsStagingEnvironment(servicesStack, 'Staging', { network: { vpc: network.vpc } });
    const web = env.addService('web');
    // THEN: two templates (and the service's nested one), services depending on the network only
    const assembly = app.synth();
    const dependencies = (name: string) => assembly.getStackByName(name).dependencies.map((d) => d.id).filter((id) => !id.endsWith('.assets'));
    expect(assembly.stacks.map((s) => s.stackName).sort()).toEqual(['Network', 'Services']);
    expect(dependencies('Services')).toEqual(['Network']);
    expect(dependencies('Network')).toEqual([]);
    const services = Template.fromStack(servicesStack);
    services.resourceCountIs('AWS::EC2::VPC', 0);
    services.resourceCountIs('AWS::EC2::FlowLog', 0);
    // The network stack's subnets, imported by the service's nested stack.
    Template.fromStack(Stack.of(web)).hasResourceProperties('AWS::ECS::Service', {
      NetworkConfiguration: { AwsvpcConfiguration: Match.objectLike({ Subnets: Match.arrayWith([{ 'Fn::ImportValue': Match.stringLikeRegexp('PrivateSubnet1') }]) }) },
    });
    Template.fromStack(networkStack).resourceCountIs('AWS::EC2::FlowLog', 1);
  });

  describe('fails at synth on bad input', () => {
    test.each(['Staging', 'staging_1', '1staging', 'staging-', 'a-very-long-environment-name'])('fails when environmentName is %p', (environmentName) => {
      expect(() => new EcsStagingEnvironment(testStack(), 'Staging', { environmentName })).toThrow(
        `Test/Staging: environmentName must be 1-16 lowercase letters, digits and hyphens, start with a letter and not end with a hyphen (got '${environmentName}'); for example 'staging'`);
    });

    test('fails when a service is added twice', () => {
      const env = new EcsStagingEnvironment(testStack(), 'Staging');
      env.addService('web');
      expect(() => env.addService('web')).toThrow("Test/Staging: service 'web' is added twice (got a duplicate name); give each service a unique name");
    });

    test('fails when network.ephemeral contradicts ephemeral', () => {
      expect(() => new EcsStagingEnvironment(testStack(), 'Staging', { network: { ephemeral: true } }))
        .toThrow('Test/Staging: network.ephemeral (true) differs from ephemeral (false); set ephemeral on the environment only');
    });

    test('fails when the stack has no region', () => {
      expect(() => new EcsStagingEnvironment(new Stack(new App(), 'Agnostic'), 'Staging'))
        .toThrow(/^\[cdk-ecs-staging\] Agnostic\/Staging\/Edge: the stack has no region \(got an environment-agnostic stack\).*give the stack an env with a region/);
    });
  });

  describe('posture (cdk-nag AwsSolutions, Control Tower controls)', () => {
    function expectClean(build: (stack: Stack) => void) {
      const app = testApp();
      build(new Stack(app, 'Posture', { env: TEST_ENV }));
      expect(formatFindings(postureFindings(app))).toBe('');
    }

    test('is clean for HTTP only', () => {
      expectClean((stack) => new EcsStagingEnvironment(stack, 'Staging').addService('web'));
    });

    test('is clean for HTTPS with two services routed by host and by path', () => {
      expectClean((stack) => {
        const env = new EcsStagingEnvironment(stack, 'Staging', { domain: { domainName: 'staging.example.com', hostedZone: testZone(stack) } });
        env.addService('web', { hostHeaders: ['staging.example.com'], autoScaling: { maxCapacity: 4 } });
        env.addService('api', { image: ecs.ContainerImage.fromRegistry(NGINX), pathPatterns: ['/api/*'], desiredCount: 2, user: '101' });
      });
    });

    test('is clean with NatStrategy.none()', () => {
      expectClean((stack) => new EcsStagingEnvironment(stack, 'Staging', { network: { natStrategy: NatStrategy.none() } }).addService('web'));
    });

    test('is clean with every option on', () => {
      expectClean((stack) => {
        const env = new EcsStagingEnvironment(stack, 'Staging', {
          ephemeral: true,
          network: { natStrategy: NatStrategy.instance(), interfaceEndpoints: true },
          edge: { allowedCidrs: ['203.0.113.0/24'], deletionProtection: true },
        });
        env.addService('web', {
          enableExecuteCommand: true,
          spot: true,
          imageTagImmutable: false,
          readonlyRootFilesystem: false,
          user: '1000',
          containerHealthCheck: { command: ['CMD-SHELL', 'true'] },
          autoScaling: { maxCapacity: 3, targetMemoryPercent: 70, targetRequestsPerTarget: 500 },
        });
        env.addService('arm', { cpuArchitecture: ecs.CpuArchitecture.ARM64, pathPatterns: ['/arm/*'], image: ecs.ContainerImage.fromRegistry(NGINX) });
      });
    });

    test('synthesizes with a VPC imported without its CIDR, and asks for it only for interface endpoints', () => {
      const attributes = {
        vpcId: 'vpc-0123456789abcdef0',
        availabilityZones: ['us-east-1a', 'us-east-1b'],
        publicSubnetIds: ['subnet-public0', 'subnet-public1'],
        privateSubnetIds: ['subnet-private0', 'subnet-private1'],
      };
      // GIVEN / WHEN: valid CDK, no vpcCidrBlock
      const stack = testStack();
      const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Existing', attributes);
      const web = new EcsStagingEnvironment(stack, 'Staging', { network: { vpc } }).addService('web');
      // THEN
      Template.fromStack(Stack.of(web)).resourceCountIs('AWS::ECS::Service', 1);
      const other = testStack();
      const otherVpc = ec2.Vpc.fromVpcAttributes(other, 'Existing', attributes);
      expect(() => new EcsStagingEnvironment(other, 'Staging', { network: { vpc: otherVpc, interfaceEndpoints: true } })).toThrow(
        'Test/Staging/Network: interfaceEndpoints needs the CIDR of the VPC you bring (got a VPC imported without vpcCidrBlock), to admit it to the endpoints; '
        + 'pass vpcCidrBlock to ec2.Vpc.fromVpcAttributes, or leave interfaceEndpoints off');
    });

    test('is clean with an imported VPC', () => {
      expectClean((stack) => {
        const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Existing', {
          vpcId: 'vpc-0123456789abcdef0',
          vpcCidrBlock: '10.50.0.0/16',
          availabilityZones: ['us-east-1a', 'us-east-1b'],
          publicSubnetIds: ['subnet-public0', 'subnet-public1'],
          privateSubnetIds: ['subnet-private0', 'subnet-private1'],
        });
        new EcsStagingEnvironment(stack, 'Staging', { network: { vpc } }).addService('web');
      });
    });
  });
});
