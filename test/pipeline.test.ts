import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CfnElement, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { parse } from 'yaml';
import { EcsStagingEnvironment, GitHubActionsDeployRole, StagingPipeline, StagingPipelineSource, StagingService } from '../src';
import { testApp, TEST_ENV, testStack } from './harness/apps';
import { statementsOf } from './harness/iam';
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
    deploy = web.addGithubActionsDeployRole({ repository: 'acme/web' });
    env.addService('api', { pathPatterns: ['/api/*'] }).addGithubActionsDeployRole({ repository: 'acme/api', githubEnvironment: 'staging' });
    parentTemplate = Template.fromStack(parent);
    template = Template.fromStack(Stack.of(web));
    workflow = deploy.renderWorkflow();
    workflowFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'workflow-')), 'deploy-web.yml');
    fs.writeFileSync(workflowFile, workflow);
  });

  test('heads the workflow with the service and the environment, each named once', () => {
    expect(workflow.split('\n')[0]).toBe('# Deploys service web of the environment staging (cdk-ecs-staging).');
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
    const statements = statementsOf(deploy.role);
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

  test('registers its copy untagged, so it needs no ecs:TagResource', () => {
    // The copy is read without `--include TAGS`, so DescribeTaskDefinition returns no tags and the
    // registration passes none (tag-on-create is authorized only when tags are given,
    // https://docs.aws.amazon.com/AmazonECS/latest/developerguide/supported-iam-actions-tagging.html).
    const script = parse(workflow).jobs.deploy.steps.map((s: any) => s.run ?? '').join('\n');
    expect(script).toContain('aws ecs register-task-definition --cli-input-json file://next.json');
    expect(script).not.toMatch(/--include|--tags|\.tags/);
    expect(statementsOf(deploy.role).flatMap((s) => [s.Action].flat())).not.toContain('ecs:TagResource');
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
    // The deployment of the registered revision is watched until COMPLETED; services-stable also passes after a rollback.
    expect(script).not.toContain('services-stable');
    expect(script).toContain('COMPLETED');
    // The parameter is written once the deployment COMPLETED (what runs is tested in test/scripts.test.ts).
    expect(script.indexOf('aws ssm put-parameter')).toBeGreaterThan(script.indexOf('COMPLETED'));
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
    new EcsStagingEnvironment(stack, 'Staging').addService('web', { user: '1000' }).addGithubActionsDeployRole({ repository: 'acme/web' });
    expect(formatFindings(postureFindings(app))).toBe('');
  });

  test('retains the OIDC provider when the stack is deleted, ephemeral or not, but not when its first create rolls back', () => {
    // GIVEN an ephemeral environment, which deletes what it owns
    const stack = testStack();
    new EcsStagingEnvironment(stack, 'Staging', { ephemeral: true }).addService('web').addGithubActionsDeployRole({ repository: 'acme/web' });
    // THEN the account's provider stays (other environments import it), except that a failed first
    // deploy's rollback deletes the provider it created, so the next deploy can create it again
    Template.fromStack(stack).hasResource('AWS::IAM::OIDCProvider', { DeletionPolicy: 'RetainExceptOnCreate', UpdateReplacePolicy: 'Retain' });
    parentTemplate.hasResource('AWS::IAM::OIDCProvider', { DeletionPolicy: 'RetainExceptOnCreate' });
  });

  test('imports the account\'s provider when given, creating none', () => {
    const stack = testStack();
    const provider = iam.OidcProviderNative.fromOidcProviderArn(stack, 'GitHub', 'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com');
    new EcsStagingEnvironment(stack, 'Staging').addService('web').addGithubActionsDeployRole({ repository: 'acme/web', oidcProvider: provider });
    Template.fromStack(stack).resourceCountIs('AWS::IAM::OIDCProvider', 0);
  });

  describe('fails at synth on bad input', () => {
    const add = (options: any, serviceOptions: any = {}) => () => new EcsStagingEnvironment(testStack(), 'Staging').addService('web', serviceOptions).addGithubActionsDeployRole(options);
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

    test('fails to render a workflow for an environment-agnostic stack, or with a timeout GitHub does not take', () => {
      const agnostic = new EcsStagingEnvironment(new Stack(testApp(), 'Agnostic', { env: { region: 'us-east-1' } }), 'Staging').addService('web').addGithubActionsDeployRole({ repository: 'acme/web' });
      expect(() => agnostic.renderWorkflow()).toThrow(
        "Agnostic/Staging/web/Service/GitHubActionsDeploy: renderWorkflow needs the stack's account (got an environment-agnostic stack); give the stack an env with an account and a region [Python: render_workflow]");
      const withAccount = new EcsStagingEnvironment(testStack(), 'Staging').addService('web').addGithubActionsDeployRole({ repository: 'acme/web' });
      expect(() => withAccount.renderWorkflow({ timeoutMinutes: 400 })).toThrow(
        PREFIX + 'timeoutMinutes must be an integer from 1 to 360 (got 400); GitHub stops a job after 360 minutes');
      expect(() => withAccount.renderWorkflow({ timeoutMinutes: 10, rolloutTimeoutMinutes: 15 })).toThrow(
        PREFIX + 'rolloutTimeoutMinutes must be an integer from 1 to timeoutMinutes, 10 (got 15); the job stops at timeoutMinutes, so the rollout must be judged before it');
      expect(() => withAccount.renderWorkflow({ runsOn: 'ubuntu-24.04, self-hosted' })).toThrow(
        PREFIX + 'runsOn must be one runner label, without spaces, commas or quotes (got \'ubuntu-24.04, self-hosted\'); '
        + 'for example \'ubuntu-24.04-arm\', or a label of your self-hosted runners of the service\'s architecture [Python: runs_on]');
      expect(withAccount.renderWorkflow({ runsOn: 'my-arm-runners' })).toContain('runs-on: my-arm-runners');
    });

    test('fails on a second deploy role for one service', () => {
      const web2 = new EcsStagingEnvironment(testStack(), 'Staging').addService('web');
      web2.addGithubActionsDeployRole({ repository: 'acme/web' });
      expect(() => web2.addGithubActionsDeployRole({ repository: 'acme/other' })).toThrow(
        "Test/Staging/web/Service: service 'web' has a GitHub Actions deploy role already (got a GitHub Actions deploy role too); one pipeline deploys a service: keep one");
    });
  });
});

