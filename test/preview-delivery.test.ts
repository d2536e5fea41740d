import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, CfnResource, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import { parse } from 'yaml';
import { EcsStagingEnvironment, GitHubActionsPreviewRole } from '../src';
import { TEST_ENV, testApp } from './harness/apps';
import { cfnLint, formatMatches } from './harness/cfn-lint';
import { statementsOf } from './harness/iam';
import { parliament, policiesOf } from './harness/parliament';
import { formatFindings, postureFindings } from './harness/posture';
import { previewEnvironment } from './harness/previews';
import { actionlint, zizmor } from './harness/workflow-linters';

const STACKS = 'arn:aws:cloudformation:us-east-1:123456789012:stack/staging-preview-pr-*/*';

/** An environment with previews of web and api, and its preview role. */
function build(app: App = testApp(), services?: string[]) {
  const stack = new Stack(app, 'Previews', { env: TEST_ENV });
  const environment = previewEnvironment({ stack, services });
  const web = environment.addService('web');
  const api = environment.addService('api', { pathPatterns: ['/api/*'] });
  const previews = new GitHubActionsPreviewRole(stack, 'PreviewRole', { environment, repository: 'acme/shop' });
  return { app, stack, environment, web, api, previews };
}

describe('GitHubActionsPreviewRole', () => {
  let built: ReturnType<typeof build>;
  let template: Template;
  let workflow: any;
  let workflowFile: string;
  beforeAll(() => {
    built = build();
    template = Template.fromStack(built.stack);
    const rendered = built.previews.renderWorkflow();
    workflow = parse(rendered);
    workflowFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'previews-')), 'previews.yml');
    fs.writeFileSync(workflowFile, rendered);
  });

  test('trusts this repository\'s pull requests only, over GitHub\'s OIDC provider, for an hour at most', () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      RoleName: 'staging-github-previews',
      MaxSessionDuration: 3600,
      AssumeRolePolicyDocument: {
        Statement: [{
          Action: 'sts:AssumeRoleWithWebIdentity',
          Effect: 'Allow',
          Principal: { Federated: Match.anyValue() },
          Condition: {
            StringEquals: {
              'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
              'token.actions.githubusercontent.com:sub': 'repo:acme/shop:pull_request',
            },
          },
        }],
      },
    });
    expect(built.previews.subject).toBe('repo:acme/shop:pull_request');
    template.resourceCountIs('AWS::IAM::OIDCProvider', 1);
  });

  test('a job\'s AWS session lasts as long as the job may run, and no longer than the role allows', () => {
    const maxSession = template.findResources('AWS::IAM::Role', { Properties: { RoleName: 'staging-github-previews' } });
    const maxSessionSeconds = Object.values(maxSession)[0].Properties.MaxSessionDuration;
    const credentialSteps = Object.values<any>(workflow.jobs).flatMap((job) => job.steps).filter((s) => s.with?.['role-to-assume']);
    expect(credentialSteps).toHaveLength(2);
    for (const job of ['deploy', 'delete']) {
      const step = workflow.jobs[job].steps.find((s: any) => s.with?.['role-to-assume']);
      expect(step.with['role-duration-seconds']).toBe(maxSessionSeconds);
      expect(workflow.jobs[job]['timeout-minutes'] * 60).toBeLessThanOrEqual(step.with['role-duration-seconds']);
    }
    // The longest job allowed still fits in the session.
    const longest = parse(built.previews.renderWorkflow({ timeoutMinutes: 60 }));
    expect(longest.jobs.deploy['timeout-minutes'] * 60).toBeLessThanOrEqual(maxSessionSeconds);
    expect(() => built.previews.renderWorkflow({ timeoutMinutes: 61 })).toThrow(/timeoutMinutes \(Python: timeout_minutes\) must be an integer from 5 to 60 \(got 61\)/);
  });

  test('may read the SSM parameters CloudFormation reads with its credentials at change-set time: the CDK bootstrap version, the services\' preview roles', () => {
    const statements = statementsOf(built.previews.role).map((s) => built.stack.resolve(s));
    const readable = statements.filter((s) => [s.Action].flat().includes('ssm:GetParameters')).flatMap((s) => [s.Resource].flat());
    expect(readable).toEqual(expect.arrayContaining([
      'arn:aws:ssm:us-east-1:123456789012:parameter/cdk-bootstrap/*/version',
      'arn:aws:ssm:us-east-1:123456789012:parameter/staging/*/preview-*',
    ]));
    // Read-only: the statement that names them grants nothing else.
    const ssmOnly = statements.filter((s) => [s.Resource].flat().includes('arn:aws:ssm:us-east-1:123456789012:parameter/cdk-bootstrap/*/version'));
    expect(ssmOnly.map((s) => s.Action)).toEqual(['ssm:GetParameters']);
  });

  test('may push to the previewed services\' repositories, read the published parameters and change preview stacks, nothing else', () => {
    const stack = built.stack;
    const statements = statementsOf(built.previews.role).map((s) => stack.resolve(s));
    const resourcesOf = (action: string) => statements.filter((s) => [s.Action].flat().includes(action)).flatMap((s) => [s.Resource].flat());
    const actions = statements.flatMap((s) => [s.Action].flat()).sort();
    expect([...new Set(actions)]).toEqual([
      'cloudformation:CreateChangeSet', 'cloudformation:DeleteStack', 'cloudformation:DescribeChangeSet', 'cloudformation:DescribeStackEvents',
      'cloudformation:DescribeStacks', 'cloudformation:ExecuteChangeSet', 'cloudformation:ListStacks', 'cloudformation:TagResource',
      'ecr:BatchCheckLayerAvailability', 'ecr:CompleteLayerUpload', 'ecr:DescribeImages', 'ecr:GetAuthorizationToken', 'ecr:InitiateLayerUpload',
      'ecr:PutImage', 'ecr:UploadLayerPart',
      'iam:PassRole', 'ssm:GetParameter', 'ssm:GetParameters',
    ]);
    // Stacks: the preview stacks' names only; ListStacks has no resource-level permissions.
    for (const action of ['cloudformation:CreateChangeSet', 'cloudformation:ExecuteChangeSet', 'cloudformation:DeleteStack', 'cloudformation:DescribeStacks']) {
      expect(resourcesOf(action)).toEqual([STACKS]);
    }
    expect(resourcesOf('cloudformation:ListStacks')).toEqual(['*']);
    // Repositories: the two previewed services', by reference; no ECS, no image-uri parameter.
    const repositories = resourcesOf('ecr:PutImage').map((r) => JSON.stringify(r));
    expect(repositories).toHaveLength(2);
    expect(repositories.join()).toMatch(/webNestedStack.*apiNestedStack|apiNestedStack.*webNestedStack/);
    // Each the service's preview repository, never the service's own (where staging deploys from).
    for (const service of [built.web, built.api]) {
      const own = Stack.of(service).resolve((service.repository.node.defaultChild as CfnResource).logicalId);
      expect(repositories.join()).not.toContain(`${own}Arn`);
      expect(repositories.join()).not.toContain(`${own}.Arn`);
    }
    expect(repositories.every((r) => /Preview(Repository|Repo)/.test(r))).toBe(true);
    expect(JSON.stringify(resourcesOf('ssm:GetParameter'))).toContain('parameter/staging/_environment/*');
    expect(JSON.stringify(resourcesOf('ssm:GetParameter'))).toContain('parameter/staging/_previews/*');
    expect(JSON.stringify(statements)).not.toMatch(/ecs:|ssm:PutParameter|image-uri/);
  });

  test('passes the preview CloudFormation role only, to CloudFormation only', () => {
    const statements = statementsOf(built.previews.role).map((s) => built.stack.resolve(s));
    const passRole = statements.filter((s) => [s.Action].flat().includes('iam:PassRole'));
    expect(passRole).toEqual([{
      Action: 'iam:PassRole',
      Effect: 'Allow',
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^StagingPreviewsCloudFormationRole/), 'Arn'] },
      Condition: { StringEquals: { 'iam:PassedToService': 'cloudformation.amazonaws.com' } },
    }]);
  });

  test('pushes only to the repositories of the services previews deploy', () => {
    const only = build(testApp(), ['web']);
    const statements = statementsOf(only.previews.role).map((s) => only.stack.resolve(s));
    const pushed = statements.filter((s) => [s.Action].flat().includes('ecr:PutImage')).flatMap((s) => [s.Resource].flat());
    expect(JSON.stringify(pushed)).toContain('webNestedStack');
    expect(JSON.stringify(pushed)).not.toContain('apiNestedStack');
  });

  test('publishes where the workflow pushes: the delivery target parameter', () => {
    template.hasResourceProperties('AWS::SSM::Parameter', { Name: '/staging/_previews/delivery-target', Type: 'String' });
    // Created after the environment's published parameters (Parameter Store throttles parallel writes)
    const target = Object.values(template.findResources('AWS::SSM::Parameter', { Properties: { Name: '/staging/_previews/delivery-target' } }))[0];
    const manifest = Object.keys(template.findResources('AWS::SSM::Parameter', { Properties: { Name: '/staging/_environment/manifest' } }))[0];
    expect(target.DependsOn).toEqual(expect.arrayContaining([manifest]));
    expect(built.previews.deliveryTargetParameterName).toBe('/staging/_previews/delivery-target');
  });

  test('shares the stack\'s GitHub OIDC provider with the deploy roles', () => {
    const { stack, web } = build();
    web.addGithubActionsDeployRole({ repository: 'acme/shop' });
    Template.fromStack(stack).resourceCountIs('AWS::IAM::OIDCProvider', 1);
  });

  test('imports the account\'s provider when given, creating none', () => {
    const stack = new Stack(testApp(), 'Imported', { env: TEST_ENV });
    const environment = previewEnvironment({ stack });
    environment.addService('web');
    const oidcProvider = iam.OidcProviderNative.fromOidcProviderArn(stack, 'GitHub', 'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com');
    new GitHubActionsPreviewRole(stack, 'PreviewRole', { environment, repository: 'acme/shop', oidcProvider });
    Template.fromStack(stack).resourceCountIs('AWS::IAM::OIDCProvider', 0);
  });

  describe('its workflow', () => {
    test('runs on pull requests opened, synchronized, reopened and closed; never pull_request_target', () => {
      expect(workflow.on).toEqual({ pull_request: { types: ['opened', 'synchronize', 'reopened', 'closed'] } });
      expect(fs.readFileSync(workflowFile, 'utf8')).not.toContain('pull_request_target');
      // Plain YAML: no anchors or aliases, which older parsers of workflows do not read.
      expect(fs.readFileSync(workflowFile, 'utf8')).not.toMatch(/[&*]a\d/);
      expect(workflow.permissions).toEqual({});
    });

    test('deploys and deletes only for pull requests of this repository, never from a fork nor Dependabot', () => {
      const fork = 'github.event.pull_request.head.repo.full_name == github.repository && github.actor != \'dependabot[bot]\'';
      expect(workflow.jobs.deploy.if).toBe(`github.event.action != 'closed' && ${fork}`);
      expect(workflow.jobs.delete.if).toBe(`github.event.action == 'closed' && ${fork}`);
      expect(workflow.jobs.comment.if).toBe(`always() && github.event.action != 'closed' && ${fork}`);
    });

    test('gives each job the least permissions: OIDC where AWS is called, pull-requests: write where it comments', () => {
      expect(workflow.jobs.deploy.permissions).toEqual({ 'contents': 'read', 'id-token': 'write' });
      expect(workflow.jobs.comment.permissions).toEqual({ 'pull-requests': 'write' });
      expect(workflow.jobs.delete.permissions).toEqual({ 'id-token': 'write' });
    });

    test('allocates slots one deploy at a time for the environment; a delete waits only for its own pull request\'s', () => {
      expect(workflow.jobs.deploy.concurrency).toEqual({ 'group': 'previews-staging', 'cancel-in-progress': false });
      // GitHub cancels a pending job of a group when another is queued: no other pull request's job may cancel a delete.
      expect(workflow.jobs.delete.concurrency).toEqual({ 'group': 'previews-staging-pr-${{ github.event.pull_request.number }}', 'cancel-in-progress': false });
    });

    test('pins its actions to commit SHAs, builds the pull request\'s commit, assumes the preview role', () => {
      const steps = Object.values<any>(workflow.jobs).flatMap((job) => job.steps);
      for (const step of steps.filter((s) => s.uses)) {
        expect(step.uses).toMatch(/@[0-9a-f]{40}$/);
      }
      const deploy = workflow.jobs.deploy;
      expect(deploy.steps[0].with).toEqual({ 'ref': '${{ github.event.pull_request.head.sha }}', 'persist-credentials': false });
      expect(deploy.steps[1].with['role-to-assume']).toBe('arn:aws:iam::123456789012:role/staging-github-previews');
      expect(deploy.env.STACK).toBe('staging-preview-pr-${{ github.event.pull_request.number }}');
      // Values reach scripts through env, never ${{ }} inside run (template injection).
      expect(steps.filter((s) => s.run).map((s) => s.run).join('\n')).not.toContain('${{');
    });

    test('passes actionlint', () => {
      const result = actionlint(workflowFile);
      expect(result.output).toBe('');
      expect(result.findings).toBe(false);
    });

    test('passes zizmor, offline, with no finding', () => {
      const result = zizmor(workflowFile);
      expect(result.findings ? result.output : '').toBe('');
    });

    test('builds on an arm runner for ARM64 services', () => {
      const stack = new Stack(testApp(), 'Arm', { env: TEST_ENV });
      const environment = previewEnvironment({ stack });
      environment.addService('web', { cpuArchitecture: ecs.CpuArchitecture.ARM64 });
      const rendered = parse(new GitHubActionsPreviewRole(stack, 'PreviewRole', { environment, repository: 'acme/shop' }).renderWorkflow());
      expect(rendered.jobs.deploy['runs-on']).toBe('ubuntu-24.04-arm');
      expect(rendered.jobs.deploy.env.PLATFORM).toBe('linux/arm64');
    });
  });

  test('is posture-clean, and cfn-lint finds nothing in its stack', () => {
    const { app } = build();
    expect(formatFindings(postureFindings(app))).toBe('');
    // W3010 is the environment's own: the subnets of a stack with an account and region name their AZs.
    const matches = cfnLint([path.join(app.synth().directory, 'Previews.template.json')]).filter((m) => m.Rule.Id !== 'W3010');
    expect(formatMatches(matches)).toBe('');
  });

  test('parliament finds nothing in its policies but GitHub\'s own condition keys and provider', () => {
    // GIVEN the synthesized app
    const { app } = build();
    const assembly = app.synth();
    // WHEN
    const policies = policiesOf(assembly.directory).filter((p) => /#PreviewRole/.test(p.id));
    const findings = parliament(policies);
    // THEN: the permissions policy is clean; the trust policy has what the deploy role's has (test/iam-audit.test.ts explains both)
    expect(policies.map((p) => p.kind).sort()).toEqual(['identity', 'trust']);
    expect([...new Set(findings.map((f) => `${f.kind} ${f.issue}`))].sort()).toEqual(['trust UNKNOWN_CONDITION_FOR_ACTION', 'trust UNKNOWN_FEDERATION_SOURCE']);
    // Checked against resources of their real shape: the repositories' ARNs came out of the services' nested stacks.
    const identity = policies.find((p) => p.kind === 'identity')!;
    expect(JSON.stringify(identity.document)).toMatch(/arn:aws:ecr:us-east-1:123456789012:repository\/[a-z0-9-]+"/);
  });

  describe('fails at synth', () => {
    const environmentWith = (options: Parameters<typeof previewEnvironment>[0] = {}) => {
      const stack = new Stack(testApp(), 'Bad', { env: TEST_ENV });
      const environment = previewEnvironment({ stack, ...options });
      environment.addService('web');
      return { stack, environment };
    };

    test('fails when the repository is not owner/repo', () => {
      const { stack, environment } = environmentWith();
      expect(() => new GitHubActionsPreviewRole(stack, 'PreviewRole', { environment, repository: 'shop' }))
        .toThrow(/repository must be 'owner\/repo' \(got 'shop'\); for example 'acme\/web'/);
    });

    test('fails when the environment allows no previews', () => {
      const stack = new Stack(testApp(), 'Bad', { env: TEST_ENV });
      const environment = new EcsStagingEnvironment(stack, 'Staging');
      expect(() => new GitHubActionsPreviewRole(stack, 'PreviewRole', { environment, repository: 'acme/shop' }))
        .toThrow(/environment 'staging' allows no previews \(got no previews\); set previews on the environment/);
    });

    test('fails when the environment has no domain: its previews prop is refused first', () => {
      expect(() => environmentWith({ props: { domain: undefined } }))
        .toThrow(/previews needs a domain \(got previews without domain\)/);
    });

    test('fails when previews.services names a service the environment does not have', () => {
      const { stack, environment } = environmentWith({ services: ['web', 'shop'] });
      expect(() => new GitHubActionsPreviewRole(stack, 'PreviewRole', { environment, repository: 'acme/shop' }))
        .toThrow(/previews.services names 'shop', which is not a service of the environment/);
    });

    test('fails when a previewed service is added after the role', () => {
      const { stack, environment } = environmentWith();
      new GitHubActionsPreviewRole(stack, 'PreviewRole', { environment, repository: 'acme/shop' });
      environment.addService('late', { pathPatterns: ['/late/*'] });
      expect(() => Template.fromStack(stack)).toThrow(/services late were added to the environment after the preview role/);
    });

    test('fails when builds names a service without previews, or the workflow\'s options are out of range', () => {
      const { stack, environment } = environmentWith();
      const role = new GitHubActionsPreviewRole(stack, 'PreviewRole', { environment, repository: 'acme/shop' });
      expect(() => role.renderWorkflow({ builds: { api: {} } })).toThrow(/builds names service 'api', which has no previews/);
      expect(() => role.renderWorkflow({ timeoutMinutes: 2 })).toThrow(/timeoutMinutes \(Python: timeout_minutes\) must be an integer from 5 to 60 \(got 2\)/);
      expect(() => role.renderWorkflow({ runsOn: 'a, b' })).toThrow(/runsOn must be one runner label/);
      expect(() => role.renderWorkflow({ installCommand: 'npm ci\nrm -rf /' })).toThrow(/installCommand must be one line/);
    });

    test('fails when the previewed services run on two CPU architectures', () => {
      const { stack, environment } = environmentWith();
      environment.addService('arm', { cpuArchitecture: ecs.CpuArchitecture.ARM64, pathPatterns: ['/arm/*'] });
      const role = new GitHubActionsPreviewRole(stack, 'PreviewRole', { environment, repository: 'acme/shop' });
      expect(() => role.renderWorkflow()).toThrow(/the previewed services run on X86_64 and ARM64/);
    });
  });
});
