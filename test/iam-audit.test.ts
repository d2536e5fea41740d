import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildExampleApp } from '../examples/app';
import { buildPreviewApp } from '../examples/preview';
import { REPO_ROOT } from './harness/cfn-lint';
import { AuditedPolicy, parliament, ParliamentFinding, policiesOf, TemplateResolver } from './harness/parliament';

/**
 * A finding the library accepts, with its reason. It covers findings of `issue` about one of
 * `actions`, in policies whose id matches `where`; with `viaWildcard`, only when the statement does
 * not name the action itself but reaches it through that wildcard.
 */
interface AcceptedFinding {
  readonly issue: string;
  readonly actions: string[];
  readonly where?: RegExp;
  readonly viaWildcard?: string;
  readonly reason: string;
}

/** Policies of the integ-tests-alpha assertion stacks: test machinery, deployed only by the integ tests. */
const ASSERTIONS = /^[A-Za-z]*Assert[A-Za-z0-9]*\.template\.json#SingletonFunction/;

/** The role CloudFormation deploys preview stacks with (src/private/preview-publication.ts). */
const PREVIEW_CLOUDFORMATION_ROLE = /#StagingPreviewsCloudFormationRoleDefaultPolicy[0-9A-F]{8}\.PolicyDocument$/;

const ACCEPTED: AcceptedFinding[] = [
  {
    issue: 'RESOURCE_MISMATCH',
    actions: ['elasticloadbalancing:CreateRule', 'elasticloadbalancing:ModifyRule', 'elasticloadbalancing:DeleteRule'],
    where: PREVIEW_CLOUDFORMATION_ROLE,
    reason: 'The catalogue lists two starred resource types for these actions, listener/app and listener/net (listener-rule/app and listener-rule/net), '
      + 'and parliament wants both. They are alternatives: one for Application, one for Network Load Balancers. The statements name the '
      + 'environment\'s Application Load Balancer listener and its rules (https://docs.aws.amazon.com/service-authorization/latest/reference/list_elasticloadbalancingv2.html).',
  },
  {
    issue: 'UNKNOWN_CONDITION_FOR_ACTION',
    actions: ['elasticloadbalancing:AddTags'],
    where: PREVIEW_CLOUDFORMATION_ROLE,
    reason: 'elasticloadbalancing:CreateAction (tags added while CreateRule or CreateTargetGroup create the resource) is newer than parliament 1.6.4\'s catalogue; '
      + 'the service authorization reference lists it for AddTags (https://docs.aws.amazon.com/service-authorization/latest/reference/list_elasticloadbalancingv2.html).',
  },
  {
    issue: 'UNKNOWN_ACTION',
    actions: ['ecs:StopServiceDeployment'],
    where: PREVIEW_CLOUDFORMATION_ROLE,
    reason: 'ecs:StopServiceDeployment (2025) is newer than parliament 1.6.4\'s catalogue. The AWS::ECS::Service resource type calls it when it updates a service '
      + '(its schema\'s handlers.update.permissions), on the preview services named pr-* only.',
  },
  {
    issue: 'RESOURCE_MISMATCH',
    actions: ['ssm:DescribeParameters'],
    reason: 'aws-cdk-lib\'s StringParameter.grantRead adds ssm:DescribeParameters next to GetParameter(s) on the parameter\'s ARN. '
      + 'DescribeParameters takes only Resource "*" (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssystemsmanager.html), '
      + 'so on a parameter ARN it grants nothing: no wider access, and nothing the library uses (ECS and the rendered scripts read with GetParameters/get-parameter).',
  },
  {
    issue: 'UNKNOWN_FEDERATION_SOURCE',
    actions: ['sts:AssumeRoleWithWebIdentity'],
    where: /#(ServiceGitHubActionsDeployRole|[A-Za-z0-9]*Preview[A-Za-z0-9]*Role)[0-9A-F]{8}\.AssumeRolePolicyDocument$/,
    reason: 'parliament knows SAML providers and four web identity providers only. The principal is the account\'s IAM OIDC provider for '
      + 'token.actions.githubusercontent.com, the form IAM documents for OIDC federation '
      + '(https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-idp_oidc.html).',
  },
  {
    issue: 'UNKNOWN_CONDITION_FOR_ACTION',
    actions: ['sts:AssumeRoleWithWebIdentity'],
    where: /#(ServiceGitHubActionsDeployRole|[A-Za-z0-9]*Preview[A-Za-z0-9]*Role)[0-9A-F]{8}\.AssumeRolePolicyDocument$/,
    reason: 'token.actions.githubusercontent.com:aud and :sub are the OIDC provider\'s own keys, which IAM names after the provider and which '
      + 'are not in the action catalogue (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif). '
      + 'They are what limits the role to one repository, its branch, GitHub environment or pull requests, and the audience.',
  },
  {
    issue: 'RESOURCE_MISMATCH',
    actions: [
      's3:ListAccessGrants', 's3:ListAccessGrantsInstances', 's3:ListAccessGrantsLocations', 's3:ListAccessPoints',
      's3:ListAccessPointsForObjectLambda', 's3:ListAllMyBuckets', 's3:ListCallerAccessGrants', 's3:ListJobs',
      's3:ListMultiRegionAccessPoints', 's3:ListStorageLensConfigurations', 's3:ListStorageLensGroups',
    ],
    viaWildcard: 's3:List*',
    reason: 'aws-cdk-lib\'s bucket grants write s3:List* on the bucket and its objects; parliament expands the wildcard to every List action, '
      + 'and these take other resource types or "*". On the bucket\'s ARNs they grant nothing; ListBucket, the one that applies, matches.',
  },
  {
    issue: 'RESOURCE_MISMATCH',
    actions: ['s3:GetObjectAttributes'],
    viaWildcard: 's3:GetObject*',
    reason: 'aws-cdk-lib\'s bucket grants write s3:GetObject* on the bucket and its objects. The catalogue lists GetObjectAttributes with two '
      + 'required resource types (accesspoint and object) and parliament wants both; a request made without an access point is '
      + 'authorized on the object ARN, which the statement names (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html).',
  },
  {
    issue: 'RESOURCE_POLICY_PRIVILEGE_ESCALATION',
    actions: ['s3:PutBucketPolicy'],
    where: /#(StagingEdgeAccessLogs|ServicePipelineArtifacts)Policy[0-9A-F]{8}\.PolicyDocument$/,
    reason: 'The access-log bucket of an ephemeral environment and the artifact bucket of an ephemeral pipeline: the only principal allowed '
      + 's3:PutBucketPolicy is the role of aws-cdk-lib\'s autoDeleteObjects handler in the same stack, '
      + 'which writes a deny-all-writes policy before it empties the bucket on deletion; no user or service principal can change the policy.',
  },
  {
    issue: 'RESOURCE_STAR',
    actions: ['ecs:RegisterTaskDefinition'],
    where: /#Service(GitHubActionsDeployRole|PipelineDeployRole)DefaultPolicy[0-9A-F]{8}\.PolicyDocument$/,
    reason: 'A revision\'s ARN does not exist before it is registered, and the deploy paths\' own guide grants RegisterTaskDefinition on "*" '
      + '(CodePipeline user guide, Amazon ECS deploy action, service role permissions: https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-ECS.html). '
      + 'What a registered revision may run as is decided by iam:PassRole, which both roles may use only for the service\'s task and execution roles, '
      + 'and only UpdateService on this one service can put a revision to use.',
  },
  {
    issue: 'RESOURCE_STAR',
    actions: ['ecs:DescribeTasks', 'ecs:ListTasks'],
    where: /#ServicePipelineDeployRoleDefaultPolicy[0-9A-F]{8}\.PolicyDocument$/,
    reason: 'Read-only calls the CodePipeline ECS deploy action makes while it watches its deployment, granted on "*" as its guide gives them '
      + '(https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-ECS.html); they reveal task metadata only, and change nothing.',
  },
  {
    issue: 'RESOURCE_STAR',
    actions: [
      'cloudwatch:DescribeAlarms', 'cloudwatch:GetDashboard', 'codepipeline:GetPipeline', 'ecr:DescribeRepositories',
      'ecs:DescribeServices', 'ecs:ListTasks', 'iam:GetRole', 'logs:FilterLogEvents', 'ssm:GetParameter', 'states:StartExecution',
    ],
    where: ASSERTIONS,
    reason: 'integ-tests-alpha\'s assertion provider (awsApiCall, waitForAssertions) grants each asserted call on "*". It is test machinery in '
      + 'the assertion stack of an integ test, read-only apart from starting its own waiter state machine, and never part of what a user deploys.',
  },
];

