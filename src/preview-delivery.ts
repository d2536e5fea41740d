import { Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { Construct } from 'constructs';
import type * as yaml from 'yaml';
import { StagingValidationError } from './private/errors';
import { PREVIEW_TAGS, previewFactsOf, PreviewFacts, previewServiceParametersPattern, previewsParameterName, PREVIEWS_SEGMENT, previewStackPrefix } from './private/preview-facts';
import { RULE_PLACES_CONTEXT_KEY, RULE_PLACES_OUTPUT } from './private/preview-places';
import { previewStacksArn } from './private/preview-reaper';
import { ENVIRONMENT_SEGMENT } from './private/published';
import { validateRoleName } from './private/validation';
import type { IStagingService } from './service-contract';
import type { EcsStagingEnvironment } from './staging-environment';

/** The YAML writer, loaded on first use (as in pipeline.ts: only rendering needs it). */
function loadYaml(): typeof yaml {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('yaml');
}

const GITHUB_OIDC_URL = 'https://token.actions.githubusercontent.com';
const GITHUB_OIDC_HOST = 'token.actions.githubusercontent.com';
/**
 * How long a session of the preview role lasts: the role's MaxSessionDuration and the workflow's
 * `role-duration-seconds`. A job may run no longer (timeoutMinutes is at most 60), so that its
 * last AWS call (the wait on the stack) never outlives its credentials.
 */
const SESSION_SECONDS = 3600;
/** The most minutes a preview job may run: the role's session (SESSION_SECONDS). */
const MAX_TIMEOUT_MINUTES = SESSION_SECONDS / 60;

/** Third-party actions of the rendered workflow, pinned to a full commit SHA (the deploy workflow's pins). */
const PINNED_ACTIONS = {
  checkout: 'actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1', // v7.0.1
  configureAwsCredentials: 'aws-actions/configure-aws-credentials@e6de054238d6b7531b4efff3b6587d9aade6a06c', // v6.2.3
};

/**
 * Properties of a `GitHubActionsPreviewRole`.
 */
export interface GitHubActionsPreviewRoleProps {
  /** The environment the previews deploy to: it must allow previews (`previews`) and have a domain. */
  readonly environment: EcsStagingEnvironment;

  /** The GitHub repository whose pull requests get previews, `owner/repo`. */
  readonly repository: string;

  /**
   * The account's GitHub OIDC provider, when it exists already (an account holds one per URL), e.g.
   * imported with `iam.OidcProviderNative.fromOidcProviderArn()` / `from_oidc_provider_arn()`.
   *
   * @default - the stack's provider, created once and shared with its deploy roles
   */
  readonly oidcProvider?: iam.IOidcProvider;
}

/**
 * How one service's image is built for its previews.
 */
export interface PreviewBuildOptions {
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
}

/**
 * Options of the rendered preview workflow.
 */
export interface GitHubPreviewWorkflowOptions {
  /**
   * How each previewed service's image is built, by service name; a service not named here is
   * built from `Dockerfile` at the repository root.
   *
   * @default - every service from `Dockerfile` at the repository root
   */
  readonly builds?: { [service: string]: PreviewBuildOptions };

  /**
   * The folder of the CDK app (the one with `cdk.json`) that defines the environment, relative to
   * the repository root. The workflow synthesizes the preview stack there.
   *
   * @default '.'
   */
  readonly cdkAppDirectory?: string;

  /**
   * The command that installs the CDK app's dependencies, AWS CDK CLI included (`npx cdk` runs it),
   * in `cdkAppDirectory` / `cdk_app_directory`.
   *
   * @default 'npm ci'
   */
  readonly installCommand?: string;

  /**
   * Minutes the deploy job (and the delete job) may run before GitHub stops it: 5 to 60, since
   * the job's AWS session lasts an hour (the role's maximum session duration).
   *
   * @default 30
   */
  readonly timeoutMinutes?: number;

  /**
   * The runner label of the jobs. It must match the previewed services' CPU architecture: images
   * are built natively for it.
   *
   * @default - 'ubuntu-24.04' for X86_64 services, 'ubuntu-24.04-arm' for ARM64 services
   */
  readonly runsOn?: string;
}

/**
 * The IAM role a GitHub Actions workflow assumes over OIDC, on pull requests of one repository, to
 * deploy and delete previews of an environment: push images to the previewed services'
 * repositories, read what the environment publishes for previews (and the CDK bootstrap version,
 * which CloudFormation reads with the caller's credentials), and create, update and delete the
 * stacks named `<environment name>-preview-pr-*` through the environment's preview CloudFormation
 * role. Nothing of the environment itself.
 *
 * `renderWorkflow()` (Python: `render_workflow()`) writes the workflow that uses it.
 */
export class GitHubActionsPreviewRole extends Construct {
  /** The role the workflow assumes. */
  public readonly role: iam.Role;
  /** The GitHub OIDC provider the role trusts. */
  public readonly oidcProvider: iam.IOidcProvider;
  /** The `sub` claim the role accepts: `repo:<owner>/<repo>:pull_request`. */
  public readonly subject: string;
  /** Name of the parameter that tells the workflow which repositories to push to. */
  public readonly deliveryTargetParameterName: string;

  private readonly environment: EcsStagingEnvironment;
  private readonly facts: PreviewFacts;
  private readonly services: IStagingService[];
  private readonly repositories: PreviewRepository[];

  constructor(scope: Construct, id: string, props: GitHubActionsPreviewRoleProps) {
    super(scope, id);
    const environment = props.environment;
    this.environment = environment;
    validateRepository(this, props.repository);
    this.facts = previewsOf(this, environment);
    const name = environment.environmentName;
    this.services = previewedServices(this, environment, this.facts);
    this.repositories = previewRepositories(this, this.services, this.facts);

    this.subject = `repo:${props.repository}:pull_request`;
    this.oidcProvider = props.oidcProvider ?? githubOidcProvider(this);
    const roleName = `${name}-github-previews`;
    validateRoleName(this, 'environmentName', roleName, 'shorten environmentName');
    this.role = new iam.Role(this, 'Role', {
      roleName,
      description: `GitHub Actions (${this.subject}) deploys and deletes the previews of ${name}`,
      maxSessionDuration: Duration.seconds(SESSION_SECONDS),
      assumedBy: new iam.WebIdentityPrincipal(this.oidcProvider.oidcProviderArn, {
        StringEquals: {
          [`${GITHUB_OIDC_HOST}:aud`]: 'sts.amazonaws.com',
          [`${GITHUB_OIDC_HOST}:sub`]: this.subject,
        },
      }),
    });
    this.deliveryTargetParameterName = previewsParameterName(name, 'delivery-target');
    const deliveryTarget = new ssm.StringParameter(this, 'DeliveryTarget', {
      parameterName: this.deliveryTargetParameterName,
      description: `Where the preview workflow of ${name} pushes its images (cdk-ecs-staging)`,
      stringValue: Stack.of(this).toJsonString({
        services: this.repositories.map((r) => ({
          name: r.serviceName,
          repositoryName: r.repository.repositoryName,
          repositoryUri: r.repository.repositoryUri,
        })),
      }),
    });
    // After the environment's published parameters, which it creates one at a time: Parameter Store
    // throttles PutParameter ("Rate exceeded") when CloudFormation creates many in parallel.
    const published = environment.node.tryFindChild('Published');
    if (published) {
      deliveryTarget.node.addDependency(published);
    }
    this.grantPreviews();
    // Services added to the environment after the role would be previewed without a grant to push.
    this.node.addValidation({
      validate: () => {
        const now = previewedServices(this, environment, this.facts).map((s) => s.serviceName);
        const granted = this.services.map((s) => s.serviceName);
        return now.join(',') === granted.join(',') ? [] : [
          `[cdk-ecs-staging] ${this.node.path}: services ${now.filter((n) => !granted.includes(n)).join(', ')} were added to the environment after the preview role; `
          + 'create the GitHubActionsPreviewRole after the environment\'s last addService()',
        ];
      },
    });
  }

  /** Least privilege for the preview workflow. */
  private grantPreviews(): void {
    const role = this.role;
    const stack = Stack.of(this);
    const name = this.environment.environmentName;
    for (const { repository } of this.repositories) {
      // Push only (aws-cdk-lib's grant: ecr:GetAuthorizationToken on "*", the layer and image writes
      // on the repository), and DescribeImages to skip a push that is there.
      repository.grantPush(this.role);
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['ecr:DescribeImages'], resources: [repository.repositoryArn] }));
    }
    // The workflow reads the previews' settings, the CloudFormation role's ARN and its delivery target
    // (/<env>/_previews/*). A preview template names the environment's published values
    // (/<env>/_environment/*) as `{{resolve:ssm:...}}` dynamic references, which CloudFormation
    // retrieves "during stack and change set operations" (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references.html):
    // readable too, whichever credentials it uses. All are String parameters that name resources, no secret.
    // The partition spelled out where the region is known, so that the findings acknowledged below name no token.
    const partition = Token.isUnresolved(stack.region) ? stack.partition : partitionOf(stack);
    const parameterArn = (path: string) => `arn:${partition}:ssm:${stack.region}:${stack.account}:parameter/${path}`;
    const parameters = (path: string) => parameterArn(`${name}/${path}`);
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['ssm:GetParameter', 'ssm:GetParameters'],
      resources: [parameters(`${ENVIRONMENT_SEGMENT}/*`), parameters(`${PREVIEWS_SEGMENT}/*`)],
    }));
    // CloudFormation reads a template's SSM parameter types (AWS::SSM::Parameter::Value<...>) with the
    // credentials of whoever creates the change set, not with the stack's role
    // (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html#aws-ssm-parameter-types;
    // the CDK bootstrap template grants its deploy role ssm:GetParameters for that: "CreateChangeSet
    // uses this to evaluate any SSM parameters"). A preview template synthesized by the CDK has two
    // kinds: BootstrapVersion (`/cdk-bootstrap/<qualifier>/version`, default synthesizer) and the
    // per-service values `valueForStringParameter` renders, the preview roles the environment makes
    // (`/<env>/<service>/preview-execution-role-arn`, `/<env>/<service>/preview-task-role-arn`).
    const bootstrapVersions = parameterArn('cdk-bootstrap/*/version');
    const servicePreviewParameters = parameters(previewServiceParametersPattern());
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['ssm:GetParameters'],
      resources: [bootstrapVersions, servicePreviewParameters],
    }));
    // Stacks named <env>-preview-pr-*: `aws cloudformation deploy` creates, describes and executes a
    // change set and waits on the stack (https://docs.aws.amazon.com/cli/latest/reference/cloudformation/deploy/);
    // the workflow reads a stack's tags and status, its events on a failure, and deletes it. Change
    // set actions are authorized on the stack's ARN (Service Authorization Reference, AWS
    // CloudFormation: https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscloudformation.html),
    // and cloudformation:TagResource lets the stack carry the tags the workflow sets (`--tags`, which
    // CloudFormation also propagates to the stack's resources: the preview CloudFormation role tags them).
    // Only on preview stacks, so it tags nothing else.
    const stacks = previewStacksArn(this, previewStackPrefix(name));
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: [
        'cloudformation:CreateChangeSet', 'cloudformation:DescribeChangeSet', 'cloudformation:ExecuteChangeSet',
        'cloudformation:DescribeStacks', 'cloudformation:DescribeStackEvents', 'cloudformation:DeleteStack', 'cloudformation:TagResource',
      ],
      resources: [stacks],
    }));
    // ListStacks has no resource-level permissions (same reference).
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['cloudformation:ListStacks'], resources: ['*'] }));
    // The one role CloudFormation may act as on preview stacks, passed to CloudFormation only.
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['iam:PassRole'],
      resources: [this.facts.cloudFormationRoleArn],
      conditions: { StringEquals: { 'iam:PassedToService': 'cloudformation.amazonaws.com' } },
    }));
    const reasons = [
      { id: 'AwsSolutions-IAM5[Resource::*]', reason: 'ecr:GetAuthorizationToken and cloudformation:ListStacks have no resource-level permissions; every write names the previewed repositories, the preview stacks or the preview CloudFormation role.' },
    ];
    if (!Token.isUnresolved(stacks)) {
      reasons.push({ id: `AwsSolutions-IAM5[Resource::${stacks}]`, reason: `Preview stacks are named ${previewStackPrefix(name)}<pull request>: the wildcard covers those names and their stack IDs only.` });
    }
    if (!Token.isUnresolved(stack.region) && !Token.isUnresolved(stack.account)) {
      for (const path of [`${ENVIRONMENT_SEGMENT}/*`, `${PREVIEWS_SEGMENT}/*`]) {
        reasons.push({ id: `AwsSolutions-IAM5[Resource::${parameters(path)}]`, reason: 'Read-only, on the String parameters the environment publishes for previews by name (resource names, no secret).' });
      }
      reasons.push(
        { id: `AwsSolutions-IAM5[Resource::${bootstrapVersions}]`, reason: 'Read-only: CloudFormation reads the BootstrapVersion parameter of a CDK template with the caller\'s credentials; the qualifier is the app\'s.' },
        { id: `AwsSolutions-IAM5[Resource::${servicePreviewParameters}]`, reason: 'Read-only: the preview roles the environment publishes per service (role ARNs, no secret), which CloudFormation reads with the caller\'s credentials.' },
      );
    }
    Validations.of(this.role).acknowledge(...reasons);
  }

  /**
   * The GitHub Actions workflow of the previews, on `pull_request` (opened, synchronize, reopened,
   * closed; never `pull_request_target`), skipped for pull requests from forks and Dependabot's. The deploy job
   * (one at a time for the environment: it allocates slots) finds the pull request's slot (its
   * stack's `cdk-ecs-staging:preview-slot` tag, or the lowest free one); when every slot is taken
   * it ends green and the comment says so. Otherwise it builds and pushes each previewed service's
   * image as `pr-<number>-<commit, 12 characters>` (never the image-uri parameters), synthesizes
   * the preview stack (`npx cdk synth` with the pull request, its slot, the image tag and the
   * deployed stack's `RulePlaces` output as context)
   * and deploys it with `aws cloudformation deploy` through the environment's preview
   * CloudFormation role. A comment job (the only one that may write to the pull request) posts the
   * URLs, the full environment, or CloudFormation's reason for a failure. On `closed`, the delete
   * job (one at a time per pull request) waits for an operation under way on the stack to end, then
   * deletes it. Least `permissions` per job, actions pinned to commit SHAs. Commit it as
   * `.github/workflows/<name>.yml`.
   *
   * @param options builds, the CDK app's folder, timeouts
   * @returns the workflow, as YAML
   */
  public renderWorkflow(options: GitHubPreviewWorkflowOptions = {}): string {
    const stack = Stack.of(this);
    for (const [what, value] of [['account', stack.account], ['region', stack.region]]) {
      if (Token.isUnresolved(value)) {
        throw new StagingValidationError(this, `renderWorkflow needs the stack's ${what} (got an environment-agnostic stack); give the stack an env with an account and a region`);
      }
    }
    const timeoutMinutes = options.timeoutMinutes ?? 30;
    if (!Number.isInteger(timeoutMinutes) || timeoutMinutes < 5 || timeoutMinutes > MAX_TIMEOUT_MINUTES) {
      throw new StagingValidationError(this, `timeoutMinutes (Python: timeout_minutes) must be an integer from 5 to ${MAX_TIMEOUT_MINUTES} (got ${timeoutMinutes}); `
        + `a preview builds, synthesizes and deploys in one job, whose AWS session lasts ${MAX_TIMEOUT_MINUTES} minutes (the preview role's maximum): for example 30`);
    }
    const builds = this.builds(options.builds ?? {});
    const runsOn = this.runner(options.runsOn);
    const installCommand = options.installCommand ?? 'npm ci';
    if (installCommand.trim().length === 0 || /[\r\n]/.test(installCommand)) {
      throw new StagingValidationError(this, `installCommand must be one line (got '${installCommand}'); for example 'npm ci', or 'pip install -r requirements.txt && npm install aws-cdk'`);
    }
    const name = this.environment.environmentName;
    const prefix = previewStackPrefix(name);
    const roleArn = `arn:${partitionOf(stack)}:iam::${stack.account}:role/${name}-github-previews`;
    const pullRequest = '${{ github.event.pull_request.number }}';
    // Pull requests of this repository only, and not Dependabot's: GitHub runs those with a read-only
    // GITHUB_TOKEN and no id-token (https://docs.github.com/en/code-security/dependabot/working-with-dependabot/automating-dependabot-with-github-actions),
    // so they could neither assume the role nor comment.
    const sameRepository = 'github.event.pull_request.head.repo.full_name == github.repository && github.actor != \'dependabot[bot]\'';
    // The session lasts as long as a job may run (timeoutMinutes is at most the role's maximum session).
    const credentials = (session: string) => ({
      name: 'Assume the preview role over OIDC',
      uses: PINNED_ACTIONS.configureAwsCredentials,
      with: { 'role-to-assume': roleArn, 'aws-region': stack.region, 'role-session-name': `${name}-preview-${session}`, 'role-duration-seconds': SESSION_SECONDS },
    });
    // Deploys one at a time for the environment: slots are allocated from the stacks that exist. A
    // group holds one running and one pending job, and a newer job cancels the pending one
    // (https://docs.github.com/en/actions/using-jobs/using-concurrency): deletes have a group per pull
    // request, so that no other pull request's deploy or delete cancels them. A delete allocates
    // nothing, and a stack being deleted holds its slot until it is gone.
    const concurrency = { 'group': `previews-${name}`, 'cancel-in-progress': false };
    const deleteConcurrency = { 'group': `previews-${name}-pr-${pullRequest}`, 'cancel-in-progress': false };
    const workflow = {
      name: `Previews on ${name}`,
      on: { pull_request: { types: ['opened', 'synchronize', 'reopened', 'closed'] } },
      permissions: {},
      jobs: {
        deploy: {
          'name': 'Deploy the preview',
          // Pull requests from forks never deploy: their workflows get no OIDC token for this repository's role anyway.
          'if': `github.event.action != 'closed' && ${sameRepository}`,
          'runs-on': runsOn,
          'timeout-minutes': timeoutMinutes,
          'permissions': { 'contents': 'read', 'id-token': 'write' },
          'concurrency': concurrency,
          'outputs': {
            full: '${{ steps.slot.outputs.full }}',
            holders: '${{ steps.slot.outputs.holders }}',
            urls: '${{ steps.deploy.outputs.urls }}',
            reason: '${{ steps.slot.outputs.reason }}${{ steps.synth.outputs.reason }}${{ steps.deploy.outputs.reason }}',
          },
          'env': {
            AWS_REGION: stack.region,
            ENVIRONMENT_NAME: name,
            PULL_REQUEST: pullRequest,
            COMMIT: '${{ github.event.pull_request.head.sha }}',
            STACK_PREFIX: prefix,
            STACK: `${prefix}${pullRequest}`,
            SETTINGS_PARAMETER: previewsParameterName(name, 'settings'),
            TARGET_PARAMETER: this.deliveryTargetParameterName,
            CLOUDFORMATION_ROLE_PARAMETER: previewsParameterName(name, 'cloudformation-role-arn'),
            PLATFORM: builds.platform,
            BUILDS: JSON.stringify(builds.services),
            CDK_APP_DIRECTORY: options.cdkAppDirectory ?? '.',
            INSTALL_COMMAND: installCommand,
          },
          'steps': [
            // The pull request's own commit, the one the image tag names (not the merge commit).
            { name: 'Check out', uses: PINNED_ACTIONS.checkout, with: { 'ref': '${{ github.event.pull_request.head.sha }}', 'persist-credentials': false } },
            credentials('${{ github.event.pull_request.number }}'),
            { id: 'slot', name: 'Find the preview\'s slot', run: SLOT_SCRIPT },
            { name: 'Build and push the images', run: BUILD_SCRIPT },
            { id: 'synth', name: 'Synthesize the preview stack', run: SYNTH_SCRIPT },
            { id: 'deploy', name: 'Deploy the preview stack', run: DEPLOY_SCRIPT },
          ],
        },
        comment: {
          'name': 'Comment on the pull request',
          'needs': 'deploy',
          // After the deploy job whatever its result; not when it was skipped (closed, or a fork).
          'if': `always() && github.event.action != 'closed' && ${sameRepository}`,
          'runs-on': 'ubuntu-24.04',
          'timeout-minutes': 5,
          'permissions': { 'pull-requests': 'write' },
          'env': {
            GH_TOKEN: '${{ github.token }}',
            PULL_REQUEST: pullRequest,
            COMMIT: '${{ github.event.pull_request.head.sha }}',
            ENVIRONMENT_NAME: name,
            RESULT: '${{ needs.deploy.result }}',
            FULL: '${{ needs.deploy.outputs.full }}',
            HOLDERS: '${{ needs.deploy.outputs.holders }}',
            URLS: '${{ needs.deploy.outputs.urls }}',
            REASON: '${{ needs.deploy.outputs.reason }}',
          },
          'steps': [{ name: 'Comment the preview\'s URLs, or why there is none', run: COMMENT_SCRIPT }],
        },
        delete: {
          'name': 'Delete the preview',
          'if': `github.event.action == 'closed' && ${sameRepository}`,
          'runs-on': 'ubuntu-24.04',
          'timeout-minutes': timeoutMinutes,
          'permissions': { 'id-token': 'write' },
          'concurrency': deleteConcurrency,
          'env': { AWS_REGION: stack.region, STACK: `${prefix}${pullRequest}`, POLL_SECONDS: '15' },
          'steps': [credentials('${{ github.event.pull_request.number }}'), { name: 'Delete the preview stack', run: DELETE_SCRIPT }],
        },
      },
    };
    return `# Previews of pull requests on the environment ${name} (cdk-ecs-staging).\n`
      + loadYaml().stringify(workflow, { lineWidth: 0 });
  }

  /** The builds, checked: each names a previewed service; one CPU architecture for all. */
  private builds(builds: { [service: string]: PreviewBuildOptions }): { platform: string; services: Record<string, BuildTarget> } {
    const names = this.services.map((s) => s.serviceName);
    for (const service of Object.keys(builds)) {
      if (!names.includes(service)) {
        throw new StagingValidationError(this, `builds names service '${service}', which has no previews (got ${JSON.stringify(Object.keys(builds))}); previewed services: ${names.join(', ') || 'none'}`);
      }
    }
    const architectures = [...new Set(this.services.map(cpuArchitectureOf))];
    if (architectures.length > 1) {
      throw new StagingValidationError(this, `the previewed services run on ${architectures.join(' and ')}; a preview job builds every image natively on one runner, so preview services of one CPU architecture (previews.services)`);
    }
    const services: Record<string, BuildTarget> = {};
    for (const service of names) {
      services[service] = { dockerfile: builds[service]?.dockerfile ?? 'Dockerfile', context: builds[service]?.buildContext ?? '.' };
    }
    return { platform: architectures[0] === 'ARM64' ? 'linux/arm64' : 'linux/amd64', services };
  }

  private runner(runsOn: string | undefined): string {
    if (runsOn !== undefined && !/^[^\s,'"]+$/.test(runsOn)) {
      throw new StagingValidationError(this, `runsOn must be one runner label, without spaces, commas or quotes (got '${runsOn}'); for example 'ubuntu-24.04-arm'`);
    }
    return runsOn ?? (this.services.some((s) => cpuArchitectureOf(s) === 'ARM64') ? 'ubuntu-24.04-arm' : 'ubuntu-24.04');
  }
}

