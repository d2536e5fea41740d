import { CfnDeletionPolicy, CfnElement, CfnResource, Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as cpactions from 'aws-cdk-lib/aws-codepipeline-actions';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { Construct } from 'constructs';
import type * as yaml from 'yaml';
import { StagingValidationError } from './private/errors';
import { StatefulLifecycle, statefulLifecycle } from './private/lifecycle';
import { acknowledge, acknowledgeCdkProviderOutsideVpc, acknowledgeStagingLogGroup, GUARD } from './private/posture';
import { BoundSource } from './private/source-binding';
import { validateIntegerRange, validateParameterName, validateRoleName } from './private/validation';
import type { IStagingService } from './service-contract';

/**
 * The YAML writer, loaded on first use: only `renderWorkflow()` needs it, and loading it costs
 * every app about 4 MiB and 40 ms (measured with `npx projen bench`).
 */
function loadYaml(): typeof yaml {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('yaml');
}

/** The issuer of GitHub Actions' OIDC tokens. */
const GITHUB_OIDC_URL = 'https://token.actions.githubusercontent.com';
const GITHUB_OIDC_HOST = 'token.actions.githubusercontent.com';

/**
 * Third-party actions of the rendered workflow, pinned to a full commit SHA (a tag can be moved).
 */
const PINNED_ACTIONS = {
  checkout: 'actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1', // v7.0.1
  configureAwsCredentials: 'aws-actions/configure-aws-credentials@e6de054238d6b7531b4efff3b6587d9aade6a06c', // v6.2.3
};

/**
 * Options of a `GitHubActionsDeployRole`.
 */
export interface GitHubActionsDeployOptions {
  /** The GitHub repository that deploys, `owner/repo`. */
  readonly repository: string;

  /**
   * The branch whose pushes deploy: only workflows run for it may assume the role.
   *
   * @default 'main'
   */
  readonly branch?: string;

  /**
   * A GitHub environment instead of a branch: only jobs of this environment may assume the role
   * (protect it with required reviewers in GitHub for a manual approval).
   *
   * @default - the branch decides
   */
  readonly githubEnvironment?: string;

  /**
   * The account's GitHub OIDC provider, when it exists already (an account holds one per URL), e.g.
   * imported with `iam.OidcProviderNative.fromOidcProviderArn()` / `from_oidc_provider_arn()`.
   *
   * @default - one is created in the stack (`AWS::IAM::OIDCProvider`), shared by its deploy roles
   */
  readonly oidcProvider?: iam.IOidcProvider;
}

/**
 * Properties of a `GitHubActionsDeployRole`.
 */
export interface GitHubActionsDeployRoleProps extends GitHubActionsDeployOptions {
  /** The service deployed: it must run from its own repository (no `image`). */
  readonly service: IStagingService;
}

/**
 * Options of the rendered workflow.
 */
export interface GitHubWorkflowOptions {
  /**
   * Path of the Dockerfile in the repository.
   *
   * @default 'Dockerfile'
   */
  readonly dockerfile?: string;

  /**
   * Build context, relative to the repository root.
   *
   * @default '.'
   */
  readonly buildContext?: string;

  /**
   * Minutes the job may run before GitHub stops it.
   *
   * @default 30
   */
  readonly timeoutMinutes?: number;

  /**
   * Minutes the deploy step waits for the service's deployment of the new revision to complete
   * before it fails the job (the circuit breaker or the alarms usually decide sooner).
   *
   * @default - 20, or the job's timeoutMinutes (timeout_minutes) when shorter
   */
  readonly rolloutTimeoutMinutes?: number;

  /**
   * The runner label of the job. It must match the service's CPU architecture: the image is built
   * natively for it (`docker build --platform linux/amd64` or `linux/arm64`).
   *
   * @default - 'ubuntu-24.04' for an X86_64 service, 'ubuntu-24.04-arm' for an ARM64 service
   */
  readonly runsOn?: string;
}

/**
 * The IAM role a GitHub Actions workflow assumes over OIDC to deploy one service: push to the
 * service's repository, write its image-uri parameter, register task definitions of its family
 * and roll that service, nothing else. No long-lived keys.
 *
 * `renderWorkflow()` (Python: `render_workflow()`) writes the workflow that uses it.
 */
export class GitHubActionsDeployRole extends Construct {
  /** The role the workflow assumes. */
  public readonly role: iam.Role;
  /** The GitHub OIDC provider the role trusts. */
  public readonly oidcProvider: iam.IOidcProvider;
  /** The `sub` claim the role accepts, e.g. `repo:owner/repo:ref:refs/heads/main`. */
  public readonly subject: string;
  /** Name of the parameter that tells the workflow what to deploy (cluster, service, family, repository). */
  public readonly deployTargetParameterName: string;

  private readonly service: IStagingService;
  private readonly branch: string;
  private readonly githubEnvironment?: string;

  constructor(scope: Construct, id: string, props: GitHubActionsDeployRoleProps) {
    super(scope, id);
    const service = props.service;
    this.service = service;
    this.branch = props.branch ?? 'main';
    this.githubEnvironment = props.githubEnvironment;
    validateGitHubOptions(this, props, this.branch);
    const imageParameter = imageParameterOf(this, service);

    this.subject = props.githubEnvironment
      ? `repo:${props.repository}:environment:${props.githubEnvironment}`
      : `repo:${props.repository}:ref:refs/heads/${this.branch}`;
    this.oidcProvider = props.oidcProvider ?? githubOidcProvider(this);
    this.role = this.createRole(service);
    const target = this.createDeployTarget(service, imageParameter);
    this.deployTargetParameterName = `/${service.environmentName}/${service.serviceName}/deploy-target`;
    grantDeploy(this.role, service, target, imageParameter);
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken, ecs:RegisterTaskDefinition and ecs:DescribeTaskDefinition have no resource-level permissions. '
        + 'Everything else names this service, its repository, its parameters and its two roles.',
    });
  }

  /** The role the workflow assumes: trusts the GitHub OIDC provider for this subject only, one hour at most. */
  private createRole(service: IStagingService): iam.Role {
    const roleName = `${service.environmentName}-${service.serviceName}-github-deploy`;
    validateRoleName(this, 'environmentName', roleName, 'shorten environmentName or the service\'s name');
    validateParameterName(this, 'environmentName', undefined, `/${service.environmentName}/${service.serviceName}/deploy-target`, 'shorten environmentName or the service\'s name');
    return new iam.Role(this, 'Role', {
      roleName,
      description: `GitHub Actions (${this.subject}) deploys service ${service.serviceName} of ${service.environmentName}`,
      maxSessionDuration: Duration.hours(1),
      assumedBy: new iam.WebIdentityPrincipal(this.oidcProvider.oidcProviderArn, {
        StringEquals: {
          [`${GITHUB_OIDC_HOST}:aud`]: 'sts.amazonaws.com',
          [`${GITHUB_OIDC_HOST}:sub`]: this.subject,
        },
      }),
    });
  }

  /** The parameter that tells the workflow what it deploys, read at run time: the workflow file holds no value that changes. */
  private createDeployTarget(service: IStagingService, imageParameter: ssm.StringParameter): ssm.StringParameter {
    const stack = Stack.of(this);
    return new ssm.StringParameter(this, 'DeployTarget', {
      parameterName: `/${service.environmentName}/${service.serviceName}/deploy-target`, // read by the workflow
      description: `What the delivery pipeline of /${service.environmentName}/${service.serviceName} deploys`,
      stringValue: stack.toJsonString({
        cluster: service.fargateService.cluster.clusterName,
        service: service.fargateService.serviceName,
        family: service.taskDefinition.family,
        container: service.container.containerName,
        repositoryName: service.repository.repositoryName,
        repositoryUri: service.repository.repositoryUri,
        imageParameter: imageParameter.parameterName,
        wakeCommand: service.wakeCommand ?? '',
      }),
    });
  }

  /**
   * The GitHub Actions workflow that deploys the service on every push to the branch: checkout,
   * OIDC credentials, build for the service's CPU architecture on a runner of that architecture,
   * push by commit id (skipped when that tag is there, so a re-run succeeds), register a copy of the
   * revision the service runs with the new image, roll the service, wait until the deployment of
   * that revision is COMPLETED (failing on FAILED, on a rollback, on a timeout and for a service
   * asleep at zero tasks), and only then write the image-uri parameter. One deploy of a service at
   * a time (a concurrency group), least `permissions`, actions pinned to commit SHAs. Commit it as
   * `.github/workflows/<name>.yml`.
   *
   * @param options build settings
   * @returns the workflow, as YAML
   */
  public renderWorkflow(options: GitHubWorkflowOptions = {}): string {
    const { timeoutMinutes, rolloutTimeoutMinutes } = this.workflowTimeouts(options);
    const service = this.service;
    const name = `${service.environmentName}-${service.serviceName}`;
    const job = this.deployJob(options, timeoutMinutes, rolloutTimeoutMinutes);
    const workflow = {
      name: `Deploy ${service.serviceName} to ${service.environmentName}`,
      on: { push: { branches: [this.branch] }, workflow_dispatch: {} },
      permissions: {},
      concurrency: { 'group': `deploy-${name}`, 'cancel-in-progress': false },
      jobs: { deploy: job },
    };
    // The environment's name is often 'staging' itself: "of the staging staging environment" read badly.
    return `# Deploys service ${service.serviceName} of the environment ${service.environmentName} (cdk-ecs-staging).\n`
      + loadYaml().stringify(workflow, { lineWidth: 0 });
  }

  /** The job's and the rollout's timeouts, checked; the stack's account and region, which the workflow names, must be known. */
  private workflowTimeouts(options: GitHubWorkflowOptions): { timeoutMinutes: number; rolloutTimeoutMinutes: number } {
    const stack = Stack.of(this);
    for (const [what, value] of [['account', stack.account], ['region', stack.region]]) {
      if (Token.isUnresolved(value)) {
        throw new StagingValidationError(this, `renderWorkflow needs the stack's ${what} (got an environment-agnostic stack); give the stack an env with an account and a region`);
      }
    }
    const timeoutMinutes = options.timeoutMinutes ?? 30;
    if (!Number.isInteger(timeoutMinutes) || timeoutMinutes < 1 || timeoutMinutes > 360) {
      throw new StagingValidationError(this, `timeoutMinutes must be an integer from 1 to 360 (got ${timeoutMinutes}); GitHub stops a job after 360 minutes`);
    }
    const rolloutTimeoutMinutes = options.rolloutTimeoutMinutes ?? Math.min(20, timeoutMinutes);
    if (!Number.isInteger(rolloutTimeoutMinutes) || rolloutTimeoutMinutes < 1 || rolloutTimeoutMinutes > timeoutMinutes) {
      throw new StagingValidationError(this, `rolloutTimeoutMinutes must be an integer from 1 to timeoutMinutes, ${timeoutMinutes} (got ${rolloutTimeoutMinutes}); `
        + 'the job stops at timeoutMinutes, so the rollout must be judged before it');
    }
    return { timeoutMinutes, rolloutTimeoutMinutes };
  }

  /** The runner label asked for, checked: one label, as `runs-on` takes it. */
  private runnerLabel(runsOn: string | undefined): string | undefined {
    if (runsOn !== undefined && !Token.isUnresolved(runsOn) && !/^[^\s,'"]+$/.test(runsOn)) {
      throw new StagingValidationError(this, `runsOn must be one runner label, without spaces, commas or quotes (got '${runsOn}'); `
        + 'for example \'ubuntu-24.04-arm\', or a label of your self-hosted runners of the service\'s architecture');
    }
    return runsOn;
  }

  /** The deploy job: least permissions, a runner of the service's architecture, and its steps. */
  private deployJob(options: GitHubWorkflowOptions, timeoutMinutes: number, rolloutTimeoutMinutes: number): Record<string, unknown> {
    const stack = Stack.of(this);
    const service = this.service;
    const architecture = cpuArchitectureOf(service);
    const name = `${service.environmentName}-${service.serviceName}`;
    const roleArn = `arn:${stack.partition === 'aws' || Token.isUnresolved(stack.partition) ? 'aws' : stack.partition}:iam::${stack.account}:role/${name}-github-deploy`;
    const job: Record<string, unknown> = {
      'name': `Deploy ${service.serviceName} to ${service.environmentName}`,
      // A native runner of the service's architecture: no emulation, and an image whose manifest
      // matches the task's platform. Arm64 runners: https://docs.github.com/en/actions/reference/runners/github-hosted-runners
      'runs-on': this.runnerLabel(options.runsOn) ?? (architecture === ARM64 ? 'ubuntu-24.04-arm' : 'ubuntu-24.04'),
      'timeout-minutes': timeoutMinutes,
      'permissions': { 'contents': 'read', 'id-token': 'write' },
      'env': {
        AWS_REGION: stack.region,
        DEPLOY_TARGET: this.deployTargetParameterName,
        DOCKERFILE: options.dockerfile ?? 'Dockerfile',
        BUILD_CONTEXT: options.buildContext ?? '.',
        PLATFORM: dockerPlatformOf(architecture),
        ROLLOUT_TIMEOUT_SECONDS: String(rolloutTimeoutMinutes * 60),
        JOB_TIMEOUT_MINUTES: String(timeoutMinutes),
        POLL_SECONDS: '15',
      },
      'steps': [
        { name: 'Check out', uses: PINNED_ACTIONS.checkout, with: { 'persist-credentials': false } },
        {
          name: 'Assume the deploy role over OIDC',
          uses: PINNED_ACTIONS.configureAwsCredentials,
          with: { 'role-to-assume': roleArn, 'aws-region': stack.region, 'role-session-name': `${name}-deploy` },
        },
        { name: 'Read what to deploy', run: READ_TARGET_SCRIPT },
        { name: 'Build and push the image, unless this commit\'s is there', run: BUILD_SCRIPT },
        { name: 'Register a revision with the image, roll the service and wait for its deployment', run: DEPLOY_SCRIPT },
        // Only once the deployment of the image COMPLETED: the parameter never names an image that failed.
        { name: 'Write the image-uri parameter', run: 'aws ssm put-parameter --name "$IMAGE_PARAMETER" --value "$IMAGE" --type String --overwrite > /dev/null\necho "$IMAGE_PARAMETER now names $IMAGE"' },
      ],
    };
    if (this.githubEnvironment) {
      job.environment = this.githubEnvironment;
    }
    return job;
  }
}

