import { Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { stringify } from 'yaml';
import { StagingValidationError } from './private/errors';
import type { StagingService } from './service';

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
 * Options of a {@link GitHubActionsDeployRole}.
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
   * `iam.OidcProviderNative.fromOidcProviderArn(this, 'GitHub', arn)`.
   *
   * @default - one is created in the stack (`AWS::IAM::OIDCProvider`), shared by its deploy roles
   */
  readonly oidcProvider?: iam.IOidcProvider;
}

/**
 * Properties of a {@link GitHubActionsDeployRole}.
 */
export interface GitHubActionsDeployRoleProps extends GitHubActionsDeployOptions {
  /** The service deployed: it must run from its own repository (no `image`). */
  readonly service: StagingService;
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
}

/**
 * The IAM role a GitHub Actions workflow assumes over OIDC to deploy one service (walkthrough step
 * 13): push to the service's repository, write its image-uri parameter, register task definitions
 * of its family and roll that service, nothing else. No long-lived keys.
 *
 * `renderWorkflow()` writes the workflow that uses it.
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

  private readonly service: StagingService;
  private readonly branch: string;
  private readonly githubEnvironment?: string;

  constructor(scope: Construct, id: string, props: GitHubActionsDeployRoleProps) {
    super(scope, id);
    const service = props.service;
    this.service = service;
    this.branch = props.branch ?? 'main';
    this.githubEnvironment = props.githubEnvironment;
    validateGitHubOptions(this, props, this.branch);
    const imageParameter = service.imageParameter;
    if (!imageParameter) {
      throw new StagingValidationError(this, `service '${service.serviceName}' runs an image given in code (got image), so there is nothing to deploy; leave image out so the service runs from its own repository`);
    }

    this.subject = props.githubEnvironment
      ? `repo:${props.repository}:environment:${props.githubEnvironment}`
      : `repo:${props.repository}:ref:refs/heads/${this.branch}`;
    this.oidcProvider = props.oidcProvider ?? githubOidcProvider(this);

    this.role = new iam.Role(this, 'Role', {
      roleName: `${service.environmentName}-${service.serviceName}-github-deploy`,
      description: `GitHub Actions (${this.subject}) deploys service ${service.serviceName} of ${service.environmentName}`,
      maxSessionDuration: Duration.hours(1),
      assumedBy: new iam.WebIdentityPrincipal(this.oidcProvider.oidcProviderArn, {
        StringEquals: {
          [`${GITHUB_OIDC_HOST}:aud`]: 'sts.amazonaws.com',
          [`${GITHUB_OIDC_HOST}:sub`]: this.subject,
        },
      }),
    });

    // What the workflow deploys, read at run time: the workflow file holds no value that changes.
    const stack = Stack.of(this);
    const target = new ssm.StringParameter(this, 'DeployTarget', {
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
      }),
    });
    this.deployTargetParameterName = `/${service.environmentName}/${service.serviceName}/deploy-target`;
    grantDeploy(this.role, service, target);
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken, ecs:RegisterTaskDefinition and ecs:DescribeTaskDefinition have no resource-level permissions. '
        + 'Everything else names this service, its repository, its parameters and its two roles.',
    });
  }

  /**
   * The GitHub Actions workflow that deploys the service on every push to the branch: checkout,
   * OIDC credentials, ECR login, build, push by commit id (skipped when that tag is there, so a
   * re-run succeeds), write the image-uri parameter, register a revision with the image, roll the
   * service and wait until it is stable. One deploy of a service at a time (a concurrency group),
   * least `permissions`, actions pinned to commit SHAs. Commit it as `.github/workflows/<name>.yml`.
   *
   * @param options build settings
   * @returns the workflow, as YAML
   */
  public renderWorkflow(options: GitHubWorkflowOptions = {}): string {
    const stack = Stack.of(this);
    for (const [what, value] of [['account', stack.account], ['region', stack.region]]) {
      if (Token.isUnresolved(value)) {
        throw new StagingValidationError(this, `renderWorkflow needs the stack's ${what} (got an environment-agnostic stack); set env: { account: '...', region: '...' } on the stack`);
      }
    }
    const timeoutMinutes = options.timeoutMinutes ?? 30;
    if (!Number.isInteger(timeoutMinutes) || timeoutMinutes < 1 || timeoutMinutes > 360) {
      throw new StagingValidationError(this, `timeoutMinutes must be an integer from 1 to 360 (got ${timeoutMinutes}); GitHub stops a job after 360 minutes`);
    }
    const service = this.service;
    const name = `${service.environmentName}-${service.serviceName}`;
    const roleArn = `arn:${stack.partition === 'aws' || Token.isUnresolved(stack.partition) ? 'aws' : stack.partition}:iam::${stack.account}:role/${name}-github-deploy`;
    const job: Record<string, unknown> = {
      'name': `Deploy ${service.serviceName} to ${service.environmentName}`,
      'runs-on': 'ubuntu-24.04',
      'timeout-minutes': timeoutMinutes,
      'permissions': { 'contents': 'read', 'id-token': 'write' },
      'env': {
        AWS_REGION: stack.region,
        DEPLOY_TARGET: this.deployTargetParameterName,
        DOCKERFILE: options.dockerfile ?? 'Dockerfile',
        BUILD_CONTEXT: options.buildContext ?? '.',
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
        { name: 'Write the image-uri parameter', run: 'aws ssm put-parameter --name "$IMAGE_PARAMETER" --value "$IMAGE" --type String --overwrite' },
        { name: 'Register a revision with the image and roll the service', run: DEPLOY_SCRIPT },
      ],
    };
    if (this.githubEnvironment) {
      job.environment = this.githubEnvironment;
    }
    const workflow = {
      name: `Deploy ${service.serviceName} to ${service.environmentName}`,
      on: { push: { branches: [this.branch] }, workflow_dispatch: {} },
      permissions: {},
      concurrency: { 'group': `deploy-${name}`, 'cancel-in-progress': false },
      jobs: { deploy: job },
    };
    return `# Deploys service ${service.serviceName} of the ${service.environmentName} staging environment (cdk-ecs-staging).\n`
      + stringify(workflow, { lineWidth: 0 });
  }
}