/** The repository one previewed service's preview images are pushed to. */
interface PreviewRepository {
  readonly serviceName: string;
  readonly repository: ecr.IRepository;
}

/**
 * The repositories preview images are pushed to, by service: the one place both the role's push
 * grant and the delivery target parameter (which tells the workflow where to push) read them from.
 * Each previewed service's preview repository, which the environment makes apart from the service's
 * own (ECR cannot limit a push by tag, so a push grant on the service's repository would let a pull
 * request place any tag where staging deploys from).
 */
function previewRepositories(scope: Construct, services: IStagingService[], facts: PreviewFacts): PreviewRepository[] {
  const made = facts.repositories();
  return services.map((s) => {
    const repository = made[s.serviceName];
    if (!repository) {
      throw new StagingValidationError(scope, `service '${s.serviceName}' has no preview repository (got none for it among the environment's previews); add it to previews.services before creating the role`);
    }
    return { serviceName: s.serviceName, repository };
  });
}

/** Where one service's image is built from. */
interface BuildTarget {
  readonly dockerfile: string;
  readonly context: string;
}

/** The environment's previews, or a synth error naming what is missing. */
function previewsOf(scope: Construct, environment: EcsStagingEnvironment): PreviewFacts {
  const facts = previewFactsOf(environment);
  if (!facts) {
    throw new StagingValidationError(scope, `environment '${environment.environmentName}' allows no previews (got no previews); set previews on the environment, e.g. previews: { maxPreviews: 3 }`);
  }
  // An environment with previews has a domain: its previews prop is refused without one.
  return facts;
}