/** Reads the deploy target parameter into the job's environment. */
const READ_TARGET_SCRIPT = [
  'set -euo pipefail',
  'target="$(aws ssm get-parameter --name "$DEPLOY_TARGET" --query Parameter.Value --output text)"',
  '{',
  ...[['CLUSTER', 'cluster'], ['SERVICE', 'service'], ['CONTAINER', 'container'],
    ['REPOSITORY_NAME', 'repositoryName'], ['REPOSITORY_URI', 'repositoryUri'], ['IMAGE_PARAMETER', 'imageParameter'], ['WAKE_COMMAND', 'wakeCommand']]
    .map(([variable, key]) => `  value="$(jq -r '.${key} // ""' <<<"$target")"; echo "${variable}=$value"`),
  // The rollout must be judged (and, on its timeout, rolled back) before GitHub cancels the job: the
  // deploy step stops waiting two minutes before the job's timeout-minutes end.
  '  echo "JOB_DEADLINE=$(( $(date +%s) + JOB_TIMEOUT_MINUTES * 60 - 120 ))"',
  '} >> "$GITHUB_ENV"',
].join('\n');

/**
 * Logs in to ECR and pushes the image tagged with the commit, built for the service's platform,
 * unless that tag exists (immutable tags). GitHub runs a `run:` step as one bash script
 * (`bash -e {0}`), so `exit 0` ends the step.
 */
