import { Stack, TimeZone } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { EcsStagingEnvironment, StagingSchedule, StagingService, StagingWeekday, StagingWorkingHoursOptions } from '../src';
import { testApp, testStack } from './harness/apps';
import { formatFindings, postureFindings } from './harness/posture';
import { resolveSchedule } from '../src/private/schedule-binding';
import { BACKWARD_LINKS } from '../src/private/time-zone-links';

const BERLIN_DAY = { start: '08:00', end: '20:00', timeZone: TimeZone.EUROPE_BERLIN };

/** The one scalable target of a service's template. */
function scalableTargetOf(service: StagingService): any {
  const targets = Object.values(Template.fromStack(Stack.of(service)).findResources('AWS::ApplicationAutoScaling::ScalableTarget'));
  expect(targets).toHaveLength(1);
  // No RoleARN: a new account does not have the ECS service-linked role of Application Auto Scaling
  // until the first RegisterScalableTarget creates it.
  expect(targets[0].Properties.RoleARN).toBeUndefined();
  return targets[0].Properties;
}

function ecsServiceOf(service: StagingService): any {
  const [ecsService] = Object.values(Template.fromStack(Stack.of(service)).findResources('AWS::ECS::Service'));
  return ecsService.Properties;
}

function alarmsOf(service: StagingService): any[] {
  return Object.values(Template.fromStack(Stack.of(service)).findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
}

describe('StagingSchedule.workingHours on the environment', () => {
  let parent: Stack;
  let fixed: StagingService;
  let scaled: StagingService;
  let alwaysOn: StagingService;
  let ownHours: StagingService;
  let paused: StagingService;
  beforeAll(() => {
    parent = testStack();
    const env = new EcsStagingEnvironment(parent, 'Staging', {
      schedule: StagingSchedule.workingHours(BERLIN_DAY),
      observability: { alarmEmails: ['oncall@example.com'] },
    });
    fixed = env.addService('web', { desiredCount: 2 });
    scaled = env.addService('api', { pathPatterns: ['/api/*'], autoScaling: { minCapacity: 2, maxCapacity: 6 } });
    alwaysOn = env.addService('auth', { pathPatterns: ['/auth/*'], desiredCount: 2, schedule: StagingSchedule.alwaysOn() });
    ownHours = env.addService('reports', {
      pathPatterns: ['/reports/*'],
      desiredCount: 2,
      schedule: StagingSchedule.workingHours({
        start: '08:30',
        end: '17:00',
        timeZone: TimeZone.AMERICA_NEW_YORK,
        days: [StagingWeekday.FRIDAY, StagingWeekday.MONDAY, StagingWeekday.WEDNESDAY],
      }),
    });
    paused = env.addService('legacy', { pathPatterns: ['/legacy/*'], desiredCount: 0 });
  });

  test('a service without autoScaling sleeps at the end and is held awake every hour of the working day', () => {
    const target = scalableTargetOf(fixed);
    expect(target).toMatchObject({ MinCapacity: 0, MaxCapacity: 2, ScalableDimension: 'ecs:service:DesiredCount' });
    expect(target.ScheduledActions).toEqual([
      { ScheduledActionName: 'Awake', Schedule: 'cron(0 8-19 ? * MON-FRI *)', Timezone: 'Europe/Berlin', ScalableTargetAction: { MinCapacity: 2, MaxCapacity: 2 } },
      { ScheduledActionName: 'Asleep', Schedule: 'cron(0 20 ? * MON-FRI *)', Timezone: 'Europe/Berlin', ScalableTargetAction: { MinCapacity: 0, MaxCapacity: 0 } },
    ]);
    // No scaling policy: only the schedule moves the count.
    Template.fromStack(Stack.of(fixed)).resourceCountIs('AWS::ApplicationAutoScaling::ScalingPolicy', 0);
  });

  test('a service with autoScaling wakes to its minimum and maximum and keeps scaling on CPU in the day', () => {
    const target = scalableTargetOf(scaled);
    expect(target).toMatchObject({ MinCapacity: 0, MaxCapacity: 6 });
    expect(target.ScheduledActions.map((a: any) => [a.ScheduledActionName, a.ScalableTargetAction])).toEqual([
      ['Awake', { MinCapacity: 2, MaxCapacity: 6 }],
      ['Asleep', { MinCapacity: 0, MaxCapacity: 0 }],
    ]);
    Template.fromStack(Stack.of(scaled)).resourceCountIs('AWS::ApplicationAutoScaling::ScalingPolicy', 1);
  });

  test('no DesiredCount in the template, and a target that neither wakes a sleeping service nor stops a running one', () => {
    // CloudFormation registers the target again when its properties change; the count then moves
    // into [MinCapacity, MaxCapacity]. Minimum 0 leaves 0 tasks at 0 (a deploy at night), the
    // daytime maximum leaves the running tasks running (a deploy in the day).
    for (const service of [fixed, scaled, ownHours]) {
      expect(ecsServiceOf(service).DesiredCount).toBeUndefined();
      const target = scalableTargetOf(service);
      expect(target.MinCapacity).toBe(0);
      expect(target.MaxCapacity).toBeGreaterThan(0);
    }
  });

  test("a service's own schedule wins: always on, or other hours, days and time zone", () => {
    expect(ecsServiceOf(alwaysOn).DesiredCount).toBe(2);
    Template.fromStack(Stack.of(alwaysOn)).resourceCountIs('AWS::ApplicationAutoScaling::ScalableTarget', 0);
    expect(alwaysOn.wakeCommand).toBeUndefined();

    const actions = scalableTargetOf(ownHours).ScheduledActions;
    // 08:30, 09:30 ... 16:30 are before 17:00; days listed in week order.
    expect(actions.map((a: any) => [a.Schedule, a.Timezone])).toEqual([
      ['cron(30 8-16 ? * MON,WED,FRI *)', 'America/New_York'],
      ['cron(0 17 ? * MON,WED,FRI *)', 'America/New_York'],
    ]);
  });

  test('a paused service (desiredCount 0) is accepted with a warning and keeps no schedule', () => {
    expect(ecsServiceOf(paused).DesiredCount).toBe(0);
    Template.fromStack(Stack.of(paused)).resourceCountIs('AWS::ApplicationAutoScaling::ScalableTarget', 0);
    expect(alarmsOf(paused).some((a) => a.AlarmDescription.includes('healthy targets'))).toBe(false);
    Annotations.fromStack(parent).hasWarning('*', Match.stringLikeRegexp("Service 'legacy' is paused: desiredCount \\(desired_count\\) is 0"));
  });

  test('nothing pages while a service sleeps: the below-minimum alarm follows the desired task count', () => {
    const alarms = alarmsOf(fixed);
    const belowMinimum = alarms.find((a) => a.AlarmDescription.includes('fewer healthy targets'));
    expect(belowMinimum).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', TreatMissingData: 'notBreaching', DatapointsToAlarm: 5, EvaluationPeriods: 7 });
    const expression = belowMinimum.Metrics.find((m: any) => m.Expression).Expression;
    // Asleep: desired 0, so the shortfall is 0 - healthy <= 0. Growing from 1 to 2 tasks: capped at desired.
    expect(expression).toBe('IF(FILL(desired, 0) < 2, FILL(desired, 0), 2) - FILL(healthy, 0)');
    const desired = belowMinimum.Metrics.find((m: any) => m.Id === 'desired').MetricStat.Metric;
    expect(desired).toMatchObject({ Namespace: 'ECS/ContainerInsights', MetricName: 'DesiredTaskCount' });
    expect(desired.Dimensions.map((d: any) => d.Name).sort()).toEqual(['ClusterName', 'ServiceName']);
    // Every other alarm treats no data (no tasks, no traffic) as OK.
    for (const alarm of alarms) {
      expect(alarm.TreatMissingData).toBe('notBreaching');
    }
    // The always-on service keeps the stricter alarm: no data at all is a dead service.
    const strict = alarmsOf(alwaysOn).find((a) => a.AlarmDescription.includes('fewer than 2 healthy targets'));
    expect(strict).toMatchObject({ TreatMissingData: 'breaching', ComparisonOperator: 'LessThanThreshold', Threshold: 2 });
  });

  test("the load balancer's 5XX alarm leaves out the 503 that sleeping services' routes answer at night", () => {
    const [alarm] = Object.values(Template.fromStack(parent).findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    expect(alarm.Metrics.find((m: any) => m.Expression).Expression).toBe('FILL(elb5xx, 0) - FILL(elb503, 0)');
    expect(alarm.Metrics.map((m: any) => m.MetricStat?.Metric.MetricName).filter(Boolean).sort()).toEqual(['HTTPCode_ELB_503_Count', 'HTTPCode_ELB_5XX_Count']);
    expect(alarm.AlarmDescription).toContain('503 (no healthy target: a sleeping service or preview) is left to each service\'s own alarms');
  });

  test('the wake-up command is printed for each sleeping service', () => {
    expect(fixed.wakeCommand).toContain('aws application-autoscaling register-scalable-target --service-namespace ecs --scalable-dimension ecs:service:DesiredCount');
    const outputs = Template.fromStack(Stack.of(scaled)).findOutputs('*', { Description: "Wake-up command (AWS CLI) of service 'api'" });
    const [output] = Object.values(outputs);
    const parts = output.Value['Fn::Join'][1];
    expect(parts[0]).toContain('--resource-id service/');
    expect(parts[parts.length - 1]).toBe(' --min-capacity 2 --max-capacity 6');
  });
});

describe('StagingSchedule without Container Insights', () => {
  test('leaves the below-minimum alarm out of a sleeping service, with a warning', () => {
    const parent = testStack();
    const env = new EcsStagingEnvironment(parent, 'Staging', {
      cluster: { containerInsights: false },
      schedule: StagingSchedule.workingHours({ ...BERLIN_DAY, days: [StagingWeekday.SATURDAY, StagingWeekday.SUNDAY] }),
    });
    const web = env.addService('web', { desiredCount: 2 });
    expect(web.alarms.belowMinimum).toBeUndefined();
    expect(web.alarms.unhealthyHosts).toBeDefined();
    expect(scalableTargetOf(web).ScheduledActions[1].Schedule).toBe('cron(0 20 ? * SUN,SAT *)');
    Annotations.fromStack(parent).hasWarning('*', Match.stringLikeRegexp('cluster.containerInsights \\(container_insights\\)'));
  });
});

describe('days of the week in cron order (1 = SUN to 7 = SAT), ranges only forwards', () => {
  test.each([
    [[StagingWeekday.MONDAY, StagingWeekday.TUESDAY, StagingWeekday.WEDNESDAY, StagingWeekday.THURSDAY, StagingWeekday.FRIDAY, StagingWeekday.SATURDAY, StagingWeekday.SUNDAY], 'SUN-SAT'],
    [[StagingWeekday.FRIDAY, StagingWeekday.SATURDAY, StagingWeekday.SUNDAY], 'SUN,FRI,SAT'],
    [[StagingWeekday.TUESDAY, StagingWeekday.WEDNESDAY, StagingWeekday.THURSDAY, StagingWeekday.SATURDAY], 'TUE-THU,SAT'],
    [[StagingWeekday.MONDAY, StagingWeekday.MONDAY], 'MON'],
  ])('%j -> %s', (days, field) => {
    const env = new EcsStagingEnvironment(testStack(), 'Staging', { schedule: StagingSchedule.workingHours({ ...BERLIN_DAY, days }) });
    const web = env.addService('web', { desiredCount: 2 });
    expect(scalableTargetOf(web).ScheduledActions[1].Schedule).toBe(`cron(0 20 ? * ${field} *)`);
  });
});

describe('bad schedules fail at synth', () => {
  const cases: Array<[string, Partial<StagingWorkingHoursOptions>, RegExp]> = [
    ['an unknown time zone', { timeZone: TimeZone.of('Mars/Olympus_Mons') }, /schedule\.timeZone 'Mars\/Olympus_Mons' is not an IANA time zone/],
    ['a time zone in the wrong case', { timeZone: TimeZone.of('europe/berlin') }, /schedule\.timeZone 'europe\/berlin' must be spelt with its capitals, 'Europe\/Berlin'/],
    ['an alias of a time zone', { timeZone: TimeZone.of('US/Eastern') }, /schedule\.timeZone 'US\/Eastern' is an alias, not a canonical IANA time zone.*use 'America\/New_York'/],
    ['end before start', { start: '20:00', end: '08:00' }, /schedule\.end \('08:00'\) must be after schedule\.start \('20:00'\)/],
    ['end equal to start', { start: '09:00', end: '09:00' }, /schedule\.end \('09:00'\) must be after schedule\.start/],
    ['an hour without its leading zero', { start: '8:00' }, /schedule\.start must be a time of day as HH:MM .* \(got '8:00'\)/],
    ['hour 24', { end: '24:00' }, /schedule\.end must be a time of day as HH:MM .* \(got '24:00'\)/],
    ['minute 60', { start: '08:60' }, /schedule\.start must be a time of day .* \(got '08:60'\)/],
    ['no colon', { start: '0800' }, /schedule\.start must be a time of day .* \(got '0800'\)/],
    ['no days', { days: [] }, /schedule\.days is empty: the services would never run/],
  ];
  test.each(cases)('%s', (_name, change, message) => {
    const stack = testStack();
    const schedule = StagingSchedule.workingHours({ ...BERLIN_DAY, ...change } as StagingWorkingHoursOptions);
    expect(() => new EcsStagingEnvironment(stack, 'Staging', { schedule })).toThrow(message);
    // On one service, the error names that service's path.
    const env = new EcsStagingEnvironment(testStack('Other'), 'Staging');
    expect(() => env.addService('web', { schedule })).toThrow(/Other\/Staging\/web\/Service: /);
  });

  test('a paused service cannot autoscale', () => {
    const env = new EcsStagingEnvironment(testStack(), 'Staging');
    expect(() => env.addService('web', { desiredCount: 0, autoScaling: { maxCapacity: 2 } })).toThrow(
      /desiredCount is 0 with autoScaling: a paused service does not scale.*\[Python: desired_count, auto_scaling\]/);
  });
});

describe('time zones: canonical names only, fixed offsets with a warning', () => {
  /** Resolves a working-hours schedule in zone on a bare stack; returns the stack for its annotations. */
  function resolveIn(zone: string): Stack {
    const stack = testStack();
    resolveSchedule(stack, 'schedule', StagingSchedule.workingHours({ ...BERLIN_DAY, timeZone: TimeZone.of(zone) }));
    return stack;
  }

  test('fails on every old or merged name of the backward file, whatever ICU calls canonical', () => {
    // GIVEN every backward link but the fixed offsets (warned below)
    const links = Object.keys(BACKWARD_LINKS).filter((name) => !['EST', 'MST', 'HST', 'UTC'].includes(name));
    expect(links.length).toBeGreaterThan(140);
    // THEN each fails
    const accepted = links.filter((name) => {
      try {
        resolveIn(name);
        return true;
      } catch (e) {
        expect(String(e)).toMatch(new RegExp(`'${name.replace(/[+]/g, '\\+')}' (is an alias, not a canonical IANA time zone|is not an IANA time zone)`));
        return false;
      }
    });
    expect(accepted).toEqual([]);
    // Asia/Calcutta is canonical to ICU (CLDR keeps the old name), US/Eastern is not: both fail alike.
    expect(() => resolveIn('Asia/Calcutta')).toThrow(/schedule\.timeZone 'Asia\/Calcutta' is an alias, .*use 'Asia\/Kolkata' \(TimeZone\.ASIA_KOLKATA\) \[Python: schedule\.time_zone\]$/);
    expect(() => resolveIn('US/Eastern')).toThrow(/use 'America\/New_York' \(TimeZone\.AMERICA_NEW_YORK\) \[Python: schedule\.time_zone\]$/);
    // An alias of ICU's own that is no tz name at all.
    expect(() => resolveIn('PST')).toThrow(/schedule\.timeZone 'PST' is an alias, .*use 'America\/Los_Angeles'/);
  });

  test.each(['Asia/Kolkata', 'Europe/Kyiv', 'Europe/Amsterdam', 'Africa/Accra', 'America/Argentina/Buenos_Aires', 'UTC', 'Europe/Berlin'])(
    'accepts the canonical %s without a warning', (zone) => {
      Annotations.fromStack(resolveIn(zone)).hasNoWarning('*', Match.anyValue());
    });

  test.each(['EST', 'MST', 'HST', 'Etc/GMT+5', 'Etc/GMT-10'])('accepts the fixed offset %s with a warning that names its missing daylight saving time', (zone) => {
    Annotations.fromStack(resolveIn(zone)).hasWarning('*', Match.stringLikeRegexp(
      `schedule\\.timeZone '${zone.replace(/[+]/g, '\\+')}' is a fixed offset from UTC, without daylight saving time.*TimeZone\\.AMERICA_NEW_YORK.*\\[Python: schedule\\.time_zone\\]`));
  });

  test('names the prop in Python without a stray name, for an unknown zone', () => {
    expect(() => resolveIn('Mars/Olympus_Mons')).toThrow(/^\[cdk-ecs-staging\] Test: schedule\.timeZone 'Mars\/Olympus_Mons' is not an IANA time zone; .* \[Python: schedule\.time_zone\]$/);
  });
});

describe('posture of an environment on working hours', () => {
  test('passes cdk-nag AwsSolutions and the Control Tower controls', () => {
    const app = testApp();
    const env = new EcsStagingEnvironment(new Stack(app, 'Posture', { env: { region: 'us-east-1', account: '123456789012' } }), 'Staging', {
      schedule: StagingSchedule.workingHours(BERLIN_DAY),
    });
    env.addService('web', { desiredCount: 2 });
    env.addService('api', { pathPatterns: ['/api/*'], autoScaling: { maxCapacity: 3 } });
    expect(formatFindings(postureFindings(app))).toBe('');
  });
});