/** The environment's services that previews deploy, in the order they were added. */
function previewedServices(scope: Construct, environment: EcsStagingEnvironment, facts: PreviewFacts): IStagingService[] {
  const all = environment.services;
  const names = facts.services ?? all.map((s) => s.serviceName);
  return names.map((n) => {
    const service = all.find((s) => s.serviceName === n);
    if (!service) {
      throw new StagingValidationError(scope, `previews.services names '${n}', which is not a service of the environment (got ${JSON.stringify(names)}); add the service before the preview role, or leave it out of previews.services`);
    }
    return service;
  });
}

function validateRepository(scope: Construct, repository: string): void {
  if (!Token.isUnresolved(repository) && !/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(repository)) {
    throw new StagingValidationError(scope, `repository must be 'owner/repo' (got '${repository}'); for example 'acme/web'`);
  }
}

function partitionOf(stack: Stack): string {
  return Token.isUnresolved(stack.region) ? 'aws' : RegionInfo.get(stack.region).partition ?? 'aws';
}

/** `runtimePlatform.cpuArchitecture` of the service's task definition (`X86_64` when it names none). */
function cpuArchitectureOf(service: IStagingService): string {
  const cfn = service.taskDefinition.node.defaultChild as ecs.CfnTaskDefinition;
  const platform = cfn.runtimePlatform as ecs.CfnTaskDefinition.RuntimePlatformProperty | undefined;
  const architecture = platform?.cpuArchitecture;
  return architecture !== undefined && !Token.isUnresolved(architecture) ? architecture : 'X86_64';
}