const BUILD_SCRIPT = [
  'set -euo pipefail',
  'tag="${GITHUB_SHA:0:12}"',
  'image="$REPOSITORY_URI:$tag"',
  'echo "IMAGE=$image" >> "$GITHUB_ENV"',
  'if aws ecr describe-images --repository-name "$REPOSITORY_NAME" --image-ids imageTag="$tag" > /dev/null 2>&1; then',
  '  echo "$image is in the repository already: not pushed again"',
  '  exit 0',
  'fi',
  'aws ecr get-login-password | docker login --username AWS --password-stdin "${REPOSITORY_URI%%/*}"',
  'docker build --platform "$PLATFORM" --file "$DOCKERFILE" --tag "$image" "$BUILD_CONTEXT"',
  'docker push "$image"',
].join('\n');

/**
 * A bash function shared by the GitHub deploy step and the CodePipeline record step: poll the
 * service until its deployment of revision $1 ends. COMPLETED with a running task returns with
 * `rollout=COMPLETED`; FAILED (circuit breaker or alarm rollback), a primary deployment of another
 * revision (rolled back or superseded) or a completed deployment with no running task calls
 * `fail` (defined by each script); the deadline ($ROLLOUT_TIMEOUT_SECONDS) returns with
 * `rollout=TIMEOUT`, for the caller to decide. With deployment alarms, a deployment turns COMPLETED
 * only after the bake time that follows the new tasks' start ("How CloudWatch alarms detect Amazon
 * ECS deployment failures", https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-alarm-failure.html),
 * hence the polling. Each `aws` call is assigned on its own line, so that its failure stops the
 * script under `set -e` (a `read <<<"$(...)"` or a `[ "$(...)" ]` would hide it).
 *
 * rolloutState: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Deployment.html
 */
const AWAIT_ROLLOUT_FUNCTION = [
  'await_rollout() {',
  '  local revision="$1" deadline=$((SECONDS + ROLLOUT_TIMEOUT_SECONDS)) status primary state running left',
  // In a GitHub job, stop before the job's own deadline too (JOB_DEADLINE, epoch seconds).
  '  if [ -n "${JOB_DEADLINE:-}" ]; then',
  '    left=$((JOB_DEADLINE - $(date +%s)))',
  '    if [ "$left" -lt "$ROLLOUT_TIMEOUT_SECONDS" ]; then deadline=$((SECONDS + left)); fi',
  '  fi',
  '  rollout=',
  '  while true; do',
  '    status="$(aws ecs describe-services --cluster "$CLUSTER" --services "$SERVICE" \\',
  '      --query "services[0].[deployments[?status==\'PRIMARY\'] | [0].taskDefinition, deployments[?taskDefinition==\'$revision\'] | [0].rolloutState, deployments[?taskDefinition==\'$revision\'] | [0].runningCount]" --output text)"',
  '    read -r primary state running <<<"$status"',
  '    if [ "$state" = FAILED ]; then',
  '      fail "The deployment of $revision FAILED (circuit breaker or alarm): ECS rolls the service back; the image-uri parameter keeps the image that runs"',
  '    fi',
  '    if [ "$primary" != "$revision" ]; then',
  '      fail "The service\'s primary deployment is $primary, not $revision: rolled back or superseded; the image-uri parameter keeps the image that runs"',
  '    fi',
  '    if [ "$state" = COMPLETED ]; then',
  '      if [ "$running" -lt 1 ]; then',
  '        fail "The deployment of $revision completed with no running task (the service went to sleep): nothing ran it, so the image-uri parameter is not written.${WAKE_COMMAND:+ Wake it with: $WAKE_COMMAND}"',
  '      fi',
  '      rollout=COMPLETED',
  '      return 0',
  '    fi',
  '    if [ "$SECONDS" -ge "$deadline" ]; then',
  '      rollout=TIMEOUT',
  '      return 0',
  '    fi',
  '    sleep "$POLL_SECONDS"',
  '  done',
  '}',
].join('\n');

/**
 * Refuses a sleeping service (no task would run the image, so nothing would judge it), registers a
 * copy of the revision the service runs (not the family's latest, which may be a revision that
 * failed) with the new image in the app container, rolls the service to it and waits on the
 * deployment of that revision (`await_rollout`): COMPLETED passes; FAILED, a rollback, a
 * completed deployment with no running task fail the step. On the timeout, ECS would keep the
 * deployment IN_PROGRESS and might complete it later with an image the parameter does not name:
 * the step rolls the service back to the revision it ran before, explicitly, and fails.
 * `aws ecs wait services-stable` is not enough: it succeeds once one deployment runs the desired
 * count, after a rollback too. The copy is untagged (DescribeTaskDefinition returns tags only
 * with `--include TAGS`, so the registration needs no ecs:TagResource); the tasks carry the
 * service's tags, which the service propagates.
 */
const DEPLOY_SCRIPT = [
  'set -euo pipefail',
  'fail() { echo "::error::$1"; exit 1; }',
  AWAIT_ROLLOUT_FUNCTION,
  'status="$(aws ecs describe-services --cluster "$CLUSTER" --services "$SERVICE" --query \'services[0].[desiredCount, taskDefinition, length(deployments), deployments[0].rolloutState]\' --output text)"',
  'read -r desired current deployments state <<<"$status"',
  'if [ "$desired" = 0 ]; then',
  '  fail "$SERVICE runs no task (asleep outside its working hours, or paused): no task would run $IMAGE, so it is not deployed and the image-uri parameter keeps the image that runs. Wake the service and re-run this job.${WAKE_COMMAND:+ Wake it with: $WAKE_COMMAND}"',
  'fi',
  // The copy is made of the revision the service settled on: while another deployment is under way
  // (a cdk deploy, an earlier job), the service's task definition is one nothing has judged yet.
  'if [ "$deployments" != 1 ] || [ "$state" != COMPLETED ]; then',
  '  fail "$SERVICE has a deployment under way ($deployments deployments, the newest $state): nothing is deployed over it. Re-run this job once the service\'s deployment completed."',
  'fi',
  'aws ecs describe-task-definition --task-definition "$current" --query taskDefinition --output json > current.json',
  'jq --arg image "$IMAGE" --arg container "$CONTAINER" \'',
  '  .containerDefinitions |= map(if .name == $container then .image = $image else . end)',
  '  | del(.taskDefinitionArn, .revision, .status, .requiresAttributes, .compatibilities, .registeredAt, .registeredBy, .deregisteredAt)',
  '  \' current.json > next.json',
  'revision="$(aws ecs register-task-definition --cli-input-json file://next.json --query taskDefinition.taskDefinitionArn --output text)"',
  'echo "Registered $revision, a copy of $current with $IMAGE"',
  'aws ecs update-service --cluster "$CLUSTER" --service "$SERVICE" --task-definition "$revision" > /dev/null',
  'await_rollout "$revision"',
  'if [ "$rollout" = TIMEOUT ]; then',
  '  aws ecs update-service --cluster "$CLUSTER" --service "$SERVICE" --task-definition "$current" > /dev/null \\',
  '    || fail "The deployment of $revision did not complete in time, and rolling the service back to $current failed: run aws ecs update-service --cluster $CLUSTER --service $SERVICE --task-definition $current"',
  '  fail "The deployment of $revision did not complete in time: the service is rolled back to $current, the revision it ran before, and the image-uri parameter keeps the image that runs. Look at the service\'s events."',
  'fi',
  'echo "$SERVICE runs $IMAGE ($revision, deployment COMPLETED)"',
].join('\n');