/** One action of a finding: a finding about several actions is explained only when each of them is. */
interface FindingAction {
  readonly finding: ParliamentFinding;
  readonly action: string;
}

function byAction(findings: ParliamentFinding[]): FindingAction[] {
  return findings.flatMap((finding) => (finding.actions.length > 0 ? finding.actions : ['']).map((action) => ({ finding, action })));
}

function isAccepted({ finding, action }: FindingAction, entry: AcceptedFinding): boolean {
  if (entry.issue !== finding.issue || !entry.actions.includes(action) || (entry.where && !entry.where.test(finding.policy))) {
    return false;
  }
  const named: string[] = [finding.statement?.Action ?? []].flat();
  return !entry.viaWildcard || (named.includes(entry.viaWildcard) && !named.includes(action));
}

function format({ finding, action }: FindingAction): string {
  return `${finding.issue} ${action} in ${finding.policy} on ${JSON.stringify(finding.statement?.Resource ?? finding.detail)}`;
}

describe('IAM audit (parliament)', () => {
  let workdir: string;
  let policies: AuditedPolicy[];
  let findings: ParliamentFinding[];
  beforeAll(() => {
    // GIVEN: the example app and every integ snapshot, nested stacks and assertion stacks included
    workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'iam-audit-'));
    const example = buildExampleApp(path.join(workdir, 'example')).synth();
    // The preview example: an environment with previews and a preview stack (examples/preview.ts)
    const preview = buildPreviewApp(path.join(workdir, 'preview')).synth();
    const integDir = path.join(REPO_ROOT, 'integ');
    const snapshots = fs.readdirSync(integDir).filter((d) => d.endsWith('.snapshot')).map((d) => path.join(integDir, d));
    policies = [example.directory, preview.directory, ...snapshots].flatMap((dir) => policiesOf(dir));
    // WHEN: one parliament run over all of them
    findings = parliament(policies);
  });
  afterAll(() => {
    fs.rmSync(workdir, { recursive: true, force: true });
  });

  test('reads every policy of the example and of the integ snapshots, each intrinsic resolved', () => {
    // THEN: each kind of policy is there, and no CloudFormation intrinsic is left for parliament to misread
    const kinds = new Set(policies.map((p) => `${p.kind} ${p.id.replace(/^.*#[A-Za-z0-9]+\./, '').replace(/\[.*$/, '')}`));
    expect([...kinds].sort()).toEqual([
      'identity Policies', 'identity PolicyDocument', 'resource PolicyDocument', 'trust AssumeRolePolicyDocument',
    ]);
    expect(policies.length).toBeGreaterThanOrEqual(100);
    expect(JSON.stringify(policies.map((p) => p.document))).not.toMatch(/"(Ref|Fn::[A-Za-z]+)"/);
    // The shapes parliament checks the resources against
    const resources = policies.flatMap((p) => p.document.Statement.flatMap((s) => [s.Resource ?? []].flat())) as string[];
    expect(resources).toEqual(expect.arrayContaining([
      'arn:aws:ssm:us-east-1:123456789012:parameter/staging/web/image-uri',
      expect.stringMatching(/^arn:aws:logs:us-east-1:123456789012:log-group:[^:]+:\*$/),
      expect.stringMatching(/^arn:aws:ecr:us-east-1:123456789012:repository\/[a-z0-9-]+$/),
      expect.stringMatching(/^arn:aws:ecs:us-east-1:123456789012:service\/[A-Za-z0-9-]+\/[A-Za-z0-9-]+$/),
      expect.stringMatching(/^arn:aws:iam::123456789012:role\/staging-web-github-deploy$/),
    ]));
  });

  test('finds nothing that is not explained', () => {
    // THEN: every finding is one the library accepts, with its reason
    const unexplained = byAction(findings).filter((f) => !ACCEPTED.some((entry) => isAccepted(f, entry)));
    expect(unexplained.map(format)).toEqual([]);
  });

  test('keeps no explanation that no finding needs', () => {
    const unused = ACCEPTED.filter((entry) => !byAction(findings).some((f) => isAccepted(f, entry)));
    expect(unused.map((e) => `${e.issue} ${e.actions.join(',')}`)).toEqual([]);
  });

  test('reports a codestar-connections action on a codeconnections ARN (control)', () => {
    // GIVEN: the permission a CodeConnections source needs, once with each service prefix
    const connection = 'arn:aws:codeconnections:us-east-1:123456789012:connection/0a1b2c3d-0000-1111-2222-333344445555';
    const control = (action: string): AuditedPolicy => ({
      id: `control#${action}`,
      kind: 'identity',
      document: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: action, Resource: connection }] },
    });
    // WHEN
    const result = parliament([control('codestar-connections:UseConnection'), control('codeconnections:UseConnection')]);
    // THEN: the old prefix does not match the ARN; the new one does
    expect(result.map((f) => `${f.policy} ${f.issue} ${f.actions.join(',')}`)).toEqual([
      'control#codestar-connections:UseConnection RESOURCE_MISMATCH codestar-connections:UseConnection',
    ]);
  });
});

