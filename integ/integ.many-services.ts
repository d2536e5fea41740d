/**
 * Scenario: one environment of 12 services (HTTPS, a catch-all and 11 path routes, two tasks and
 * autoscaling each), so that review sees how an environment splits: the environment's template
 * holds one nested stack a service, each service's resources live in its own nested template, and
 * the load balancer's security group has one egress rule for the one container port they share.
 *
 * The assertions ask ECS, after deployment, that the first and the last service run their tasks.
 */
import { ExpectedResult, IntegTest, Match } from '@aws-cdk/integ-tests-alpha';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { addManyServices } from '../examples/many-services';

const app = new App();
const stack = new Stack(app, 'ManyServicesInteg', { env: { region: 'us-east-1' } });
const env = addManyServices(stack, 12);

// The assertions read the environment's resources by reference, so they live in the same environment.
const assertionStack = new Stack(app, 'ManyServicesAssertions', { env: { region: 'us-east-1' } });
const integ = new IntegTest(app, 'ManyServicesTest', {
  testCases: [stack],
  assertionStack,
  // A task definition is replaced by a new revision on every change: that is how ECS rolls out, not a loss.
  allowDestroy: ['AWS::ECS::TaskDefinition'],
  stackUpdateWorkflow: false,
});
for (const service of [env.services[0], env.services[env.services.length - 1]]) {
  integ.assertions
    .awsApiCall('ECS', 'describeServices', { cluster: env.cluster.clusterName, services: [service.fargateService.serviceName] })
    .expect(ExpectedResult.objectLike({ services: [Match.objectLike({ status: 'ACTIVE', runningCount: 2 })] }))
    .waitForAssertions({ totalTimeout: Duration.minutes(10), interval: Duration.seconds(30) });
}

app.synth();
