import * as fs from 'fs';
import * as path from 'path';
import { CfnElement, CfnOutput, CfnResource, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { addManyServices, buildManyServicesApp } from '../examples/many-services';
import { EcsStagingEnvironment, StagingService } from '../src';
import { testApp, TEST_ENV } from './harness/apps';
import { formatFindings, postureFindings } from './harness/posture';
import { checkTemplateQuotas } from '../src/private/quotas';

/** AWS default quotas an environment must stay within (CloudFormation, EC2 security groups, ELBv2). */
const QUOTA = {
  resourcesPerTemplate: 500,
  templateBytes: 1_000_000,
  outputsPerTemplate: 200,
  parametersPerTemplate: 200,
  dynamicReferencesPerTemplate: 60,
  rulesPerSecurityGroupDirection: 60,
  listenerRulesPerLoadBalancer: 100,
  targetGroupsPerLoadBalancer: 100,
  certificatesPerLoadBalancer: 25,
  widgetsPerDashboard: 500,
};

/** The largest environment the library accepts: an ALB's 100 listener rules and target groups. */
const SERVICES = 100;

/** Widgets of a dashboard body (deploy-time values inside strings read as placeholders). */
function widgetsOf(dashboard: any): any[] {
  const parts = dashboard.Properties.DashboardBody['Fn::Join'][1];
  return JSON.parse(parts.map((p: unknown) => (typeof p === 'string' ? p : 'x')).join('')).widgets;
}

/** An HTTPS environment of `count` services, each with the default features on and autoscaling. */
function environment(count: number) {
  const app = testApp();
  const stack = new Stack(app, 'Scale', { env: TEST_ENV });
  const env = addManyServices(stack, count);
  return { app, stack, env, services: env.services };
}

describe('an environment of 100 services, the most the library accepts', () => {
  let env: EcsStagingEnvironment;
  let services: StagingService[];
  let templates: Array<{ file: string; bytes: number; body: Record<string, any> }>;
  beforeAll(() => {
    const built = environment(SERVICES);
    env = built.env;
    services = built.services;
    const assembly = built.app.synth();
    templates = fs.readdirSync(assembly.directory).filter((f) => f.endsWith('.template.json')).map((file) => {
      const text = fs.readFileSync(path.join(assembly.directory, file), 'utf8');
      return { file, bytes: Buffer.byteLength(text), body: JSON.parse(text) };
    });
  });

  const resourcesOf = (type: string) => templates.flatMap((t) => Object.values<any>(t.body.Resources ?? {}).filter((r) => r.Type === type));

  test('splits into the environment\'s template and one nested template a service', () => {
    expect(templates.filter((t) => t.file.endsWith('.nested.template.json'))).toHaveLength(SERVICES);
    expect(templates).toHaveLength(SERVICES + 1);
  });

  test('keeps every template within CloudFormation\'s quotas', () => {
    const over: string[] = [];
    for (const t of templates) {
      const figures: Array<[string, number, number]> = [
        ['resources', Object.keys(t.body.Resources ?? {}).length, QUOTA.resourcesPerTemplate],
        ['bytes', t.bytes, QUOTA.templateBytes],
        ['outputs', Object.keys(t.body.Outputs ?? {}).length, QUOTA.outputsPerTemplate],
        ['parameters', Object.keys(t.body.Parameters ?? {}).length, QUOTA.parametersPerTemplate],
        ['dynamic references', (JSON.stringify(t.body).match(/\{\{resolve:/g) ?? []).length, QUOTA.dynamicReferencesPerTemplate],
      ];
      over.push(...figures.filter(([, n, max]) => n > max).map(([what, n, max]) => `${t.file}: ${n} ${what} (quota ${max})`));
    }
    expect(over).toEqual([]);
    // The environment's own template grows by one resource a service: 159 at 100 services, of CloudFormation's 500.
    const parent = templates.find((t) => !t.file.endsWith('.nested.template.json'))!;
    expect(Object.keys(parent.body.Resources).length).toBeLessThan(170);
    // Figures of the README's limits: the parent about 807 KB (dashboards 546 KB, nested stack
    // resources 181 KB), each service's template about 28 KB.
    const nested = templates.filter((t) => t.file.endsWith('.nested.template.json')).map((t) => t.bytes);
    expect(parent.bytes).toBeLessThan(850_000);
    expect(Math.max(...nested)).toBeLessThan(30_000);
  });

  test('splits the dashboard before CloudWatch\'s 500 widgets, keeping the first one where it was', () => {
    const parent = templates.find((t) => !t.file.endsWith('.nested.template.json'))!;
    const dashboards = Object.entries<any>(parent.body.Resources).filter(([, r]) => r.Type === 'AWS::CloudWatch::Dashboard');
    expect(dashboards).toHaveLength(2);
    expect(env.observability.dashboards).toHaveLength(2);
    const logicalId = (d: Construct) => Stack.of(env).getLogicalId(d.node.defaultChild as CfnElement);
    const [first, second] = env.observability.dashboards.map((d) => widgetsOf(parent.body.Resources[logicalId(d)]));
    // Title and 3 load balancer widgets, then 5 a service: 99 services on the first, the 100th on the second.
    expect(first).toHaveLength(4 + 99 * 5);
    expect(second).toHaveLength(4 + 1 * 5);
    expect(first.length).toBeLessThanOrEqual(QUOTA.widgetsPerDashboard);
    expect(JSON.stringify(first)).toContain('svc-98: latency');
    expect(JSON.stringify(second)).toContain('svc-99: latency');
    expect(JSON.stringify(second)).toContain('Load balancer: requests');
    // The first dashboard keeps the construct ID (and logical ID) of an environment of one service.
    const small = environment(1);
    expect(env.observability.dashboards[0].node.path).toBe(small.env.observability.dashboard!.node.path);
    expect(Stack.of(env).getLogicalId(env.observability.dashboard!.node.defaultChild as CfnElement))
      .toBe(Stack.of(small.env).getLogicalId(small.env.observability.dashboard!.node.defaultChild as CfnElement));
  });

  test('keeps the load balancer\'s security group within 60 rules a direction', () => {
    const parent = templates.find((t) => !t.file.endsWith('.nested.template.json'))!;
    const logicalId = Stack.of(env).getLogicalId(env.edge.securityGroup.node.defaultChild as CfnElement);
    const group = parent.body.Resources[logicalId];
    const refersToGroup = (r: any) => JSON.stringify(r.Properties.GroupId).includes(logicalId) || JSON.stringify(r.Properties.GroupId).includes('EdgeSecurityGroup');
    const ingress = (group.Properties.SecurityGroupIngress ?? []).length + resourcesOf('AWS::EC2::SecurityGroupIngress').filter(refersToGroup).length;
    const egress = (group.Properties.SecurityGroupEgress ?? []).length + resourcesOf('AWS::EC2::SecurityGroupEgress').filter(refersToGroup).length;
    expect(ingress).toBeLessThanOrEqual(QUOTA.rulesPerSecurityGroupDirection);
    expect(egress).toBeLessThanOrEqual(QUOTA.rulesPerSecurityGroupDirection);
    // One egress rule for the one container port all 100 services share.
    expect(egress).toBe(1);
  });

  test('keeps the load balancer within its listener rules, target groups and certificates', () => {
    expect(resourcesOf('AWS::ElasticLoadBalancingV2::ListenerRule')).toHaveLength(SERVICES);
    expect(resourcesOf('AWS::ElasticLoadBalancingV2::TargetGroup').length).toBeLessThanOrEqual(QUOTA.targetGroupsPerLoadBalancer);
    expect(resourcesOf('AWS::ElasticLoadBalancingV2::ListenerRule').length).toBeLessThanOrEqual(QUOTA.listenerRulesPerLoadBalancer);
    const certificates = resourcesOf('AWS::ElasticLoadBalancingV2::Listener').flatMap((l) => l.Properties.Certificates ?? []);
    expect(certificates.length).toBeLessThanOrEqual(QUOTA.certificatesPerLoadBalancer);
    const priorities = resourcesOf('AWS::ElasticLoadBalancingV2::ListenerRule').map((r) => r.Properties.Priority);
    expect(new Set(priorities).size).toBe(SERVICES);
  });

  test('keeps a service\'s logical IDs whatever the size of the environment', () => {
    // GIVEN: the same first service in an environment of one
    const small = environment(1);
    const ids = (service: StagingService) => ({
      nestedStack: Stack.of(service.node.scope!).getLogicalId((Stack.of(service) as any).nestedStackResource),
      repository: Stack.of(service).getLogicalId(service.repository.node.defaultChild as any),
      logGroup: Stack.of(service).getLogicalId(service.logGroup.node.defaultChild as any),
      parameter: Stack.of(service).getLogicalId(service.imageParameter!.node.defaultChild as any),
    });
    // THEN: no stateful resource of it would be replaced when the environment grows to 100
    expect(ids(services[0])).toEqual(ids(small.services[0]));
  });

  test('fails at synth on the 101st service, naming the quota and the way out', () => {
    const { env: full } = environment(0);
    for (let i = 0; i < 100; i++) {
      full.addService(`s${i}`, { pathPatterns: [`/s${i}/*`] });
    }
    expect(() => full.addService('s100', { pathPatterns: ['/s100/*'] })).toThrow(
      "Scale/Staging/Edge: service 's100' would be the 101th service of this load balancer (got 100 already), over the 100 listener rules and target groups an ALB holds by default; "
      + 'put further services in another EcsStagingEnvironment (another environmentName), which brings its own load balancer');
  });
});

describe('an environment of 12 services (the integ scenario)', () => {
  test('is clean for cdk-nag AwsSolutions and the Control Tower controls, nested templates included', () => {
    expect(formatFindings(postureFindings(buildManyServicesApp(12)))).toBe('');
  });
});

describe('checkTemplateQuotas', () => {
  test('reports a template over CloudFormation\'s 200 outputs', () => {
    const stack = new Stack(testApp(), 'Outputs', { env: TEST_ENV });
    const scope = new Construct(stack, 'Scope');
    for (let i = 0; i < 201; i++) new CfnOutput(scope, `O${i}`, { value: 'x' });
    expect(checkTemplateQuotas(scope)).toEqual([
      "[cdk-ecs-staging] stack Outputs holds 201 outputs of this environment, over CloudFormation's 200 per template; set emitOutputs (emit_outputs) to false, or move the environment into a stack of its own, or split its services over several environments",
    ]);
  });

  test('reports a template over CloudFormation\'s 1 MB', () => {
    const stack = new Stack(testApp(), 'Big', { env: TEST_ENV });
    const scope = new Construct(stack, 'Scope');
    new CfnResource(scope, 'Big', { type: 'AWS::SSM::Parameter', properties: { Type: 'String', Value: 'x'.repeat(1_000_000) } });
    expect(checkTemplateQuotas(scope)).toEqual([
      expect.stringMatching(/^\[cdk-ecs-staging\] stack Big has a template of 10001\d\d bytes, over CloudFormation's 1000000 per template; move the environment into a stack of its own/),
    ]);
  });

  test('reports a dashboard over CloudWatch\'s 500 widgets', () => {
    const stack = new Stack(testApp(), 'Widgets', { env: TEST_ENV });
    const dashboard = new cloudwatch.Dashboard(stack, 'Dashboard');
    for (let i = 0; i < 501; i++) dashboard.addWidgets(new cloudwatch.TextWidget({ markdown: `${i}`, width: 1, height: 1 }));
    expect(checkTemplateQuotas(stack)).toEqual([
      "[cdk-ecs-staging] dashboard Widgets/Dashboard/Resource holds 501 widgets, over CloudWatch's 500 per dashboard; "
      + 'the environment starts a new dashboard before its own would pass the quota, so put widgets of your own on a dashboard of your own',
    ]);
  });

  test('reports nothing within the quotas', () => {
    const stack = new Stack(testApp(), 'Small', { env: TEST_ENV });
    new CfnOutput(stack, 'One', { value: 'x' });
    expect(checkTemplateQuotas(stack)).toEqual([]);
  });
});
