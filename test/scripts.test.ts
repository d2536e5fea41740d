/**
 * What runs is tested where it runs: every script the library renders (each workflow `run:` step,
 * each build-spec command) is executed under bash with `aws` and `docker` stand-ins, for the first
 * push, a re-run of the same commit, a failed rollout, a rollback, a sleeping service and ARM64, on
 * both delivery paths; and shellcheck reads every one.
 */
import * as fs from 'fs';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { parse } from 'yaml';
import { EcsStagingEnvironment, StagingPipelineSource, StagingSchedule } from '../src';
import { testStack } from './harness/apps';
import { AwsState, buildSpecCommands, RunResult, runBuildSpec, runWorkflow, shellcheck } from './harness/scripts';

const CONNECTION = 'arn:aws:codeconnections:us-east-1:123456789012:connection/0a1b2c3d-0000-1111-2222-333344445555';
const REPOSITORY_URI = '123456789012.dkr.ecr.us-east-1.amazonaws.com/staging-web';
const PLACEHOLDER = 'public.ecr.aws/placeholder:1';
const SHA = '0123456789abcdef0123456789abcdef01234567';
const TAG = '0123456789ab';
const IMAGE = `${REPOSITORY_URI}:${TAG}`;
const FAMILY_ARN = 'arn:aws:ecs:us-east-1:123456789012:task-definition/staging-web';
const WAKE = 'aws application-autoscaling register-scalable-target --service-namespace ecs --min-capacity 2 --max-capacity 2';

/**
 * The account as CloudFormation left it: revision 1 registered by the stack and run by the service,
 * revision 2 a later one that failed (the family's latest ACTIVE revision, which a deploy must not copy).
 */
