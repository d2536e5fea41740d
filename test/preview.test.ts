import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { estimatePreview, PREVIEW_GOAL_USD_PER_DAY } from '../cost/preview';
import { buildPreviewApp, PREVIEW_EXAMPLE_CONTEXT, PREVIEW_EXAMPLE_STACK_NAME } from '../examples/preview';
import { EcsStagingEnvironment, EcsStagingEnvironmentProps, StagingEdge, StagingPreviewStack, StagingSecret } from '../src';
import { TEST_ENV, testApp, testZone } from './harness/apps';
import { cfnLint, CFN_LINT_VENV, formatMatches } from './harness/cfn-lint';
import { checkov } from './harness/checkov';
import { formatFindings, postureFindings } from './harness/posture';

type Resources = Record<string, { Type: string; Properties?: any; DeletionPolicy?: string; UpdateReplacePolicy?: string }>;

/** An environment with a domain and previews, in a fresh test app. */
function previewEnvironment(
  props: Partial<EcsStagingEnvironmentProps> = {}, app: App = testApp(),
): { app: App; stack: Stack; env: EcsStagingEnvironment } {
  const stack = new Stack(app, 'Env', { env: TEST_ENV });
  const env = new EcsStagingEnvironment(stack, 'Staging', {
    domain: { domainName: 'staging.example.com', hostedZone: testZone(stack) },
    previews: {},
    ...props,
  });
  return { app, stack, env };
}

/** The CloudFormation resource-type schemas cfn-lint ships: `handlers.<verb>.permissions`. */
function handlerPermissions(type: string): { [verb: string]: string[] } {
  const site = fs.readdirSync(path.join(CFN_LINT_VENV, 'lib')).map((d) => path.join(CFN_LINT_VENV, 'lib', d, 'site-packages', 'cfnlint', 'data', 'schemas'))
    .find((d) => fs.existsSync(d))!;
  const index = JSON.parse(fs.readFileSync(path.join(site, 'providers', 'us-east-1.json'), 'utf8'));
  const schema = JSON.parse(fs.readFileSync(path.join(site, 'resources', `${index[type]}.json`), 'utf8'));
  return Object.fromEntries(Object.entries(schema.handlers as Record<string, { permissions: string[] }>).map(([verb, h]) => [verb, h.permissions]));
}

