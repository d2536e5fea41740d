import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { testStack, testZone } from './apps';
import { EcsStagingEnvironment, EcsStagingEnvironmentProps, StagingSchedule } from '../../src';
import { PreviewFacts, registerPreviewFacts } from '../../src/private/preview-facts';

/** What to vary in a preview environment. */
export interface PreviewEnvironmentOptions {
  readonly stack?: Stack;
  readonly services?: string[];
  readonly props?: EcsStagingEnvironmentProps;
  readonly facts?: Partial<PreviewFacts>;
}

/**
 * An environment with a domain whose previews are on, as the environment registers them when its
 * `previews` prop is set: three slots, three days, and the role CloudFormation deploys previews
 * with (a role of the environment's stack).
 */
export function previewEnvironment(options: PreviewEnvironmentOptions = {}): EcsStagingEnvironment {
  const stack = options.stack ?? testStack();
  const environment = new EcsStagingEnvironment(stack, 'Staging', {
    domain: { domainName: 'staging.example.com', hostedZone: testZone(stack) },
    schedule: StagingSchedule.alwaysOn(),
    ...options.props,
  });
  const cloudFormationRole = new iam.Role(stack, 'PreviewCloudFormationRole', {
    roleName: `${environment.environmentName}-preview-cloudformation`,
    assumedBy: new iam.ServicePrincipal('cloudformation.amazonaws.com'),
  });
  registerPreviewFacts(environment, {
    maxPreviews: 3,
    expireAfter: Duration.days(3),
    services: options.services,
    cloudFormationRoleArn: cloudFormationRole.roleArn,
    ...options.facts,
  });
  return environment;
}
