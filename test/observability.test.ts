import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { EcsStagingEnvironment, StagingObservability, StagingService } from '../src';
import { testStack } from './harness/apps';

const NO_SUBSCRIBER = 'Nobody hears the alarms: the alarm topic has no subscriber. Set observability.alarmEmails (alarm_emails), '
  + 'or bring a topic you watch with observability.alarmTopic (alarm_topic). [ack: cdk-ecs-staging:no-alarm-subscriber]';

const IMPORTED_KEY = 'The topicEncryptionKey (topic_encryption_key) you imported keeps its own key policy, which this stack cannot change: '
  + 'until it allows CloudWatch and EventBridge to use the key, no alarm and no failed-deployment notice reaches the topic '
  + '(https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services). Add these two statements to the key policy: '
  + '{"Effect":"Allow","Principal":{"Service":"cloudwatch.amazonaws.com"},"Action":["kms:Decrypt","kms:GenerateDataKey*"],"Resource":"*"} and '
  + '{"Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":["kms:Decrypt","kms:GenerateDataKey*"],"Resource":"*"}. '
  + '[ack: cdk-ecs-staging:imported-topic-key]';

/** The alarms of a template, by the end of their logical ID. */
function alarmsOf(template: Template): Record<string, any> {
  return template.findResources('AWS::CloudWatch::Alarm');
}