/**
 * The stack's GitHub OIDC provider: the one the deploy roles of the stack created (same construct
 * ID, so an environment with both shares one), else a new one, retained (other stacks may import it).
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
  // An account holds one provider per URL, which other stacks may import: kept when the stack goes.
  provider.applyRemovalPolicy(RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE);
  return provider;
}

// ---------------------------------------------------------------------------------------------
// The scripts of the workflow. GitHub runs each `run:` step as one script, `bash -e {0}`; each
// starts with `set -euo pipefail`, assigns every `aws` call on its own line (so that a failure
// stops the step) and never interpolates `${{ }}` (the values come in through `env`).
// ---------------------------------------------------------------------------------------------

const FAIL_FUNCTION = 'fail() { echo "::error::$1"; printf \'reason=%s\\n\' "${1//$\'\\n\'/ }" >> "$GITHUB_OUTPUT"; exit 1; }';

/**
 * Finds the pull request's slot: the slot tag of its stack when it has one that no other stack
 * holds, else the lowest slot no other preview stack holds. A stack holds its slot while it may have
 * listener rules: being deleted, or failed to delete (DELETE_FAILED), it still does, until it is gone
 * (the reaper deletes it again). A stack that never created anything (REVIEW_IN_PROGRESS: a change
 * set refused or never executed) or whose first deploy rolled everything back (ROLLBACK_COMPLETE)
 * holds no rule, so no slot: its own pull request gets a slot again on its next deploy, and the
 * reaper deletes it once expired. With none free, `full=true` and the pull requests whose stacks
 * hold the slots; the job stays green. A stack of this pull request that failed its first deploy,
 * holds only a change set, or is being deleted is replaced by the deploy step; one that an operation
 * is changing, or that CloudFormation can no longer update (ROLLBACK_FAILED, UPDATE_ROLLBACK_FAILED,
 * DELETE_FAILED: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/troubleshooting.html),
 * fails the job before anything is built, with what to do.
 *
 * When the pull request's stack keeps its slot and has its listener rules (not ROLLBACK_COMPLETE,
 * REVIEW_IN_PROGRESS or being deleted), its `RulePlaces` output (the places of its rules in the
 * slot; after a rolled-back update, those of the version that stands) goes to the synth step, so
 * that no new rule takes a priority one of its rules holds. DescribeStacks returns a stack's
 * outputs (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html,
 * Stack.Outputs). A stack without the output gives none.
 */
