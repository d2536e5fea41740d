/**
 * Scenario: an environment that allows preview environments, and the preview of one pull request.
 *
 * An EcsStagingEnvironment on a domain with `previews` (2 at once, API_TOKEN the one secret a
 * preview gets) and one service, 'web'; beside it the StagingPreviewStack of pull request 1 in
 * slot 0, as the preview workflow synthesizes it. The preview stack reads the environment by name
 * (SSM parameter types), so it deploys after the environment's stack and holds no reference to it.
 *
 * The hosted zone below is a placeholder, enough to synthesize and compare the snapshot. To deploy
 * for real, point it at a public zone you own, by context, and push an image tagged
 * `pr-1-000000000000` to the web service's repository once the environment's stack is up (the
 * preview runs `<repository>:<imageTag>`; without the image its tasks cannot start):
 *
 *   npx cdk deploy StagingPreviewsInteg --app 'npx ts-node -P tsconfig.dev.json integ/integ.previews.ts' \
 *     -c zoneId=Z0123EXAMPLE -c zoneName=example.org
 *   docker tag <an image that answers 200 on /health, port 80> <repository URI>:pr-1-000000000000 && docker push ...
 *   npx cdk deploy --all --app ...
 *
 * then read the AssertionResults* outputs of StagingPreviewsAssertions. The environment answers on
 * `staging.<zoneName>`, the preview on `pr-1-web.staging.<zoneName>`.
 */
import { ExpectedResult, IntegTest, Match } from '@aws-cdk/integ-tests-alpha';
import { App, Duration, Stack, TimeZone } from 'aws-cdk-lib';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { EcsStagingEnvironment, StagingPreviewStack, StagingSchedule, StagingSecret, StagingWeekday } from '../src';

const EVERY_DAY = Object.values(StagingWeekday);

const app = new App();
const zoneId: string = app.node.tryGetContext('zoneId') ?? 'Z0123456789ABCDEFGHIJ';
const zoneName: string = app.node.tryGetContext('zoneName') ?? 'integ.example.com';
const domainName = `staging.${zoneName}`;
const region: string = app.node.tryGetContext('region') ?? 'us-east-1';

const stack = new Stack(app, 'StagingPreviewsInteg', { env: { region } });
const hostedZone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: zoneId, zoneName });
const env = new EcsStagingEnvironment(stack, 'Staging', {
  environmentName: 'integp',
  domain: { domainName, hostedZone },
  // The integ stack is torn down after the test: leave no repository, log group or bucket behind.
  ephemeral: true,
  previews: {
    maxPreviews: 2,
    expireAfter: Duration.days(1),
    secrets: ['API_TOKEN'],
    // Working hours of every day, 00:00 to 23:59 UTC: the preview has its wake and sleep schedules
    // yet serves whenever the assertions run (asleep one minute a day).
    schedule: StagingSchedule.workingHours({ start: '00:00', end: '23:59', timeZone: TimeZone.ETC_UTC, days: EVERY_DAY }),
  },
});
env.addService('web', {
  config: { LOG_LEVEL: 'info' },
  secrets: {
    API_TOKEN: StagingSecret.generate({ excludePunctuation: true }),
    DB_PASSWORD: StagingSecret.generate({ excludePunctuation: true }),
  },
});

const preview = new StagingPreviewStack(app, 'StagingPreviewsIntegPreview', {
  environment: env,
  pullRequest: 1,
  slot: 0,
  imageTag: 'pr-1-000000000000',
});
// The preview reads the parameters the environment's stack publishes: deploy that stack first.
preview.addDependency(stack);

const assertionStack = new Stack(app, 'StagingPreviewsAssertions', { env: { region } });
const integ = new IntegTest(app, 'StagingPreviewsTest', {
  testCases: [stack, preview],
  assertionStack,
  // A preview's listener rule is replaced whenever its slot or its place changes (its logical ID
  // names both); it holds no state.
  allowDestroy: ['AWS::ECS::TaskDefinition', 'AWS::ElasticLoadBalancingV2::ListenerRule'],
  stackUpdateWorkflow: false,
});
const patiently = { totalTimeout: Duration.minutes(10), interval: Duration.seconds(30) };

// The settings the preview workflow reads.
integ.assertions
  .awsApiCall('SSM', 'getParameter', { Name: '/integp/_previews/settings' })
  .expect(ExpectedResult.objectLike({ Parameter: Match.objectLike({ Type: 'String' }) }));

// The preview answers on its own host over HTTPS, through the wildcard record and certificate.
integ.assertions
  .httpApiCall(preview.urls.web + '/health')
  .expect(ExpectedResult.objectLike({ status: 200 }))
  .waitForAssertions(patiently);

// Its service runs one task in the environment's cluster, with the circuit breaker on.
integ.assertions
  .awsApiCall('ECS', 'describeServices', { cluster: env.cluster.clusterName, services: ['pr-1-web'] })
  .expect(ExpectedResult.objectLike({
    services: [Match.objectLike({
      status: 'ACTIVE',
      runningCount: 1,
      deploymentConfiguration: Match.objectLike({ deploymentCircuitBreaker: { enable: true, rollback: true } }),
    })],
  }))
  .waitForAssertions(patiently);