describe('StagingPipeline', () => {
  const CONNECTION = 'arn:aws:codeconnections:us-east-1:123456789012:connection/0a1b2c3d-0000-1111-2222-333344445555';
  let web: StagingService;
  let pipeline: StagingPipeline;
  let template: Template;
  beforeAll(() => {
    const parent = testStack();
    web = new EcsStagingEnvironment(parent, 'Staging').addService('web');
    pipeline = web.addPipeline({ source: StagingPipelineSource.connection({ connectionArn: CONNECTION, owner: 'acme', repo: 'web' }), manualApproval: true });
    template = Template.fromStack(Stack.of(web));
  });

  const recordProjectId = () => Stack.of(web).getLogicalId(pipeline.recordProject.node.defaultChild as CfnElement);

  test('runs CodePipeline V2, queued, so two deploys of the service never overlap', () => {
    template.hasResourceProperties('AWS::CodePipeline::Pipeline', {
      PipelineType: 'V2',
      ExecutionMode: 'QUEUED',
      Stages: [
        Match.objectLike({ Name: 'Source', Actions: [Match.objectLike({ ActionTypeId: Match.objectLike({ Provider: 'CodeStarSourceConnection' }), Configuration: Match.objectLike({ FullRepositoryId: 'acme/web', BranchName: 'main', ConnectionArn: CONNECTION }) })] }),
        Match.objectLike({ Name: 'Build', Actions: [Match.objectLike({ ActionTypeId: Match.objectLike({ Provider: 'CodeBuild' }), Configuration: Match.objectLike({ EnvironmentVariables: Match.stringLikeRegexp('SOURCE_VERSION.*#\\{Source_Source_NS\\.CommitId\\}') }) })] }),
        Match.objectLike({ Name: 'Approve', Actions: [Match.objectLike({ ActionTypeId: Match.objectLike({ Provider: 'Manual' }) })] }),
        // One stage, whose lock covers all three: the service checked awake (again: the approval may have waited
        // past the end of its working hours), the ECS deploy, and the record step, which names the image only once
        // it is deployed. No later execution deploys while this one records.
        Match.objectLike({
          Name: 'Deploy',
          Actions: [
            Match.objectLike({
              Name: 'CheckAwake',
              RunOrder: 1,
              ActionTypeId: Match.objectLike({ Provider: 'CodeBuild' }),
              Configuration: Match.objectLike({ ProjectName: { Ref: recordProjectId() }, EnvironmentVariables: Match.stringLikeRegexp('RECORD_STEP.*check') }),
            }),
            Match.objectLike({ Name: 'Deploy', RunOrder: 2, ActionTypeId: Match.objectLike({ Provider: 'ECS' }), Configuration: Match.objectLike({ DeploymentTimeout: 30 }) }),
            Match.objectLike({ Name: 'WriteImageParameter', RunOrder: 3, ActionTypeId: Match.objectLike({ Provider: 'CodeBuild' }), Configuration: Match.objectLike({ ProjectName: { Ref: recordProjectId() } }) }),
          ],
        }),
      ],
    });
  });

  test('builds privileged (docker build) with the Docker layer cache, logging to a log group kept a month', () => {
    template.hasResourceProperties('AWS::CodeBuild::Project', {
      Environment: Match.objectLike({ PrivilegedMode: true, ComputeType: 'BUILD_GENERAL1_SMALL' }),
      Cache: { Type: 'LOCAL', Modes: ['LOCAL_DOCKER_LAYER_CACHE'] },
      TimeoutInMinutes: 30,
      LogsConfig: { CloudWatchLogs: Match.objectLike({ Status: 'ENABLED' }) },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  test('runs each step as one bash command that cannot fall through: the build emits imagedefinitions.json, the record step writes the parameter', () => {
    const resources = template.toJSON().Resources;
    const idOf = (project: any) => Stack.of(web).getLogicalId(project.node.defaultChild as CfnElement);
    const specOf = (project: any) => JSON.parse(resources[idOf(project)].Properties.Source.BuildSpec);
    for (const spec of [specOf(pipeline.project), specOf(pipeline.recordProject)]) {
      // Nothing runs after a failed command (no post_build that would run anyway); one command, in bash.
      expect(spec.phases.build['on-failure']).toBe('ABORT');
      expect(Object.keys(spec.phases)).toEqual(['build']);
      expect(spec.env).toEqual({ shell: 'bash' });
      expect(spec.phases.build.commands).toHaveLength(1);
      expect(spec.phases.build.commands[0]).toMatch(/^\(\nset -euo pipefail\n[\s\S]*\n\)$/);
    }
    const build = specOf(pipeline.project).phases.build.commands[0];
    expect(build).toContain('aws ecr describe-images');
    expect(build).toContain('not pushed again');
    expect(build).not.toContain('put-parameter');
    expect(build.indexOf('docker push')).toBeLessThan(build.lastIndexOf('imagedefinitions.json'));
    expect(specOf(pipeline.project).artifacts).toEqual({ files: ['imagedefinitions.json'] });
    // The record step polls the deployment through the alarms' bake time: 20 minutes, within its project's timeout.
    const recordProject = resources[idOf(pipeline.recordProject)].Properties;
    expect(recordProject.TimeoutInMinutes).toBe(25);
    expect(recordProject.Environment.EnvironmentVariables).toEqual(expect.arrayContaining([{ Name: 'ROLLOUT_TIMEOUT_SECONDS', Type: 'PLAINTEXT', Value: '1200' }]));
    const record = specOf(pipeline.recordProject).phases.build.commands[0];
    expect(record).toContain('aws ssm put-parameter --name "$IMAGE_PARAMETER"');
    expect(record).not.toContain('docker');
  });

  test('keeps artifacts in an encrypted, TLS-only bucket that expires them', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 30 })] },
      PublicAccessBlockConfiguration: Match.objectLike({ BlockPublicAcls: true }),
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  test('lets the build push only to the service\'s repository and write only its parameter', () => {
    const [project] = Object.values(template.findResources('AWS::CodeBuild::Project'));
    // The project runs as the pipeline's build role.
    expect(project.Properties.ServiceRole['Fn::GetAtt'][0]).toBe(Stack.of(web).getLogicalId(pipeline.buildRole.node.defaultChild as CfnElement));
    const statements = statementsOf(pipeline.buildRole);
    const star = statements.filter((s) => s.Resource === '*').flatMap((s) => [s.Action].flat());
    expect(star).toEqual(['ecr:GetAuthorizationToken']);
    const push = statements.find((s) => [s.Action].flat().includes('ecr:PutImage'))!;
    expect(JSON.stringify(push.Resource)).toMatch(/ServiceRepository/);
    expect(statements.find((s) => [s.Action].flat().includes('ssm:PutParameter'))).toBeUndefined();
    // The record step may write the parameter, and read the service, nothing else of ECS.
    const recordStatements = statementsOf(pipeline.recordRole);
    const write = recordStatements.find((s) => [s.Action].flat().includes('ssm:PutParameter'))!;
    expect(JSON.stringify(write.Resource)).toMatch(/ServiceImageParameter/);
    expect(recordStatements.flatMap((s) => [s.Action].flat()).filter((a: string) => a.startsWith('ecs:')).sort()).toEqual(['ecs:DescribeServices', 'ecs:DescribeTaskDefinition']);
  });

  test('the ECS deploy action may pass only the service\'s task and execution roles, to ECS tasks', () => {
    const statements = statementsOf(pipeline.deployRole);
    const passRole = statements.filter((s) => [s.Action].flat().includes('iam:PassRole'));
    expect(passRole).toHaveLength(1);
    expect(passRole[0].Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
    expect(JSON.stringify(passRole[0].Resource)).toMatch(/ServiceTaskRole.*ServiceExecutionRole/);
    expect(JSON.stringify(statements.find((s) => [s.Action].flat().includes('ecs:UpdateService'))!.Resource)).toMatch(/Service9571FDD8/);
    // No policy of the stack passes any role ('*').
    const policies = Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    expect(policies.filter((st: any) => [st.Action].flat().includes('iam:PassRole') && st.Resource === '*')).toEqual([]);
    // The deploy stage runs as that role.
    template.hasResourceProperties('AWS::CodePipeline::Pipeline', {
      Stages: Match.arrayWith([Match.objectLike({
        Name: 'Deploy',
        Actions: Match.arrayWith([Match.objectLike({ Name: 'Deploy', RoleArn: { 'Fn::GetAtt': [Stack.of(web).getLogicalId(pipeline.deployRole.node.defaultChild as CfnElement), 'Arn'] } })]),
      })]),
    });
  });

  test('the ECS deploy action may tag the revision it registers, on the service\'s family only and only while registering', () => {
    // GIVEN the action registers a copy of the service's revision with its tags (tag-on-create)
    const statements = statementsOf(pipeline.deployRole);
    // THEN
    const tag = statements.filter((s) => [s.Action].flat().includes('ecs:TagResource'));
    expect(tag).toHaveLength(1);
    expect(tag[0].Condition).toEqual({ StringEquals: { 'ecs:CreateAction': 'RegisterTaskDefinition' } });
    expect(tag[0].Resource).toBe(`arn:aws:ecs:us-east-1:123456789012:task-definition/${web.taskDefinition.family}:*`);
  });

  test.each([
    ['codeconnections', CONNECTION],
    ['codestar-connections', 'arn:aws:codestar-connections:us-east-1:123456789012:connection/0a1b2c3d-0000-1111-2222-333344445555'],
  ])('grants %s:UseConnection on a connection of that prefix, and nothing of the other', (prefix, connectionArn) => {
    const svc = new EcsStagingEnvironment(testStack(), 'Staging').addService('web');
    svc.addPipeline({ source: StagingPipelineSource.connection({ connectionArn, owner: 'acme', repo: 'web' }) });
    const t = Template.fromStack(Stack.of(svc));
    const statements = Object.values(t.findResources('AWS::IAM::Policy')).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    const use = statements.filter((st: any) => [st.Action].flat().some((a: string) => a.endsWith(':UseConnection')));
    expect(use).toEqual([{ Action: `${prefix}:UseConnection`, Effect: 'Allow', Resource: connectionArn }]);
  });

  test('builds an ARM64 service on an ARM build image, natively', () => {
    const svc = new EcsStagingEnvironment(testStack(), 'Staging').addService('web', { cpuArchitecture: ecs.CpuArchitecture.ARM64 });
    svc.addPipeline({ source: StagingPipelineSource.connection({ connectionArn: CONNECTION, owner: 'acme', repo: 'web' }) });
    Template.fromStack(Stack.of(svc)).hasResourceProperties('AWS::CodeBuild::Project', {
      Environment: Match.objectLike({ Type: 'ARM_CONTAINER', Image: 'aws/codebuild/amazonlinux-aarch64-standard:3.0', PrivilegedMode: true }),
      Description: Match.stringLikeRegexp('Builds and pushes'),
    });
    template.hasResourceProperties('AWS::CodeBuild::Project', {
      Environment: Match.objectLike({ Type: 'LINUX_CONTAINER', Image: 'aws/codebuild/standard:7.0' }),
      Description: Match.stringLikeRegexp('Builds and pushes'),
    });
  });

  test('keeps the artifact bucket and build logs on stack deletion; an ephemeral environment deletes both, the bucket emptied after the pipeline is gone', () => {
    const kept = Template.fromStack(Stack.of(web));
    kept.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
    kept.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
    // GIVEN an ephemeral environment
    const svc = new EcsStagingEnvironment(testStack(), 'Staging', { ephemeral: true }).addService('web');
    const eph = svc.addPipeline({ source: StagingPipelineSource.connection({ connectionArn: CONNECTION, owner: 'acme', repo: 'web' }) });
    const t = Template.fromStack(Stack.of(svc));
    const id = (c: any) => Stack.of(svc).getLogicalId(c.node.defaultChild as CfnElement);
    // THEN
    t.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Delete' });
    expect(t.toJSON().Resources[id(eph.logGroup)].DeletionPolicy).toBe('Delete');
    // CloudFormation deletes a dependent before what it depends on: the pipeline and both projects
    // depend on the auto-delete custom resource, so the bucket is emptied only once they are gone.
    const resources = t.toJSON().Resources;
    const [autoDeleteId] = Object.keys(t.findResources('Custom::S3AutoDeleteObjects'));
    for (const writer of [eph.pipeline, eph.project, eph.recordProject]) {
      expect([resources[id(writer)].DependsOn].flat()).toContain(autoDeleteId);
    }
    expect([resources[autoDeleteId].DependsOn].flat()).not.toEqual(expect.arrayContaining([id(eph.pipeline)]));
    // An explicit ephemeral: false keeps them in an ephemeral environment.
    const svc2 = new EcsStagingEnvironment(testStack(), 'Staging', { ephemeral: true }).addService('web');
    svc2.addPipeline({ source: StagingPipelineSource.connection({ connectionArn: CONNECTION, owner: 'acme', repo: 'web' }), ephemeral: false });
    Template.fromStack(Stack.of(svc2)).resourceCountIs('Custom::S3AutoDeleteObjects', 0);
  });

  test('takes an S3 source, tagging images with the object\'s e-tag', () => {
    const parent = testStack();
    const bucket = new s3.Bucket(parent, 'Sources', { versioned: true });
    const svc = new EcsStagingEnvironment(parent, 'Staging').addService('web');
    svc.addPipeline({ source: StagingPipelineSource.s3({ bucket, objectKey: 'web/source.zip' }) });
    Template.fromStack(Stack.of(svc)).hasResourceProperties('AWS::CodePipeline::Pipeline', {
      Stages: Match.arrayWith([Match.objectLike({ Name: 'Source', Actions: [Match.objectLike({ ActionTypeId: Match.objectLike({ Provider: 'S3' }) })] })]),
    });
  });

  test('is posture-clean', () => {
    const app = testApp();
    const stack = new Stack(app, 'Pipeline', { env: TEST_ENV });
    new EcsStagingEnvironment(stack, 'Staging').addService('web', { user: '1000' })
      .addPipeline({ source: StagingPipelineSource.connection({ connectionArn: CONNECTION, owner: 'acme', repo: 'web' }) });
    expect(formatFindings(postureFindings(app))).toBe('');
  });

  describe('fails at synth on bad input', () => {
    const add = (source: () => StagingPipelineSource, options: any = {}) => () => new EcsStagingEnvironment(testStack(), 'Staging').addService('web').addPipeline({ source: source(), ...options });
    const PREFIX = 'Test/Staging/web/Service/Pipeline: ';
    test.each([
      ['an empty owner', () => StagingPipelineSource.connection({ connectionArn: CONNECTION, owner: '', repo: 'web' }),
        "source owner must be a GitHub-style name, letters, digits, '_', '.' and '-' (got ''); for example owner 'acme', repo 'web'"],
      ['an empty repo', () => StagingPipelineSource.connection({ connectionArn: CONNECTION, owner: 'acme', repo: '' }),
        "source repo must be a GitHub-style name, letters, digits, '_', '.' and '-' (got ''); for example owner 'acme', repo 'web'"],
      ['a branch with a wildcard', () => StagingPipelineSource.connection({ connectionArn: CONNECTION, owner: 'acme', repo: 'web', branch: 'feature/*' }),
        "source branch must name one branch, without wildcards (got 'feature/*'); for example 'main'"],
      ['an empty branch', () => StagingPipelineSource.connection({ connectionArn: CONNECTION, owner: 'acme', repo: 'web', branch: '' }),
        "source branch must name one branch, without wildcards (got ''); for example 'main'"],
      ['a connection ARN that is not one', () => StagingPipelineSource.connection({ connectionArn: 'arn:aws:iam::123456789012:role/x', owner: 'acme', repo: 'web' }),
        "source connectionArn must be the ARN of an AWS CodeConnections connection (got 'arn:aws:iam::123456789012:role/x'); "
        + 'for example arn:aws:codeconnections:us-east-1:123456789012:connection/0a1b2c3d-0000-1111-2222-333344445555'],
    ])('fails on %s', (_, source, message) => {
      expect(add(source)).toThrow(PREFIX + message);
    });

    test('fails on a deploy timeout the ECS action does not take', () => {
      expect(add(() => StagingPipelineSource.connection({ connectionArn: CONNECTION, owner: 'acme', repo: 'web' }), { deployTimeout: Duration.minutes(90) })).toThrow(
        PREFIX + "deployTimeout (minutes) must be an integer from 1 to 60 (got 90); CodePipeline's ECS deploy action waits 1 to 60 minutes");
    });

    test('fails on a build timeout CodeBuild does not take', () => {
      expect(add(() => StagingPipelineSource.connection({ connectionArn: CONNECTION, owner: 'acme', repo: 'web' }), { buildTimeout: Duration.minutes(2) })).toThrow(
        PREFIX + 'buildTimeout (minutes) must be an integer from 5 to 480 (got 2); CodeBuild runs a build 5 to 480 minutes');
    });

    test('fails on an S3 source key that starts with /', () => {
      const stack = testStack();
      const bucket = new s3.Bucket(stack, 'Sources', { versioned: true });
      const svc = new EcsStagingEnvironment(stack, 'Staging').addService('web');
      expect(() => svc.addPipeline({ source: StagingPipelineSource.s3({ bucket, objectKey: '/web.zip' }) })).toThrow(
        PREFIX + "source objectKey must be the key of a zip in the bucket, not starting with '/' (got '/web.zip'); for example 'web/source.zip'");
    });

    test('fails for a service that runs an image given in code', () => {
      const svc = new EcsStagingEnvironment(testStack(), 'Staging').addService('web', { image: ecs.ContainerImage.fromRegistry('public.ecr.aws/nginx/nginx:1.27') });
      expect(() => svc.addPipeline({ source: StagingPipelineSource.connection({ connectionArn: CONNECTION, owner: 'acme', repo: 'web' }) })).toThrow(
        PREFIX + "service 'web' runs an image given in code (got image), so there is nothing to deploy; leave image out so the service runs from its own repository");
    });

    test('fails on a second way to deliver one service', () => {
      const svc = new EcsStagingEnvironment(testStack(), 'Staging').addService('web');
      svc.addGithubActionsDeployRole({ repository: 'acme/web' });
      expect(() => svc.addPipeline({ source: StagingPipelineSource.connection({ connectionArn: CONNECTION, owner: 'acme', repo: 'web' }) })).toThrow(
        "Test/Staging/web/Service: service 'web' has a GitHub Actions deploy role already (got a pipeline too); one pipeline deploys a service: keep one");
    });
  });
});