describe('TemplateResolver', () => {
  const template = {
    Parameters: { ClusterRef: { Type: 'String' }, Unpassed: { Type: 'String' } },
    Resources: {
      Repo: { Type: 'AWS::ECR::Repository' },
      Logs: { Type: 'AWS::Logs::LogGroup', Properties: { LogGroupName: '/staging/web' } },
      Param: { Type: 'AWS::SSM::Parameter', Properties: { Name: '/staging/web/image-uri' } },
      Unnamed: { Type: 'AWS::SSM::Parameter', Properties: {} },
      Topic: { Type: 'AWS::SNS::Topic' },
      Service: { Type: 'AWS::ECS::Service', Properties: { ServiceName: 'web', Cluster: { Ref: 'ClusterRef' } } },
      Custom: { Type: 'Custom::Thing' },
    },
  };
  const parent = new TemplateResolver('Parent.template.json', {
    Resources: { Cluster: { Type: 'AWS::ECS::Cluster', Properties: { ClusterName: 'staging' } } },
  }, { stackName: 'Parent', region: 'us-east-1' });
  const resolver = new TemplateResolver('Child.nested.template.json', template, {
    stackName: 'Parent-Child-ABC',
    region: 'us-east-1',
    parent: { resolver: parent, parameters: { ClusterRef: { Ref: 'Cluster' } }, logicalId: 'Child' },
  });
  const resolve = (value: unknown) => resolver.resolve(value, 'test');

  test('resolves each reference to the value of its resource type', () => {
    expect(resolve({ 'Fn::GetAtt': ['Repo', 'Arn'] })).toMatch(/^arn:aws:ecr:us-east-1:123456789012:repository\/parent-child-abc-repo-[a-z0-9]+$/);
    expect(resolve({ 'Fn::GetAtt': ['Logs', 'Arn'] })).toBe('arn:aws:logs:us-east-1:123456789012:log-group:/staging/web:*');
    expect(resolve({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ssm:us-east-1:', { Ref: 'AWS::AccountId' }, ':parameter', { Ref: 'Param' }]] }))
      .toBe('arn:aws:ssm:us-east-1:123456789012:parameter/staging/web/image-uri');
    expect(resolve({ Ref: 'Unnamed' })).toMatch(/^CFN-Unnamed-[A-Z0-9]+$/);
    expect(resolve({ Ref: 'Topic' })).toMatch(/^arn:aws:sns:us-east-1:123456789012:Parent-Child-ABC-Topic-[A-Z0-9]+$/);
    // A nested stack's parameter is resolved in its parent
    expect(resolve({ Ref: 'Service' })).toBe('arn:aws:ecs:us-east-1:123456789012:service/staging/web');
    expect(resolve({ 'Fn::Sub': ['${Repo.Arn}/${!literal}/${X}', { X: { Ref: 'AWS::Region' } }] }))
      .toMatch(/^arn:aws:ecr:us-east-1:123456789012:repository\/[a-z0-9-]+\/\$\{literal\}\/us-east-1$/);
    expect(resolve([{ Ref: 'AWS::NoValue' }, { 'Fn::Select': [1, { 'Fn::Split': [',', 'a,b'] }] }])).toEqual(['b']);
  });

  test('resolves a nested stack\'s output to the value its template gives it', () => {
    // GIVEN a parent whose nested stack outputs its repository's ARN
    const root = new TemplateResolver('Root.template.json', {
      Resources: { Child: { Type: 'AWS::CloudFormation::Stack', Properties: {} } },
    }, { stackName: 'Root', region: 'us-east-1' });
    const child = new TemplateResolver('Child.nested.template.json', {
      Resources: { Repo: { Type: 'AWS::ECR::Repository', Properties: { RepositoryName: 'staging-web' } } },
      Outputs: { RepoArn: { Value: { 'Fn::GetAtt': ['Repo', 'Arn'] } } },
    }, { stackName: 'Root-Child-ABC', region: 'us-east-1', parent: { resolver: root, parameters: {}, logicalId: 'Child' } });
    root.children.set('Child', child);
    // THEN
    expect(root.resolve({ 'Fn::GetAtt': ['Child', 'Outputs.RepoArn'] }, 'test')).toBe('arn:aws:ecr:us-east-1:123456789012:repository/staging-web');
    expect(() => root.resolve({ 'Fn::GetAtt': ['Child', 'Outputs.Missing'] }, 'test')).toThrow(/cannot resolve Fn::GetAtt Child.Outputs.Missing/);
  });

  test('fails on what it cannot resolve, rather than skip it', () => {
    expect(() => resolve({ Ref: 'Custom' })).toThrow(/does not know the physical name of Custom::Thing/);
    expect(() => resolve({ 'Fn::GetAtt': ['Topic', 'Nope'] })).toThrow(/cannot resolve Fn::GetAtt Topic.Nope/);
    expect(() => resolve({ Ref: 'Unpassed' })).toThrow(/parameter Unpassed/);
    expect(() => resolve({ Ref: 'Missing' })).toThrow(/no resource or parameter Missing/);
    expect(() => resolve({ 'Fn::ImportValue': 'Shared' })).toThrow(/cannot resolve Fn::ImportValue/);
    expect(() => resolve({ 'Fn::If': ['C', 'a', 'b'] })).toThrow(/cannot resolve Fn::If/);
  });
});
