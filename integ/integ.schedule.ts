/**
 * Scenario: a staging environment on working hours (scale to zero outside them).
 *
 * The cheapest layout (no NAT, HTTP only) with two services on 08:00-20:00 Europe/Berlin, Monday to
 * Friday: 'web' of two fixed tasks and 'api' that autoscales from 1 to 3. The assertions, asked of
 * the AWS APIs after deployment, check what makes the schedule safe: the scalable targets hold
 * minimum 0 (a later deploy never wakes a sleeping service), the two scheduled actions with their
 * time zone, and the below-minimum alarm that follows the desired task count (OK while asleep).
 */
import { ExpectedResult, IntegTest, Match } from '@aws-cdk/integ-tests-alpha';
import { App, Stack, TimeZone } from 'aws-cdk-lib';
import { EcsStagingEnvironment, NatStrategy, StagingSchedule } from '../src';

const app = new App();
const stack = new Stack(app, 'StagingScheduleInteg', { env: { region: 'us-east-1' } });
const env = new EcsStagingEnvironment(stack, 'Staging', {
  environmentName: 'integ-sleep',
  network: { natStrategy: NatStrategy.none() },
  schedule: StagingSchedule.workingHours({ start: '08:00', end: '20:00', timeZone: TimeZone.EUROPE_BERLIN }),
  // The integ stack is torn down after the test: leave no repository, log group or bucket behind.
  ephemeral: true,
});
const web = env.addService('web', { desiredCount: 2, healthCheckPath: '/' });
const api = env.addService('api', { pathPatterns: ['/api/*'], healthCheckPath: '/', autoScaling: { minCapacity: 1, maxCapacity: 3 } });

const assertionStack = new Stack(app, 'StagingScheduleAssertions', { env: { region: 'us-east-1' } });
const integ = new IntegTest(app, 'StagingScheduleTest', {
  testCases: [stack],
  assertionStack,
  allowDestroy: ['AWS::ECS::TaskDefinition'],
  stackUpdateWorkflow: false,
});

for (const [service, daytime] of [[web, { MinCapacity: 2, MaxCapacity: 2 }], [api, { MinCapacity: 1, MaxCapacity: 3 }]] as const) {
  const resourceId = `service/${env.cluster.clusterName}/${service.fargateService.serviceName}`;
  // The target itself: minimum 0, daytime maximum.
  integ.assertions
    .awsApiCall('ApplicationAutoScaling', 'describeScalableTargets', { ServiceNamespace: 'ecs', ResourceIds: [resourceId] })
    .expect(ExpectedResult.objectLike({ ScalableTargets: [Match.objectLike({ MinCapacity: 0, MaxCapacity: daytime.MaxCapacity })] }));
  // Its two actions, in the environment's time zone.
  integ.assertions
    .awsApiCall('ApplicationAutoScaling', 'describeScheduledActions', { ServiceNamespace: 'ecs', ResourceId: resourceId })
    .expect(ExpectedResult.objectLike({
      ScheduledActions: Match.arrayWith([
        Match.objectLike({ ScheduledActionName: 'Awake', Schedule: 'cron(0 8-19 ? * MON-FRI *)', Timezone: 'Europe/Berlin', ScalableTargetAction: daytime }),
        Match.objectLike({ ScheduledActionName: 'Asleep', Schedule: 'cron(0 20 ? * MON-FRI *)', Timezone: 'Europe/Berlin', ScalableTargetAction: { MinCapacity: 0, MaxCapacity: 0 } }),
      ]),
    }));
  // The below-minimum alarm exists and watches the desired task count.
  integ.assertions
    .awsApiCall('CloudWatch', 'describeAlarms', { AlarmNames: [service.alarms.belowMinimum!.alarmName] })
    .expect(ExpectedResult.objectLike({
      MetricAlarms: [Match.objectLike({
        TreatMissingData: 'notBreaching',
        Metrics: Match.arrayWith([Match.objectLike({ Id: 'desired', MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'DesiredTaskCount' }) }) })]),
      })],
    }));
}

app.synth();