describe('StagingPreviewStack', () => {
  let workdir: string;
  let assemblyDir: string;
  let preview: Template;
  let previewJson: { Resources: Resources; Parameters: Record<string, any>; Outputs?: unknown };
  let environment: Template;
  let nested: Template;
  let app: App;
  beforeAll(() => {
    // GIVEN: the preview example (an environment that allows previews, one service), with the
    // context the preview workflow passes for pull request 42 in slot 0
    workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'preview-'));
    app = buildPreviewApp(path.join(workdir, 'out'));
    // WHEN
    const assembly = app.synth();
    assemblyDir = assembly.directory;
    previewJson = assembly.getStackByName('staging-preview-pr-42').template;
    preview = Template.fromJSON(previewJson);
    environment = Template.fromJSON(assembly.getStackByName(PREVIEW_EXAMPLE_STACK_NAME).template);
    const nestedFile = fs.readdirSync(assemblyDir).find((f) => f.endsWith('.nested.template.json'))!;
    nested = Template.fromJSON(JSON.parse(fs.readFileSync(path.join(assemblyDir, nestedFile), 'utf8')));
  });
  afterAll(() => {
    fs.rmSync(workdir, { recursive: true, force: true });
  });

  test('is named <environment>-preview-pr-<pullRequest> and holds a service, task definition, target group and rule per previewed service', () => {
    const stack = app.node.findAll().find((c) => c instanceof StagingPreviewStack) as StagingPreviewStack;
    expect(stack.stackName).toBe('staging-preview-pr-42');
    expect(stack.urls).toEqual({ web: 'https://pr-42-web.staging.example.com' });
    const types = Object.values(previewJson.Resources).map((r) => r.Type).sort();
    expect(types).toEqual([
      'AWS::ECS::Service', 'AWS::ECS::TaskDefinition', 'AWS::ElasticLoadBalancingV2::ListenerRule', 'AWS::ElasticLoadBalancingV2::TargetGroup',
    ]);
  });

  test('creates no IAM, log group, security group or network, retains nothing and imports nothing', () => {
    for (const [id, resource] of Object.entries(previewJson.Resources)) {
      expect([id, resource.Type]).not.toEqual([id, expect.stringMatching(/^AWS::(IAM|Logs|EC2|KMS|SecretsManager|SSM)::/)]);
      expect([id, resource.DeletionPolicy ?? 'Delete', resource.UpdateReplacePolicy ?? 'Delete']).toEqual([id, 'Delete', 'Delete']);
    }
    expect(JSON.stringify(previewJson)).not.toContain('Fn::ImportValue');
    // One output, a literal: the places of its rules, which the next synth takes back
    expect(Object.keys(previewJson.Outputs as object)).toEqual(['RulePlaces']);
  });

  test('reads the environment by name: SSM parameter types with the published names', () => {
    const defaults = Object.values(previewJson.Parameters).filter((p: any) => p.Type?.startsWith('AWS::SSM::Parameter::Value')).map((p: any) => p.Default).sort();
    expect(defaults).toEqual([
      '/staging/_environment/assign-public-ip',
      '/staging/_environment/cluster-name',
      '/staging/_environment/listener-arn',
      '/staging/_environment/service-subnet-ids',
      '/staging/_environment/vpc-id',
      '/staging/_previews/log-group-name',
      '/staging/_previews/security-group-id',
      '/staging/web/preview-execution-role-arn',
      '/staging/web/preview-repository-uri',
      '/staging/web/preview-secret/API_TOKEN',
      '/staging/web/preview-task-role-arn',
    ]);
    // Each is published by the environment (its stack or the service's nested stack).
    for (const name of defaults.filter((d) => d.startsWith('/staging/_previews') || d.includes('preview-'))) {
      const published = [environment, nested].some((t) => Object.keys(t.findResources('AWS::SSM::Parameter', { Properties: { Name: name } })).length === 1);
      expect([name, published]).toEqual([name, true]);
    }
  });

  test('previews push to and run from a repository of their own, apart from the service\'s, whose images expire after expireAfter plus a day', () => {
    const repositories = nested.findResources('AWS::ECR::Repository');
    expect(Object.keys(repositories)).toHaveLength(2);
    const [previewId, previewRepository] = Object.entries(repositories).find(([id]) => id.includes('Preview'))!;
    const [, serviceRepository] = Object.entries(repositories).find(([id]) => !id.includes('Preview'))!;
    expect(previewRepository.Properties.ImageTagMutability).toBe('IMMUTABLE');
    expect(previewRepository.Properties.ImageScanningConfiguration).toEqual({ ScanOnPush: true });
    // expireAfter is 3 days in the example: images go 4 days after their push.
    expect(JSON.parse(previewRepository.Properties.LifecyclePolicy.LifecyclePolicyText).rules).toEqual([{
      rulePriority: 1,
      description: 'Expire preview images 4 days after their push',
      selection: { tagStatus: 'any', countType: 'sinceImagePushed', countNumber: 4, countUnit: 'days' },
      action: { type: 'expire' },
    }]);
    // The service's own repository keeps its two rules: previews never count toward its last images.
    expect(JSON.parse(serviceRepository.Properties.LifecyclePolicy.LifecyclePolicyText).rules.map((r: any) => r.description))
      .toEqual(['Expire untagged images after 7 days', 'Keep the last images']);
    nested.hasResourceProperties('AWS::SSM::Parameter', {
      Name: '/staging/web/preview-repository-uri',
      Value: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith([{ Ref: previewId }])]) }),
    });
    // The preview execution role pulls from the preview repository only.
    const pulls = Object.values(nested.findResources('AWS::IAM::Policy')).flatMap((p: any) => p.Properties.PolicyDocument.Statement)
      .filter((st: any) => [st.Action].flat().includes('ecr:BatchGetImage'));
    const pullTargets = pulls.map((st: any) => JSON.stringify(st.Resource));
    expect(pullTargets.some((r: string) => r.includes(previewId))).toBe(true);
  });

  test('runs one task on Fargate Spot with 0.25 vCPU and 512 MiB, in the environment\'s cluster, subnets and previews security group', () => {
    preview.hasResourceProperties('AWS::ECS::Service', {
      ServiceName: 'pr-42-web',
      DesiredCount: 1,
      CapacityProviderStrategy: [{ CapacityProvider: 'FARGATE_SPOT', Weight: 1 }],
      Cluster: { Ref: Match.stringLikeRegexp('^EnvironmentClusterName') },
      NetworkConfiguration: {
        AwsvpcConfiguration: {
          Subnets: { Ref: Match.stringLikeRegexp('^EnvironmentSubnetIds') },
          SecurityGroups: [{ Ref: Match.stringLikeRegexp('^EnvironmentPreviewsSecurityGroupId') }],
          AssignPublicIp: { Ref: Match.stringLikeRegexp('^EnvironmentAssignPublicIp') },
        },
      },
      DeploymentConfiguration: { DeploymentCircuitBreaker: { Enable: true, Rollback: true }, MinimumHealthyPercent: 100, MaximumPercent: 200 },
    });
    preview.hasResourceProperties('AWS::ECS::TaskDefinition', { Cpu: '256', Memory: '512', Family: 'staging-pr-42-web' });
  });

  test('runs the pull request\'s image from the service\'s repository and never writes the image-uri parameter', () => {
    const [taskDefinition] = Object.values(preview.findResources('AWS::ECS::TaskDefinition'));
    const app0 = taskDefinition.Properties.ContainerDefinitions.find((c: any) => c.Name === 'app');
    expect(app0.Image).toEqual({ 'Fn::Join': ['', [{ Ref: expect.stringMatching(/^EnvironmentwebRepositoryUri/) }, ':pr-42-0123456789ab']] });
    expect(JSON.stringify(previewJson)).not.toContain('image-uri');
  });

  test('gets the service\'s environment and config, and of its secrets only those previews.secrets lists', () => {
    const [taskDefinition] = Object.values(preview.findResources('AWS::ECS::TaskDefinition'));
    const app0 = taskDefinition.Properties.ContainerDefinitions.find((c: any) => c.Name === 'app');
    expect(app0.Environment).toEqual([{ Name: 'LOG_FORMAT', Value: 'json' }]);
    expect(app0.Secrets.map((s: any) => s.Name)).toEqual(['API_TOKEN', 'LOG_LEVEL']);
    expect(JSON.stringify(app0.Secrets)).toContain(':parameter/staging/web/LOG_LEVEL');
    // The preview execution role may read API_TOKEN's secret and not DB_PASSWORD's.
    const [policy] = Object.values(nested.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: Match.stringLikeRegexp('^PreviewExecutionRole') }] } }));
    const text = JSON.stringify(policy.Properties.PolicyDocument);
    expect(text).toContain('ServiceSecretsSecretAPITOKEN');
    expect(text).not.toContain('ServiceSecretsSecretDBPASSWORD');
  });

  test('routes pr-<number>-<service>.<domain> by a rule at priorityBase + slot x prioritiesPerSlot + the service\'s place, and records the place', () => {
    // The example has no deployed stack (no previewRulePlaces): web, its one service, takes place 0 of slot 0
    expect(previewJson.Outputs).toEqual({ RulePlaces: { Description: expect.stringContaining('previewRulePlaces'), Value: 'web=0' } });
    preview.hasResourceProperties('AWS::ElasticLoadBalancingV2::ListenerRule', {
      Priority: 48001,
      Conditions: [{ Field: 'host-header', HostHeaderConfig: { Values: ['pr-42-web.staging.example.com'] } }],
      ListenerArn: { Ref: Match.stringLikeRegexp('^EnvironmentListenerArn') },
    });
    preview.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      TargetType: 'ip',
      HealthCheckIntervalSeconds: 10,
      HealthyThresholdCount: 2,
      Port: 8080,
      TargetGroupAttributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '30' }],
    });
  });

  test('tags each of its resources with the environment, pull request and slot', () => {
    for (const [id, resource] of Object.entries(previewJson.Resources)) {
      expect([id, resource.Properties.Tags]).toEqual([id, expect.arrayContaining([{ Key: 'cdk-ecs-staging:environment', Value: 'staging' }, { Key: 'cdk-ecs-staging:pull-request', Value: '42' }])]);
    }
  });

  test('the environment publishes the settings the preview workflow reads', () => {
    const [settings] = Object.values(environment.findResources('AWS::SSM::Parameter', { Properties: { Name: '/staging/_previews/settings' } }));
    expect(JSON.parse(settings.Properties.Value)).toEqual({
      maxPreviews: 3, expireAfterHours: 72, services: ['web'], domainName: 'staging.example.com', priorityBase: 48001, prioritiesPerSlot: 100,
    });
    environment.hasResourceProperties('AWS::SSM::Parameter', { Name: '/staging/_previews/cloudformation-role-arn' });
    environment.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
  });

  test('the environment covers *.<domain> with its certificate and DNS, and admits the load balancer to the previews', () => {
    environment.hasResourceProperties('AWS::CertificateManager::Certificate', { DomainName: 'staging.example.com', SubjectAlternativeNames: ['*.staging.example.com'] });
    environment.hasResourceProperties('AWS::Route53::RecordSet', { Name: '*.staging.example.com.', Type: 'A' });
    environment.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^StagingEdgePreviewsSecurityGroup'), 'GroupId'] },
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^StagingEdgeSecurityGroup'), 'GroupId'] },
      FromPort: 8080,
      ToPort: 8080,
    });
    environment.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^StagingEdgeSecurityGroup'), 'GroupId'] },
      DestinationSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^StagingEdgePreviewsSecurityGroup'), 'GroupId'] },
      FromPort: 8080,
      ToPort: 8080,
    });
  });

  test('every security group a preview task joins allows outbound traffic (image pull, secrets and logs go through the task\'s own interface)', () => {
    // GIVEN: the groups of the preview's ECS services, by the parameters they are read from
    const [service] = Object.values(preview.findResources('AWS::ECS::Service'));
    const groups = service.Properties.NetworkConfiguration.AwsvpcConfiguration.SecurityGroups
      .map((g: { Ref: string }) => previewJson.Parameters[g.Ref].Default);
    // THEN: one group, the previews' own, which the environment publishes and lets out to anywhere
    expect(groups).toEqual(['/staging/_previews/security-group-id']);
    const [published] = Object.values(environment.findResources('AWS::SSM::Parameter', { Properties: { Name: '/staging/_previews/security-group-id' } }));
    const groupId = published.Properties.Value['Fn::GetAtt'][0];
    expect(environment.toJSON().Resources[groupId].Properties.SecurityGroupEgress).toEqual([{ CidrIp: '0.0.0.0/0', Description: 'Allow all outbound traffic by default', IpProtocol: '-1' }]);
  });

  test('the preview roles sit under the path the CloudFormation role may pass, to ECS tasks only', () => {
    nested.resourcePropertiesCountIs('AWS::IAM::Role', { Path: '/cdk-ecs-staging/staging/preview/' }, 2);
    const statements = cloudFormationRoleStatements(environment);
    const pass = statements.find((s) => [s.Action].flat().includes('iam:PassRole'));
    expect(pass.Resource).toEqual({ 'Fn::Join': ['', ['arn:aws:iam::', { Ref: 'AWS::AccountId' }, ':role/cdk-ecs-staging/staging/preview/*']] });
    expect(pass.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
  });

  test('the CloudFormation role allows every action the preview template\'s resource handlers call', () => {
    // GIVEN: the create, update and delete handlers' permissions of each resource type in the
    // preview template, from the CloudFormation resource-type schemas cfn-lint ships
    const statements = cloudFormationRoleStatements(environment);
    const allowed = new Set(statements.flatMap((s) => [s.Action].flat()));
    // Actions a handler lists for features a preview does not use
    const unused = new Set(['cognito-idp:DescribeUserPoolClient',
      // A rule's priority never changes in place: its logical ID names its slot and its place in the slot
      'elasticloadbalancing:SetRulePriorities']);
    const types = [...new Set(Object.values(previewJson.Resources).map((r) => r.Type))];
    const missing: string[] = [];
    for (const type of types) {
      const handlers = handlerPermissions(type);
      for (const verb of ['create', 'update', 'delete', 'read']) {
        for (const action of handlers[verb] ?? []) {
          if (!allowed.has(action) && !unused.has(action)) missing.push(`${type} ${verb}: ${action}`);
        }
      }
    }
    // THEN
    expect(missing).toEqual([]);
    // and the SSM parameter types: CloudFormation reads them with the role
    expect(allowed).toContain('ssm:GetParameters');
  });

  test('the CloudFormation role changes only preview resources: services pr-*, families <env>-pr-*, tagged rules and target groups', () => {
    const statements = cloudFormationRoleStatements(environment);
    const bySid = Object.fromEntries(statements.map((s) => [s.Sid, s]));
    expect(JSON.stringify(bySid.PreviewServices.Resource)).toMatch(/:service\/",\{"Ref":"StagingCluster[0-9A-F]+"\},"\/pr-\*"/);
    expect(JSON.stringify(bySid.PreviewTaskDefinitions.Resource)).toContain(':task-definition/staging-pr-*:*');
    expect(bySid.ChangePreviewRules.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/cdk-ecs-staging:environment': 'staging' } });
    expect(bySid.ChangePreviewTargetGroups.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/cdk-ecs-staging:environment': 'staging' } });
    expect(bySid.CreatePreviewRules.Condition).toEqual({ StringEquals: { 'aws:RequestTag/cdk-ecs-staging:environment': 'staging' } });
    // Nothing else: no action of IAM but PassRole/GetRole, no wildcard action
    const actions = statements.flatMap((s) => [s.Action].flat());
    expect(actions.filter((a: string) => a.includes('*'))).toEqual([]);
    expect([...new Set(actions.filter((a: string) => a.startsWith('iam:')))].sort()).toEqual(['iam:GetRole', 'iam:PassRole']);
  });

  test('cfn-lint finds nothing in the environment, its nested stack and the preview stack', () => {
    const templates = fs.readdirSync(assemblyDir).filter((f) => f.endsWith('.template.json')).map((f) => path.join(assemblyDir, f));
    expect(templates).toHaveLength(3);
    expect(formatMatches(cfnLint(templates))).toBe('');
  });

  test('checkov finds nothing that is not acknowledged in the environment, its nested stack and the preview stack', () => {
    const templates = fs.readdirSync(assemblyDir).filter((f) => f.endsWith('.template.json')).map((f) => path.join(assemblyDir, f));
    // The wildcard certificate (CKV2_AWS_71) is acknowledged on the certificate, with previews as the reason.
    expect(checkov(templates)).toEqual([]);
  });
});

/** The statements of the preview CloudFormation role's policy. */
function cloudFormationRoleStatements(template: Template): any[] {
  const [policy] = Object.values(template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: Match.stringLikeRegexp('^StagingPreviewsCloudFormationRole') }] } }));
  return policy.Properties.PolicyDocument.Statement;
}