const SLOT_SCRIPT = [
  'set -euo pipefail',
  FAIL_FUNCTION,
  'settings="$(aws ssm get-parameter --name "$SETTINGS_PARAMETER" --query Parameter.Value --output text)"',
  'max="$(jq -r \'.maxPreviews\' <<<"$settings")"',
  'domain="$(jq -r \'.domainName\' <<<"$settings")"',
  'services="$(jq -r \'.services | join(" ")\' <<<"$settings")"',
  'stacks="$(aws cloudformation list-stacks --query "StackSummaries[?StackStatus!=\'DELETE_COMPLETE\' && starts_with(StackName, \'$STACK_PREFIX\')].[StackName, StackStatus]" --output text)"',
  'own_status=""',
  'own_slot=""',
  'used=" "',
  'holders=""',
  'while read -r name status; do',
  '  if [ -z "$name" ]; then continue; fi',
  // Stacks named <prefix><number> only, as the reaper's: another stack that starts so is no preview.
  '  if [[ ! "${name#"$STACK_PREFIX"}" =~ ^[0-9]+$ ]]; then continue; fi',
  '  if ! slot="$(aws cloudformation describe-stacks --stack-name "$name" --query "Stacks[0].Tags[?Key==\'' + PREVIEW_TAGS.slot + '\'] | [0].Value" --output text 2> describe.err < /dev/null)"; then',
  // Deleted between the two calls (the reaper): it holds nothing any more.
  '    if grep -q "does not exist" describe.err; then continue; fi',
  '    fail "Reading the tags of $name failed: $(tr -s \'\\n\' \' \' < describe.err)"',
  '  fi',
  '  if [ "$name" = "$STACK" ]; then',
  '    own_status="$status"',
  '    own_slot="$slot"',
  '  elif [ "$status" = REVIEW_IN_PROGRESS ] || [ "$status" = ROLLBACK_COMPLETE ]; then',
  '    echo "$name is $status, with no resource: it holds no slot"',
  '  elif [ "$slot" != None ]; then',
  '    used="$used$slot "',
  '    holders="$holders #${name#"$STACK_PREFIX"}"',
  '  fi',
  'done <<<"$stacks"',
  'case "$own_status" in',
  '  *_IN_PROGRESS)',
  '    if [ "$own_status" != DELETE_IN_PROGRESS ] && [ "$own_status" != REVIEW_IN_PROGRESS ]; then',
  '      fail "$STACK is $own_status: another deploy of this preview is under way. Re-run this job once it has ended."',
  '    fi',
  '    ;;',
  '  DELETE_FAILED | ROLLBACK_FAILED) fail "$STACK is $own_status: delete it (aws cloudformation delete-stack --stack-name $STACK), then re-run this job." ;;',
  '  UPDATE_ROLLBACK_FAILED) fail "$STACK is UPDATE_ROLLBACK_FAILED: continue its rollback (aws cloudformation continue-update-rollback --stack-name $STACK) or delete it, then re-run this job." ;;',
  'esac',
  'slot=""',
  'if [ -n "$own_slot" ] && [ "$own_slot" != None ] && [[ "$used" != *" $own_slot "* ]]; then',
  '  slot="$own_slot"',
  '  echo "$STACK holds slot $slot"',
  'else',
  '  if [ -n "$own_slot" ] && [ "$own_slot" != None ]; then echo "$STACK ($own_status) had slot $own_slot, which another preview holds now"; fi',
  '  for ((i = 0; i < max; i++)); do',
  '    if [[ "$used" != *" $i "* ]]; then slot="$i"; break; fi',
  '  done',
  'fi',
  'places=""',
  'if [ -n "$slot" ] && [ "$slot" = "$own_slot" ] && [ "$own_status" != ROLLBACK_COMPLETE ] && [ "$own_status" != REVIEW_IN_PROGRESS ] && [ "$own_status" != DELETE_IN_PROGRESS ]; then',
  '  if ! places="$(aws cloudformation describe-stacks --stack-name "$STACK" --query "Stacks[0].Outputs[?OutputKey==\'' + RULE_PLACES_OUTPUT + '\'] | [0].OutputValue" --output text 2> describe.err < /dev/null)"; then',
  // Deleted since it was listed (the reaper): it has no rule left.
  '    if ! grep -q "does not exist" describe.err; then fail "Reading the outputs of $STACK failed: $(tr -s \'\\n\' \' \' < describe.err)"; fi',
  '    places=""',
  '  fi',
  '  if [ "$places" = None ]; then places=""; fi',
  // `<service>=<place>` pairs one space apart, as the stack writes them: one line for GITHUB_ENV.
  '  pairs=\'^[a-z][a-z0-9-]*=[0-9]+( [a-z][a-z0-9-]*=[0-9]+)*$\'',
  '  if [ -n "$places" ] && [[ ! "$places" =~ $pairs ]]; then',
  '    fail "The ' + RULE_PLACES_OUTPUT + ' output of $STACK is not <service>=<place> pairs (got \'$places\'): delete the stack (aws cloudformation delete-stack --stack-name $STACK), then re-run this job."',
  '  fi',
  '  if [ -n "$places" ]; then echo "$STACK has its rules at the places $places of slot $slot: they stay there"; fi',
  'fi',
  'if [ -z "$slot" ]; then',
  '  echo "All $max preview slots of $ENVIRONMENT_NAME are taken (by$holders): no preview for this pull request"',
  '  echo "PREVIEW_FULL=true" >> "$GITHUB_ENV"',
  '  { echo "full=true"; echo "holders=${holders# }"; } >> "$GITHUB_OUTPUT"',
  '  exit 0',
  'fi',
  'echo "Preview of pull request $PULL_REQUEST: slot $slot of $max"',
  '{',
  '  echo "PREVIEW_FULL=false"',
  '  echo "SLOT=$slot"',
  '  echo "OWN_STATUS=$own_status"',
  '  echo "DOMAIN_NAME=$domain"',
  '  echo "PREVIEW_SERVICES=$services"',
  '  echo "IMAGE_TAG=pr-$PULL_REQUEST-${COMMIT:0:12}"',
  '  echo "RULE_PLACES=$places"',
  '} >> "$GITHUB_ENV"',
  'echo "full=false" >> "$GITHUB_OUTPUT"',
].join('\n');

