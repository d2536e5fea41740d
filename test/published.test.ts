import { Stack, TimeZone } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { EcsStagingEnvironment, StagingSchedule } from '../src';
import { testStack, testZone } from './harness/apps';
import { environmentParameterName, serviceManifestParameterName } from '../src/private/published';
import { validateServiceName } from '../src/private/validation';

/** The environment's published parameters, by name. */
function published(template: Template): Map<string, { logicalId: string; type: string; value: unknown; dependsOn: string[] }> {
  const found = new Map();
  for (const [logicalId, r] of Object.entries(template.findResources('AWS::SSM::Parameter'))) {
    const name: string = r.Properties.Name;
    if (name.includes('/_environment/')) {
      found.set(name.split('/').pop(), { logicalId, type: r.Properties.Type, value: r.Properties.Value, dependsOn: r.DependsOn ?? [] });
    }
  }
  return found;
}

describe('what the environment publishes for validate and previews', () => {
  let stack: Stack;
  let template: Template;
  let params: ReturnType<typeof published>;
  beforeAll(() => {
    stack = testStack('Published');
    const env = new EcsStagingEnvironment(stack, 'Staging', { environmentName: 'qa', domain: { domainName: 'example.com', hostedZone: testZone(stack) } });
    // Added out of alphabetical order: the published list does not follow the order of the calls.
    env.addService('web');
    env.addService('api', { pathPatterns: ['/api/*'] });
    template = Template.fromStack(stack);
    params = published(template);
  });

  test('every value has its parameter under /<environmentName>/_environment/', () => {
    expect([...params.keys()].sort()).toEqual([
      'alarm-topic-arn', 'assign-public-ip', 'cluster-name', 'listener-arn', 'load-balancer-arn', 'manifest',
      'service-subnet-ids', 'services', 'services-security-group-id', 'stack-name', 'vpc-id',
    ]);
    expect(environmentParameterName('qa', 'cluster-name')).toBe('/qa/_environment/cluster-name');
    expect(serviceManifestParameterName('qa', 'web')).toBe('/qa/web/service-manifest');
  });

  test('the values name the environment\'s resources', () => {
    const ref = (type: string) => ({ Ref: Object.keys(template.findResources(type))[0] });
    expect(params.get('stack-name')!.value).toBe('Published');
    expect(params.get('cluster-name')!.value).toEqual(ref('AWS::ECS::Cluster'));
    expect(params.get('vpc-id')!.value).toEqual(ref('AWS::EC2::VPC'));
    expect(params.get('load-balancer-arn')!.value).toEqual(ref('AWS::ElasticLoadBalancingV2::LoadBalancer'));
    expect(params.get('alarm-topic-arn')!.value).toEqual(ref('AWS::SNS::Topic'));
    expect(params.get('assign-public-ip')!.value).toBe('DISABLED');
    // With a domain, services attach to the HTTPS listener, not to the redirect on port 80.
    const https = Object.entries(template.findResources('AWS::ElasticLoadBalancingV2::Listener')).find(([, r]) => r.Properties.Port === 443)!;
    expect(params.get('listener-arn')!.value).toEqual({ Ref: https[0] });
    const sg = Object.entries(template.findResources('AWS::EC2::SecurityGroup')).find(([, r]) => String(r.Properties.GroupDescription).startsWith('Staging services'))!;
    expect(params.get('services-security-group-id')!.value).toEqual({ 'Fn::GetAtt': [sg[0], 'GroupId'] });
  });

  test('the lists: the tasks\' private subnets, the services sorted by name', () => {
    expect(params.get('service-subnet-ids')!.type).toBe('StringList');
    const subnets = (params.get('service-subnet-ids')!.value as any)['Fn::Join'][1].map((r: any) => r.Ref);
    const privateSubnets = Object.entries(template.findResources('AWS::EC2::Subnet', { Properties: { Tags: Match.arrayWith([{ Key: 'aws-cdk:subnet-type', Value: 'Private' }]) } })).map(([id]) => id);
    expect(subnets.sort()).toEqual(privateSubnets.sort());
    expect(subnets.length).toBeGreaterThanOrEqual(2);
    expect(params.get('services')!.value).toEqual({ 'Fn::Join': [',', ['api', 'web']] });
  });

  test('the manifest is JSON of the environment\'s static facts', () => {
    expect(JSON.parse(params.get('manifest')!.value as string)).toEqual({
      schema: 1, environmentName: 'qa', domainName: 'example.com', natStrategy: 'SINGLE_GATEWAY', natGateways: 1, vpcImported: false, ephemeral: false,
    });
  });

  test('the parameters are created one at a time (Parameter Store throttles parallel writes)', () => {
    const chain = [...params.values()];
    const roots = chain.filter((p) => !p.dependsOn.some((d) => chain.some((q) => q.logicalId === d)));
    expect(roots).toHaveLength(1);
    for (const p of chain) {
      expect(p.dependsOn.filter((d) => chain.some((q) => q.logicalId === d)).length).toBeLessThanOrEqual(1);
    }
  });

  test('no service or config name can take the environment\'s segment or the manifest\'s name', () => {
    expect(() => validateServiceName(stack, '_environment')).toThrow(/service name must be/);
    template.hasResourceProperties('AWS::SSM::Parameter', { Name: '/qa/_environment/stack-name', Tags: Match.objectLike({ environment: 'qa' }) });
  });

  test('each service publishes its facts at /<environmentName>/<service>/service-manifest, in its own stack', () => {
    const env = new EcsStagingEnvironment(testStack('Manifests'), 'Staging', {
      environmentName: 'qa',
      schedule: StagingSchedule.workingHours({ start: '08:00', end: '20:00', timeZone: TimeZone.EUROPE_BERLIN }),
    });
    const web = env.addService('web');
    env.addService('worker', { desiredCount: 0, pathPatterns: ['/worker/*'] });
    const nested = Template.fromStack(web.node.scope as Stack);
    const found = Object.values(nested.findResources('AWS::SSM::Parameter', { Properties: { Name: '/qa/web/service-manifest' } }));
    expect(found).toHaveLength(1);
    // The value is JSON with references to the service's resources: resolve them to their logical IDs.
    const value = found[0].Properties.Value as { 'Fn::Join': [string, unknown[]] };
    const intrinsic = (part: any) => (part.Ref ? `<${part.Ref}>` : `<${part['Fn::GetAtt'][0]}.${part['Fn::GetAtt'][1]}>`);
    const json = value['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : intrinsic(part))).join('');
    const manifest = JSON.parse(json);
    const ref = (type: string, props?: object) => `<${Object.keys(nested.findResources(type, props ? { Properties: props } : undefined))[0]}>`;
    expect(manifest).toMatchObject({
      schema: 1,
      serviceName: 'web',
      paused: false,
      workingHours: { startMinutes: 480, endMinutes: 1200, days: ['MON', 'TUE', 'WED', 'THU', 'FRI'], timeZone: 'Europe/Berlin' },
      repositoryName: ref('AWS::ECR::Repository'),
      logGroupName: ref('AWS::Logs::LogGroup'),
      targetGroupArn: ref('AWS::ElasticLoadBalancingV2::TargetGroup'),
      imageParameterName: ref('AWS::SSM::Parameter', { Name: '/qa/web/image-uri' }),
    });
    expect(manifest.ecsServiceName).toBe(`${ref('AWS::ECS::Service').slice(0, -1)}.Name>`);
    expect(manifest.executionRoleArn).toMatch(/^<ServiceExecutionRole.*\.Arn>$/);
    expect(manifest.wakeCommand).toMatch(/^aws application-autoscaling register-scalable-target /);
    const worker = Template.fromStack(env.services[1].node.scope as Stack);
    const workerValue = Object.values(worker.findResources('AWS::SSM::Parameter', { Properties: { Name: '/qa/worker/service-manifest' } }))[0];
    expect(JSON.stringify(workerValue.Properties.Value)).toContain('\\"paused\\":true,\\"workingHours\\":null');
  });

  test('an environment without services publishes a placeholder list (a StringList may not be empty)', () => {
    const empty = testStack('Empty');
    new EcsStagingEnvironment(empty, 'Staging');
    expect(published(Template.fromStack(empty)).get('services')!.value).toEqual({ 'Fn::Join': [',', ['-']] });
  });
});
