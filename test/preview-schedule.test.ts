/**
 * Previews follow working hours: EventBridge Scheduler schedules in the environment's schedule
 * group set each preview service's desired count (1 at the start of each working day, 0 at the end
 * of every day), run with a role that may change preview services only.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack, TimeZone } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { EcsStagingEnvironment, EcsStagingEnvironmentProps, StagingPreviewStack, StagingSchedule, StagingWeekday } from '../src';
import { TEST_ENV, testApp, testZone } from './harness/apps';
import { cfnLint, formatMatches, handlerPermissions } from './harness/cfn-lint';
import { formatFindings, postureFindings } from './harness/posture';

const OFFICE_HOURS = StagingSchedule.workingHours({ start: '08:30', end: '19:00', timeZone: TimeZone.EUROPE_BERLIN });

interface Built {
  readonly app: App;
  readonly env: Template;
  readonly preview: Template;
  readonly envStack: Stack;
  readonly previewStack: StagingPreviewStack;
}

/** An environment with previews and two services, and the preview of pull request 7 in slot 1. */
function build(props: Partial<EcsStagingEnvironmentProps>, app: App = testApp()): Built {
  const envStack = new Stack(app, 'Env', { env: TEST_ENV });
  const environment = new EcsStagingEnvironment(envStack, 'Staging', {
    domain: { domainName: 'staging.example.com', hostedZone: testZone(envStack) },
    previews: {},
    ...props,
  });
  environment.addService('api', { hostHeaders: ['api.staging.example.com'] });
  environment.addService('web');
  const previewStack = new StagingPreviewStack(app, 'Preview', { environment, pullRequest: 7, slot: 1, imageTag: 'pr-7-0123456789ab' });
  return { app, envStack, previewStack, env: Template.fromStack(envStack), preview: Template.fromStack(previewStack) };
}

type Resource = { Type: string; Properties: any; DependsOn?: string[] };

/** The schedule's input, with the cluster parameter's Ref standing in for its value. */
function input(schedule: Resource): unknown {
  const join = schedule.Properties.Target.Input['Fn::Join'];
  return JSON.parse(join[1].map((part: unknown) => (typeof part === 'string' ? part : `<${(part as { Ref: string }).Ref}>`)).join(join[0]));
}