describe('StagingPreviewStack posture', () => {
  test('cdk-nag and the Control Tower controls find nothing unacknowledged in the preview example', () => {
    // GIVEN: the example's environment and preview in an account and region known at synth, as
    // the posture tests of the environment build theirs
    const { app, env } = previewEnvironment({ previews: { secrets: ['API_TOKEN'] } });
    env.addService('web', {
      containerPort: 8080,
      environment: { LOG_FORMAT: 'json' },
      config: { LOG_LEVEL: 'info' },
      secrets: { API_TOKEN: StagingSecret.generate({ excludePunctuation: true }), DB_PASSWORD: StagingSecret.generate({ excludePunctuation: true }) },
    });
    new StagingPreviewStack(app, 'Preview', { environment: env, pullRequest: 42, slot: 0, imageTag: 'pr-42-0123456789ab' });
    // WHEN
    const findings = postureFindings(app);
    // THEN
    expect(formatFindings(findings)).toBe('');
  });
});

describe('StagingPreviewStack.fromContext', () => {
  test('returns undefined without the context keys', () => {
    const { app, env } = previewEnvironment();
    env.addService('web');
    expect(StagingPreviewStack.fromContext(app, env)).toBeUndefined();
  });

  test('puts the preview in the environment\'s account and region, also when given an empty env (as Python passes it)', () => {
    const app = testApp();
    for (const [k, v] of Object.entries(PREVIEW_EXAMPLE_CONTEXT)) app.node.setContext(k, v);
    const { env } = previewEnvironment({}, app);
    env.addService('web');
    const preview = StagingPreviewStack.fromContext(app, env, {})!;
    expect([preview.account, preview.region, preview.stackName]).toEqual([TEST_ENV.account, TEST_ENV.region, 'staging-preview-pr-42']);
  });

  test('fails when only some context keys are set', () => {
    const app = testApp();
    app.node.setContext('previewPullRequest', '7');
    const { env } = previewEnvironment({}, app);
    env.addService('web');
    expect(() => StagingPreviewStack.fromContext(app, env)).toThrow(/the context sets previewPullRequest but not previewSlot, previewImageTag: a preview needs all three/);
  });

  test('fails when a context number is not a whole number', () => {
    const app = testApp();
    for (const [k, v] of Object.entries({ ...PREVIEW_EXAMPLE_CONTEXT, previewPullRequest: '4x' })) app.node.setContext(k, v);
    const { env } = previewEnvironment({}, app);
    env.addService('web');
    expect(() => StagingPreviewStack.fromContext(app, env)).toThrow("the context value previewPullRequest must be a whole number (got '4x')");
  });
});

