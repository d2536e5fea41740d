import { Annotations, ArnFormat, Duration, Resource, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { notify } from './private/alarm-actions';
import { StagingValidationError } from './private/errors';
import { acknowledge } from './private/posture';
import { DASHBOARD_WIDGETS } from './private/quotas';
import { validateIntegerRange } from './private/validation';
import type { IStagingService } from './service-contract';

/**
 * What the environment watches, and who hears of it.
 */
export interface StagingObservabilityOptions {
  /**
   * Email addresses subscribed to the alarm topic (each confirms by email once).
   *
   * @default - none (a synth warning says that nobody hears the alarms)
   */
  readonly alarmEmails?: string[];

  /**
   * A topic of yours to send alarms and failed-deployment events to, instead of a new one.
   *
   * @default - a new topic
   */
  readonly alarmTopic?: sns.ITopic;

  /**
   * Customer-managed KMS key to encrypt the new topic with; CloudWatch and EventBridge are allowed
   * to use it. A key created in your app gets these grants in its key policy; an imported key keeps
   * its policy, and a synth warning gives the two statements to add to it.
   *
   * @default - the topic is encrypted by SNS's service-side default (no KMS key)
   */
  readonly topicEncryptionKey?: kms.IKey;

  /**
   * Create the alarms: each service's alarm pack and the load balancer's 5XX alarm.
   *
   * @default true
   */
  readonly alarms?: boolean;

  /**
   * Create the environment's CloudWatch dashboard.
   *
   * @default true
   */
  readonly dashboard?: boolean;

  /**
   * Send failed deployments and tasks that fail to start (ECS events of this environment's
   * services) to the topic.
   *
   * @default true
   */
  readonly deploymentEvents?: boolean;

  /**
   * 5XX responses the load balancer itself may return in one minute before it pages (it returns
   * them when no target is healthy, a target resets a connection or times out).
   *
   * @default 10
   */
  readonly loadBalancerErrorsPerMinute?: number;
}

/**
 * Properties of a `StagingObservability`.
 */
export interface StagingObservabilityProps extends StagingObservabilityOptions {
  /** Name of the environment, in messages and the dashboard. */
  readonly environmentName: string;

  /**
   * The cluster whose services' deployment events are reported.
   *
   * @default - no deployment events
   */
  readonly cluster?: ecs.ICluster;

  /**
   * The load balancer watched and shown on the dashboard.
   *
   * @default - no load balancer alarm or widgets
   */
  readonly loadBalancer?: elbv2.ApplicationLoadBalancer;

  /**
   * The environment's services (or its previews) sleep outside working hours. The load balancer then
   * answers their routes with 503 (no target) at night, which its 5XX alarm leaves out; a service
   * without healthy targets in the day still pages through its own below-minimum alarm. The
   * environment sets it with working hours or previews.
   *
   * @default false
   */
  readonly servicesSleep?: boolean;
}

/**
 * Observability of a staging environment: an SNS topic that pages, the load
 * balancer's 5XX alarm, failed deployments and tasks that fail to start as readable messages, and
 * one dashboard. Each service's alarm pack is its own (`StagingServiceAlarms`).
 */
export class StagingObservability extends Construct {
  /** Where alarms and failed-deployment events go. */
  public readonly alarmTopic: sns.ITopic;
  /** The environment's dashboard, unless turned off. */
  public readonly dashboard?: cloudwatch.Dashboard;
  /** The rule that reports failed deployments and tasks that fail to start, unless turned off. */
  public readonly deploymentEventsRule?: events.Rule;
  /** The load balancer's 5XX alarm, unless alarms are turned off. */
  public readonly loadBalancerErrorsAlarm?: cloudwatch.Alarm;
  /** Whether services get their alarm packs. */
  public readonly alarmsEnabled: boolean;

  private readonly environmentName: string;
  private readonly loadBalancer?: elbv2.ApplicationLoadBalancer;
  private readonly _dashboards: DashboardPage[] = [];

  constructor(scope: Construct, id: string, props: StagingObservabilityProps) {
    super(scope, id);
    validateObservabilityProps(this, props);
    this.alarmsEnabled = props.alarms ?? true;
    this.alarmTopic = props.alarmTopic ?? this.createTopic(props);
    this.subscribe(props);
    if (this.alarmsEnabled && props.loadBalancer) {
      this.loadBalancerErrorsAlarm = this.createLoadBalancerErrorsAlarm(props, props.loadBalancer);
    }
    if ((props.deploymentEvents ?? true) && props.cluster) {
      this.deploymentEventsRule = this.createDeploymentEventsRule(props.environmentName, props.cluster);
    }
    this.environmentName = props.environmentName;
    this.loadBalancer = props.loadBalancer;
    if (props.dashboard ?? true) {
      this.dashboard = this.addDashboard();
    }
  }

  /** Subscribes the email addresses to the topic, and warns when nobody may hear it. */
  private subscribe(props: StagingObservabilityProps): void {
    for (const email of props.alarmEmails ?? []) {
      this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(email));
    }
    if (props.alarmTopic) {
      Annotations.of(this).addWarningV2('cdk-ecs-staging:brought-topic-policy',
        'The alarm topic you brought keeps its own policy: it must allow cloudwatch.amazonaws.com (the alarms) and events.amazonaws.com (failed-deployment events) to sns:Publish, or no notice arrives.');
    }
    if (!props.alarmTopic && (props.alarmEmails ?? []).length === 0) {
      Annotations.of(this).addWarningV2('cdk-ecs-staging:no-alarm-subscriber',
        'Nobody hears the alarms: the alarm topic has no subscriber. Set observability.alarmEmails (alarm_emails), or bring a topic you watch with observability.alarmTopic (alarm_topic).');
    }
  }

  /**
   * The load balancer's own 5XX alarm (no healthy target, a reset connection or a timeout). With
   * sleeping services it leaves out 503, which the load balancer answers for a service asleep.
   */
  private createLoadBalancerErrorsAlarm(props: StagingObservabilityProps, loadBalancer: elbv2.ApplicationLoadBalancer): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, 'LoadBalancerErrors', {
      alarmDescription: props.servicesSleep
        ? `${props.environmentName}: the load balancer returned 5XX other than 503 itself (a reset connection or a timeout); 503 (no healthy target: a sleeping service or preview) is left to each service's own alarms`
        : `${props.environmentName}: the load balancer returned 5XX itself (no healthy target, a reset connection or a timeout)`,
      metric: props.servicesSleep ? new cloudwatch.MathExpression({
        expression: 'FILL(elb5xx, 0) - FILL(elb503, 0)',
        usingMetrics: {
          elb5xx: loadBalancer.metrics.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, { period: Duration.minutes(1), statistic: 'Sum' }),
          elb503: loadBalancer.metrics.httpCodeElb(elbv2.HttpCodeElb.ELB_503_COUNT, { period: Duration.minutes(1), statistic: 'Sum' }),
        },
        period: Duration.minutes(1),
        label: 'Load balancer 5XX other than 503',
      }) : loadBalancer.metrics.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, { period: Duration.minutes(1), statistic: 'Sum' }),
      threshold: props.loadBalancerErrorsPerMinute ?? DEFAULT_LOAD_BALANCER_ERRORS_PER_MINUTE,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    notify(alarm, this.alarmTopic);
    return alarm;
  }

  /**
   * The environment's dashboards: `dashboard` first, then one more each time the services fill a
   * dashboard to CloudWatch's 500 widgets (99 services a dashboard). Empty when turned off.
   */
  public get dashboards(): cloudwatch.Dashboard[] {
    return this._dashboards.map((page) => page.dashboard);
  }

  /**
   * Adds a service's row to the dashboard: requests, latency p50/p90/p99, 5XX, healthy and
   * unhealthy hosts, CPU, memory and running tasks.
   *
   * @param service the service to show
   */
  public addService(service: IStagingService): void {
    if (!this.dashboard) {
      return;
    }
    const tg = service.targetGroup;
    const minute = { period: Duration.minutes(1) };
    const ecsService = service.fargateService;
    const runningTasks = new cloudwatch.Metric({
      namespace: 'ECS/ContainerInsights',
      metricName: 'RunningTaskCount',
      dimensionsMap: { ClusterName: ecsService.cluster.clusterName, ServiceName: ecsService.serviceName },
      statistic: 'Average',
      ...minute,
    });
    const target = (metricName: string, statistic: string, label?: string): cloudwatch.IMetric =>
      this.targetGroupMetric(tg, metricName, statistic, label);
    this.dashboardFor(SERVICE_WIDGETS).addWidgets(
      new cloudwatch.TextWidget({ markdown: `## ${service.serviceName}`, width: 24, height: 1 }),
      new cloudwatch.GraphWidget({
        title: `${service.serviceName}: requests and 5XX`,
        left: [target('RequestCount', 'Sum')],
        right: [target('HTTPCode_Target_5XX_Count', 'Sum')],
        width: 6,
      }),
      new cloudwatch.GraphWidget({
        title: `${service.serviceName}: latency`,
        left: ['p50', 'p90', 'p99'].map((statistic) => target('TargetResponseTime', statistic, statistic)),
        width: 6,
      }),
      new cloudwatch.GraphWidget({
        title: `${service.serviceName}: hosts and tasks`,
        left: [target('HealthyHostCount', 'Minimum'), target('UnHealthyHostCount', 'Maximum')],
        right: [runningTasks],
        width: 6,
      }),
      new cloudwatch.GraphWidget({
        title: `${service.serviceName}: CPU and memory`,
        left: [ecsService.metricCpuUtilization(minute), ecsService.metricMemoryUtilization(minute)],
        leftYAxis: { min: 0, max: 100 },
        width: 6,
      }),
    );
  }

  /**
   * A one-minute metric of a service's target group. With the environment's load balancer known, its
   * `LoadBalancer` dimension is the load balancer's own full name (one short `Fn::GetAtt`), the value
   * that aws-cdk-lib's `targetGroup.metrics` derives from the listener's ARN with three
   * `Fn::Select`/`Fn::Split` each time: the same dashboard, at a third of the template bytes a service.
   */
  private targetGroupMetric(tg: elbv2.ApplicationTargetGroup, metricName: string, statistic: string, label?: string): cloudwatch.IMetric {
    const options = { period: Duration.minutes(1), statistic, label };
    if (!this.loadBalancer) {
      return tg.metrics.custom(metricName, options);
    }
    return new cloudwatch.Metric({
      namespace: 'AWS/ApplicationELB',
      metricName,
      dimensionsMap: { LoadBalancer: this.loadBalancer.loadBalancerFullName, TargetGroup: tg.targetGroupFullName },
      ...options,
    });
  }

  private createTopic(props: StagingObservabilityProps): sns.Topic {
    const topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: `Staging ${props.environmentName} alarms`,
      enforceSSL: true,
      masterKey: props.topicEncryptionKey,
    });
    // The topic's policy replaces SNS's default one, so the alarms of this account and region need an
    // allow of their own (CloudWatch publishes as its service principal).
    const stack = Stack.of(this);
    topic.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'AlarmsPublish',
      actions: ['sns:Publish'],
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      resources: [topic.topicArn],
      conditions: {
        ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }) },
        StringEquals: { 'aws:SourceAccount': stack.account },
      },
    }));
    if (props.topicEncryptionKey && Resource.isOwnedResource(props.topicEncryptionKey)) {
      // Alarms and EventBridge publish as services: the key must let them encrypt for the topic
      // (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services).
      for (const service of TOPIC_KEY_PUBLISHERS) {
        props.topicEncryptionKey.grant(new iam.ServicePrincipal(service), ...TOPIC_KEY_ACTIONS);
      }
    } else if (props.topicEncryptionKey) {
      // An imported key's policy cannot be written from here, and a grant to a service principal has
      // no identity policy to fall back on: aws-cdk-lib drops it without a word.
      Annotations.of(this).addWarningV2('cdk-ecs-staging:imported-topic-key',
        'The topicEncryptionKey (topic_encryption_key) you imported keeps its own key policy, which this stack cannot change: '
        + 'until it allows CloudWatch and EventBridge to use the key, no alarm and no failed-deployment notice reaches the topic '
        + '(https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services). Add these two statements to the key policy: '
        + TOPIC_KEY_PUBLISHERS.map((service) => JSON.stringify({
          Effect: 'Allow', Principal: { Service: service }, Action: TOPIC_KEY_ACTIONS, Resource: '*',
        })).join(' and ') + '.');
    } else {
      acknowledge(topic, {
        reason: 'The topic carries alarm and deployment notices, no data. A KMS key would need a key policy for CloudWatch and EventBridge: pass observability.topicEncryptionKey where encryption with a key is required.',
        nag: ['AwsSolutions-SNS2'],
        guard: ['sns_encrypted_kms'],
        checkov: ['CKV_AWS_26'],
      });
    }
    return topic;
  }

  private createDeploymentEventsRule(environmentName: string, cluster: ecs.ICluster): events.Rule {
    const stack = Stack.of(this);
    // Service ARNs of this cluster: arn:<partition>:ecs:<region>:<account>:service/<cluster>/<service>.
    const servicePrefix = stack.formatArn({ service: 'ecs', resource: 'service', resourceName: `${cluster.clusterName}/`, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    const field = (path: string) => events.EventField.fromPath(path);
    const rule = new events.Rule(this, 'DeploymentEvents', {
      description: `Failed deployments and tasks that fail to start in the ${environmentName} staging environment`,
      eventPattern: {
        source: ['aws.ecs'],
        detailType: ['ECS Deployment State Change', 'ECS Service Action'],
        resources: events.Match.prefix(servicePrefix),
        detail: { eventName: DEPLOYMENT_EVENT_NAMES },
      },
    });
    const topic = this.alarmTopic;
    const message = events.RuleTargetInput.fromText(
      `Staging environment ${environmentName}: ${field('$.detail.eventName')} on ${field('$.resources[0]')} at ${field('$.time')}. `
      + `Reason: ${field('$.detail.reason')}${field('$.detail.reasons')}`);
    // EventBridge publishes as its service principal, allowed by the topic's policy.
    topic.addToResourcePolicy(new iam.PolicyStatement({
      actions: ['sns:Publish'],
      principals: [new iam.ServicePrincipal('events.amazonaws.com')],
      resources: [topic.topicArn],
      conditions: { ArnEquals: { 'aws:SourceArn': rule.ruleArn } },
    }));
    rule.addTarget({ bind: () => ({ arn: topic.topicArn, input: message }) });
    return rule;
  }

  /**
   * The dashboard that takes `widgets` more: the last one, or a new one when the last would pass
   * CloudWatch's 500 widgets. The first keeps its construct ID (`Dashboard`), and each further one
   * gets `Dashboard2`, `Dashboard3`...: adding services never renames or replaces a dashboard.
   */
  private dashboardFor(widgets: number): cloudwatch.Dashboard {
    const last = this._dashboards[this._dashboards.length - 1];
    if (last.widgets + widgets <= DASHBOARD_WIDGETS) {
      last.widgets += widgets;
      return last.dashboard;
    }
    const next = this.addDashboard();
    this._dashboards[this._dashboards.length - 1].widgets += widgets;
    return next;
  }

  /** Adds a dashboard: the environment's title and, with the load balancer known, its widgets. */
  private addDashboard(): cloudwatch.Dashboard {
    const number = this._dashboards.length + 1;
    const dashboard = new cloudwatch.Dashboard(this, number === 1 ? 'Dashboard' : `Dashboard${number}`, {
      defaultInterval: Duration.hours(3),
      periodOverride: cloudwatch.PeriodOverride.AUTO,
    });
    const title = number === 1 ? `# Staging environment ${this.environmentName}` : `# Staging environment ${this.environmentName} (${number})`;
    dashboard.addWidgets(new cloudwatch.TextWidget({ markdown: title, width: 24, height: 1 }));
    let widgets = 1;
    if (this.loadBalancer) {
      widgets += this.addLoadBalancerWidgets(dashboard, this.loadBalancer);
    }
    this._dashboards.push({ dashboard, widgets });
    return dashboard;
  }

  /** Adds the load balancer's widgets to a dashboard; returns how many. */
  private addLoadBalancerWidgets(dashboard: cloudwatch.Dashboard, loadBalancer: elbv2.ApplicationLoadBalancer): number {
    const minute = { period: Duration.minutes(1), statistic: 'Sum' };
    const widgets = [
      new cloudwatch.GraphWidget({
        title: 'Load balancer: requests',
        left: [loadBalancer.metrics.requestCount(minute)],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Load balancer: 5XX (its own and the targets\')',
        left: [
          loadBalancer.metrics.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, minute),
          loadBalancer.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, minute),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Load balancer: latency',
        left: ['p50', 'p90', 'p99'].map((statistic) => loadBalancer.metrics.targetResponseTime({ period: Duration.minutes(1), statistic, label: statistic })),
        width: 8,
      }),
    ];
    dashboard.addWidgets(...widgets);
    return widgets.length;
  }
}

/** A dashboard of the environment and the widgets the library put on it. */
interface DashboardPage {
  readonly dashboard: cloudwatch.Dashboard;
  widgets: number;
}

/** Widgets of a service's row: its title and four graphs. */
const SERVICE_WIDGETS = 5;

/** The services that publish to the alarm topic: CloudWatch (alarms) and EventBridge (deployment events). */
const TOPIC_KEY_PUBLISHERS = ['cloudwatch.amazonaws.com', 'events.amazonaws.com'];

/** What a publishing service needs of the topic's KMS key (SNS developer guide, key management). */
const TOPIC_KEY_ACTIONS = ['kms:Decrypt', 'kms:GenerateDataKey*'];

/** The ECS events that mean a deployment failed or tasks cannot start. */
const DEPLOYMENT_EVENT_NAMES = [
  'SERVICE_DEPLOYMENT_FAILED',
  'SERVICE_TASK_START_IMPAIRED',
  'SERVICE_TASK_PLACEMENT_FAILURE',
  'SERVICE_TASK_CONFIGURATION_FAILURE',
];

const DEFAULT_LOAD_BALANCER_ERRORS_PER_MINUTE = 10;

/**
 * Thresholds of a service's alarms. A threshold of 0 turns its alarm off.
 */
export interface StagingServiceAlarmOptions {
  /**
   * Create the service's alarms at all.
   *
   * @default true
   */
  readonly enabled?: boolean;

  /**
   * 5XX responses and connection errors of the service's targets in one minute before it pages
   * (and rolls a deployment back). A single failed request never pages.
   *
   * @default 5
   */
  readonly errorsPerMinute?: number;

  /**
   * Minutes in a row with an unhealthy target before it pages (and rolls a deployment back).
   *
   * @default 3
   */
  readonly unhealthyMinutes?: number;

  /**
   * Minutes in a row with fewer healthy targets than the service's minimum before it pages. A
   * service without any data (nothing registered, nothing reporting) counts as below, unless it
   * sleeps on a working-hours schedule: then the alarm follows the tasks ECS is asked to run, and a
   * sleeping service stays OK.
   *
   * @default 5
   */
  readonly belowMinimumMinutes?: number;

  /**
   * Average CPU (%) over 5 minutes that pages.
   *
   * @default 90
   */
  readonly cpuPercent?: number;

  /**
   * Average memory (%) over 5 minutes that pages.
   *
   * @default 90
   */
  readonly memoryPercent?: number;

  /**
   * Roll a deployment back when its errors or unhealthy alarm fires (besides the circuit breaker).
   *
   * @default true
   */
  readonly rollbackOnAlarm?: boolean;
}

/**
 * Properties of a `StagingServiceAlarms`.
 */
export interface StagingServiceAlarmsProps extends StagingServiceAlarmOptions {
  /** The service watched. */
  readonly service: IStagingService;
  /** Fewest healthy targets the service should have. */
  readonly minimumHealthyTasks: number;
  /**
   * Where alarm and OK notices go.
   *
   * @default - no notices (the alarms still roll deployments back)
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * The service scales to zero tasks outside working hours: the below-minimum alarm then measures
   * healthy targets against the tasks ECS is asked to run (Container Insights' desired-task count),
   * so a service asleep on purpose stays OK.
   *
   * @default false
   */
  readonly sleepsOnSchedule?: boolean;
  /**
   * Whether the cluster has Container Insights. A service that sleeps on schedule needs it for its
   * below-minimum alarm; without it that alarm is left out (with a synth warning).
   *
   * @default true
   */
  readonly containerInsights?: boolean;
}

/**
 * The alarm pack of one service, tuned for staging traffic: errors in bursts (not one failed
 * request), unhealthy targets for minutes, fewer healthy targets than the minimum (a dead service
 * with no traffic pages too), CPU and memory high. The errors and unhealthy alarms roll a
 * deployment back.
 */
export class StagingServiceAlarms extends Construct {
  /** 5XX and connection errors of the targets. */
  public readonly errors?: cloudwatch.Alarm;
  /** An unhealthy target for minutes. */
  public readonly unhealthyHosts?: cloudwatch.Alarm;
  /** Fewer healthy targets than the service's minimum. */
  public readonly belowMinimum?: cloudwatch.Alarm;
  /** CPU high. */
  public readonly cpu?: cloudwatch.Alarm;
  /** Memory high. */
  public readonly memory?: cloudwatch.Alarm;
  /** Every alarm of the pack. */
  public readonly all: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: StagingServiceAlarmsProps) {
    super(scope, id);
    validateAlarmOptions(this, props);
    if (props.enabled === false) {
      return;
    }
    const name = props.service.serviceName;
    this.errors = this.createErrorsAlarm(props);
    this.unhealthyHosts = this.createUnhealthyHostsAlarm(props);
    this.belowMinimum = this.createBelowMinimumAlarm(props);
    const fargateService = props.service.fargateService;
    this.cpu = this.utilization('Cpu', 'CPU', fargateService.metricCpuUtilization({ period: Duration.minutes(5) }), props.cpuPercent ?? 90, name, props.alarmTopic);
    this.memory = this.utilization('Memory', 'memory', fargateService.metricMemoryUtilization({ period: Duration.minutes(5) }), props.memoryPercent ?? 90, name, props.alarmTopic);

    const rollbackAlarms = [this.errors, this.unhealthyHosts].filter((a): a is cloudwatch.Alarm => a !== undefined);
    if ((props.rollbackOnAlarm ?? true) && rollbackAlarms.length > 0) {
      // Both alarms treat missing data as OK, so a new service starts its first deployment with them OK.
      props.service.fargateService.enableDeploymentAlarms(rollbackAlarms.map((a) => a.alarmName), { behavior: ecs.AlarmBehavior.ROLLBACK_ON_ALARM });
    }
  }

  /** 5XX responses and connection errors of the targets, in bursts: a single failed request never pages. */
  private createErrorsAlarm(props: StagingServiceAlarmsProps): cloudwatch.Alarm | undefined {
    const errorsPerMinute = props.errorsPerMinute ?? 5;
    if (errorsPerMinute <= 0) {
      return undefined;
    }
    const tg = props.service.targetGroup;
    const minute = Duration.minutes(1);
    return this.add('Errors', {
      alarmDescription: `${props.service.serviceName}: ${errorsPerMinute} or more 5XX responses or connection errors of its targets in a minute`,
      metric: new cloudwatch.MathExpression({
        expression: 'FILL(errors5xx, 0) + FILL(connectionErrors, 0)',
        usingMetrics: {
          errors5xx: tg.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period: minute, statistic: 'Sum' }),
          connectionErrors: tg.metrics.targetConnectionErrorCount({ period: minute, statistic: 'Sum' }),
        },
        period: minute,
        label: 'Target 5XX and connection errors',
      }),
      threshold: errorsPerMinute,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }, props.alarmTopic);
  }

  /** An unhealthy target for minutes in a row. */
  private createUnhealthyHostsAlarm(props: StagingServiceAlarmsProps): cloudwatch.Alarm | undefined {
    const unhealthyMinutes = props.unhealthyMinutes ?? 3;
    if (unhealthyMinutes <= 0) {
      return undefined;
    }
    return this.add('UnhealthyHosts', {
      alarmDescription: `${props.service.serviceName}: a target has been unhealthy for ${unhealthyMinutes} minutes`,
      metric: props.service.targetGroup.metrics.unhealthyHostCount({ period: Duration.minutes(1), statistic: 'Maximum' }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: unhealthyMinutes,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }, props.alarmTopic);
  }

  /**
   * Fewer healthy targets than the minimum for minutes (M of M+2: a task replaced in a minute or
   * two does not page). A service asleep on its schedule measures against the tasks ECS is asked
   * to run, which needs Container Insights; without it the alarm is left out, with a warning.
   */
  private createBelowMinimumAlarm(props: StagingServiceAlarmsProps): cloudwatch.Alarm | undefined {
    const belowMinimumMinutes = props.belowMinimumMinutes ?? 5;
    if (belowMinimumMinutes <= 0 || props.minimumHealthyTasks <= 0) {
      return undefined;
    }
    const name = props.service.serviceName;
    if (props.sleepsOnSchedule && props.containerInsights === false) {
      Annotations.of(this).addWarningV2('cdk-ecs-staging:below-minimum-without-insights',
        `Service '${name}' sleeps on its schedule and the cluster has no Container Insights: its below-minimum alarm is left out, `
        + 'because only Container Insights tells a service asleep on purpose from a dead one. Turn cluster.containerInsights (container_insights) on to keep it.');
      return undefined;
    }
    if (props.sleepsOnSchedule) {
      return this.createBelowDesiredAlarm(props, belowMinimumMinutes);
    }
    return this.add('BelowMinimum', {
      alarmDescription: `${name}: fewer than ${props.minimumHealthyTasks} healthy targets for ${belowMinimumMinutes} minutes`,
      metric: props.service.targetGroup.metrics.healthyHostCount({ period: Duration.minutes(1), statistic: 'Minimum' }),
      threshold: props.minimumHealthyTasks,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: belowMinimumMinutes + 2,
      datapointsToAlarm: belowMinimumMinutes,
      // No data means nothing registered or reporting: a dead service, even without traffic.
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    }, props.alarmTopic);
  }

  /**
   * The below-minimum alarm of a service that sleeps on its schedule: healthy targets short of
   * what ECS is asked to run, capped at the minimum: 0 while asleep (desired 0), and while a new or
   * waking service grows to its minimum.
   */
  private createBelowDesiredAlarm(props: StagingServiceAlarmsProps, belowMinimumMinutes: number): cloudwatch.Alarm {
    const minute = Duration.minutes(1);
    const minimum = props.minimumHealthyTasks;
    const ecsService = props.service.fargateService;
    return this.add('BelowMinimum', {
      alarmDescription: `${props.service.serviceName}: fewer healthy targets than the tasks it should run (at most ${minimum}) for ${belowMinimumMinutes} minutes; `
        + 'a service asleep on its schedule stays OK',
      metric: new cloudwatch.MathExpression({
        expression: `IF(FILL(desired, 0) < ${minimum}, FILL(desired, 0), ${minimum}) - FILL(healthy, 0)`,
        usingMetrics: {
          desired: new cloudwatch.Metric({
            namespace: 'ECS/ContainerInsights',
            metricName: 'DesiredTaskCount',
            dimensionsMap: { ClusterName: ecsService.cluster.clusterName, ServiceName: ecsService.serviceName },
            period: minute,
            statistic: 'Minimum',
          }),
          healthy: props.service.targetGroup.metrics.healthyHostCount({ period: minute, statistic: 'Minimum' }),
        },
        period: minute,
        label: 'Healthy targets short of the desired tasks',
      }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: belowMinimumMinutes + 2,
      datapointsToAlarm: belowMinimumMinutes,
      // The desired count anchors the expression: no data means no service asking for tasks.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }, props.alarmTopic);
  }

  private utilization(
    id: string, what: string, metric: cloudwatch.IMetric, percent: number, service: string, topic: sns.ITopic | undefined,
  ): cloudwatch.Alarm | undefined {
    if (percent === 0) {
      return undefined;
    }
    return this.add(id, {
      alarmDescription: `${service}: average ${what} at or over ${percent} % for 5 minutes`,
      metric,
      threshold: percent,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }, topic);
  }

  private add(id: string, props: cloudwatch.AlarmProps, topic: sns.ITopic | undefined): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, id, props);
    if (topic) {
      notify(alarm, topic);
    }
    this.all.push(alarm);
    return alarm;
  }
}

function validateAlarmOptions(scope: Construct, props: StagingServiceAlarmOptions): void {
  validateIntegerRange(scope, 'alarms.errorsPerMinute', props.errorsPerMinute, 0, 1_000_000, 'use 0 to turn the alarm off');
  validateIntegerRange(scope, 'alarms.unhealthyMinutes', props.unhealthyMinutes, 0, 60, 'use 0 to turn the alarm off');
  validateIntegerRange(scope, 'alarms.belowMinimumMinutes', props.belowMinimumMinutes, 0, 60, 'use 0 to turn the alarm off');
  validateIntegerRange(scope, 'alarms.cpuPercent', props.cpuPercent, 0, 100, 'use 0 to turn the alarm off');
  validateIntegerRange(scope, 'alarms.memoryPercent', props.memoryPercent, 0, 100, 'use 0 to turn the alarm off');
}

function validateObservabilityProps(scope: Construct, props: StagingObservabilityProps): void {
  validateIntegerRange(scope, 'loadBalancerErrorsPerMinute', props.loadBalancerErrorsPerMinute, 1, 1_000_000, 'page on 1 or more load balancer 5XX a minute');
  for (const email of props.alarmEmails ?? []) {
    if (!Token.isUnresolved(email) && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) {
      throw new StagingValidationError(scope, `alarmEmails must hold email addresses (got '${email}'); for example 'oncall@example.com'`);
    }
  }
  if (props.alarmTopic && props.topicEncryptionKey) {
    throw new StagingValidationError(scope, 'alarmTopic and topicEncryptionKey cannot be used together (got both); the key encrypts a new topic: encrypt your topic yourself, or drop alarmTopic');
  }
}