describe('previews on the environment\'s working hours', () => {
  const { app, env, preview, envStack, previewStack } = build({ schedule: OFFICE_HOURS });
  const schedules = preview.findResources('AWS::Scheduler::Schedule') as Record<string, Resource>;
  const services = preview.findResources('AWS::ECS::Service') as Record<string, Resource>;
  const serviceId = (name: string) => Object.keys(services).find((id) => services[id].Properties.ServiceName === name)!;
  const clusterParameter = Object.keys(preview.toJSON().Parameters).find((p) => p.startsWith('EnvironmentClusterName'))!;

  test('each previewed service wakes at the start of each working day and sleeps at the end of every day, in the schedule\'s time zone', () => {
    expect(Object.keys(schedules)).toHaveLength(4);
    for (const name of ['pr-7-api', 'pr-7-web']) {
      const own = Object.values(schedules).filter((s) => (input(s) as { Service: string }).Service === name);
      const wake = own.find((s) => (input(s) as { DesiredCount: number }).DesiredCount === 1)!;
      const sleep = own.find((s) => (input(s) as { DesiredCount: number }).DesiredCount === 0)!;
      expect(wake.Properties.ScheduleExpression).toBe('cron(30 8 ? * MON-FRI *)');
      expect(sleep.Properties.ScheduleExpression).toBe('cron(0 19 * * ? *)');
      for (const s of [wake, sleep]) {
        expect(s.Properties.ScheduleExpressionTimezone).toBe('Europe/Berlin');
        expect(s.Properties.FlexibleTimeWindow).toEqual({ Mode: 'OFF' });
        expect(s.Properties.State).toBe('ENABLED');
        expect(s.Properties.Target.Arn).toEqual({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':scheduler:::aws-sdk:ecs:updateService']] });
        expect(input(s)).toEqual({ Cluster: `<${clusterParameter}>`, Service: name, DesiredCount: expect.any(Number) });
        // The schedule waits for its service (and goes before it when the stack is deleted).
        expect(s.DependsOn).toEqual([serviceId(name)]);
        expect(s.Properties.GroupName).toEqual({ Ref: expect.stringMatching(/^EnvironmentScheduleGroupName/) });
        expect(s.Properties.Target.RoleArn).toEqual({ Ref: expect.stringMatching(/^EnvironmentSchedulerRoleArn/) });
        expect(s.Properties.Target.RetryPolicy).toEqual({ MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 185 });
      }
    }
  });

  test('the preview reads the schedule group and the scheduler role the environment publishes', () => {
    const parameters = preview.toJSON().Parameters;
    const byDefault = Object.fromEntries(Object.entries<any>(parameters).map(([id, p]) => [p.Default, { id, type: p.Type }]));
    expect(byDefault['/staging/_previews/schedule-group-name']).toEqual({ id: expect.stringMatching(/^EnvironmentScheduleGroupName/), type: 'AWS::SSM::Parameter::Value<String>' });
    expect(byDefault['/staging/_previews/scheduler-role-arn']).toEqual({ id: expect.stringMatching(/^EnvironmentSchedulerRoleArn/), type: 'AWS::SSM::Parameter::Value<String>' });
    env.hasResourceProperties('AWS::SSM::Parameter', { Name: '/staging/_previews/schedule-group-name', Value: { Ref: Match.stringLikeRegexp('^StagingPreviewsScheduleGroup') } });
    env.hasResourceProperties('AWS::SSM::Parameter', { Name: '/staging/_previews/scheduler-role-arn', Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^StagingPreviewsSchedulerRole'), 'Arn'] } });
  });

  test('a push wakes its preview: the service keeps DesiredCount 1, so every new task definition sets it again', () => {
    for (const s of Object.values(services)) {
      expect(s.Properties.DesiredCount).toBe(1);
    }
  });

  test('the scheduler role trusts EventBridge Scheduler for the previews\' schedule group only, and changes preview services only', () => {
    const [groupId] = Object.keys(env.findResources('AWS::Scheduler::ScheduleGroup'));
    expect(groupId).toMatch(/^StagingPreviewsScheduleGroup/);
    const roles = env.findResources('AWS::IAM::Role', { Properties: { AssumeRolePolicyDocument: { Statement: [{ Principal: { Service: 'scheduler.amazonaws.com' } }] } } });
    expect(Object.keys(roles)).toHaveLength(1);
    const [roleId, role] = Object.entries<any>(roles)[0];
    expect(role.Properties.AssumeRolePolicyDocument.Statement[0].Condition).toEqual({
      StringEquals: { 'aws:SourceAccount': TEST_ENV.account, 'aws:SourceArn': { 'Fn::GetAtt': [groupId, 'Arn'] } },
    });
    const [policy] = Object.values<any>(env.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roleId }] } }));
    expect(policy.Properties.PolicyDocument.Statement).toEqual([{
      Sid: 'WakeAndSleepPreviews',
      Effect: 'Allow',
      Action: 'ecs:UpdateService',
      Resource: { 'Fn::Join': ['', [`arn:aws:ecs:${TEST_ENV.region}:${TEST_ENV.account}:service/`, { Ref: expect.stringMatching(/^StagingCluster[0-9A-F]+$/) }, '/pr-*']] },
    }]);
  });

  test('the CloudFormation role manages schedules of the previews\' group only, and passes the scheduler role to EventBridge Scheduler only', () => {
    const [policy] = Object.values<any>(env.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: Match.stringLikeRegexp('^StagingPreviewsCloudFormationRole') }] } }));
    const bySid = Object.fromEntries(policy.Properties.PolicyDocument.Statement.map((s: any) => [s.Sid, s]));
    expect(bySid.PreviewSchedules.Action).toEqual(['scheduler:CreateSchedule', 'scheduler:UpdateSchedule', 'scheduler:DeleteSchedule', 'scheduler:GetSchedule']);
    expect(bySid.PreviewSchedules.Resource).toEqual({ 'Fn::Join': ['', ['arn:aws:scheduler:us-east-1:123456789012:schedule/', { Ref: expect.stringMatching(/^StagingPreviewsScheduleGroup/) }, '/*']] });
    expect(bySid.PassSchedulerRole).toEqual({
      Sid: 'PassSchedulerRole',
      Effect: 'Allow',
      Action: 'iam:PassRole',
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^StagingPreviewsSchedulerRole/), 'Arn'] },
      Condition: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
    });
    // Every permission the schedule's handlers call
    const allowed = new Set(policy.Properties.PolicyDocument.Statement.flatMap((s: any) => [s.Action].flat()));
    const handlers = handlerPermissions('AWS::Scheduler::Schedule');
    const missing = ['create', 'update', 'delete', 'read'].flatMap((verb) => handlers[verb].filter((a) => !allowed.has(a)).map((a) => `${verb}: ${a}`));
    expect(missing).toEqual([]);
  });

  test('a wake or sleep call dropped after its retries raises an alarm on the environment\'s alarm topic', () => {
    const [groupId] = Object.keys(env.findResources('AWS::Scheduler::ScheduleGroup'));
    const alarms = env.findResources('AWS::CloudWatch::Alarm', { Properties: { Namespace: 'AWS/Scheduler' } });
    expect(Object.values<any>(alarms).map((a) => a.Properties)).toEqual([expect.objectContaining({
      MetricName: 'InvocationDroppedCount',
      Dimensions: [{ Name: 'ScheduleGroup', Value: { Ref: groupId } }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: expect.stringMatching(/^StagingObservabilityAlarmTopic/) }],
      OKActions: [{ Ref: expect.stringMatching(/^StagingObservabilityAlarmTopic/) }],
    })]);
    expect(Object.keys(alarms)[0]).toMatch(/^StagingPreviewsPreviewSchedulesDropped/);
  });

  test('cdk-nag and the Control Tower controls find nothing unacknowledged; cfn-lint finds nothing', () => {
    expect(formatFindings(postureFindings(app))).toBe('');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'preview-schedule-'));
    const files = [envStack, previewStack].map((s) => {
      const file = path.join(dir, `${s.stackName}.template.json`);
      fs.writeFileSync(file, JSON.stringify(Template.fromStack(s).toJSON()));
      return file;
    });
    // W3010 is the environment's own: the subnets of a stack with an account and region name their AZs.
    expect(formatMatches(cfnLint(files).filter((m) => m.Rule.Id !== 'W3010'))).toBe('');
  });
});