/** The service's image-uri parameter, which a delivery writes: a service running an image given in code has none. */
function imageParameterOf(scope: Construct, service: IStagingService): ssm.StringParameter {
  if (!service.imageParameter) {
    throw new StagingValidationError(scope, `service '${service.serviceName}' runs an image given in code (got image), so there is nothing to deploy; leave image out so the service runs from its own repository`);
  }
  return service.imageParameter;
}

/**
 * The GitHub OIDC provider of the top-level stack (an account holds one per URL), created once and
 * shared by every deploy role of the stack and its nested stacks.
 */
function githubOidcProvider(scope: Construct): iam.IOidcProvider {
  let stack = Stack.of(scope);
  while (stack.nestedStackParent) {
    stack = stack.nestedStackParent;
  }
  const id = 'GitHubActionsOidcProvider';
  const existing = stack.node.tryFindChild(id) as iam.OidcProviderNative | undefined;
  if (existing) {
    return existing;
  }
  const provider = new iam.OidcProviderNative(stack, id, { url: GITHUB_OIDC_URL, clientIds: ['sts.amazonaws.com'] });
  // An account holds one provider per URL, and other environments (or other stacks) import it:
  // deleting this stack must not delete it from under them, ephemeral or not.
  // RetainExceptOnCreate: a first deploy that fails and rolls back deletes the provider it created
  // (nothing imports it yet), while a stack deletion or a replacement keeps it
  // (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-deletionpolicy.html).
  provider.applyRemovalPolicy(RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE);
  return provider;
}

/** `runtimePlatform.cpuArchitecture` of a task definition, as ECS spells it. */
const ARM64 = 'ARM64';

/**
 * The CPU architecture of the service's tasks, read from its task definition's `runtimePlatform`
 * (`X86_64` when it names none, as Fargate defaults).
 */
function cpuArchitectureOf(service: IStagingService): string {
  const cfn = service.taskDefinition.node.defaultChild as ecs.CfnTaskDefinition;
  const platform = cfn.runtimePlatform as ecs.CfnTaskDefinition.RuntimePlatformProperty | undefined;
  const architecture = platform?.cpuArchitecture;
  return architecture !== undefined && !Token.isUnresolved(architecture) ? architecture : 'X86_64';
}

/** The `docker build --platform` of an ECS CPU architecture. */
function dockerPlatformOf(architecture: string): string {
  return architecture === ARM64 ? 'linux/arm64' : 'linux/amd64';
}

/** Least privilege for one service's deploys. */
function grantDeploy(role: iam.Role, service: IStagingService, target: ssm.StringParameter, imageParameter: ssm.StringParameter): void {
  service.repository.grantPullPush(role);
  role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['ecr:DescribeImages'], resources: [service.repository.repositoryArn] }));
  target.grantRead(role);
  imageParameter.grantWrite(role);
  imageParameter.grantRead(role);
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    // No resource-level permissions for these two (Service Authorization Reference, Amazon ECS).
    actions: ['ecs:RegisterTaskDefinition', 'ecs:DescribeTaskDefinition'],
    resources: ['*'],
  }));
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    actions: ['ecs:UpdateService', 'ecs:DescribeServices'],
    resources: [service.fargateService.serviceArn],
  }));
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    actions: ['iam:PassRole'],
    resources: [service.taskRole.roleArn, service.executionRole.roleArn],
    conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
  }));
}

function validateGitHubOptions(scope: Construct, props: GitHubActionsDeployOptions, branch: string): void {
  if (!Token.isUnresolved(props.repository) && !/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(props.repository)) {
    throw new StagingValidationError(scope, `repository must be 'owner/repo' (got '${props.repository}'); for example 'acme/web'`);
  }
  if (!Token.isUnresolved(branch) && (branch.length === 0 || /[*?[\]\s]/.test(branch))) {
    throw new StagingValidationError(scope, `branch must name one branch, without wildcards (got '${branch}'); a wildcard would let any matching branch deploy: for example 'main'`);
  }
  if (props.githubEnvironment !== undefined && !Token.isUnresolved(props.githubEnvironment) && (props.githubEnvironment.length === 0 || /[*?]/.test(props.githubEnvironment))) {
    throw new StagingValidationError(scope, `githubEnvironment must name one GitHub environment, without wildcards (got '${props.githubEnvironment}'); for example 'staging'`);
  }
  if (props.githubEnvironment !== undefined && props.branch !== undefined) {
    throw new StagingValidationError(scope, 'branch and githubEnvironment cannot be used together (got both); the role trusts one subject: a branch, or a GitHub environment (whose rules choose the branches)');
  }
}

/**
 * Options of a source through an AWS CodeConnections connection (GitHub, GitLab, Bitbucket).
 */
export interface StagingConnectionSourceOptions {
  /**
   * ARN of the connection, created once in the console or CLI and authorized there
   * (`arn:aws:codeconnections:<region>:<account>:connection/<id>`).
   */
  readonly connectionArn: string;
  /** Owner of the repository (user or organization). */
  readonly owner: string;
  /** Name of the repository. */
  readonly repo: string;
  /**
   * The branch whose pushes run the pipeline.
   *
   * @default 'main'
   */
  readonly branch?: string;
}

/**
 * Options of a source that is a zip file in S3.
 *
 * Prerequisite: the pipeline starts on an EventBridge rule that matches the CloudTrail event of
 * an upload, so it never starts unless a CloudTrail trail logs the S3 data events (writes) of the
 * bucket and key. The library does not create that trail (an account-level, billed resource):
 * create one, or add the key to an existing trail's data events, with `aws cloudtrail
 * put-event-selectors` ("Create an EventBridge rule for an Amazon S3 source (CLI)",
 * https://docs.aws.amazon.com/codepipeline/latest/userguide/create-cloudtrail-S3-source-cli.html).
 */
export interface StagingS3SourceOptions {
  /**
   * The versioned bucket that holds the zip. Its uploads reach the pipeline as CloudTrail events:
   * a trail must log its S3 data events (writes) for the key.
   */
  readonly bucket: s3.IBucket;
  /** Key of the zip in the bucket. */
  readonly objectKey: string;
}

/**
 * Where a `StagingPipeline` takes the app's code from.
 */
export abstract class StagingPipelineSource {
  /**
   * A repository through an AWS CodeConnections connection: a push to the branch runs the pipeline.
   *
   * @param options connection, owner, repository and branch
   */
  public static connection(options: StagingConnectionSourceOptions): StagingPipelineSource {
    return new ConnectionSource(options);
  }

  /**
   * A zip file in a versioned S3 bucket: an upload runs the pipeline, provided a CloudTrail trail
   * logs the bucket's S3 data events (writes) for the key; see `StagingS3SourceOptions`.
   *
   * @param options bucket and key
   */
  public static s3(options: StagingS3SourceOptions): StagingPipelineSource {
    return new S3Source(options);
  }

  /**
   * Validates the source and creates its action.
   *
   * @internal
   */
  public abstract _bind(scope: Construct, output: codepipeline.Artifact, pipeline: codepipeline.Pipeline): BoundSource;
}

class ConnectionSource extends StagingPipelineSource {
  constructor(private readonly options: StagingConnectionSourceOptions) {
    super();
  }