function account(overrides: Partial<AwsState> = {}, desiredCount = 2): AwsState {
  const revision = (n: number, image: string) => ({
    family: 'staging-web',
    taskDefinitionArn: `${FAMILY_ARN}:${n}`,
    revision: n,
    status: 'ACTIVE',
    requiresCompatibilities: ['FARGATE'],
    networkMode: 'awsvpc',
    cpu: '256',
    memory: '512',
    containerDefinitions: [
      { name: 'app', image, essential: true, environment: [{ name: 'LOG_LEVEL', value: 'info' }], secrets: [{ name: 'DB', valueFrom: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db' }] },
    ],
    compatibilities: ['EC2', 'FARGATE'],
    requiresAttributes: [{ name: 'com.amazonaws.ecs.capability.logging-driver.awslogs' }],
    registeredAt: '2026-12-01T00:00:00Z',
    registeredBy: 'cfn',
  });
  return {
    tags: [],
    parameters: {
      '/staging/web/deploy-target': JSON.stringify({
        cluster: 'staging',
        service: 'staging-web',
        family: 'staging-web',
        container: 'app',
        repositoryName: 'staging-web',
        repositoryUri: REPOSITORY_URI,
        imageParameter: '/staging/web/image-uri',
        wakeCommand: WAKE,
      }),
      '/staging/web/image-uri': PLACEHOLDER,
    },
    taskDefinitions: [revision(1, PLACEHOLDER), { ...revision(2, `${REPOSITORY_URI}:broken`), cpu: '4096', memory: '30720' }],
    service: {
      serviceName: 'staging-web',
      desiredCount,
      runningCount: desiredCount,
      taskDefinition: `${FAMILY_ARN}:1`,
      deployments: [{ id: 'ecs-svc/1', status: 'PRIMARY', taskDefinition: `${FAMILY_ARN}:1`, rolloutState: 'COMPLETED', runningCount: desiredCount, desiredCount }],
    },
    rollout: 'COMPLETED',
    ...overrides,
  };
}

const called = (run: RunResult, ...prefix: string[]) => run.calls.filter((c) => prefix.every((p, i) => c[i] === p));
const FILES = { Dockerfile: 'FROM scratch\n' };

describe('scripts the library renders', () => {
  const workflows: Record<string, string> = {};
  const specs: Record<string, { build: string; record: string; buildEnv: string[]; recordEnv: string[]; buildImage: string }> = {};
  let deployTargetKeys: string;
  beforeAll(() => {
    const github = testStack();
    const env = new EcsStagingEnvironment(github, 'Staging', { schedule: StagingSchedule.alwaysOn() });
    const web = env.addService('web');
    workflows.X86_64 = web.addGithubActionsDeployRole({ repository: 'acme/web' }).renderWorkflow();
    workflows.ARM64 = env.addService('arm', { cpuArchitecture: ecs.CpuArchitecture.ARM64, pathPatterns: ['/arm/*'] })
      .addGithubActionsDeployRole({ repository: 'acme/arm' }).renderWorkflow();
    deployTargetKeys = JSON.stringify(Template.fromStack(Stack.of(web)).findResources('AWS::SSM::Parameter'));

    const pipelines = testStack();
    const env2 = new EcsStagingEnvironment(pipelines, 'Staging');
    const source = StagingPipelineSource.connection({ connectionArn: CONNECTION, owner: 'acme', repo: 'web' });
    const added = ([
      ['X86_64', env2.addService('web')],
      ['ARM64', env2.addService('arm', { cpuArchitecture: ecs.CpuArchitecture.ARM64, pathPatterns: ['/arm/*'] })],
    ] as const).map(([architecture, service]) => [architecture, service, service.addPipeline({ source })] as const);
    for (const [architecture, service, pipeline] of added) {
      const stack = Stack.of(service);
      const resources = Template.fromStack(stack).toJSON().Resources;
      const project = (p: any) => resources[stack.resolve(p.node.defaultChild.logicalId)].Properties;
      const build = project(pipeline.project);
      const record = project(pipeline.recordProject);
      specs[architecture] = {
        build: build.Source.BuildSpec,
        record: record.Source.BuildSpec,
        buildImage: build.Environment.Image,
        buildEnv: build.Environment.EnvironmentVariables.map((v: any) => v.Name),
        recordEnv: record.Environment.EnvironmentVariables.map((v: any) => v.Name),
      };
    }
  });

  describe('the GitHub Actions workflow', () => {
    const run = (state: AwsState, architecture = 'X86_64', env: Record<string, string> = {}) =>
      runWorkflow(workflows[architecture], state, { env: { GITHUB_SHA: SHA, POLL_SECONDS: '0', ...env }, files: FILES });

    test('reads every key the deploy-target parameter holds', () => {
      for (const key of ['cluster', 'service', 'container', 'repositoryName', 'repositoryUri', 'imageParameter', 'wakeCommand']) {
        expect(deployTargetKeys).toContain(`\\"${key}\\":`);
      }
    });

    test('first push: builds for amd64, pushes, deploys a copy of the revision the service runs, waits for COMPLETED, then records', () => {
      // WHEN
      const result = run(account());
      // THEN
      expect(result.output).toContain('now names');
      expect(result.ok).toBe(true);
      expect(called(result, 'docker', 'build')[0]).toEqual(expect.arrayContaining(['--platform', 'linux/amd64']));
      expect(result.state.tags).toEqual([TAG]);
      // A copy of revision 1 (the service's), not of revision 2 (the family's latest, a failed one).
      const registered = result.state.taskDefinitions[2];
      expect(registered.containerDefinitions[0]).toEqual({ ...account().taskDefinitions[0].containerDefinitions[0], image: IMAGE });
      expect(registered.cpu).toBe('256');
      expect(called(result, 'aws', 'ecs', 'update-service')[0]).toEqual(expect.arrayContaining(['--task-definition', `${FAMILY_ARN}:3`]));
      expect(result.state.service.taskDefinition).toBe(`${FAMILY_ARN}:3`);
      expect(result.state.parameters['/staging/web/image-uri']).toBe(IMAGE);
      // The parameter is written after the deployment was seen COMPLETED, never before.
      const put = result.calls.findIndex((c) => c[2] === 'put-parameter');
      const lastRead = result.calls.map((c) => c[2]).lastIndexOf('describe-services');
      expect(put).toBeGreaterThan(lastRead);
      expect(called(result, 'aws', 'ecs', 'wait')).toEqual([]);
    });

    test('a re-run of the same commit pushes nothing and deploys the image that is there', () => {
      const result = run(account({ tags: [TAG] }));
      expect(result.ok).toBe(true);
      expect(called(result, 'docker', 'build')).toEqual([]);
      expect(called(result, 'docker', 'push')).toEqual([]);
      // Copied from the revision the service runs, not the family's latest (a failed one).
      expect(called(result, 'aws', 'ecs', 'describe-task-definition')[0]).toEqual(expect.arrayContaining(['--task-definition', `${FAMILY_ARN}:1`]));
      expect(result.state.parameters['/staging/web/image-uri']).toBe(IMAGE);
    });

    test('fails on a FAILED rollout, and leaves the parameter on the image that runs', () => {
      const result = run(account({ rollout: 'FAILED' }));
      expect(result.ok).toBe(false);
      expect(result.failed).toMatch(/roll the service and wait/);
      expect(result.output).toContain('FAILED');
      expect(result.state.parameters['/staging/web/image-uri']).toBe(PLACEHOLDER);
    });

    test('fails when the service\'s primary deployment reverts to the previous revision (rolled back)', () => {
      const result = run(account({ rollout: 'ROLLBACK' }));
      expect(result.ok).toBe(false);
      expect(result.output).toContain('rolled back or superseded');
      expect(result.state.parameters['/staging/web/image-uri']).toBe(PLACEHOLDER);
    });

    test('fails when the rollout outlasts its timeout, and rolls the service back to the revision it ran before', () => {
      // GIVEN a deployment that stays IN_PROGRESS (ECS would keep it going, and might complete it later)
      const result = run(account({ rollout: 'STUCK' }), 'X86_64', { ROLLOUT_TIMEOUT_SECONDS: '1' });
      // THEN the job fails and leaves the service on the revision it ran before, as the parameter says
      expect(result.ok).toBe(false);
      expect(result.output).toContain('did not complete in time: the service is rolled back to');
      const updates = called(result, 'aws', 'ecs', 'update-service');
      expect(updates).toHaveLength(2);
      expect(updates[1]).toEqual(expect.arrayContaining(['--task-definition', `${FAMILY_ARN}:1`]));
      const primary = result.state.service.deployments.find((d) => d.status === 'PRIMARY')!;
      expect(primary.taskDefinition).toBe(`${FAMILY_ARN}:1`);
      expect(result.state.parameters['/staging/web/image-uri']).toBe(PLACEHOLDER);
    });

    test('stops waiting before GitHub cancels the job, and still rolls the service back', () => {
      // GIVEN a job whose timeout-minutes ends before the rollout timeout would (JOB_DEADLINE, written by the first step)
      const result = run(account({ rollout: 'STUCK' }), 'X86_64', { JOB_TIMEOUT_MINUTES: '2' });
      // THEN the deploy step judges the rollout two minutes before the job's end: rolled back, and failed
      expect(result.ok).toBe(false);
      expect(result.output).toContain('did not complete in time: the service is rolled back to');
      expect(called(result, 'aws', 'ecs', 'update-service')[1]).toEqual(expect.arrayContaining(['--task-definition', `${FAMILY_ARN}:1`]));
    });

    test('a rollback that fails prints the command that completes it', () => {
      const result = run(account({ rollout: 'STUCK', updatesBeforeFailing: 1 }), 'X86_64', { ROLLOUT_TIMEOUT_SECONDS: '1' });
      expect(result.ok).toBe(false);
      expect(result.output).toContain(`rolling the service back to ${FAMILY_ARN}:1 failed: run aws ecs update-service --cluster staging --service staging-web --task-definition ${FAMILY_ARN}:1`);
    });

    test('refuses to deploy over a deployment under way, and copies nothing', () => {
      // GIVEN a service whose newest deployment (a cdk deploy, an earlier job) is still IN_PROGRESS
      const state = account({ rollout: 'STUCK' });
      state.service.deployments = [
        { id: 'ecs-svc/2', status: 'PRIMARY', taskDefinition: `${FAMILY_ARN}:2`, rolloutState: 'IN_PROGRESS', runningCount: 0 },
        ...state.service.deployments.map((d) => ({ ...d, status: 'ACTIVE' })),
      ];
      state.service.taskDefinition = `${FAMILY_ARN}:2`;
      const result = run(state);
      expect(result.ok).toBe(false);
      expect(result.output).toContain('has a deployment under way (2 deployments, the newest IN_PROGRESS)');
      expect(called(result, 'aws', 'ecs', 'register-task-definition')).toEqual([]);
      expect(called(result, 'aws', 'ecs', 'update-service')).toEqual([]);
    });

    test('waits through the deployment alarms\' bake time, then records', () => {
      const result = run(account({ bakeReads: 3 }));
      expect(result.ok).toBe(true);
      expect(called(result, 'aws', 'ecs', 'describe-services').length).toBeGreaterThanOrEqual(5);
      expect(result.state.parameters['/staging/web/image-uri']).toBe(IMAGE);
    });

    test('fails at once when describe-services fails, and changes nothing', () => {
      const result = run(account({ failing: ['describe-services'] }));
      expect(result.ok).toBe(false);
      expect(result.output).toContain('AccessDeniedException');
      // The failing call is the step's last: nothing runs on an empty answer.
      expect(result.calls[result.calls.length - 1]).toEqual(expect.arrayContaining(['aws', 'ecs', 'describe-services']));
      expect(called(result, 'aws', 'ecs', 'register-task-definition')).toEqual([]);
      expect(result.state.parameters['/staging/web/image-uri']).toBe(PLACEHOLDER);
    });

    test('refuses a sleeping service: no rollout, no record, the wake command in the message', () => {
      const result = run(account({}, 0));
      expect(result.ok).toBe(false);
      expect(result.output).toContain(`Wake it with: ${WAKE}`);
      expect(called(result, 'aws', 'ecs', 'update-service')).toEqual([]);
      expect(result.state.parameters['/staging/web/image-uri']).toBe(PLACEHOLDER);
    });

    test('ARM64: an arm runner builds for linux/arm64', () => {
      expect(parse(workflows.ARM64).jobs.deploy['runs-on']).toBe('ubuntu-24.04-arm');
      expect(parse(workflows.X86_64).jobs.deploy['runs-on']).toBe('ubuntu-24.04');
      // The fixture's account holds one service's target: the arm service's workflow reads it.
      const result = run(account(), 'ARM64', { DEPLOY_TARGET: '/staging/web/deploy-target' });
      expect(result.ok).toBe(true);
      expect(called(result, 'docker', 'build')[0]).toEqual(expect.arrayContaining(['--platform', 'linux/arm64']));
    });

    test.each(['X86_64', 'ARM64'])('every run: step of the %s workflow passes shellcheck', (architecture) => {
      for (const step of parse(workflows[architecture]).jobs.deploy.steps.filter((s: any) => s.run)) {
        expect(`${step.name}: ${shellcheck(step.run)}`).toBe(`${step.name}: `);
      }
    });
  });

  describe('the CodePipeline build specs', () => {
    const ENV = {
      CLUSTER: 'staging',
      SERVICE: 'staging-web',
      CONTAINER: 'app',
      WAKE_COMMAND: WAKE,
      REPOSITORY_URI,
      REPOSITORY_NAME: 'staging-web',
      DOCKERFILE: 'Dockerfile',
      BUILD_CONTEXT: '.',
      IMAGE_PARAMETER: '/staging/web/image-uri',
      SOURCE_VERSION: SHA,
    };
    const build = (state: AwsState, architecture = 'X86_64') =>
      runBuildSpec(specs[architecture].build, state, { env: { ...ENV, PLATFORM: architecture === 'ARM64' ? 'linux/arm64' : 'linux/amd64' }, files: FILES });
    /** The ECS deploy action: a copy of the service's revision with the image, then the rollout to its end. */
    const deployAction = (state: AwsState, image: string): AwsState => {
      const service = state.service;
      const current = state.taskDefinitions.find((t) => t.taskDefinitionArn === service.taskDefinition);
      const arn = `${FAMILY_ARN}:${state.taskDefinitions.length + 1}`;
      const containerDefinitions = [{ ...current.containerDefinitions[0], image }];
      state.taskDefinitions.push({ ...current, taskDefinitionArn: arn, revision: state.taskDefinitions.length + 1, containerDefinitions });
      service.deployments = [{ status: 'PRIMARY', taskDefinition: arn, rolloutState: 'IN_PROGRESS', runningCount: 0 }, ...service.deployments.map((d) => ({ ...d, status: 'ACTIVE' }))];
      return state;
    };
    const record = (state: AwsState, architecture = 'X86_64', env: Record<string, string> = {}) =>
      runBuildSpec(specs[architecture].record, state, {
        env: { ...ENV, ROLLOUT_TIMEOUT_SECONDS: '60', POLL_SECONDS: '0', ...env },
        files: { 'imagedefinitions.json': JSON.stringify([{ name: 'app', imageUri: IMAGE }]) },
      });

    test('each project gets every variable its commands read', () => {
      expect(specs.X86_64.buildEnv).toEqual(expect.arrayContaining(['CLUSTER', 'SERVICE', 'CONTAINER', 'WAKE_COMMAND', 'REPOSITORY_URI', 'REPOSITORY_NAME', 'DOCKERFILE', 'BUILD_CONTEXT', 'PLATFORM']));
      expect(specs.X86_64.recordEnv).toEqual(expect.arrayContaining(['CLUSTER', 'SERVICE', 'CONTAINER', 'WAKE_COMMAND', 'IMAGE_PARAMETER', 'ROLLOUT_TIMEOUT_SECONDS', 'POLL_SECONDS']));
    });

    test('first push: builds for amd64, pushes, emits imagedefinitions.json; the record step writes the parameter after a COMPLETED deployment', () => {
      const built = build(account());
      expect(built.output).toContain('built');
      expect(built.ok).toBe(true);
      expect(called(built, 'docker', 'build')[0]).toEqual(expect.arrayContaining(['--platform', 'linux/amd64']));
      const definitions = JSON.parse(fs.readFileSync(`${built.workdir}/imagedefinitions.json`, 'utf8'));
      expect(definitions).toEqual([{ name: 'app', imageUri: IMAGE }]);
      const recorded = record(deployAction(built.state, IMAGE));
      expect(recorded.output).toContain('now names');
      expect(recorded.ok).toBe(true);
      expect(recorded.state.parameters['/staging/web/image-uri']).toBe(IMAGE);
      // The record step builds nothing: it cannot fall through into the build.
      expect(recorded.calls.filter((c) => c[0] === 'docker')).toEqual([]);
    });

    test('a re-run of the same commit pushes nothing, deploys and records', () => {
      const built = build(account({ tags: [TAG] }));
      expect(built.ok).toBe(true);
      expect(called(built, 'docker', 'build')).toEqual([]);
      expect(built.output).toContain('not pushed again');
      const recorded = record(deployAction(built.state, IMAGE));
      expect(recorded.ok).toBe(true);
      expect(recorded.state.parameters['/staging/web/image-uri']).toBe(IMAGE);
    });

    test.each(['FAILED', 'ROLLBACK'] as const)('the record step fails after a %s deployment and leaves the parameter', (rollout) => {
      const recorded = record(deployAction(account({ rollout }), IMAGE));
      expect(recorded.ok).toBe(false);
      expect(recorded.state.parameters['/staging/web/image-uri']).toBe(PLACEHOLDER);
    });

    test('the record step waits through the deployment alarms\' bake time: IN_PROGRESS with tasks running, then COMPLETED', () => {
      const recorded = record(deployAction(account({ bakeReads: 3 }), IMAGE));
      expect(recorded.ok).toBe(true);
      // One read to find the revision, then one for each read of the bake time and the one that sees COMPLETED.
      expect(called(recorded, 'aws', 'ecs', 'describe-services')).toHaveLength(4);
      expect(recorded.state.parameters['/staging/web/image-uri']).toBe(IMAGE);
    });

    test('the record step fails when the deployment outlasts its timeout, and does not write the parameter', () => {
      const recorded = record(deployAction(account({ rollout: 'STUCK' }), IMAGE), 'X86_64', { ROLLOUT_TIMEOUT_SECONDS: '1' });
      expect(recorded.ok).toBe(false);
      expect(recorded.output).toContain('did not complete in 1 s: not recorded');
      expect(called(recorded, 'aws', 'ssm', 'put-parameter')).toEqual([]);
      expect(recorded.state.parameters['/staging/web/image-uri']).toBe(PLACEHOLDER);
    });

    test('a failing describe-services stops the build and the record step at once', () => {
      const built = build(account({ failing: ['describe-services'] }));
      expect(built.ok).toBe(false);
      expect(built.output).toContain('AccessDeniedException');
      expect(called(built, 'docker', 'build')).toEqual([]);
      const recorded = record(deployAction(account({ failing: ['describe-services'] }), IMAGE));
      expect(recorded.ok).toBe(false);
      expect(recorded.calls[recorded.calls.length - 1]).toEqual(expect.arrayContaining(['aws', 'ecs', 'describe-services']));
      expect(recorded.state.parameters['/staging/web/image-uri']).toBe(PLACEHOLDER);
    });

    test('a sleeping service: the build refuses before building, and the record step refuses an image no task ran', () => {
      const built = build(account({}, 0));
      expect(built.ok).toBe(false);
      expect(built.output).toContain(`Wake it with: ${WAKE}`);
      expect(called(built, 'docker', 'build')).toEqual([]);
      const asleep = account({}, 0);
      const recorded = record(deployAction(asleep, IMAGE));
      expect(recorded.ok).toBe(false);
      expect(recorded.output).toContain('runs no task');
      expect(recorded.state.parameters['/staging/web/image-uri']).toBe(PLACEHOLDER);
    });

    test('the deploy stage checks the service awake again before the ECS deploy action (an approval may outlast the working day)', () => {
      const awake = record(account(), 'X86_64', { RECORD_STEP: 'check' });
      expect(awake.ok).toBe(true);
      expect(awake.output).toContain('runs 2 task(s): deploying');
      expect(awake.state.parameters['/staging/web/image-uri']).toBe(PLACEHOLDER);
      const asleep = record(account({}, 0), 'X86_64', { RECORD_STEP: 'check' });
      expect(asleep.ok).toBe(false);
      expect(asleep.output).toContain(`Wake it with: ${WAKE}`);
      expect(called(asleep, 'aws', 'ssm')).toEqual([]);
    });

    test('ARM64: an arm build image builds for linux/arm64', () => {
      expect(specs.ARM64.buildImage).toBe('aws/codebuild/amazonlinux-aarch64-standard:3.0');
      expect(specs.X86_64.buildImage).toBe('aws/codebuild/standard:7.0');
      const built = build(account(), 'ARM64');
      expect(built.ok).toBe(true);
      expect(called(built, 'docker', 'build')[0]).toEqual(expect.arrayContaining(['--platform', 'linux/arm64']));
    });

    test.each(['X86_64', 'ARM64'])('every build-spec command of the %s pipeline passes shellcheck', (architecture) => {
      for (const command of [...buildSpecCommands(specs[architecture].build), ...buildSpecCommands(specs[architecture].record)]) {
        expect(shellcheck(command)).toBe('');
      }
    });
  });
});
