import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import { parse } from 'yaml';
import { EcsStagingEnvironment, GitHubActionsDeployRole, StagingService } from '../src';
import { testApp, TEST_ENV, testStack } from './harness/apps';
import { formatFindings, postureFindings } from './harness/posture';
import { actionlint, zizmor } from './harness/workflow-linters';

describe('GitHubActionsDeployRole', () => {
  let web: StagingService;
  let deploy: GitHubActionsDeployRole;
  let parentTemplate: Template;
  let template: Template;
  let workflow: string;
  let workflowFile: string;
  beforeAll(() => {
    const parent = testStack();
    const env = new EcsStagingEnvironment(parent, 'Staging');
    web = env.addService('web');
    deploy = web.addGitHubActionsDeployRole({ repository: 'acme/web' });
    env.addService('api', { pathPatterns: ['/api/*'] }).addGitHubActionsDeployRole({ repository: 'acme/api', githubEnvironment: 'staging' });
    parentTemplate = Template.fromStack(parent);
    template = Template.fromStack(Stack.of(web));
    workflow = deploy.renderWorkflow();
    workflowFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'workflow-')), 'deploy-web.yml');
    fs.writeFileSync(workflowFile, workflow);
  });

  test('creates one native GitHub OIDC provider for the stack, no custom resource', () => {
    parentTemplate.resourceCountIs('AWS::IAM::OIDCProvider', 1);
    parentTemplate.hasResourceProperties('AWS::IAM::OIDCProvider', { Url: 'https://token.actions.githubusercontent.com', ClientIdList: ['sts.amazonaws.com'] });
    parentTemplate.resourceCountIs('AWS::Lambda::Function', 1); // CDK's default-security-group provider only
  });

  test('trusts only sts.amazonaws.com tokens of the repository\'s branch', () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      RoleName: 'staging-web-github-deploy',
      AssumeRolePolicyDocument: {
        Statement: [{
          Action: 'sts:AssumeRoleWithWebIdentity',
          Effect: 'Allow',
          Principal: { Federated: Match.anyValue() },
          Condition: { StringEquals: { 'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com', 'token.actions.githubusercontent.com:sub': 'repo:acme/web:ref:refs/heads/main' } },
        }],
      },
    });
    expect(deploy.subject).toBe('repo:acme/web:ref:refs/heads/main');
  });

  test('trusts a GitHub environment instead, when given', () => {
    const api = Template.fromStack(Stack.of(web).node.scope!.node.findChild('api') as Stack);
    api.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Condition: { StringEquals: Match.objectLike({ 'token.actions.githubusercontent.com:sub': 'repo:acme/api:environment:staging' }) } })] },
    });
  });

  test('may push to the service\'s repository, write its parameter, register its task definitions and roll that service only', () => {
    const role = deploy.role;
    const roleRef = JSON.stringify(Stack.of(role).resolve(role.roleName));
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => p.Properties.Roles.some((r: unknown) => JSON.stringify(r) === roleRef))
      .flatMap((p) => p.Properties.PolicyDocument.Statement);
    const byAction = (action: string) => statements.filter((s) => [s.Action].flat().includes(action));
    const text = JSON.stringify(statements);
    // The only '*': actions without resource-level permissions.
    expect(statements.filter((s) => s.Resource === '*').flatMap((s) => [s.Action].flat()).sort())
      .toEqual(['ecr:GetAuthorizationToken', 'ecs:DescribeTaskDefinition', 'ecs:RegisterTaskDefinition']);
    expect(JSON.stringify(byAction('ecr:PutImage')[0].Resource)).toMatch(/ServiceRepository/);
    expect(JSON.stringify(byAction('ssm:PutParameter')[0].Resource)).toMatch(/ServiceImageParameter/);
    expect(JSON.stringify(byAction('ecs:UpdateService')[0].Resource)).toMatch(/Service9571FDD8/);
    const passRole = byAction('iam:PassRole')[0];
    expect(passRole.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
    expect(JSON.stringify(passRole.Resource)).toMatch(/ServiceTaskRole.*ServiceExecutionRole/);
    expect(text).not.toMatch(/"ecs:\*"|"iam:\*"|"ssm:\*"/);
  });

  test('writes what to deploy into a parameter the workflow reads', () => {
    template.hasResourceProperties('AWS::SSM::Parameter', { Name: '/staging/web/deploy-target', Type: 'String' });
    expect(deploy.deployTargetParameterName).toBe('/staging/web/deploy-target');
  });

  test('renders a workflow: checkout, OIDC, build, push once per commit, parameter, revision, rollout, wait', () => {
    const parsed = parse(workflow);
    expect(parsed.on.push.branches).toEqual(['main']);
    expect(parsed.permissions).toEqual({});
    expect(parsed.concurrency).toEqual({ 'group': 'deploy-staging-web', 'cancel-in-progress': false });
    const job = parsed.jobs.deploy;
    expect(job.permissions).toEqual({ 'contents': 'read', 'id-token': 'write' });
    const uses = job.steps.filter((s: any) => s.uses).map((s: any) => s.uses);
    for (const action of uses) {
      expect(action).toMatch(/@[0-9a-f]{40}$/);
    }
    expect(job.steps[1].with['role-to-assume']).toBe('arn:aws:iam::123456789012:role/staging-web-github-deploy');
    const script = job.steps.map((s: any) => s.run ?? '').join('\n');
    expect(script).toContain('aws ecr describe-images');
    expect(script).toContain('not pushed again');
    expect(script).toContain('aws ssm put-parameter --name "$IMAGE_PARAMETER"');
    expect(script).toContain('aws ecs register-task-definition');
    expect(script).toContain('aws ecs wait services-stable');
    // Values reach scripts through the environment, never ${{ }} inside run (template injection).
    expect(script).not.toContain('${{');
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

  test('the linters find what is wrong in a broken workflow', () => {
    const broken = path.join(path.dirname(workflowFile), 'broken.yml');
    fs.writeFileSync(broken, [
      'on: push',
      'permissions: write-all',
      'jobs:',
      '  x:',
      '    runs-on: ubuntu-latest',
      '    steps:',
      '      - uses: actions/checkout@v4',
      '      - run: echo "${{ github.event.head_commit.message }}"',
      '      - run: echo ${{ unknown.context }}',
    ].join('\n'));
    expect(actionlint(broken).findings).toBe(true);
    expect(zizmor(broken).findings).toBe(true);
  });

  test('is posture-clean', () => {
    const app = testApp();
    const stack = new Stack(app, 'Deploy', { env: TEST_ENV });
    new EcsStagingEnvironment(stack, 'Staging').addService('web', { user: '1000' }).addGitHubActionsDeployRole({ repository: 'acme/web' });
    expect(formatFindings(postureFindings(app))).toBe('');
  });

  test('imports the account\'s provider when given, creating none', () => {
    const stack = testStack();
    const provider = iam.OidcProviderNative.fromOidcProviderArn(stack, 'GitHub', 'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com');
    new EcsStagingEnvironment(stack, 'Staging').addService('web').addGitHubActionsDeployRole({ repository: 'acme/web', oidcProvider: provider });
    Template.fromStack(stack).resourceCountIs('AWS::IAM::OIDCProvider', 0);
  });

  describe('fails at synth on bad input', () => {
    const add = (options: any, serviceOptions: any = {}) => () => new EcsStagingEnvironment(testStack(), 'Staging').addService('web', serviceOptions).addGitHubActionsDeployRole(options);
    const PREFIX = 'Test/Staging/web/Service/GitHubActionsDeploy: ';
    test.each([
      ['an empty repository', { repository: '' }, "repository must be 'owner/repo' (got ''); for example 'acme/web'"],
      ['a repository without owner', { repository: 'web' }, "repository must be 'owner/repo' (got 'web'); for example 'acme/web'"],
      ['an empty branch', { repository: 'acme/web', branch: '' }, "branch must name one branch, without wildcards (got ''); a wildcard would let any matching branch deploy: for example 'main'"],
      ['a branch with a wildcard', { repository: 'acme/web', branch: 'release/*' },
        "branch must name one branch, without wildcards (got 'release/*'); a wildcard would let any matching branch deploy: for example 'main'"],
      ['both a branch and an environment', { repository: 'acme/web', branch: 'main', githubEnvironment: 'staging' },
        'branch and githubEnvironment cannot be used together (got both); the role trusts one subject: a branch, or a GitHub environment (whose rules choose the branches)'],
    ])('fails on %s', (_, options, message) => {
      expect(add(options)).toThrow(PREFIX + message);
    });

    test('fails for a service that runs an image given in code', () => {
      expect(add({ repository: 'acme/web' }, { image: ecs.ContainerImage.fromRegistry('public.ecr.aws/nginx/nginx:1.27') })).toThrow(
        PREFIX + "service 'web' runs an image given in code (got image), so there is nothing to deploy; leave image out so the service runs from its own repository");
    });

    test('fails on a second deploy role for one service', () => {
      const web2 = new EcsStagingEnvironment(testStack(), 'Staging').addService('web');
      web2.addGitHubActionsDeployRole({ repository: 'acme/web' });
      expect(() => web2.addGitHubActionsDeployRole({ repository: 'acme/other' })).toThrow(
        "Test/Staging/web/Service: service 'web' has a GitHub Actions deploy role already (got a second one); one pipeline deploys a service: keep one");
    });
  });
});
