/**
 * The preview workflow's scripts, executed: each job's `run:` steps under bash with `aws`, `docker`,
 * `npx`, `npm` and `gh` stand-ins (test/harness/stand-ins), for a first preview, an update, the
 * lowest free slot, a full environment, a deploy that fails, a close with and without a preview;
 * and shellcheck over every step.
 */
import { App, CfnOutput, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { parse } from 'yaml';
import { GitHubActionsPreviewRole } from '../src';
import { TEST_ENV } from './harness/apps';
import { statementsOf } from './harness/iam';
import { previewEnvironment } from './harness/previews';
import { AwsState, RunResult, runJob, shellcheck, StackState } from './harness/scripts';
import { previewServiceParameterName } from '../src/private/preview-facts';

const REGISTRY = '123456789012.dkr.ecr.us-east-1.amazonaws.com';
const SHA = 'fedcba9876543210fedcba9876543210fedcba98';
const TAG = 'pr-12-fedcba987654';
const CFN_ROLE = 'arn:aws:iam::123456789012:role/staging-preview-cloudformation';
const PLACEHOLDER = 'public.ecr.aws/placeholder:1';
const STACK = 'staging-preview-pr-12';

/**
 * The Parameters section of a preview stack's template as the CDK synthesizes it: BootstrapVersion
 * (default synthesizer) and the SSM parameter types `valueForStringParameter` renders for the preview
 * roles the environment publishes per service.
 */
function previewTemplateParameters(): Record<string, unknown> {
  const app = new App();
  const stack = new Stack(app, STACK, { env: TEST_ENV });
  for (const service of ['web', 'api']) {
    for (const key of ['preview-execution-role-arn', 'preview-task-role-arn'] as const) {
      new CfnOutput(stack, `${service}-${key}`, { value: ssm.StringParameter.valueForStringParameter(stack, previewServiceParameterName('staging', service, key)) });
    }
  }
  return app.synth().getStackByName(STACK).template.Parameters;
}

/** What the preview role may read with ssm:GetParameters: CloudFormation reads a template's SSM parameter types with it. */
let readableParameters: string[] = [];
let templateParameters: Record<string, unknown> = {};

/** The account as the environment left it: its published parameters, two empty repositories, the given stacks. */
function account(stacks: StackState[] = [], overrides: Partial<AwsState> = {}): AwsState {
  return {
    tags: [],
    taskDefinitions: [],
    service: { serviceName: 'staging-web', desiredCount: 1, runningCount: 1, taskDefinition: 'x', deployments: [] },
    rollout: 'COMPLETED',
    parameters: {
      '/staging/_previews/settings': JSON.stringify({
        maxPreviews: 3, expireAfterHours: 72, services: ['web', 'api'], domainName: 'staging.example.com', priorityBase: 1000, prioritiesPerSlot: 10,
      }),
      '/staging/_previews/delivery-target': JSON.stringify({
        services: [
          { name: 'web', repositoryName: 'staging-web', repositoryUri: `${REGISTRY}/staging-web` },
          { name: 'api', repositoryName: 'staging-api', repositoryUri: `${REGISTRY}/staging-api` },
        ],
      }),
      '/staging/_previews/cloudformation-role-arn': CFN_ROLE,
      '/staging/web/image-uri': PLACEHOLDER,
      // Every parameter the preview template reads: the environment published them.
      ...Object.fromEntries(Object.values(templateParameters).map((p: any) => [p.Default, 'published'])),
    },
    images: { 'staging-web': [], 'staging-api': [] },
    stacks,
    synthStack: STACK,
    synthParameters: templateParameters,
    readableParameters,
    ...overrides,
  };
}

/** A preview stack of pull request `pr` in `slot`. */
function preview(pr: number, slot: number, status = 'UPDATE_COMPLETE'): StackState {
  return {
    StackName: `staging-preview-pr-${pr}`,
    StackStatus: status,
    CreationTime: '2026-12-01T00:00:00.000Z',
    LastUpdatedTime: '2026-12-02T00:00:00.000Z',
    RoleARN: CFN_ROLE,
    Tags: [
      { Key: 'cdk-ecs-staging:preview-slot', Value: String(slot) },
      { Key: 'cdk-ecs-staging:pull-request', Value: String(pr) },
      { Key: 'cdk-ecs-staging:environment', Value: 'staging' },
    ],
    Events: [],
  };
}

const FILES = { 'Dockerfile': 'FROM scratch\n', 'api/Dockerfile': 'FROM scratch\n' };
/** What GitHub fills in from `${{ }}` expressions and its default variables. */
const GITHUB = {
  PULL_REQUEST: '12',
  COMMIT: SHA,
  STACK,
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_REPOSITORY: 'acme/shop',
  GITHUB_RUN_ID: '42',
  GH_TOKEN: 'token',
};

const called = (run: RunResult, ...prefix: string[]) => run.calls.filter((c) => prefix.every((p, i) => c[i] === p));
const slotOf = (stack: StackState | undefined) => stack?.Tags.find((t) => t.Key === 'cdk-ecs-staging:preview-slot')?.Value;
const stackOf = (result: RunResult, name = STACK) => result.state.stacks!.find((s) => s.StackName === name && s.StackStatus !== 'DELETE_COMPLETE');

describe('the preview workflow\'s scripts', () => {
  let workflow: string;
  let targetParameter: string;
  beforeAll(() => {
    const environment = previewEnvironment();
    environment.addService('web');
    environment.addService('api', { pathPatterns: ['/api/*'] });
    const role = new GitHubActionsPreviewRole(Stack.of(environment), 'Previews', { environment, repository: 'acme/shop' });
    workflow = role.renderWorkflow({ builds: { api: { dockerfile: 'api/Dockerfile', buildContext: 'api' } } });
    readableParameters = statementsOf(role.role).map((s) => Stack.of(role).resolve(s))
      .filter((s) => [s.Action].flat().includes('ssm:GetParameters'))
      .flatMap((s) => [s.Resource].flat());
    templateParameters = previewTemplateParameters();
    targetParameter = JSON.stringify(Template.fromStack(Stack.of(environment)).findResources('AWS::SSM::Parameter', { Properties: { Name: '/staging/_previews/delivery-target' } }));
  });
  // POLL and files as a runner has them; FILES holds both services' Dockerfiles.
  const deploy = (state: AwsState, env: Record<string, string> = {}) => runJob(workflow, 'deploy', state, { env: { ...GITHUB, ...env }, files: FILES });
  const comment = (env: Record<string, string>) => runJob(workflow, 'comment', account(), { env: { ...GITHUB, ...env } });
  const close = (state: AwsState) => runJob(workflow, 'delete', state, { env: { ...GITHUB, POLL_SECONDS: '0' } });

  test('the delivery target holds every key the build step reads', () => {
    for (const key of ['name', 'repositoryName', 'repositoryUri']) {
      expect(targetParameter).toContain(`\\"${key}\\":`);
    }
  });

  test('first preview: slot 0, both images pushed as pr-<n>-<sha12>, synthesized with the three keys, deployed through the preview role with its tags', () => {
    // WHEN
    const result = deploy(account());
    // THEN
    expect(result.output).toContain(`${STACK} is up`);
    expect(result.ok).toBe(true);
    expect(result.state.images).toEqual({ 'staging-web': [TAG], 'staging-api': [TAG] });
    expect(called(result, 'docker', 'build')).toEqual([
      ['docker', 'build', '--platform', 'linux/amd64', '--file', 'Dockerfile', '--tag', `${REGISTRY}/staging-web:${TAG}`, '.'],
      ['docker', 'build', '--platform', 'linux/amd64', '--file', 'api/Dockerfile', '--tag', `${REGISTRY}/staging-api:${TAG}`, 'api'],
    ]);
    expect(called(result, 'npx', 'cdk', 'synth')[0]).toEqual(expect.arrayContaining([
      'previewPullRequest=12', 'previewSlot=0', `previewImageTag=${TAG}`,
    ]));
    const stack = stackOf(result)!;
    expect(stack.StackStatus).toBe('CREATE_COMPLETE');
    expect(stack.RoleARN).toBe(CFN_ROLE);
    expect(stack.Tags).toEqual([
      { Key: 'cdk-ecs-staging:preview-slot', Value: '0' },
      { Key: 'cdk-ecs-staging:pull-request', Value: '12' },
      { Key: 'cdk-ecs-staging:environment', Value: 'staging' },
    ]);
    expect(JSON.parse(stack.Template!).Metadata.context.previewSlot).toBe('0');
    expect(called(result, 'npm')).toEqual([['npm', 'ci']]);
    expect(result.outputs!.slot).toEqual({ full: 'false' });
    expect(result.outputs!.deploy).toEqual({ urls: 'https://pr-12-web.staging.example.com https://pr-12-api.staging.example.com' });
    // A preview never writes an image-uri parameter (nor any parameter).
    expect(called(result, 'aws', 'ssm', 'put-parameter')).toEqual([]);
    expect(result.state.parameters['/staging/web/image-uri']).toBe(PLACEHOLDER);
  });

  test('an update keeps the preview\'s slot, and a re-run of the same commit pushes nothing', () => {
    // GIVEN pull request 12 holds slot 2, and its images are there
    const state = account([preview(3, 0), preview(12, 2)], { images: { 'staging-web': [TAG], 'staging-api': [TAG] } });
    // WHEN
    const result = deploy(state);
    // THEN
    expect(result.ok).toBe(true);
    expect(result.output).toContain(`${STACK} holds slot 2`);
    expect(slotOf(stackOf(result))).toBe('2');
    expect(stackOf(result)!.StackStatus).toBe('UPDATE_COMPLETE');
    expect(called(result, 'docker', 'build')).toEqual([]);
    expect(called(result, 'docker', 'push')).toEqual([]);
  });

  describe('the places of the stack\'s listener rules', () => {
    const synthCall = (result: RunResult) => called(result, 'npx', 'cdk', 'synth')[0];
    const withPlaces = (stack: StackState, value: string): StackState => ({ ...stack, Outputs: [{ OutputKey: 'RulePlaces', OutputValue: value }] });

    test('an update hands the stack\'s RulePlaces output to the synth as previewRulePlaces', () => {
      // GIVEN pull request 12 holds slot 2, its rules at places 1 (api) and 0 (web)
      const result = deploy(account([preview(3, 0), withPlaces(preview(12, 2), 'api=1 web=0')]));
      // THEN
      expect(result.ok).toBe(true);
      expect(result.output).toContain(`${STACK} has its rules at the places api=1 web=0 of slot 2: they stay there`);
      expect(synthCall(result)).toEqual(['npx', 'cdk', 'synth', '--quiet',
        '--context', 'previewPullRequest=12', '--context', 'previewSlot=2', '--context', `previewImageTag=${TAG}`, '--context', 'previewRulePlaces=api=1 web=0']);
      expect(JSON.parse(stackOf(result)!.Template!).Metadata.context.previewRulePlaces).toBe('api=1 web=0');
    });

    test('no places without the output, for a new stack, and for a stack that holds no rule or moved slots', () => {
      const noPlaces = (state: AwsState) => {
        const result = deploy(state);
        expect(result.ok).toBe(true);
        expect(synthCall(result).join(' ')).not.toContain('previewRulePlaces');
        return result;
      };
      // a stack without the output, a first preview
      noPlaces(account([preview(12, 2)]));
      noPlaces(account());
      // a first deploy rolled back (deleted before the deploy), a stack being deleted
      noPlaces(account([withPlaces(preview(12, 1, 'ROLLBACK_COMPLETE'), 'web=0')]));
      noPlaces(account([withPlaces(preview(12, 1, 'DELETE_IN_PROGRESS'), 'web=0')]));
      // a stack whose slot another took: its new rules get new logical IDs in another slot's range
      const moved = noPlaces(account([withPlaces(preview(12, 0, 'ROLLBACK_COMPLETE'), 'web=0'), preview(3, 0)]));
      expect(slotOf(stackOf(moved))).toBe('1');
    });

    test('each deploy hands back the places the last successful one recorded; a failed update keeps them', () => {
      // GIVEN a first deploy whose template records its places
      const first = deploy(account([], { synthOutputs: { RulePlaces: 'api=0 web=1' } }));
      expect(first.ok).toBe(true);
      expect(stackOf(first)!.Outputs).toEqual([{ OutputKey: 'RulePlaces', OutputValue: 'api=0 web=1' }]);
      // WHEN an update fails (CloudFormation rolls back to the first version), and the next push deploys again
      const failed = deploy({ ...first.state, synthOutputs: { RulePlaces: 'api=0 web=1 worker=2' }, deployFailure: 'Service stabilization failed' });
      expect(failed.ok).toBe(false);
      const next = deploy({ ...failed.state, deployFailure: undefined, synthOutputs: { RulePlaces: 'api=0 web=1 worker=2' } });
      // THEN each synth got the places of the version that stood
      expect(synthCall(failed)).toContain('previewRulePlaces=api=0 web=1');
      expect(synthCall(next)).toContain('previewRulePlaces=api=0 web=1');
      expect(next.ok).toBe(true);
      expect(stackOf(next)!.Outputs).toEqual([{ OutputKey: 'RulePlaces', OutputValue: 'api=0 web=1 worker=2' }]);
    });

    test('a RulePlaces output that is no list of places fails the job before anything is built', () => {
      const result = deploy(account([withPlaces(preview(12, 2), 'web=0\nEVIL=1')]));
      expect(result.ok).toBe(false);
      expect(result.outputs!.slot.reason).toContain(`The RulePlaces output of ${STACK} is not <service>=<place> pairs`);
      expect(called(result, 'docker', 'build')).toEqual([]);
    });
  });

  test('a new preview takes the lowest free slot; a stack being deleted still holds its slot, a deleted one does not', () => {
    const state = account([preview(3, 0), preview(5, 1, 'DELETE_IN_PROGRESS'), preview(7, 2, 'DELETE_COMPLETE'), preview(9, 3)]);
    const result = deploy(state);
    expect(result.ok).toBe(true);
    expect(slotOf(stackOf(result))).toBe('2');
  });

  test('a stack that holds no resource (a refused change set, a rolled-back first deploy) holds no slot; one that failed to delete does', () => {
    // GIVEN slot 0 held by a REVIEW_IN_PROGRESS stack, slot 1 by a ROLLBACK_COMPLETE one, slot 2 by a DELETE_FAILED one
    const state = account([preview(3, 0, 'REVIEW_IN_PROGRESS'), preview(4, 1, 'ROLLBACK_COMPLETE'), preview(5, 2, 'DELETE_FAILED')]);
    // WHEN
    const result = deploy(state);
    // THEN the preview takes slot 0; a DELETE_FAILED stack may still have its listener rules, and keeps slot 2
    expect(result.ok).toBe(true);
    expect(result.outputs!.slot).toEqual({ full: 'false' });
    expect(slotOf(stackOf(result))).toBe('0');
    expect(result.output).toContain('staging-preview-pr-3 is REVIEW_IN_PROGRESS, with no resource: it holds no slot');
    // AND with the other two slots held, the environment is full (by the stacks that hold them)
    const full = deploy(account([preview(3, 0, 'ROLLBACK_COMPLETE'), preview(4, 1), preview(5, 2, 'DELETE_FAILED'), preview(6, 0)]));
    expect(full.outputs!.slot).toEqual({ full: 'true', holders: '#4 #5 #6' });
  });

  test('a preview whose slot another took while it held none gets the lowest free slot', () => {
    // GIVEN pull request 12's first deploy rolled back in slot 0, and pull request 3 has taken slot 0 since
    const result = deploy(account([preview(12, 0, 'ROLLBACK_COMPLETE'), preview(3, 0)]));
    expect(result.ok).toBe(true);
    expect(result.output).toContain(`${STACK} (ROLLBACK_COMPLETE) had slot 0, which another preview holds now`);
    expect(slotOf(stackOf(result))).toBe('1');
    expect(stackOf(result)!.StackStatus).toBe('CREATE_COMPLETE');
  });

  test('CloudFormation reads the template\'s SSM parameter types with the workflow\'s credentials: the role may read every one a preview template has', () => {
    // GIVEN the parameters a CDK preview template has: BootstrapVersion and the per-service preview roles
    expect(Object.values(templateParameters).map((p: any) => p.Default).sort()).toEqual([
      '/cdk-bootstrap/hnb659fds/version',
      '/staging/api/preview-execution-role-arn', '/staging/api/preview-task-role-arn',
      '/staging/web/preview-execution-role-arn', '/staging/web/preview-task-role-arn',
    ]);
    // WHEN deployed with the role's ssm:GetParameters grant, THEN CloudFormation accepts the change set
    const result = deploy(account());
    expect(result.ok).toBe(true);
    expect(stackOf(result)!.StackStatus).toBe('CREATE_COMPLETE');
    // AND without either grant, CloudFormation refuses the change set on that parameter
    const without = (pattern: string) => deploy(account([], { readableParameters: readableParameters.filter((r) => !r.endsWith(pattern)) }));
    const noBootstrap = without('/cdk-bootstrap/*/version');
    expect(noBootstrap.ok).toBe(false);
    expect(noBootstrap.outputs!.deploy.reason).toContain('is not authorized to perform: ssm:GetParameters on resource: arn:aws:ssm:us-east-1:123456789012:parameter/cdk-bootstrap/hnb659fds/version');
    const noPreviewRoles = without('/staging/*/preview-*');
    expect(noPreviewRoles.ok).toBe(false);
    expect(noPreviewRoles.outputs!.deploy.reason).toMatch(/not authorized to perform: ssm:GetParameters on resource: arn:aws:ssm:us-east-1:123456789012:parameter\/staging\/(web|api)\/preview-(execution|task)-role-arn/);
    expect(stackOf(noPreviewRoles)).toBeUndefined();
  });

  test('a template naming parameters the environment has not published yet fails before any change set, naming them and the fix', () => {
    // GIVEN an environment deployed before the preview roles of 'api' existed (a pull request that upgrades the library)
    const state = account();
    delete state.parameters['/staging/api/preview-execution-role-arn'];
    delete state.parameters['/staging/api/preview-task-role-arn'];
    // WHEN
    const result = deploy(state);
    // THEN the job fails with the names and what to do, and no change set was created
    expect(result.ok).toBe(false);
    expect(result.outputs!.deploy.reason).toBe('The preview reads parameters the staging environment has not published: '
      + '/staging/api/preview-execution-role-arn /staging/api/preview-task-role-arn. A pull request that upgrades cdk-ecs-staging or previews a new service '
      + 'needs the environment deployed with its app first (cdk deploy from this branch, or merge it); then re-run this job.');
    expect(result.calls.filter((c) => c[1] === 'cloudformation' && c[2] === 'deploy')).toEqual([]);
    expect(stackOf(result)).toBeUndefined();
  });

  test('asks for the template\'s parameters 10 at a time, as GetParameters takes them', () => {
    // GIVEN a template reading 23 published parameters
    const many = Object.fromEntries(Array.from({ length: 23 }, (_, i) => [`P${i}`, { Type: 'AWS::SSM::Parameter::Value<String>', Default: `/staging/_environment/p${i}` }]));
    const state = account([], { synthParameters: many, readableParameters: [...readableParameters, 'arn:aws:ssm:us-east-1:123456789012:parameter/staging/_environment/*'] });
    Object.values(many).forEach((p) => { state.parameters[p.Default] = 'published'; });
    // WHEN
    const result = deploy(state);
    // THEN three calls of 10, 10 and 3 names, and the deploy goes on
    expect(result.ok).toBe(true);
    const calls = result.calls.filter((c) => c[1] === 'ssm' && c[2] === 'get-parameters');
    expect(calls.map((c) => c.slice(c.indexOf('--names') + 1, c.indexOf('--query')).length)).toEqual([10, 10, 3]);
  });

  test('installs and synthesizes the CDK app in its own folder, and deploys the template it wrote there', () => {
    const result = runJob(workflow, 'deploy', account(), {
      env: { ...GITHUB, CDK_APP_DIRECTORY: 'infra', INSTALL_COMMAND: 'npm ci --ignore-scripts' },
      files: { ...FILES, 'infra/cdk.json': '{}' },
    });
    expect(result.ok).toBe(true);
    expect(called(result, 'npm')).toEqual([['npm', 'ci', '--ignore-scripts']]);
    expect(called(result, 'aws', 'cloudformation', 'deploy')[0]).toEqual(expect.arrayContaining(['--template-file', `${result.workdir}/infra/cdk.out/${STACK}.template.json`]));
  });

  test('a full environment: the job ends green without building or deploying, and says who holds the slots', () => {
    // GIVEN the three slots held by pull requests 3, 5 and 7
    const result = deploy(account([preview(3, 0), preview(5, 1), preview(7, 2)]));
    // THEN
    expect(result.ok).toBe(true);
    expect(result.outputs!.slot).toEqual({ full: 'true', holders: '#3 #5 #7' });
    expect(result.calls.filter((c) => ['docker', 'npx', 'npm'].includes(c[0]))).toEqual([]);
    expect(called(result, 'aws', 'cloudformation', 'deploy')).toEqual([]);
    expect(stackOf(result)).toBeUndefined();
  });

  test('a deploy that fails ends the job red with CloudFormation\'s reason for the failed resource', () => {
    const reason = 'Resource handler returned message: "Priority \'1010\' is currently in use (Service: ElasticLoadBalancingV2, Status Code: 400)"';
    const result = deploy(account([], { deployFailure: reason }));
    expect(result.ok).toBe(false);
    expect(result.failed).toBe('Deploy the preview stack');
    expect(result.outputs!.deploy.reason).toBe(`The preview stack ${STACK} failed to deploy: Service: ${reason}`);
    // The cancelled resources are not the cause, and are left out.
    expect(result.outputs!.deploy.reason).not.toContain('cancelled');
    expect(result.output).toContain(`::error::The preview stack ${STACK} failed to deploy`);
  });

  test('a failed update reports the reasons of this update only, not of earlier operations', () => {
    // GIVEN a stack whose first deploy had a failure long ago, then succeeded
    const stack = preview(12, 1);
    stack.Events = [
      { LogicalResourceId: STACK, ResourceType: 'AWS::CloudFormation::Stack', ResourceStatus: 'UPDATE_COMPLETE', ResourceStatusReason: '' },
      { LogicalResourceId: 'Old', ResourceType: 'AWS::ECS::Service', ResourceStatus: 'UPDATE_FAILED', ResourceStatusReason: 'an old failure' },
      { LogicalResourceId: STACK, ResourceType: 'AWS::CloudFormation::Stack', ResourceStatus: 'UPDATE_IN_PROGRESS', ResourceStatusReason: 'User Initiated' },
    ];
    const result = deploy(account([stack], { deployFailure: 'Service stabilization failed' }));
    expect(result.ok).toBe(false);
    expect(result.outputs!.deploy.reason).toBe(`The preview stack ${STACK} failed to deploy: Service: Service stabilization failed`);
  });

  test('a change set CloudFormation refuses fails the job with its reason, and the next run creates the stack', () => {
    // GIVEN a template CloudFormation rejects before running anything
    const refused = deploy(account([], { changeSetFailure: 'Template error: instance of Fn::GetAtt references undefined resource Service' }));
    expect(refused.ok).toBe(false);
    expect(refused.outputs!.deploy.reason).toMatch(/failed to deploy: .*Reason: Template error: instance of Fn::GetAtt references undefined resource Service$/);
    // WHEN the next push deploys a template it accepts
    const next = deploy({ ...refused.state, changeSetFailure: undefined });
    // THEN the stack left in REVIEW_IN_PROGRESS does not block it: it is deleted first, so that the
    // new stack's creation time (the reaper's cutoff) is this deploy's
    expect(next.ok).toBe(true);
    expect(next.output).toContain('holds only a change set that was never executed (REVIEW_IN_PROGRESS): deleting it first');
    expect(called(next, 'aws', 'cloudformation', 'delete-stack')).toEqual([['aws', 'cloudformation', 'delete-stack', '--stack-name', STACK]]);
    expect(stackOf(next)!.StackStatus).toBe('CREATE_COMPLETE');
    expect(slotOf(stackOf(next))).toBe('0');
  });

  test('a preview whose first deploy failed (ROLLBACK_COMPLETE) is deleted and deployed again in its slot', () => {
    const result = deploy(account([preview(12, 1, 'ROLLBACK_COMPLETE')]));
    expect(result.ok).toBe(true);
    expect(called(result, 'aws', 'cloudformation', 'delete-stack')).toHaveLength(1);
    expect(stackOf(result)!.StackStatus).toBe('CREATE_COMPLETE');
    expect(slotOf(stackOf(result))).toBe('1');
  });

  test('a preview that another deploy is changing fails the job before anything is built', () => {
    const result = deploy(account([preview(12, 1, 'UPDATE_IN_PROGRESS')]));
    expect(result.ok).toBe(false);
    expect(result.outputs!.slot.reason).toContain('is UPDATE_IN_PROGRESS: another deploy of this preview is under way');
    expect(called(result, 'docker', 'build')).toEqual([]);
  });

  test('a preview CloudFormation can no longer update fails the job before anything is built, with what to do', () => {
    for (const [status, fix] of [['ROLLBACK_FAILED', 'delete it'], ['UPDATE_ROLLBACK_FAILED', 'continue its rollback'], ['DELETE_FAILED', 'delete it']]) {
      const result = deploy(account([preview(12, 1, status)]));
      expect(result.ok).toBe(false);
      expect(result.outputs!.slot.reason).toContain(`${STACK} is ${status}: ${fix}`);
      expect(called(result, 'docker', 'build')).toEqual([]);
    }
  });

  test('a stack whose name only starts like a preview\'s holds no slot', () => {
    const result = deploy(account([{ ...preview(3, 0), StackName: 'staging-preview-pr-archive' }]));
    expect(result.ok).toBe(true);
    expect(slotOf(stackOf(result))).toBe('0');
  });

  test('an app that adds no preview stack fails with what the app must do', () => {
    const result = deploy(account([], { synthStack: undefined }));
    expect(result.ok).toBe(false);
    expect(result.outputs!.synth.reason).toContain('the app must add the preview stack when the context keys previewPullRequest, previewSlot and previewImageTag are set');
    expect(called(result, 'aws', 'cloudformation', 'deploy')).toEqual([]);
  });

  test('a failing synth fails with the app\'s message', () => {
    const result = deploy(account([], { failing: ['synth'] }));
    expect(result.ok).toBe(false);
    expect(result.outputs!.synth.reason).toContain('previewSlot 7 is not below maxPreviews');
  });

  describe('the comment', () => {
    test('lists the preview\'s URLs', () => {
      const result = comment({ RESULT: 'success', FULL: 'false', URLS: 'https://pr-12-web.staging.example.com https://pr-12-api.staging.example.com' });
      expect(result.ok).toBe(true);
      expect(result.state.comments).toEqual([{
        pullRequest: '12',
        repository: 'acme/shop',
        body: 'Preview of fedcba987654 on staging:\n- https://pr-12-web.staging.example.com\n- https://pr-12-api.staging.example.com',
      }]);
    });

    test('says that the environment is full, and who holds the slots', () => {
      const result = comment({ RESULT: 'success', FULL: 'true', HOLDERS: '#3 #5 #7' });
      expect(result.ok).toBe(true);
      expect(result.state.comments![0].body).toContain('all preview slots of staging are taken (by #3 #5 #7)');
    });

    test('gives CloudFormation\'s reason for a failure, and the job\'s link', () => {
      const result = comment({ RESULT: 'failure', FULL: '', REASON: 'The preview stack failed to deploy: Service: stabilization failed' });
      expect(result.state.comments![0].body).toBe('The preview of fedcba987654 failed: The preview stack failed to deploy: Service: stabilization failed. [Job log](https://github.com/acme/shop/actions/runs/42).');
    });

    test('says when the deploy job was cancelled', () => {
      const result = comment({ RESULT: 'cancelled', FULL: '' });
      expect(result.state.comments![0].body).toContain('was cancelled');
    });
  });

  describe('on close', () => {
    test('deletes the preview stack', () => {
      const result = close(account([preview(3, 0), preview(12, 1)]));
      expect(result.ok).toBe(true);
      expect(called(result, 'aws', 'cloudformation', 'delete-stack')).toEqual([['aws', 'cloudformation', 'delete-stack', '--stack-name', STACK]]);
      expect(stackOf(result)).toBeUndefined();
      expect(stackOf(result, 'staging-preview-pr-3')!.StackStatus).toBe('UPDATE_COMPLETE');
    });

    test('a pull request without a preview: nothing to delete, the job is green', () => {
      const result = close(account([preview(3, 0)]));
      expect(result.ok).toBe(true);
      expect(result.output).toContain('had no preview');
      expect(called(result, 'aws', 'cloudformation', 'delete-stack')).toEqual([]);
    });

    test('a stack an operation is changing (a deploy under way) is waited for, then deleted', () => {
      // GIVEN the pull request's deploy still updating its stack: CloudFormation refuses DeleteStack meanwhile
      const updating = { ...preview(12, 1, 'UPDATE_IN_PROGRESS'), SettlesTo: 'UPDATE_COMPLETE', SettleReads: 2 };
      // WHEN
      const result = close(account([updating]));
      // THEN
      expect(result.ok).toBe(true);
      expect(result.output).toContain(`${STACK} is UPDATE_IN_PROGRESS: waiting for that operation to end before deleting it`);
      expect(called(result, 'aws', 'cloudformation', 'describe-stacks')).toHaveLength(3);
      expect(called(result, 'aws', 'cloudformation', 'delete-stack')).toHaveLength(1);
      expect(stackOf(result)).toBeUndefined();
    });

    test('a stack being deleted already is only waited for; one holding a refused change set is deleted at once', () => {
      const deleting = close(account([preview(12, 1, 'DELETE_IN_PROGRESS')]));
      expect(deleting.ok).toBe(true);
      expect(deleting.output).toContain('is being deleted already');
      expect(called(deleting, 'aws', 'cloudformation', 'delete-stack')).toEqual([]);
      expect(stackOf(deleting)).toBeUndefined();
      const review = close(account([preview(12, 1, 'REVIEW_IN_PROGRESS')]));
      expect(review.ok).toBe(true);
      expect(called(review, 'aws', 'cloudformation', 'delete-stack')).toHaveLength(1);
      expect(stackOf(review)).toBeUndefined();
    });

    test('a stack that cannot be deleted fails the job with CloudFormation\'s reason', () => {
      const result = close(account([preview(12, 1)], { deleteFailure: 'Service is draining' }));
      expect(result.ok).toBe(false);
      expect(result.output).toContain(`::error::${STACK} could not be deleted: Service\tService is draining`);
    });
  });

  test('every run: step of every job passes shellcheck', () => {
    const jobs = parse(workflow).jobs;
    const steps = Object.values(jobs).flatMap((job: any) => job.steps.filter((s: any) => s.run));
    expect(steps.length).toBe(6);
    for (const step of steps) {
      expect(`${step.name}: ${shellcheck(step.run)}`).toBe(`${step.name}: `);
    }
  });
});