/**
 * Builds and pushes each previewed service's image, tagged `pr-<number>-<commit, 12 characters>`,
 * for the services' platform, unless the repository has that tag (immutable tags: a re-run succeeds).
 */
const BUILD_SCRIPT = [
  'set -euo pipefail',
  'if [ "${PREVIEW_FULL:-}" = true ]; then echo "No free slot: nothing is built"; exit 0; fi',
  'target="$(aws ssm get-parameter --name "$TARGET_PARAMETER" --query Parameter.Value --output text)"',
  'mapfile -t repositories < <(jq -r \'.services[] | "\\(.name) \\(.repositoryName) \\(.repositoryUri)"\' <<<"$target")',
  'logged_in=""',
  'for entry in "${repositories[@]}"; do',
  '  read -r service name uri <<<"$entry"',
  '  image="$uri:$IMAGE_TAG"',
  '  if aws ecr describe-images --repository-name "$name" --image-ids imageTag="$IMAGE_TAG" > /dev/null 2>&1; then',
  '    echo "$image is in the repository already: not pushed again"',
  '    continue',
  '  fi',
  '  if [ -z "$logged_in" ]; then',
  '    aws ecr get-login-password | docker login --username AWS --password-stdin "${uri%%/*}"',
  '    logged_in=yes',
  '  fi',
  '  dockerfile="$(jq -r --arg s "$service" \'.[$s].dockerfile // "Dockerfile"\' <<<"$BUILDS")"',
  '  context="$(jq -r --arg s "$service" \'.[$s].context // "."\' <<<"$BUILDS")"',
  '  docker build --platform "$PLATFORM" --file "$dockerfile" --tag "$image" "$context"',
  '  docker push "$image"',
  'done',
].join('\n');