/** Reads the deploy target parameter into the job's environment. */
const READ_TARGET_SCRIPT = [
  'set -euo pipefail',
  'target="$(aws ssm get-parameter --name "$DEPLOY_TARGET" --query Parameter.Value --output text)"',
  '{',
  ...[['CLUSTER', 'cluster'], ['SERVICE', 'service'], ['FAMILY', 'family'], ['CONTAINER', 'container'],
    ['REPOSITORY_NAME', 'repositoryName'], ['REPOSITORY_URI', 'repositoryUri'], ['IMAGE_PARAMETER', 'imageParameter']]
    .map(([variable, key]) => `  echo "${variable}=$(jq -r .${key} <<<"$target")"`),
  '} >> "$GITHUB_ENV"',
].join('\n');

/** Logs in to ECR and pushes the image tagged with the commit, unless that tag exists (immutable tags). */
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
  'docker build --file "$DOCKERFILE" --tag "$image" "$BUILD_CONTEXT"',
  'docker push "$image"',
].join('\n');

/**
 * Registers a copy of the latest revision with the new image, rolls the service and waits. The
 * copy is untagged (tagging it would need ecs:TagResource on every revision of the family); the
 * tasks carry the service's tags, which the service propagates.
 */
const DEPLOY_SCRIPT = [
  'set -euo pipefail',
  'aws ecs describe-task-definition --task-definition "$FAMILY" --output json > current.json',
  'jq --arg image "$IMAGE" --arg container "$CONTAINER" \'.taskDefinition',
  '  | .containerDefinitions |= map(if .name == $container then .image = $image else . end)',
  '  | del(.taskDefinitionArn, .revision, .status, .requiresAttributes, .compatibilities, .registeredAt, .registeredBy, .deregisteredAt)',
  '  \' current.json > next.json',
  'revision="$(aws ecs register-task-definition --cli-input-json file://next.json --query taskDefinition.taskDefinitionArn --output text)"',
  'echo "Registered $revision"',
  'aws ecs update-service --cluster "$CLUSTER" --service "$SERVICE" --task-definition "$revision" > /dev/null',
  'aws ecs wait services-stable --cluster "$CLUSTER" --services "$SERVICE"',
  'echo "$SERVICE runs $IMAGE"',
].join('\n');

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
  return existing ?? new iam.OidcProviderNative(stack, id, { url: GITHUB_OIDC_URL, clientIds: ['sts.amazonaws.com'] });
}

/** Least privilege for one service's deploys. */
function grantDeploy(role: iam.Role, service: StagingService, target: ssm.StringParameter): void {
  service.repository.grantPullPush(role);
  role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['ecr:DescribeImages'], resources: [service.repository.repositoryArn] }));
  target.grantRead(role);
  service.imageParameter!.grantWrite(role);
  service.imageParameter!.grantRead(role);
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