describe('StagingPreviewStack validation', () => {
  function build(props: { pullRequest?: number; slot?: number; imageTag?: string } = {}, envProps: Partial<EcsStagingEnvironmentProps> = {}, services = ['web']) {
    const { app, env } = previewEnvironment(envProps);
    for (const s of services) env.addService(s);
    const pullRequest = props.pullRequest ?? 42;
    return () => {
      new StagingPreviewStack(app, 'Preview', { environment: env, pullRequest, slot: props.slot ?? 0, imageTag: props.imageTag ?? `pr-${pullRequest}-0123456789ab` });
      app.synth();
    };
  }

  test.each([0, -1, 1.5, Number.NaN])('fails when pullRequest is %p', (pullRequest) => {
    expect(build({ pullRequest, imageTag: 'pr-1-0123456789ab' })).toThrow(`pullRequest must be a positive integer (got ${pullRequest}); pass the pull request's number, e.g. 42 [Python: pull_request]`);
  });

  test.each([-1, 3, 0.5])('fails when slot is %p with maxPreviews 3', (slot) => {
    expect(build({ slot })).toThrow(`slot must be an integer from 0 to 2 (got ${slot}): the environment allows previews.maxPreviews (3) previews at once`);
  });

  test('fails at synth when the preview\'s template is over the 51,200 bytes aws cloudformation deploy sends without --s3-bucket', () => {
    // GIVEN: 11 previewable services (about 4,700 bytes of template each, without working hours)
    const names = Array.from({ length: 11 }, (_, i) => `service${i}`);
    const previewApp = (count: number) => {
      const { app, env } = previewEnvironment();
      for (const name of names.slice(0, count)) env.addService(name, { hostHeaders: [`${name}.staging.example.com`] });
      new StagingPreviewStack(app, 'Preview', { environment: env, pullRequest: 42, slot: 0, imageTag: 'pr-42-abc' });
      return app;
    };
    // THEN: 10 fit, 11 do not, with the bytes, the limit and the fix
    expect(() => previewApp(10).synth()).not.toThrow();
    expect(() => previewApp(11).synth()).toThrow(/Preview: the preview's template is \d{5} bytes \(11 previewed services.*over the 51200 bytes that aws cloudformation deploy --template-file sends without --s3-bucket.*list fewer services in previews\.services/);
  });

  test('fails when the image tag does not name the pull request', () => {
    expect(build({ imageTag: 'latest' })).toThrow("imageTag must start with 'pr-42-' (got 'latest')");
  });

  test('fails when the environment does not allow previews', () => {
    const app = testApp();
    const stack = new Stack(app, 'Env', { env: TEST_ENV });
    const env = new EcsStagingEnvironment(stack, 'Staging', { domain: { domainName: 'staging.example.com', hostedZone: testZone(stack) } });
    env.addService('web');
    expect(() => new StagingPreviewStack(app, 'Preview', { environment: env, pullRequest: 1, slot: 0, imageTag: 'pr-1-x' }))
      .toThrow("environment 'staging' does not allow previews (got no previews prop)");
  });

  test('fails when no service may have previews', () => {
    expect(build({}, {}, [])).toThrow("environment 'staging' has no service that may have previews");
  });
});

describe('EcsStagingEnvironment previews', () => {
  test('fails without a domain', () => {
    const app = testApp();
    const stack = new Stack(app, 'Env', { env: TEST_ENV });
    expect(() => new EcsStagingEnvironment(stack, 'Staging', { previews: {} })).toThrow(
      'previews needs a domain (got previews without domain)');
  });

  test('fails when previews.services names no service', () => {
    const { app, env } = previewEnvironment({ previews: { services: ['api'] } });
    env.addService('web');
    expect(() => app.synth()).toThrow("previews.services names 'api', which is no service of the environment (got services [web])");
  });

  test('fails when previews.secrets names no secret of a previewable service', () => {
    const { app, env } = previewEnvironment({ previews: { secrets: ['NOPE'] } });
    env.addService('web', { secrets: { TOKEN: StagingSecret.generate() } });
    expect(() => app.synth()).toThrow("previews.secrets names 'NOPE', which is no secret of a service that may have previews");
  });

  test('fails when the services and maxPreviews x the previewable services pass the load balancer\'s 100 target groups', () => {
    // GIVEN: 30 services, 3 previews of each: 30 + 90 = 120
    const { app, env } = previewEnvironment({ previews: { maxPreviews: 3 } });
    for (let i = 0; i < 30; i++) env.addService(`s${i}`, { hostHeaders: [`s${i}.staging.example.com`] });
    expect(() => app.synth()).toThrow(/previews.maxPreviews \(3\) previews of 30 services, beside the 30 services, would need 120 target groups and listener rules .* lower previews.maxPreviews to 2/);
  });

  test('fits at the limit: 25 services, 3 previews of each', () => {
    const { app, env } = previewEnvironment({ previews: { maxPreviews: 3 } });
    const names = Array.from({ length: 25 }, (_, i) => `s${i}`);
    for (const name of names) env.addService(name, { hostHeaders: [`${name}.staging.example.com`] });
    expect(() => app.synth()).not.toThrow();
  });

  test.each([[0], [11], [2.5]])('fails when maxPreviews is %p', (maxPreviews) => {
    expect(() => previewEnvironment({ previews: { maxPreviews } })).toThrow(`previews.maxPreviews must be an integer from 1 to 10 (got ${maxPreviews})`);
  });

  test('fails on a task size Fargate does not have', () => {
    expect(() => previewEnvironment({ previews: { cpu: 256, memoryLimitMiB: 4096 } })).toThrow('previews.memoryLimitMiB must be a valid Fargate pair with previews.cpu 256 (got 4096)');
  });

  test('fails when expireAfter is out of range', () => {
    expect(() => previewEnvironment({ previews: { expireAfter: Duration.minutes(30) } })).toThrow('previews.expireAfter must be from 1 hour to 30 days (got 30 minutes)');
  });

  test('fails when a service takes a priority kept for the previews', () => {
    const { env } = previewEnvironment();
    expect(() => env.addService('web', { hostHeaders: ['web.staging.example.com'], priority: 48500 })).toThrow(
      "priority of service 'web' is 48500, and 48001-49000 are kept for the previews' rules");
  });

  test('fails when a service routes a host the previews would answer on', () => {
    const { env } = previewEnvironment();
    expect(() => env.addService('web', { hostHeaders: ['*.staging.example.com'] })).toThrow(
      "'*.staging.example.com' would match the hosts of the previews (pr-*.staging.example.com)");
  });

  test('fails when a brought certificate does not cover the previews\' hosts', () => {
    const app = testApp();
    const stack = new Stack(app, 'Env', { env: TEST_ENV });
    const certificate = new acm.Certificate(stack, 'Cert', { domainName: 'staging.example.com' });
    expect(() => new EcsStagingEnvironment(stack, 'Staging', { domain: { domainName: 'staging.example.com', certificate }, previews: {} }))
      .toThrow("domain.certificate does not cover the previews' hosts (got names staging.example.com, previews is set)");
  });

  test('previews only the services listed, and publishes roles for them only', () => {
    const { app, env } = previewEnvironment({ previews: { services: ['api'] } });
    env.addService('web');
    env.addService('api', { hostHeaders: ['api.staging.example.com'] });
    const preview = new StagingPreviewStack(app, 'Preview', { environment: env, pullRequest: 5, slot: 2, imageTag: 'pr-5-abc' });
    const template = Template.fromStack(preview);
    template.resourceCountIs('AWS::ECS::Service', 1);
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::ListenerRule', { Priority: 48001 + 2 * 100 + 0 });
    expect(preview.urls).toEqual({ api: 'https://pr-5-api.staging.example.com' });
  });

  test('a service\'s rule keeps its priority and logical ID when other previewable services come or go, given the stack\'s places', () => {
    // GIVEN: slot 1 of an environment with web alone, then with api added before it in name order
    const rulesOf = (services: string[], rulePlaces?: { [service: string]: number }) => {
      const { app, env } = previewEnvironment();
      for (const name of services) env.addService(name, { hostHeaders: [`${name}.staging.example.com`] });
      const preview = new StagingPreviewStack(app, 'Preview', { environment: env, pullRequest: 5, slot: 1, imageTag: 'pr-5-abc', rulePlaces });
      const rules = Template.fromStack(preview).findResources('AWS::ElasticLoadBalancingV2::ListenerRule');
      return {
        places: preview.rulePlaces,
        rules: Object.fromEntries(Object.entries(rules)
          .map(([id, r]) => [r.Properties.Conditions[0].HostHeaderConfig.Values[0], [id, r.Properties.Priority]])),
      };
    };
    // WHEN
    const alone = rulesOf(['web']);
    const withApi = rulesOf(['web', 'api'], alone.places);
    // THEN: web's rule is the same resource at the same priority; api takes the lowest free place
    expect(alone.places).toEqual({ web: 0 });
    expect(withApi.rules['pr-5-web.staging.example.com']).toEqual(alone.rules['pr-5-web.staging.example.com']);
    expect(withApi.rules['pr-5-web.staging.example.com'][1]).toBe(48101);
    expect(withApi.rules['pr-5-api.staging.example.com'][1]).toBe(48101 + 1);
    // AND without the places, name order alone would put api where web's rule is
    expect(rulesOf(['web', 'api']).places).toEqual({ api: 0, web: 1 });
  });

  test('a preview that changes slots gets a new rule (a new logical ID) rather than a rule moved in place', () => {
    const ruleIds = (slot: number) => {
      const { app, env } = previewEnvironment();
      env.addService('web');
      const preview = new StagingPreviewStack(app, 'Preview', { environment: env, pullRequest: 5, slot, imageTag: 'pr-5-abc' });
      return Object.keys(Template.fromStack(preview).findResources('AWS::ElasticLoadBalancingV2::ListenerRule'));
    };
    const [inSlot0] = ruleIds(0);
    const [inSlot1] = ruleIds(1);
    expect(inSlot0).toMatch(/^webListenerRuleSlot0Place0[0-9A-F]{8}$/);
    expect(inSlot1).toMatch(/^webListenerRuleSlot1Place0[0-9A-F]{8}$/);
    expect(inSlot0).not.toEqual(inSlot1);
  });

  test('any previewable services may be previewed together: each takes a place of its own', () => {
    // GIVEN: 'svc4' and 'svc20', whose names once gave them the same place (the environment refused them)
    const { app, env } = previewEnvironment();
    env.addService('svc4', { hostHeaders: ['a.staging.example.com'] });
    env.addService('svc20', { hostHeaders: ['b.staging.example.com'] });
    // WHEN
    const preview = new StagingPreviewStack(app, 'Preview', { environment: env, pullRequest: 5, slot: 0, imageTag: 'pr-5-abc' });
    // THEN
    expect(() => app.synth()).not.toThrow();
    expect(preview.rulePlaces).toEqual({ svc20: 0, svc4: 1 });
    const priorities = Object.values(Template.fromStack(preview).findResources('AWS::ElasticLoadBalancingV2::ListenerRule')).map((r) => r.Properties.Priority).sort();
    expect(priorities).toEqual([48001, 48002]);
  });

  test('the CloudFormation role cannot set rule priorities (SetRulePriorities takes no condition key)', () => {
    const { stack } = previewEnvironment();
    const actions = cloudFormationRoleStatements(Template.fromStack(stack)).flatMap((s) => [s.Action].flat());
    expect(actions).toContain('elasticloadbalancing:ModifyRule');
    expect(actions).not.toContain('elasticloadbalancing:SetRulePriorities');
  });

  test('turning previews on changes none of a running service\'s resources, only adds beside them', () => {
    // GIVEN: the same environment and service, without and with previews
    const build = (previews: boolean) => {
      const app = testApp();
      const stack = new Stack(app, 'Env', { env: TEST_ENV });
      const env = new EcsStagingEnvironment(stack, 'Staging', {
        domain: { domainName: 'staging.example.com', hostedZone: testZone(stack) },
        previews: previews ? {} : undefined,
      });
      const web = env.addService('web', { config: { LOG_LEVEL: 'info' } });
      return Template.fromStack(web.node.scope as Stack).toJSON().Resources as Resources;
    };
    // WHEN
    const before = build(false);
    const after = build(true);
    // THEN: every resource of the service keeps its logical ID and properties; the preview roles and parameters are new
    for (const [id, resource] of Object.entries(before)) {
      expect([id, after[id]]).toEqual([id, resource]);
    }
    expect(Object.keys(after).filter((id) => !(id in before)).every((id) => id.startsWith('Preview'))).toBe(true);
  });

  test('previews leave the services security group as it is', () => {
    // GIVEN: the same environment and service, without and with previews
    const rulesOfServicesGroup = (previews: boolean) => {
      const { stack, env } = previewEnvironment({ previews: previews ? {} : undefined });
      env.addService('web');
      const template = Template.fromStack(stack);
      const group = stack.getLogicalId(env.edge.servicesSecurityGroup.node.defaultChild as ec2.CfnSecurityGroup);
      const refersTo = (value: unknown) => value !== undefined && JSON.stringify(value).includes(`"${group}"`);
      const rules = [...Object.values(template.findResources('AWS::EC2::SecurityGroupIngress')),
        ...Object.values(template.findResources('AWS::EC2::SecurityGroupEgress'))]
        .filter((r) => [r.Properties.GroupId, r.Properties.SourceSecurityGroupId, r.Properties.DestinationSecurityGroupId].some(refersTo));
      return { group: template.toJSON().Resources[group], rules };
    };
    // THEN
    expect(rulesOfServicesGroup(true)).toEqual(rulesOfServicesGroup(false));
  });

  test('without previews the environment makes nothing for them', () => {
    const app = testApp();
    const stack = new Stack(app, 'Env', { env: TEST_ENV });
    const env = new EcsStagingEnvironment(stack, 'Staging', { domain: { domainName: 'staging.example.com', hostedZone: testZone(stack) } });
    env.addService('web');
    const template = Template.fromStack(stack);
    expect(JSON.stringify(template.toJSON())).not.toContain('_previews');
    template.resourcePropertiesCountIs('AWS::Route53::RecordSet', { Name: '*.staging.example.com.' }, 0);
    expect(env._previewPlan()).toBeUndefined();
  });
});

describe('the cost of a preview (npx projen cost)', () => {
  test('a preview of one 0.25 vCPU Spot service costs under USD 0.10 a day: its task alone', () => {
    // WHEN
    const preview = estimatePreview();
    // THEN: 0.25 x 0.04048 + 0.5 x 0.004445 = 0.0123425 USD an hour on demand, 30 % of it on Spot, 24 hours
    expect(preview.lines.map((l) => l.item)).toEqual(['Fargate tasks (1 × 0.25 vCPU / 0.5 GB Spot)']);
    expect(preview.usdPerDay).toBeCloseTo(0.0123425 * 0.3 * 24, 6);
    expect(preview.usdPerDay).toBeLessThan(PREVIEW_GOAL_USD_PER_DAY);
  });
});

describe('StagingEdge previews', () => {
  test('fails without a domain', () => {
    const stack = new Stack(testApp(), 'Edge', { env: TEST_ENV });
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0 });
    expect(() => new StagingEdge(stack, 'Edge', { vpc, previews: true })).toThrow('previews needs a domain (got previews without domain)');
  });
});