describe('the previews\' own schedule', () => {
  test('previews.schedule alwaysOn runs previews around the clock in an environment with working hours: no schedule in the preview', () => {
    const { env, preview } = build({ schedule: OFFICE_HOURS, previews: { schedule: StagingSchedule.alwaysOn() } });
    preview.resourceCountIs('AWS::Scheduler::Schedule', 0);
    expect(Object.values<any>(preview.toJSON().Parameters).map((p) => p.Default)).not.toContain('/staging/_previews/scheduler-role-arn');
    // The group, the role and the CloudFormation role's permissions stay: a preview deployed while
    // previews had working hours holds schedules, which its next update or deletion removes.
    env.resourceCountIs('AWS::Scheduler::ScheduleGroup', 1);
    env.hasResourceProperties('AWS::SSM::Parameter', { Name: '/staging/_previews/scheduler-role-arn' });
    const [policy] = Object.values<any>(env.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: Match.stringLikeRegexp('^StagingPreviewsCloudFormationRole') }] } }));
    expect(policy.Properties.PolicyDocument.Statement.map((st: any) => st.Sid)).toEqual(expect.arrayContaining(['PreviewSchedules', 'PassSchedulerRole']));
  });

  test('with the environment\'s alarms off, no alarm watches the schedules', () => {
    const { env } = build({ schedule: OFFICE_HOURS, observability: { alarms: false } });
    env.resourceCountIs('AWS::Scheduler::ScheduleGroup', 1);
    expect(env.findResources('AWS::CloudWatch::Alarm', { Properties: { Namespace: 'AWS/Scheduler' } })).toEqual({});
  });

  test('the load balancer\'s 5XX alarm leaves out 503, which sleeping previews and previews without a healthy task answer, even without working hours', () => {
    const { env } = build({});
    const [alarm] = Object.values<any>(env.findResources('AWS::CloudWatch::Alarm', { Properties: { AlarmDescription: Match.stringLikeRegexp('load balancer returned 5XX') } }));
    expect(alarm.Properties.AlarmDescription).toContain('503 (no healthy target: a sleeping service or preview) is left to each service\'s own alarms');
    expect(alarm.Properties.Metrics.map((m: any) => m.Expression).filter(Boolean)).toEqual(['FILL(elb5xx, 0) - FILL(elb503, 0)']);
  });

  test('an environment without working hours runs previews around the clock', () => {
    const { preview } = build({});
    preview.resourceCountIs('AWS::Scheduler::Schedule', 0);
  });

  test('previews.schedule gives previews working hours of their own, on their own days', () => {
    const { preview } = build({
      previews: {
        schedule: StagingSchedule.workingHours({ start: '07:00', end: '15:45', timeZone: TimeZone.AMERICA_NEW_YORK, days: [StagingWeekday.FRIDAY, StagingWeekday.MONDAY, StagingWeekday.WEDNESDAY] }),
      },
    });
    const expressions = Object.values<any>(preview.findResources('AWS::Scheduler::Schedule')).map((s) => `${s.Properties.ScheduleExpression} ${s.Properties.ScheduleExpressionTimezone}`);
    expect(new Set(expressions)).toEqual(new Set(['cron(0 7 ? * MON,WED,FRI *) America/New_York', 'cron(45 15 * * ? *) America/New_York']));
  });

  test('a bad previews.schedule fails at synth, naming previews.schedule', () => {
    expect(() => build({ previews: { schedule: StagingSchedule.workingHours({ start: '18:00', end: '08:00', timeZone: TimeZone.EUROPE_BERLIN }) } }))
      .toThrow("previews.schedule.end ('08:00') must be after previews.schedule.start ('18:00') on the same day");
  });

  test('with working hours, 7 previewed services fit the 51,200 bytes of an inline template and 8 do not', () => {
    const names = ['api', 'web', 'worker', 'admin', 'auth', 'billing', 'search', 'mail'];
    const previewOf = (count: number) => {
      const app = testApp();
      const envStack = new Stack(app, 'Env', { env: TEST_ENV });
      const environment = new EcsStagingEnvironment(envStack, 'Staging', {
        domain: { domainName: 'staging.example.com', hostedZone: testZone(envStack) }, schedule: OFFICE_HOURS, previews: {},
      });
      names.slice(0, count).forEach((name, i) => environment.addService(name, i === 0 ? {} : { hostHeaders: [`${name}.staging.example.com`] }));
      new StagingPreviewStack(app, 'Preview', { environment, pullRequest: 12345, slot: 0, imageTag: 'pr-12345-0123456789ab' });
      return () => app.synth();
    };
    expect(previewOf(7)).not.toThrow();
    expect(previewOf(8)).toThrow(/the preview's template is 5\d{4} bytes \(8 previewed services, about \d{4} bytes each\).*about 7 fit/);
  });
});