/**
 * Synthesizes the preview stack of this pull request, slot and image tag (the app builds it from
 * these context keys), with the places of the deployed stack's rules when it has any.
 */
const SYNTH_SCRIPT = [
  'set -euo pipefail',
  FAIL_FUNCTION,
  'if [ "${PREVIEW_FULL:-}" = true ]; then echo "No free slot: nothing is synthesized"; exit 0; fi',
  'cd "$CDK_APP_DIRECTORY"',
  'bash -c "$INSTALL_COMMAND"',
  'places=()',
  'if [ -n "${RULE_PLACES:-}" ]; then places=(--context "' + RULE_PLACES_CONTEXT_KEY + '=$RULE_PLACES"); fi',
  'if ! npx cdk synth --quiet --context previewPullRequest="$PULL_REQUEST" --context previewSlot="$SLOT" --context previewImageTag="$IMAGE_TAG" "${places[@]}" > synth.log 2>&1; then',
  '  cat synth.log',
  '  fail "cdk synth of the preview failed: $(tail -n 1 synth.log)"',
  'fi',
  'template="$PWD/cdk.out/$STACK.template.json"',
  'if [ ! -f "$template" ]; then',
  '  fail "cdk synth wrote no $STACK template (cdk.out/$STACK.template.json): the app must add the preview stack when the context keys previewPullRequest, previewSlot and previewImageTag are set"',
  'fi',
  'echo "TEMPLATE=$template" >> "$GITHUB_ENV"',
].join('\n');

/**
 * Deploys the preview stack through the environment's preview CloudFormation role, with the tags
 * that record its slot. A stack whose first deploy failed (ROLLBACK_COMPLETE) cannot be updated
 * ("Troubleshooting CloudFormation", https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/troubleshooting.html):
 * it is deleted first; so is one that holds only a change set (REVIEW_IN_PROGRESS), so that the
 * stack's creation time, the reaper's cutoff for a stack never updated, is this deploy's. On a failure, the reasons CloudFormation gave for this operation's failed
 * resources (the stack's events since its last `*_IN_PROGRESS` event of the stack itself) become
 * the step's error and the comment.
 */
