import { Duration, Stack } from 'aws-cdk-lib';
import { testStack, testZone } from './apps';
import { EcsStagingEnvironment, EcsStagingEnvironmentProps, StagingSchedule } from '../../src';

/** What to vary in a preview environment. */
export interface PreviewEnvironmentOptions {
  readonly stack?: Stack;
  readonly services?: string[];
  readonly props?: EcsStagingEnvironmentProps;
}

/**
 * An environment with a domain whose previews are on through its `previews` prop: three slots,
 * three days, the services given (default every service).
 */
export function previewEnvironment(options: PreviewEnvironmentOptions = {}): EcsStagingEnvironment {
  const stack = options.stack ?? testStack();
  return new EcsStagingEnvironment(stack, 'Staging', {
    domain: { domainName: 'staging.example.com', hostedZone: testZone(stack) },
    schedule: StagingSchedule.alwaysOn(),
    previews: { maxPreviews: 3, expireAfter: Duration.days(3), services: options.services },
    ...options.props,
  });
}
