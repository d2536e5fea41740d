import { App, Stack } from 'aws-cdk-lib';
import * as route53 from 'aws-cdk-lib/aws-route53';

/** Account and region of the env-specific test stacks. */
export const TEST_ENV = { account: '123456789012', region: 'us-east-1' };

/** An app whose AZ lookups for TEST_ENV answer with `azCount` real-looking AZ names. */
export function testApp(azCount = 3): App {
  const azs = ['us-east-1a', 'us-east-1b', 'us-east-1c', 'us-east-1d', 'us-east-1e', 'us-east-1f'].slice(0, azCount);
  return new App({
    context: { [`availability-zones:account=${TEST_ENV.account}:region=${TEST_ENV.region}`]: azs },
  });
}

/** A stack in TEST_ENV inside a fresh `testApp()`. */
export function testStack(id = 'Test', azCount = 3): Stack {
  return new Stack(testApp(azCount), id, { env: TEST_ENV });
}

/** ID of the test hosted zone. */
export const TEST_ZONE_ID = 'Z0123456789ABCDEFGHIJ';

/** The public hosted zone `example.com`, imported into `stack`. */
export function testZone(stack: Stack): route53.IHostedZone {
  return route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: TEST_ZONE_ID, zoneName: 'example.com' });
}