  public _bind(scope: Construct, output: codepipeline.Artifact, pipeline: codepipeline.Pipeline): BoundSource {
    const o = this.options;
    const branch = o.branch ?? 'main';
    for (const [prop, value] of [['owner', o.owner], ['repo', o.repo]]) {
      if (!Token.isUnresolved(value) && !/^[A-Za-z0-9_.-]+$/.test(value)) {
        throw new StagingValidationError(scope, `source ${prop} must be a GitHub-style name, letters, digits, '_', '.' and '-' (got '${value}'); for example owner 'acme', repo 'web'`);
      }
    }
    if (!Token.isUnresolved(branch) && (branch.length === 0 || /[*?[\]\s]/.test(branch))) {
      throw new StagingValidationError(scope, `source branch must name one branch, without wildcards (got '${branch}'); for example 'main'`);
    }
    if (!Token.isUnresolved(o.connectionArn) && !/^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection\/[0-9a-f-]+$/.test(o.connectionArn)) {
      throw new StagingValidationError(scope, `source connectionArn must be the ARN of an AWS CodeConnections connection (got '${o.connectionArn}'); `
        + 'for example arn:aws:codeconnections:us-east-1:123456789012:connection/0a1b2c3d-0000-1111-2222-333344445555');
    }
    const action = new cpactions.CodeStarConnectionsSourceAction({
      actionName: 'Source',
      connectionArn: o.connectionArn,
      owner: o.owner,
      repo: o.repo,
      branch,
      output,
      triggerOnPush: true,
      // Imported, so that aws-cdk-lib adds nothing to it: its grant names the codestar-connections
      // prefix only, which does not match a codeconnections ARN.
      role: iam.Role.fromRoleArn(scope, 'SourceRoleRef', connectionSourceRole(scope, o.connectionArn, pipeline).roleArn, { mutable: false }),
    });
    return { action, version: action.variables.commitId };
  }
}

/**
 * The source action's role: use the connection, with the service prefix of the connection's ARN.
 * AWS CodeStar Connections became AWS CodeConnections; "when specifying a resource in the IAM
 * policy, the service prefix needs to match that of the resource" (Connections rename - Summary of
 * changes, https://docs.aws.amazon.com/dtconsole/latest/userguide/rename.html). An ARN known only at
 * deploy time gets both. Then write the source zip to the artifact bucket.
 */
function connectionSourceRole(scope: Construct, connectionArn: string, pipeline: codepipeline.Pipeline): iam.Role {
  const role = new iam.Role(scope, 'SourceRole', {
    assumedBy: new iam.ArnPrincipal(pipeline.role.roleArn),
    description: 'Reads the source through the CodeConnections connection and stores it as an artifact',
  });
  const prefixes = Token.isUnresolved(connectionArn) ? ['codeconnections', 'codestar-connections'] : [connectionArn.split(':')[2]];
  role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: prefixes.map((prefix) => `${prefix}:UseConnection`), resources: [connectionArn] }));
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    actions: ['s3:PutObject', 's3:PutObjectAcl'],
    resources: [pipeline.artifactBucket.arnForObjects('*')],
  }));
  pipeline.node.defaultChild!.node.addDependency(role);
  return role;
}

class S3Source extends StagingPipelineSource {
  constructor(private readonly options: StagingS3SourceOptions) {
    super();
  }

  public _bind(scope: Construct, output: codepipeline.Artifact, _pipeline: codepipeline.Pipeline): BoundSource {
    const key = this.options.objectKey;
    if (!Token.isUnresolved(key) && (key.length === 0 || key.startsWith('/'))) {
      throw new StagingValidationError(scope, `source objectKey must be the key of a zip in the bucket, not starting with '/' (got '${key}'); for example 'web/source.zip'`);
    }
    const action = new cpactions.S3SourceAction({
      actionName: 'Source',
      bucket: this.options.bucket,
      bucketKey: key,
      output,
      trigger: cpactions.S3Trigger.EVENTS,
    });
    return { action, version: action.variables.eTag };
  }
}

/**
 * Options of a `StagingPipeline`.
 */
export interface StagingPipelineOptions {
  /** Where the app's code comes from. */
  readonly source: StagingPipelineSource;

  /**
   * Wait for a person's approval between the build and the deploy.
   *
   * @default false
   */
  readonly manualApproval?: boolean;

  /**
   * Time the deploy may take before the pipeline fails it (the circuit breaker and the alarms
   * roll a bad image back sooner).
   *
   * @default Duration.minutes(30)
   */
  readonly deployTimeout?: Duration;

  /**
   * Time the build may take.
   *
   * @default Duration.minutes(30)
   */
  readonly buildTimeout?: Duration;

  /**
   * Path of the Dockerfile in the source.
   *
   * @default 'Dockerfile'
   */
  readonly dockerfile?: string;

  /**
   * Build context, relative to the source root.
   *
   * @default '.'
   */
  readonly buildContext?: string;

  /**
   * Days the build logs are kept.
   *
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * Delete the artifact bucket (emptied first) and the build logs with the stack.
   *
   * @default - as the service: true when its log group is deleted with the stack (the environment's `ephemeral`)
   */
  readonly ephemeral?: boolean;
}

/**
 * Properties of a `StagingPipeline`.
 */
export interface StagingPipelineProps extends StagingPipelineOptions {
  /** The service deployed: it must run from its own repository (no `image`). */
  readonly service: IStagingService;
}

/**
 * The delivery pipeline of one service, on CodePipeline V2: source; a CodeBuild build for the
 * service's CPU architecture that pushes the image tagged with the commit (once: a re-run skips
 * the push) and emits `imagedefinitions.json`; an optional approval; the ECS deploy with a timeout;
 * then a record step that checks that the service's deployment of the image COMPLETED with tasks
 * running and only then writes the image-uri parameter. Runs are queued, so two deploys of a
 * service never overlap.
 */
export class StagingPipeline extends Construct {
  /** The pipeline. */
  public readonly pipeline: codepipeline.Pipeline;
  /** The build project. */
  public readonly project: codebuild.PipelineProject;
  /** The project of the record step, which writes the image-uri parameter once the deployment completed. */
  public readonly recordProject: codebuild.PipelineProject;
  /** The artifact bucket: SSE-S3, TLS only, artifacts expire after 30 days. */
  public readonly artifactBucket: s3.Bucket;
  /** The build logs (of both projects). */
  public readonly logGroup: logs.LogGroup;
  /** The role the build runs as: push to the service's repository, describe the service. */
  public readonly buildRole: iam.Role;
  /** The role the record step runs as: describe the service and its task definitions, write its image-uri parameter. */
  public readonly recordRole: iam.Role;
  /** The role of the ECS deploy action: roll this service, pass its two roles to ECS tasks. */
  public readonly deployRole: iam.Role;

  constructor(scope: Construct, id: string, props: StagingPipelineProps) {
    super(scope, id);
    const service = props.service;
    const imageParameter = imageParameterOf(this, service);
    validateIntegerRange(this, 'deployTimeout (minutes)', props.deployTimeout?.toMinutes(), 1, 60, 'CodePipeline\'s ECS deploy action waits 1 to 60 minutes');
    validateIntegerRange(this, 'buildTimeout (minutes)', props.buildTimeout?.toMinutes(), 5, 480, 'CodeBuild runs a build 5 to 480 minutes');
    const ephemeral = props.ephemeral ?? deletedWithStack(service.logGroup);
    const lifecycle = statefulLifecycle(ephemeral);

    this.artifactBucket = this.createArtifactBucket(lifecycle);
    this.logGroup = this.createBuildLogs(props, lifecycle);
    const path = `/${service.environmentName}/${service.serviceName}`;
    this.buildRole = this.projectRole('BuildRole', `Builds and pushes the image of ${path}`);
    this.project = this.createBuildProject(props, service);
    this.recordRole = this.projectRole('RecordRole', `Records the deployed image of ${path}`);
    this.recordProject = this.createRecordProject(service, imageParameter);

    const artifacts: PipelineArtifacts = { source: new codepipeline.Artifact('Source'), built: new codepipeline.Artifact('ImageDefinitions') };
    this.pipeline = new codepipeline.Pipeline(this, 'Pipeline', {
      pipelineType: codepipeline.PipelineType.V2,
      executionMode: codepipeline.ExecutionMode.QUEUED,
      artifactBucket: this.artifactBucket,
      crossAccountKeys: false,
      restartExecutionOnUpdate: false,
    });
    const boundSource = props.source._bind(this, artifacts.source, this.pipeline);
    this.deployRole = this.createDeployRole(service);
    this.addStages(props, service, boundSource, artifacts);
    this.orderDeployment(ephemeral);
    acknowledgePipeline(this);
  }

