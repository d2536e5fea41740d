import { App, CfnResource, NestedStack, Stack } from 'aws-cdk-lib';
import { buildExampleApp } from '../examples/app';
import { buildManyServicesApp } from '../examples/many-services';

/**
 * The logical IDs of what holds data in the example apps, pinned. CloudFormation replaces a resource
 * whose logical ID changes: it creates the new one and deletes the old one (or, when retained,
 * orphans it), so a renamed construct loses what the old resource held.
 */

/** What each kind of resource would lose, for the failure message. */
const HOLDS: Record<string, string> = {
  'AWS::ECR::Repository': 'its images',
  'AWS::Logs::LogGroup': 'its logs',
  'AWS::S3::Bucket': 'its objects (access logs)',
  'AWS::SecretsManager::Secret': 'its secret value',
  'AWS::SSM::Parameter': 'the image URI the pipeline deployed',
  'AWS::CloudFormation::Stack': 'every resource of the service\'s nested stack, repository and logs included',
};

/** `template path -> ["<type> <logical ID>"]`, for the stateful resources of every template of `app`. */
function statefulIds(app: App): Record<string, string[]> {
  const result: Record<string, string[]> = {};
  for (const construct of app.node.findAll()) {
    if (!CfnResource.isCfnResource(construct) || !(construct.cfnResourceType in HOLDS)) {
      continue;
    }
    // Of the SSM parameters, only the image URI holds state (the pipeline writes it); config parameters are rewritten from code.
    if (construct.cfnResourceType === 'AWS::SSM::Parameter' && construct.node.scope?.node.id !== 'ImageParameter') {
      continue;
    }
    const stack = Stack.of(construct);
    const template = NestedStack.isNestedStack(stack) ? `${stack.nestedStackParent!.stackName} > nested stack ${stack.node.id}` : stack.stackName;
    (result[template] ??= []).push(`${construct.cfnResourceType} ${stack.resolve(construct.logicalId)}`);
  }
  for (const ids of Object.values(result)) ids.sort();
  return result;
}

/** Fails with what would be replaced, what it would lose, and how to keep the old ID. */
function expectStable(actual: Record<string, string[]>, expected: Record<string, string[]>): void {
  const problems: string[] = [];
  for (const [template, ids] of Object.entries(expected)) {
    for (const id of ids) {
      if (!(actual[template] ?? []).includes(id)) {
        const [type, logicalId] = id.split(' ');
        problems.push(`- ${template}: ${type} ${logicalId} is gone; CloudFormation would replace it and lose ${HOLDS[type]}`);
      }
    }
  }
  const added = Object.entries(actual).flatMap(([template, ids]) => ids.filter((id) => !(expected[template] ?? []).includes(id)).map((id) => `- ${template}: ${id}`));
  if (problems.length > 0) {
    throw new Error([
      'A change moves the logical ID of a resource that holds data:',
      ...problems,
      ...(added.length > 0 ? ['now synthesized instead:', ...added] : []),
      'Deploying it would replace these resources: repository images, logs, secret values or the deployed image URI would be lost',
      '(a retained resource is orphaned, and a new empty one takes its place). To keep the old ID: keep the construct ID',
      '(service names are construct IDs), or pin it with `(resource.node.defaultChild as CfnResource).overrideLogicalId(\'<old ID>\')`,',
      'or bring the old repository back with `repository: ecr.Repository.fromRepositoryName(...)`.',
      'If the replacement is intended, update the expected IDs in test/stateful-ids.test.ts and say so in the release notes.',
    ].join('\n'));
  }
  if (added.length > 0) {
    throw new Error(`New stateful resources, not pinned yet: add them to test/stateful-ids.test.ts\n${added.join('\n')}`);
  }
}

describe('logical IDs of stateful resources', () => {
  test('the example app (examples/app.ts) keeps them', () => {
    expectStable(statefulIds(buildExampleApp()), {
      'CdkEcsStagingExample': [
        'AWS::CloudFormation::Stack StagingwebNestedStackwebNestedStackResourceD571683D',
        'AWS::Logs::LogGroup StagingNetworkFlowLogGroup892C1D7A',
        'AWS::Logs::LogGroup StagingNetworkDefaultSecurityGroupLockdownLogGroupBE9D4D19',
        'AWS::S3::Bucket StagingEdgeAccessLogs8A25A82F',
      ],
      'CdkEcsStagingExample > nested stack web': [
        'AWS::ECR::Repository ServiceRepositoryB5DB2931',
        'AWS::Logs::LogGroup ServiceLogGroupB910EE76',
        'AWS::SSM::Parameter ServiceImageParameter5128612B',
        'AWS::SecretsManager::Secret ServiceSecretsSecretDBPASSWORD4930CCD7',
      ],
    });
  });

  test('the many-services example (examples/many-services.ts) keeps them', () => {
    const service = ['AWS::ECR::Repository ServiceRepositoryB5DB2931', 'AWS::Logs::LogGroup ServiceLogGroupB910EE76', 'AWS::SSM::Parameter ServiceImageParameter5128612B'];
    expectStable(statefulIds(buildManyServicesApp(3)), {
      'ManyServices': [
        'AWS::CloudFormation::Stack Stagingsvc00NestedStacksvc00NestedStackResource877BACCB',
        'AWS::CloudFormation::Stack Stagingsvc01NestedStacksvc01NestedStackResource25C1E50A',
        'AWS::CloudFormation::Stack Stagingsvc02NestedStacksvc02NestedStackResource41047047',
        'AWS::Logs::LogGroup StagingNetworkFlowLogGroup892C1D7A',
        'AWS::Logs::LogGroup StagingNetworkDefaultSecurityGroupLockdownLogGroupBE9D4D19',
        'AWS::S3::Bucket StagingEdgeAccessLogs8A25A82F',
      ],
      'ManyServices > nested stack svc-00': service,
      'ManyServices > nested stack svc-01': service,
      'ManyServices > nested stack svc-02': service,
    });
  });

  test('a renamed construct fails with what would be lost and how to keep the old ID', () => {
    // GIVEN: the example app, with the repository's logical ID moved as a renamed construct would move it
    const app = buildExampleApp();
    const web = app.node.findAll().find((c) => CfnResource.isCfnResource(c) && c.cfnResourceType === 'AWS::ECR::Repository') as CfnResource;
    web.overrideLogicalId('RenamedRepository');
    // WHEN / THEN
    expect(() => expectStable(statefulIds(app), { 'CdkEcsStagingExample > nested stack web': ['AWS::ECR::Repository ServiceRepositoryB5DB2931'] })).toThrow(
      /CdkEcsStagingExample > nested stack web: AWS::ECR::Repository ServiceRepositoryB5DB2931 is gone; CloudFormation would replace it and lose its images[\s\S]*overrideLogicalId\('<old ID>'\)[\s\S]*repository: ecr\.Repository\.fromRepositoryName/);
  });
});