const DEPLOY_SCRIPT = [
  'set -euo pipefail',
  FAIL_FUNCTION,
  'if [ "${PREVIEW_FULL:-}" = true ]; then echo "No free slot: nothing is deployed"; exit 0; fi',
  'role="$(aws ssm get-parameter --name "$CLOUDFORMATION_ROLE_PARAMETER" --query Parameter.Value --output text)"',
  // Every value the template reads from the environment (its SSM parameter types) must be published:
  // a pull request that upgrades the library, or previews a service the deployed environment does
  // not have yet, names parameters that come with the environment's next deploy. CloudFormation would
  // refuse the change set with "Unable to fetch parameters"; this says what to do. GetParameters
  // takes 10 names a call (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameters.html).
  'names="$(jq -r \'.Parameters // {} | to_entries[] | select(.value.Type | startswith("AWS::SSM::Parameter::Value")) | .value.Default\' "$TEMPLATE")"',
  'published=()',
  'if [ -n "$names" ]; then mapfile -t published <<< "$names"; fi',
  'missing=""',
  'for ((i = 0; i < ${#published[@]}; i += 10)); do',
  '  if ! batch="$(aws ssm get-parameters --names "${published[@]:i:10}" --query InvalidParameters --output text 2> ssm.err)"; then',
  '    cat ssm.err',
  '    fail "The preview\'s parameters could not be read: $(grep -v "^$" ssm.err | tail -n 1)"',
  '  fi',
  '  if [ -n "$batch" ] && [ "$batch" != None ]; then missing="$missing ${batch//$\'\\t\'/ }"; fi',
  'done',
  'if [ -n "$missing" ]; then',
  '  fail "The preview reads parameters the $ENVIRONMENT_NAME environment has not published:$missing. A pull request that upgrades cdk-ecs-staging or previews a new service needs the environment deployed with its app first (cdk deploy from this branch, or merge it); then re-run this job."',
  'fi',
  'case "${OWN_STATUS:-}" in',
  '  ROLLBACK_COMPLETE | REVIEW_IN_PROGRESS)',
  '    if [ "$OWN_STATUS" = ROLLBACK_COMPLETE ]; then',
  '      echo "$STACK failed its first deploy (ROLLBACK_COMPLETE), and such a stack cannot be updated: deleting it first"',
  '    else',
  '      echo "$STACK holds only a change set that was never executed (REVIEW_IN_PROGRESS): deleting it first"',
  '    fi',
  '    aws cloudformation delete-stack --stack-name "$STACK"',
  '    aws cloudformation wait stack-delete-complete --stack-name "$STACK"',
  '    ;;',
  '  DELETE_IN_PROGRESS) aws cloudformation wait stack-delete-complete --stack-name "$STACK" ;;',
  'esac',
  'if ! aws cloudformation deploy --stack-name "$STACK" --template-file "$TEMPLATE" --role-arn "$role" --no-fail-on-empty-changeset \\',
  '  --tags "' + PREVIEW_TAGS.slot + '=$SLOT" "' + PREVIEW_TAGS.pullRequest + '=$PULL_REQUEST" "' + PREVIEW_TAGS.environment + '=$ENVIRONMENT_NAME" > deploy.log 2>&1; then',
  '  cat deploy.log',
  '  reasons=""',
  '  if aws cloudformation describe-stack-events --stack-name "$STACK" --output json > events.json 2> /dev/null; then',
  '    reasons="$(jq -r \'.StackEvents',
  '      | ([to_entries[] | select(.value.ResourceType == "AWS::CloudFormation::Stack" and (.value.ResourceStatus | endswith("_IN_PROGRESS")) and (.value.ResourceStatusReason // "" | test("User Initiated")))] | .[0].key // length) as $start',
  '      | .[0:$start] | map(select((.ResourceStatus | endswith("_FAILED")) and (.ResourceStatusReason // "" | test("cancelled") | not)))',
  '      | reverse | map("\\(.LogicalResourceId): \\(.ResourceStatusReason)") | .[0:3] | join("; ")\' events.json)"',
  '  fi',
  '  fail "The preview stack $STACK failed to deploy: ${reasons:-$(grep -v "^$" deploy.log | tail -n 1)}"',
  'fi',
  'cat deploy.log',
  'urls=""',
  'for service in $PREVIEW_SERVICES; do urls="$urls https://pr-$PULL_REQUEST-$service.$DOMAIN_NAME"; done',
  'echo "urls=${urls# }" >> "$GITHUB_OUTPUT"',
  'echo "$STACK is up:$urls"',
].join('\n');

/** Comments the result on the pull request with the job's GITHUB_TOKEN (`gh pr comment`). */
const COMMENT_SCRIPT = [
  'set -euo pipefail',
  'run="$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID"',
  'if [ "$RESULT" = success ] && [ "$FULL" = true ]; then',
  '  body="No preview for ${COMMIT:0:12}: all preview slots of $ENVIRONMENT_NAME are taken (by $HOLDERS). Close a pull request with a preview, or wait for one to expire, then push again or re-run [the workflow]($run)."',
  'elif [ "$RESULT" = success ]; then',
  '  body="Preview of ${COMMIT:0:12} on $ENVIRONMENT_NAME:"',
  '  for url in $URLS; do body="$body',
  '- $url"; done',
  'elif [ "$RESULT" = cancelled ]; then',
  '  body="The preview of ${COMMIT:0:12} was not deployed: [the job]($run) was cancelled (it timed out, or was superseded). CloudFormation finishes an operation it started; push again or re-run the job."',
  'else',
  '  body="The preview of ${COMMIT:0:12} failed: ${REASON:-see [the job]($run)}. [Job log]($run)."',
  'fi',
  'gh pr comment "$PULL_REQUEST" --repo "$GITHUB_REPOSITORY" --body "$body"',
].join('\n');

/**
 * Deletes the preview stack of a closed pull request; a pull request without one is fine.
 * CloudFormation refuses DeleteStack while an operation changes the stack ("cannot be deleted while
 * in status UPDATE_IN_PROGRESS"): a deploy of this pull request that was under way (in its own
 * concurrency group) or that the runner left behind is waited for, every $POLL_SECONDS, then the
 * stack is deleted. One already being deleted is only waited for; one that holds only a change set
 * (REVIEW_IN_PROGRESS) changes no more and is deleted at once.
 */
const DELETE_SCRIPT = [
  'set -euo pipefail',
  'read_status() {',
  '  if ! status="$(aws cloudformation describe-stacks --stack-name "$STACK" --query "Stacks[0].StackStatus" --output text 2> describe.err < /dev/null)"; then',
  '    if grep -q "does not exist" describe.err; then status=GONE; return 0; fi',
  '    cat describe.err >&2',
  '    exit 1',
  '  fi',
  '}',
  'read_status',
  'if [ "$status" = GONE ]; then echo "Pull request had no preview ($STACK does not exist): nothing to delete"; exit 0; fi',
  'while [[ "$status" == *_IN_PROGRESS && "$status" != DELETE_IN_PROGRESS && "$status" != REVIEW_IN_PROGRESS ]]; do',
  '  echo "$STACK is $status: waiting for that operation to end before deleting it"',
  '  sleep "$POLL_SECONDS"',
  '  read_status',
  'done',
  'if [ "$status" = GONE ]; then echo "$STACK is gone: nothing to delete"; exit 0; fi',
  'if [ "$status" = DELETE_IN_PROGRESS ]; then',
  '  echo "$STACK is being deleted already: waiting until it is gone"',
  'else',
  '  echo "Deleting $STACK ($status)"',
  '  aws cloudformation delete-stack --stack-name "$STACK"',
  'fi',
  'if ! aws cloudformation wait stack-delete-complete --stack-name "$STACK"; then',
  '  reasons="$(aws cloudformation describe-stack-events --stack-name "$STACK" --query "StackEvents[?ResourceStatus==\'DELETE_FAILED\'].[LogicalResourceId, ResourceStatusReason]" --output text | head -n 3)"',
  '  echo "::error::$STACK could not be deleted: $reasons"',
  '  exit 1',
  'fi',
  'echo "$STACK deleted"',
].join('\n');