  /** The artifact bucket: SSE-S3, TLS only, artifacts expire after 30 days. */
  private createArtifactBucket(lifecycle: StatefulLifecycle): s3.Bucket {
    const bucket = new s3.Bucket(this, 'Artifacts', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'expire-artifacts', expiration: Duration.days(30), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
      // Artifacts are not state: kept with the stack's deletion, they expire on their own (no
      // deletion function). An ephemeral environment empties and deletes the bucket instead.
      removalPolicy: lifecycle.removalPolicy,
      autoDeleteObjects: lifecycle.emptyOnDelete,
    });
    acknowledgeArtifactBucket(bucket);
    return bucket;
  }

  /** The log group of both projects. */
  private createBuildLogs(props: StagingPipelineProps, lifecycle: StatefulLifecycle): logs.LogGroup {
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const logGroup = new logs.LogGroup(this, 'BuildLogs', { retention: logRetention, removalPolicy: lifecycle.removalPolicy });
    acknowledgeStagingLogGroup(logGroup, logRetention, false, 'a key on the log group (pipeline.logGroup)', 'logRetention');
    return logGroup;
  }

  /**
   * The build project, on the service's CPU architecture: builds and pushes the image, and emits
   * imagedefinitions.json. Its role may push to the service's repository and describe the service.
   */
  private createBuildProject(props: StagingPipelineProps, service: IStagingService): codebuild.PipelineProject {
    const architecture = cpuArchitectureOf(service);
    const project = new codebuild.PipelineProject(this, 'Build', {
      role: iam.Role.fromRoleArn(this, 'BuildRoleRef', this.buildRole.roleArn, { mutable: false }),
      description: `Builds and pushes the image of /${service.environmentName}/${service.serviceName}`,
      environment: {
        // Built natively on the service's architecture: an arm64 task needs an arm64 image.
        // ARM images and compute types: https://docs.aws.amazon.com/codebuild/latest/userguide/build-env-ref-available.html
        buildImage: architecture === ARM64 ? codebuild.LinuxArmBuildImage.AMAZON_LINUX_2023_STANDARD_3_0 : codebuild.LinuxBuildImage.STANDARD_7_0,
        computeType: codebuild.ComputeType.SMALL,
        // docker build needs the Docker daemon, which runs privileged.
        privileged: true,
      },
      cache: codebuild.Cache.local(codebuild.LocalCacheMode.DOCKER_LAYER),
      timeout: props.buildTimeout ?? Duration.minutes(30),
      logging: { cloudWatch: { logGroup: this.logGroup, prefix: 'build' } },
      environmentVariables: {
        ...serviceVariables(service),
        REPOSITORY_URI: { value: service.repository.repositoryUri },
        REPOSITORY_NAME: { value: service.repository.repositoryName },
        DOCKERFILE: { value: props.dockerfile ?? 'Dockerfile' },
        BUILD_CONTEXT: { value: props.buildContext ?? '.' },
        PLATFORM: { value: dockerPlatformOf(architecture) },
      },
      buildSpec: codebuild.BuildSpec.fromObject(BUILD_SPEC),
    });
    service.repository.grantPullPush(this.buildRole);
    this.buildRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['ecr:DescribeImages'], resources: [service.repository.repositoryArn] }));
    this.buildRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['ecs:DescribeServices'], resources: [service.fargateService.serviceArn] }));
    this.grantArtifacts(this.buildRole, true);
    return project;
  }

  /**
   * The record project: writes the image-uri parameter once the image's deployment completed. Its
   * role may describe the service and its task definitions, and write that parameter.
   */
  private createRecordProject(service: IStagingService, imageParameter: ssm.StringParameter): codebuild.PipelineProject {
    const project = new codebuild.PipelineProject(this, 'Record', {
      role: iam.Role.fromRoleArn(this, 'RecordRoleRef', this.recordRole.roleArn, { mutable: false }),
      description: `Writes /${service.environmentName}/${service.serviceName}/image-uri once the image's deployment completed`,
      environment: { buildImage: codebuild.LinuxBuildImage.STANDARD_7_0, computeType: codebuild.ComputeType.SMALL },
      // Polls the deployment through the deployment alarms' bake time (RECORD_ROLLOUT_TIMEOUT).
      timeout: RECORD_ROLLOUT_TIMEOUT.plus(Duration.minutes(5)),
      logging: { cloudWatch: { logGroup: this.logGroup, prefix: 'record' } },
      environmentVariables: {
        ...serviceVariables(service),
        IMAGE_PARAMETER: { value: imageParameter.parameterName },
        ROLLOUT_TIMEOUT_SECONDS: { value: String(RECORD_ROLLOUT_TIMEOUT.toSeconds()) },
        POLL_SECONDS: { value: '15' },
      },
      buildSpec: codebuild.BuildSpec.fromObject(RECORD_SPEC),
    });
    imageParameter.grantWrite(this.recordRole);
    this.recordRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['ecs:DescribeServices'], resources: [service.fargateService.serviceArn] }));
    this.recordRole.addToPrincipalPolicy(new iam.PolicyStatement({
      // No resource-level permissions (Service Authorization Reference, Amazon ECS).
      actions: ['ecs:DescribeTaskDefinition'],
      resources: ['*'],
    }));
    this.grantArtifacts(this.recordRole, false);
    return project;
  }

  /** Source, build, the optional approval, the ECS deploy and the record step, in that order. */
  private addStages(props: StagingPipelineProps, service: IStagingService, boundSource: BoundSource, artifacts: PipelineArtifacts): void {
    this.pipeline.addStage({ stageName: 'Source', actions: [boundSource.action] });
    this.pipeline.addStage({
      stageName: 'Build',
      actions: [new cpactions.CodeBuildAction({
        actionName: 'BuildAndPush',
        project: this.project,
        input: artifacts.source,
        outputs: [artifacts.built],
        environmentVariables: { SOURCE_VERSION: { value: boundSource.version } },
      })],
    });
    if (props.manualApproval) {
      this.pipeline.addStage({ stageName: 'Approve', actions: [new cpactions.ManualApprovalAction({ actionName: 'Approve' })] });
    }
    // One stage, so that its lock covers the check, the deploy and the record step: CodePipeline runs
    // one execution in a stage at a time, and a later execution could otherwise deploy while this one
    // records (https://docs.aws.amazon.com/codepipeline/latest/userguide/concepts-how-it-works.html).
    // Within it, actions run by runOrder, each once the one before succeeded.
    this.pipeline.addStage({
      stageName: 'Deploy',
      actions: [
        // Checked again here: the service may have fallen asleep while the change waited for its approval.
        new cpactions.CodeBuildAction({
          actionName: 'CheckAwake',
          project: this.recordProject,
          input: artifacts.built,
          environmentVariables: { RECORD_STEP: { value: 'check' } },
          runOrder: 1,
        }),
        new cpactions.EcsDeployAction({
          actionName: 'Deploy',
          service: service.fargateService,
          input: artifacts.built,
          deploymentTimeout: props.deployTimeout ?? Duration.minutes(30),
          // Imported, so that aws-cdk-lib adds nothing to it (its default passes any role: `iam:PassRole` on `*`).
          role: iam.Role.fromRoleArn(this, 'DeployRoleRef', this.deployRole.roleArn, { mutable: false }),
          runOrder: 2,
        }),
        // After the ECS deploy action succeeded: checks the deployment itself before it writes the parameter.
        new cpactions.CodeBuildAction({ actionName: 'WriteImageParameter', project: this.recordProject, input: artifacts.built, runOrder: 3 }),
      ],
    });
  }

  /** What must exist before the pipeline runs, and (ephemeral) what must be gone before its bucket is emptied. */
  private orderDeployment(ephemeral: boolean): void {
    // The roles are given as imported (so that aws-cdk-lib adds nothing to them): the projects and
    // the pipeline's first run must wait for their policies.
    this.project.node.addDependency(this.buildRole);
    this.recordProject.node.addDependency(this.recordRole);
    // On the pipeline resource only: the pipeline's own role is one that the deploy role trusts.
    this.pipeline.node.defaultChild!.node.addDependency(this.buildRole, this.recordRole, this.deployRole);
    if (ephemeral) {
      // The bucket is emptied when the stack deletes its auto-delete custom resource, and
      // CloudFormation deletes a resource before what it depends on: the pipeline and its projects,
      // which write to the bucket, depend on the custom resource, so they are gone before it empties
      // the bucket (as the load balancer and its access-log bucket in edge.ts).
      const autoDelete = this.artifactBucket.node.findChild('AutoDeleteObjectsCustomResource');
      // The resources themselves, not their roles: the bucket policy's grants already order those.
      for (const writer of [this.pipeline, this.project, this.recordProject]) {
        writer.node.defaultChild!.node.addDependency(autoDelete);
      }
      acknowledgeCdkProviderOutsideVpc(this, 'Custom::S3AutoDeleteObjectsCustomResourceProvider',
        'ephemeral: this is the AWS CDK function that empties the pipeline\'s artifact bucket when the stack is deleted. It calls only the S3 API and holds no data, so it runs outside the VPC.');
    }
  }

  /** Lets a role read (and write) the pipeline's artifacts, nothing else of the bucket. */
  private grantArtifacts(role: iam.Role, write: boolean): void {
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['s3:GetObject', 's3:GetObjectVersion', ...(write ? ['s3:PutObject'] : [])],
      resources: [this.artifactBucket.arnForObjects('*')],
    }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetBucketAcl', 's3:GetBucketLocation'], resources: [this.artifactBucket.bucketArn] }));
  }

  /** A CodeBuild role that may write the build logs. */
  private projectRole(id: string, description: string): iam.Role {
    const role = new iam.Role(this, id, { assumedBy: new iam.ServicePrincipal('codebuild.amazonaws.com'), description });
    this.logGroup.grantWrite(role);
    return role;
  }

  /**
   * The ECS deploy action's role, with what the action needs (CodePipeline User Guide, "Service
   * role permissions: Amazon ECS standard action",
   * https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-ECS.html) scoped to
   * this service: update and describe it, register a revision, and pass its task and execution roles
   * to ECS tasks only.
   */
  private createDeployRole(service: IStagingService): iam.Role {
    const role = new iam.Role(this, 'DeployRole', {
      assumedBy: new iam.ArnPrincipal(this.pipeline.role.roleArn),
      description: `Rolls /${service.environmentName}/${service.serviceName} to the pipeline's image`,
    });
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['ecs:DescribeServices', 'ecs:UpdateService'],
      resources: [service.fargateService.serviceArn],
    }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      // No resource-level permissions for these (Service Authorization Reference, Amazon ECS).
      actions: ['ecs:DescribeTaskDefinition', 'ecs:RegisterTaskDefinition', 'ecs:DescribeTasks', 'ecs:ListTasks'],
      resources: ['*'],
    }));
    // The action registers its revision with the tags of the revision the service runs, and
    // RegisterTaskDefinition with tags is also authorized as ecs:TagResource ("Grant permission to
    // tag resources on creation",
    // https://docs.aws.amazon.com/AmazonECS/latest/developerguide/supported-iam-actions-tagging.html):
    // only on the service's family, only while registering.
    // The partition spelled out where the region is known, so that the finding below names no
    // token (an acknowledgement's id cannot hold the `::` of `<AWS::Partition>`).
    const stack = Stack.of(this);
    const partition = Token.isUnresolved(stack.region) ? undefined : RegionInfo.get(stack.region).partition;
    const revisions = `arn:${partition ?? stack.partition}:ecs:${stack.region}:${stack.account}:task-definition/${service.taskDefinition.family}:*`;
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['ecs:TagResource'],
      resources: [revisions],
      conditions: { StringEquals: { 'ecs:CreateAction': 'RegisterTaskDefinition' } },
    }));
    if (!Token.isUnresolved(revisions)) {
      Validations.of(role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${revisions}]`,
        reason: 'ecs:TagResource only while registering (ecs:CreateAction), on the revisions of this service\'s family: the ECS deploy action registers each revision with the tags of the one before.',
      });
    }
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['iam:PassRole'],
      resources: [service.taskRole.roleArn, service.executionRole.roleArn],
      conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
    }));
    this.grantArtifacts(role, false);
    return role;
  }
}

/** The service's variables both projects read: where it runs, and how to wake it. */
function serviceVariables(service: IStagingService): { [name: string]: codebuild.BuildEnvironmentVariable } {
  return {
    CLUSTER: { value: service.fargateService.cluster.clusterName },
    SERVICE: { value: service.fargateService.serviceName },
    CONTAINER: { value: service.container.containerName },
    WAKE_COMMAND: { value: service.wakeCommand ?? '' },
  };
}

/** The pipeline's artifacts: the source, and the image definitions the build emits. */
interface PipelineArtifacts {
  readonly source: codepipeline.Artifact;
  readonly built: codepipeline.Artifact;
}

/** Whether CloudFormation deletes the resource with the stack (its DeletionPolicy is Delete). */
function deletedWithStack(resource: Construct): boolean {
  return (resource.node.defaultChild as CfnResource).cfnOptions.deletionPolicy === CfnDeletionPolicy.DELETE;
}

/**
 * The build: one command, run by bash in a subshell under `set -euo pipefail`, so that nothing falls
 * through. CodeBuild runs each listed command as its own shell command, carrying only the shell's
 * state over to the next ("Shells and commands in build environments",
 * https://docs.aws.amazon.com/codebuild/latest/userguide/build-env-ref-cmd.html): an `exit` ends
 * one command, not the phase. Refuse a sleeping service (nothing would judge the image), log in
 * to ECR, build for the service's platform with the Docker layer cache, tag with the source
 * version, push unless that tag is there (immutable tags: a retried run succeeds), and only then
 * emit imagedefinitions.json for the ECS deploy action.
 */
const BUILD_COMMAND = [
  '(',
  'set -euo pipefail',
  // Assigned on its own line: a failing call inside `[ "$(...)" = 0 ]` would not stop the script.
  'desired="$(aws ecs describe-services --cluster "$CLUSTER" --services "$SERVICE" --query \'services[0].desiredCount\' --output text)"',
  'if [ "$desired" = 0 ]; then',
  '  echo "$SERVICE runs no task (asleep outside its working hours, or paused): no task would run a new image, so nothing is built or deployed. Wake the service and release the change again.${WAKE_COMMAND:+ Wake it with: $WAKE_COMMAND}" >&2',
  '  exit 1',
  'fi',
  'tag="$(printf \'%s\' "$SOURCE_VERSION" | tr -cd \'A-Za-z0-9\' | cut -c1-12)"',
  'if [ -z "$tag" ]; then echo "SOURCE_VERSION is empty: no tag for the image" >&2; exit 1; fi',
  'image="$REPOSITORY_URI:$tag"',
  'if aws ecr describe-images --repository-name "$REPOSITORY_NAME" --image-ids imageTag="$tag" > /dev/null 2>&1; then',
  '  echo "$image is in the repository already: not pushed again"',
  'else',
  '  aws ecr get-login-password | docker login --username AWS --password-stdin "${REPOSITORY_URI%%/*}"',
  '  docker build --platform "$PLATFORM" --file "$DOCKERFILE" --tag "$image" "$BUILD_CONTEXT"',
  '  docker push "$image"',
  'fi',
  'jq -n --arg name "$CONTAINER" --arg image "$image" \'[{name: $name, imageUri: $image}]\' > imagedefinitions.json',
  ')',
].join('\n');

/**
 * The record step, one command as the build's: after the ECS deploy action succeeded, find the
 * revision it rolled the service to, check that its app container runs the image, and poll that
 * deployment (`await_rollout`) until COMPLETED with tasks running: with deployment alarms that
 * comes only after the bake time. Only then write the image-uri parameter, so that it never names
 * an image that failed, was rolled back, that no task ran, or whose deployment had not completed
 * when the step timed out (the step fails then, and the parameter keeps the image it named).
 */
const RECORD_COMMAND = [
  '(',
  'set -euo pipefail',
  'fail() { echo "$1" >&2; exit 1; }',
  AWAIT_ROLLOUT_FUNCTION,
  // RECORD_STEP=check, before the ECS deploy action: refuse a service that runs no task.
  'if [ "${RECORD_STEP:-record}" = check ]; then',
  '  desired="$(aws ecs describe-services --cluster "$CLUSTER" --services "$SERVICE" --query \'services[0].desiredCount\' --output text)"',
  '  if [ "$desired" -lt 1 ]; then',
  '    fail "$SERVICE runs no task (asleep or paused): no task would run the new image, so it is not deployed. Wake the service and release the change again.${WAKE_COMMAND:+ Wake it with: $WAKE_COMMAND}"',
  '  fi',
  '  echo "$SERVICE runs $desired task(s): deploying"',
  '  exit 0',
  'fi',
  'image="$(jq -r --arg c "$CONTAINER" \'.[] | select(.name == $c) | .imageUri\' imagedefinitions.json)"',
  'if [ -z "$image" ]; then fail "imagedefinitions.json names no image for container $CONTAINER"; fi',
  'status="$(aws ecs describe-services --cluster "$CLUSTER" --services "$SERVICE" --query "services[0].[desiredCount, deployments[?status==\'PRIMARY\'] | [0].taskDefinition]" --output text)"',
  'read -r desired revision <<<"$status"',
  'deployed="$(aws ecs describe-task-definition --task-definition "$revision" --query "taskDefinition.containerDefinitions[?name==\'$CONTAINER\'] | [0].image" --output text)"',
  'if [ "$deployed" != "$image" ]; then',
  '  fail "$SERVICE runs $deployed ($revision), not $image: the deployment was rolled back or superseded, so the image-uri parameter keeps the image that runs"',
  'fi',
  'if [ "$desired" -lt 1 ]; then',
  '  fail "$SERVICE runs no task (asleep or paused): nothing ran $image, so it is not recorded. Wake the service and release the change again.${WAKE_COMMAND:+ Wake it with: $WAKE_COMMAND}"',
  'fi',
  'await_rollout "$revision"',
  'if [ "$rollout" = TIMEOUT ]; then',
  '  fail "The deployment of $image ($revision) did not complete in $ROLLOUT_TIMEOUT_SECONDS s: not recorded, the image-uri parameter keeps the image it named. Look at the service\'s events, and release again once it is COMPLETED."',
  'fi',
  'aws ssm put-parameter --name "$IMAGE_PARAMETER" --value "$image" --type String --overwrite > /dev/null',
  'echo "$IMAGE_PARAMETER now names $image"',
  ')',
].join('\n');

/**
 * How long the record step waits for the deployment to turn COMPLETED after the ECS deploy action
 * succeeded: the deployment alarms' bake time, which ECS computes from the alarms' periods and which
 * cannot be set, is a few periods of the library's alarms (minutes).
 */
const RECORD_ROLLOUT_TIMEOUT = Duration.minutes(20);

/** `on-failure: ABORT`: nothing runs after a failed command (no post_build that would run anyway). */
const BUILD_SPEC = {
  version: '0.2',
  env: { shell: 'bash' },
  phases: { build: { 'on-failure': 'ABORT', 'commands': [BUILD_COMMAND] } },
  artifacts: { files: ['imagedefinitions.json'] },
};

const RECORD_SPEC = {
  version: '0.2',
  env: { shell: 'bash' },
  phases: { build: { 'on-failure': 'ABORT', 'commands': [RECORD_COMMAND] } },
};

function acknowledgeArtifactBucket(bucket: s3.Bucket): void {
  const disposable = 'Pipeline artifacts are intermediate files that expire after 30 days; versions, object lock or access logs would keep or multiply what is meant to go.';
  acknowledge(bucket,
    {
      reason: disposable,
      nag: ['AwsSolutions-S1'],
      guard: ['s3_bucket_logging_enabled_check', 's3_bucket_versioning_enabled_check', 's3_bucket_object_lock_enabled_check'],
      checkov: ['CKV_AWS_18', 'CKV_AWS_21'],
    },
    { reason: 'Nothing consumes pipeline artifacts as they arrive but the pipeline itself.', guard: ['s3_event_notifications_enabled_check'] },
    {
      reason: 'Artifacts are encrypted with SSE-S3; a KMS key would need grants for every pipeline role and adds cost without protecting more in a single-account pipeline.',
      guard: ['s3_bucket_default_encryption_kms_check'],
    },
  );
}

function acknowledgePipeline(pipeline: StagingPipeline): void {
  const privileged = 'Privileged mode runs the Docker daemon that `docker build` needs; the build runs only this repository\'s Dockerfile, on a fresh build host.';
  Validations.of(pipeline.project).acknowledge(
    { id: 'AwsSolutions-CB3', reason: privileged },
    { id: `${GUARD}::codebuild_project_environment_privileged_check`, reason: privileged },
    { id: 'AwsSolutions-CB4', reason: 'Build artifacts (imagedefinitions.json) hold an image URI, no data; the AWS managed key encrypts them.' },
  );
  Validations.of(pipeline.recordProject).acknowledge(
    { id: 'AwsSolutions-CB4', reason: 'The record step reads imagedefinitions.json, an image URI, and writes no artifact; the AWS managed key encrypts its logs\' metadata.' },
  );
  // The wildcards aws-cdk-lib's CodePipeline and CodeBuild grants write, each on this pipeline's own
  // resources, in the form cdk-nag reports them.
  const stack = Stack.of(pipeline);
  const bucket = stack.getLogicalId(pipeline.artifactBucket.node.defaultChild as CfnElement);
  const reasons: Array<[string, string]> = [
    ...['s3:Abort*', 's3:DeleteObject*', 's3:GetBucket*', 's3:GetObject*', 's3:List*'].map((action): [string, string] => [`Action::${action}`,
      'aws-cdk-lib\'s grant on the pipeline\'s own artifact bucket, which holds nothing but this pipeline\'s artifacts.']),
    [`Resource::<${bucket}.Arn>/*`, 'The objects of the pipeline\'s own artifact bucket.'],
    ['Resource::*', 'ecr:GetAuthorizationToken (the build), ecs:DescribeTaskDefinition (the record step) and the ECS deploy action\'s task definition and task calls have no resource-level permissions.'],
  ];
  for (const construct of pipeline.node.findAll()) {
    if (construct instanceof iam.Policy) {
      Validations.of(construct).acknowledge(...reasons.map(([finding, reason]) => ({ id: `AwsSolutions-IAM5[${finding}]`, reason })));
      acknowledge(construct, {
        reason: 'The ECS deploy action registers task definitions, which have no resource-level permissions; every other write names this pipeline\'s bucket, project or service.',
        checkov: ['CKV_AWS_111'],
      });
    }
  }
}