describe('StagingObservability', () => {
  describe('in an environment with alarm emails and two services', () => {
    let parent: Stack;
    let env: EcsStagingEnvironment;
    let web: StagingService;
    let api: StagingService;
    let template: Template;
    let webTemplate: Template;
    beforeAll(() => {
      parent = testStack();
      env = new EcsStagingEnvironment(parent, 'Staging', { observability: { alarmEmails: ['oncall@example.com'] } });
      web = env.addService('web', { desiredCount: 2 });
      api = env.addService('api', { pathPatterns: ['/api/*'], autoScaling: { minCapacity: 3, maxCapacity: 6 }, alarms: { errorsPerMinute: 20, cpuPercent: 0 } });
      template = Template.fromStack(parent);
      webTemplate = Template.fromStack(Stack.of(web));
    });

    test('pages through one SNS topic that only accepts TLS, with the email subscribed', () => {
      template.resourceCountIs('AWS::SNS::Topic', 1);
      template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
      template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
      });
      // The policy replaces SNS's default one: the account's alarms and the events rule are allowed to publish, no one else.
      const [policy] = Object.values(template.findResources('AWS::SNS::TopicPolicy'));
      const allows = policy.Properties.PolicyDocument.Statement.filter((s: any) => s.Effect === 'Allow');
      expect(allows.map((s: any) => s.Principal.Service).sort()).toEqual(['cloudwatch.amazonaws.com', 'events.amazonaws.com']);
      const alarmsAllow = allows.find((s: any) => s.Principal.Service === 'cloudwatch.amazonaws.com');
      expect(alarmsAllow.Action).toBe('sns:Publish');
      expect(alarmsAllow.Condition.StringEquals).toEqual({ 'aws:SourceAccount': '123456789012' });
      expect(JSON.stringify(alarmsAllow.Condition.ArnLike)).toContain(':cloudwatch:us-east-1:123456789012:alarm:*');
      expect(env.observability.alarmTopic).toBeDefined();
      Annotations.fromStack(parent).hasNoWarning('*', Match.stringLikeRegexp('no-alarm-subscriber'));
    });

    test('gives each service its alarm pack, tuned for low traffic, with alarm and OK actions to the topic', () => {
      const alarms = Object.values(alarmsOf(webTemplate)).map((a) => a.Properties);
      expect(alarms).toHaveLength(5);
      expect(web.alarms.all).toHaveLength(5);
      const byDescription = (text: string) => alarms.find((a) => a.AlarmDescription.includes(text));
      // Errors: a burst of 5 target 5XX or connection errors in a minute; one failed request never pages; no traffic is fine.
      expect(byDescription('5XX')).toMatchObject({ Threshold: 5, EvaluationPeriods: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching' });
      expect(byDescription('5XX').Metrics.map((m: any) => m.Expression ?? m.MetricStat?.Metric?.MetricName)).toEqual(
        expect.arrayContaining(['FILL(errors5xx, 0) + FILL(connectionErrors, 0)', 'HTTPCode_Target_5XX_Count', 'TargetConnectionErrorCount']));
      // Unhealthy targets for 3 minutes.
      expect(byDescription('unhealthy')).toMatchObject({ MetricName: 'UnHealthyHostCount', Threshold: 0, EvaluationPeriods: 3, TreatMissingData: 'notBreaching' });
      // Fewer healthy targets than the service's 2 tasks for 5 minutes; no data at all (a dead service without traffic) pages too.
      expect(byDescription('healthy targets')).toMatchObject({
        MetricName: 'HealthyHostCount', Threshold: 2, ComparisonOperator: 'LessThanThreshold', EvaluationPeriods: 7, DatapointsToAlarm: 5, TreatMissingData: 'breaching',
      });
      expect(byDescription('CPU')).toMatchObject({ MetricName: 'CPUUtilization', Threshold: 90, Period: 300 });
      expect(byDescription('memory')).toMatchObject({ MetricName: 'MemoryUtilization', Threshold: 90 });
      for (const alarm of alarms) {
        expect(JSON.stringify(alarm.AlarmActions)).toMatch(/ObservabilityAlarmTopic/);
        expect(alarm.OKActions).toEqual(alarm.AlarmActions);
      }
    });

    test('takes thresholds and turns single alarms off', () => {
      const alarms = Object.values(alarmsOf(Template.fromStack(Stack.of(api)))).map((a) => a.Properties);
      expect(alarms).toHaveLength(4);
      expect(api.alarms.cpu).toBeUndefined();
      expect(alarms.find((a) => a.AlarmDescription.includes('5XX'))).toMatchObject({ Threshold: 20 });
      // With autoScaling, the minimum is minCapacity.
      expect(alarms.find((a) => a.AlarmDescription.includes('healthy targets'))).toMatchObject({ Threshold: 3 });
    });

    test('rolls a deployment back on the errors and unhealthy alarms, besides the circuit breaker', () => {
      webTemplate.hasResourceProperties('AWS::ECS::Service', {
        DeploymentConfiguration: Match.objectLike({
          DeploymentCircuitBreaker: { Enable: true, Rollback: true },
          Alarms: {
            AlarmNames: [{ Ref: alarmId(web, 'errors') }, { Ref: alarmId(web, 'unhealthyHosts') }],
            Enable: true,
            Rollback: true,
          },
        }),
      });
    });

    test('alarms on the load balancer\'s own 5XX', () => {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'HTTPCode_ELB_5XX_Count',
        Namespace: 'AWS/ApplicationELB',
        Threshold: 10,
        TreatMissingData: 'notBreaching',
      });
    });

    test('reports failed deployments and tasks that fail to start of this environment\'s services, readably', () => {
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          'source': ['aws.ecs'],
          'detail-type': ['ECS Deployment State Change', 'ECS Service Action'],
          'resources': [{ prefix: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith([Match.stringLikeRegexp(':service/$')])]) }) }],
          'detail': { eventName: ['SERVICE_DEPLOYMENT_FAILED', 'SERVICE_TASK_START_IMPAIRED', 'SERVICE_TASK_PLACEMENT_FAILURE', 'SERVICE_TASK_CONFIGURATION_FAILURE'] },
        },
        Targets: [Match.objectLike({
          InputTransformer: {
            InputPathsMap: {
              'detail-eventName': '$.detail.eventName', 'resources-0-': '$.resources[0]', 'time': '$.time', 'detail-reason': '$.detail.reason', 'detail-reasons': '$.detail.reasons',
            },
            InputTemplate: '"Staging environment staging: <detail-eventName> on <resources-0-> at <time>. Reason: <detail-reason><detail-reasons>"',
          },
        })],
      });
      // The prefix is the cluster's: arn:...:service/<cluster name>/
      const [rule] = Object.values(template.findResources('AWS::Events::Rule'));
      expect(JSON.stringify(rule.Properties.EventPattern.resources)).toContain(JSON.stringify(parent.resolve(env.cluster.clusterName)));
    });

    test('shows one dashboard: the load balancer first, then each service', () => {
      template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
      const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
      const body = JSON.stringify(dashboard.Properties.DashboardBody);
      expect(body.indexOf('Load balancer: requests')).toBeLessThan(body.indexOf('web: requests and 5XX'));
      expect(body.indexOf('web: requests and 5XX')).toBeLessThan(body.indexOf('api: requests and 5XX'));
      for (const metric of ['RequestCount', 'TargetResponseTime', 'HTTPCode_Target_5XX_Count', 'HealthyHostCount', 'UnHealthyHostCount', 'CPUUtilization', 'MemoryUtilization', 'RunningTaskCount']) {
        expect(body).toContain(metric);
      }
      expect(body).toMatch(/p50.*p90.*p99/);
    });
  });

  /** The logical ID (in its nested stack) of one of a service's alarms. */
  function alarmId(service: StagingService, alarm: 'errors' | 'unhealthyHosts'): string {
    return Stack.of(service).getLogicalId(service.alarms[alarm]!.node.defaultChild as any);
  }

  test('warns at synth when nobody hears the alarms', () => {
    const stack = testStack();
    new EcsStagingEnvironment(stack, 'Staging');
    Annotations.fromStack(stack).hasWarning('/Test/Staging/Observability', NO_SUBSCRIBER);
  });

  test('sends to a topic you bring, creating none', () => {
    const stack = testStack();
    const topic = sns.Topic.fromTopicArn(stack, 'Topic', 'arn:aws:sns:us-east-1:123456789012:oncall');
    const env = new EcsStagingEnvironment(stack, 'Staging', { observability: { alarmTopic: topic } });
    expect(env.observability.alarmTopic).toBe(topic);
    Template.fromStack(stack).resourceCountIs('AWS::SNS::Topic', 0);
    Annotations.fromStack(stack).hasNoWarning('*', Match.stringLikeRegexp('no-alarm-subscriber'));
    Annotations.fromStack(stack).hasWarning('/Test/Staging/Observability', Match.stringLikeRegexp('must allow cloudwatch.amazonaws.com .* and events.amazonaws.com'));
  });

  test('lets CloudWatch and EventBridge use the key of an encrypted topic', () => {
    const stack = testStack();
    const key = new kms.Key(stack, 'TopicKey', { enableKeyRotation: true });
    new EcsStagingEnvironment(stack, 'Staging', { observability: { topicEncryptionKey: key, alarmEmails: ['a@example.com'] } });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    const statements = JSON.stringify(template.findResources('AWS::KMS::Key'));
    expect(statements).toContain('cloudwatch.amazonaws.com');
    expect(statements).toContain('events.amazonaws.com');
  });

  test('warns with the two key-policy statements when the topic key is imported', () => {
    // GIVEN: a key of another stack or account, whose key policy this stack cannot write
    const stack = testStack();
    const key = kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555');
    // WHEN
    new EcsStagingEnvironment(stack, 'Staging', { observability: { topicEncryptionKey: key, alarmEmails: ['a@example.com'] } });
    // THEN: the topic is encrypted with it, and the warning gives the statements to add
    Template.fromStack(stack).hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555' });
    Annotations.fromStack(stack).hasWarning('/Test/Staging/Observability', IMPORTED_KEY);
  });

  test('lets CloudWatch and EventBridge use a key created in the app, in its key policy, without a warning', () => {
    const stack = testStack();
    const key = new kms.Key(stack, 'TopicKey', { enableKeyRotation: true });
    new EcsStagingEnvironment(stack, 'Staging', { observability: { topicEncryptionKey: key, alarmEmails: ['a@example.com'] } });
    const [keyResource] = Object.values(Template.fromStack(stack).findResources('AWS::KMS::Key'));
    const statements = keyResource.Properties.KeyPolicy.Statement;
    for (const service of ['cloudwatch.amazonaws.com', 'events.amazonaws.com']) {
      expect(statements).toContainEqual(expect.objectContaining({
        Effect: 'Allow', Principal: { Service: service }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'], Resource: '*',
      }));
    }
    Annotations.fromStack(stack).hasNoWarning('*', Match.stringLikeRegexp('imported-topic-key'));
  });

  test('names the load balancer of a service\'s dashboard metrics by its full name, not from the listener\'s ARN', () => {
    const stack = testStack();
    const env = new EcsStagingEnvironment(stack, 'Staging', { observability: { alarmEmails: ['a@example.com'] } });
    env.addService('web');
    const [dashboard] = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard'));
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    // Three Fn::Select over Fn::Split of the listener's ARN a metric made the body three times longer.
    expect(body).not.toContain('Fn::Split');
    expect(body).toContain('"TargetGroup\\",\\""');
    expect(body).toContain(`"Fn::GetAtt":["${stack.getLogicalId(env.edge.loadBalancer.node.defaultChild as any)}","LoadBalancerFullName"]`);
    expect(env.observability.dashboards).toEqual([env.observability.dashboard]);
  });

  test('turns each part off', () => {
    const stack = testStack();
    const env = new EcsStagingEnvironment(stack, 'Staging', { observability: { alarms: false, dashboard: false, deploymentEvents: false, alarmEmails: ['a@example.com'] } });
    const web = env.addService('web');
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
    template.resourceCountIs('AWS::Events::Rule', 0);
    template.resourceCountIs('AWS::CloudWatch::Alarm', 0);
    Template.fromStack(Stack.of(web)).resourceCountIs('AWS::CloudWatch::Alarm', 0);
    Template.fromStack(Stack.of(web)).hasResourceProperties('AWS::ECS::Service', {
      DeploymentConfiguration: Match.objectLike({ Alarms: { AlarmNames: [], Enable: false, Rollback: false } }),
    });
    expect(web.alarms.all).toEqual([]);
  });

  test('keeps the dashboard of 10 services within CloudWatch\'s limits (500 widgets, 2500 metrics)', () => {
    const stack = testStack();
    const env = new EcsStagingEnvironment(stack, 'Staging');
    for (let i = 0; i < 10; i++) env.addService(`s${i}`, i === 0 ? {} : { pathPatterns: [`/s${i}/*`] });
    const [dashboard] = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard'));
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    const widgets = (body.match(/\\"type\\":\\"(metric|text)\\"/g) ?? []).length;
    const metrics = (body.match(/\[\\"AWS\/|\[\\"ECS\//g) ?? []).length;
    // The title, 3 load balancer widgets, 5 a service.
    expect(widgets).toBe(1 + 3 + 10 * 5);
    expect(widgets).toBeLessThanOrEqual(500);
    expect(metrics).toBeGreaterThanOrEqual(10 * 10);
    expect(metrics).toBeLessThanOrEqual(2500);
  });

  test('works alone with a topic and a dashboard of its own', () => {
    const app = new App();
    const stack = new Stack(app, 'Alone');
    const observability = new StagingObservability(stack, 'Observability', { environmentName: 'qa', alarmEmails: ['qa@example.com'] });
    expect(observability.dashboard).toBeDefined();
    Template.fromStack(stack).resourceCountIs('AWS::SNS::Topic', 1);
  });

  describe('fails at synth on bad input', () => {
    test('fails when an alarm email is not an address', () => {
      expect(() => new EcsStagingEnvironment(testStack(), 'Staging', { observability: { alarmEmails: ['oncall'] } })).toThrow(
        "Test/Staging/Observability: alarmEmails must hold email addresses (got 'oncall'); for example 'oncall@example.com'");
    });

    test('fails when a topic is brought together with a key for a new one', () => {
      const stack = testStack();
      const topic = sns.Topic.fromTopicArn(stack, 'Topic', 'arn:aws:sns:us-east-1:123456789012:oncall');
      const key = kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555');
      expect(() => new EcsStagingEnvironment(stack, 'Staging', { observability: { alarmTopic: topic, topicEncryptionKey: key } })).toThrow(
        'Test/Staging/Observability: alarmTopic and topicEncryptionKey cannot be used together (got both); the key encrypts a new topic: encrypt your topic yourself, or drop alarmTopic');
    });

    test('fails when the load balancer threshold is below 1', () => {
      expect(() => new EcsStagingEnvironment(testStack(), 'Staging', { observability: { loadBalancerErrorsPerMinute: 0 } })).toThrow(
        'Test/Staging/Observability: loadBalancerErrorsPerMinute must be an integer from 1 to 1000000 (got 0); page on 1 or more load balancer 5XX a minute');
    });

    test('fails when a threshold is out of range', () => {
      expect(() => new EcsStagingEnvironment(testStack(), 'Staging').addService('web', { alarms: { cpuPercent: 120 } })).toThrow(
        'Test/Staging/web/Service/Alarms: alarms.cpuPercent must be an integer from 0 to 100 (got 120); use 0 to turn the alarm off');
    });
  });
});
