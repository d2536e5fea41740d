/**
 * A monthly cost estimate read from synthesized CloudFormation templates: what the resources in
 * them bill by the hour or the month at list prices (prices.ts), with tasks counted at their
 * minimum and, for a service on working hours, only while awake.
 */
import { ASSUMPTIONS, HOURS_PER_MONTH, PRICES } from './prices';

/** One CloudFormation template, parsed. */
export interface TemplateJson {
  readonly Resources?: Record<string, { Type: string; Properties?: any }>;
}

/** One line of an estimate. */
export interface CostLine {
  readonly item: string;
  readonly usdPerMonth: number;
}

const HOURS_PER_WEEK = 7 * 24;

/** The monthly estimate of every template of one app, line by line. */
export function estimate(templates: TemplateJson[]): CostLine[] {
  const lines: CostLine[] = [];
  const add = (item: string, usdPerMonth: number) => {
    if (usdPerMonth > 0) lines.push({ item, usdPerMonth });
  };
  const all = templates.flatMap((t) => Object.entries(t.Resources ?? {}).map(([id, r]) => ({ id, ...r })));
  const ofType = (type: string) => all.filter((r) => r.Type === type);

  const natGateways = ofType('AWS::EC2::NatGateway').length;
  add(`NAT gateway × ${natGateways}`, natGateways * PRICES.natGatewayHour * HOURS_PER_MONTH);
  for (const instance of ofType('AWS::EC2::Instance')) {
    const type = instance.Properties?.InstanceType;
    const hourly = PRICES.ec2Hour[type];
    if (hourly === undefined) {
      throw new Error(`cost: no price for EC2 instance type '${type}' (${instance.id}); add it to cost/prices.ts`);
    }
    add(`EC2 instance ${type} (NAT)`, hourly * HOURS_PER_MONTH);
  }
  const eips = ofType('AWS::EC2::EIP').length;
  add(`Elastic IP (public IPv4) × ${eips}`, eips * PRICES.publicIpv4Hour * HOURS_PER_MONTH);

  for (const lb of ofType('AWS::ElasticLoadBalancingV2::LoadBalancer')) {
    if ((lb.Properties?.Type ?? 'application') !== 'application') continue;
    add('Application Load Balancer (hours)', PRICES.alb.hour * HOURS_PER_MONTH);
    add(`Application Load Balancer (${ASSUMPTIONS.lcuPerHour} LCU)`, ASSUMPTIONS.lcuPerHour * PRICES.alb.lcuHour * HOURS_PER_MONTH);
    if ((lb.Properties?.Scheme ?? 'internet-facing') === 'internet-facing') {
      // One public IPv4 address per subnet (AZ) the load balancer has a node in.
      const azs = (lb.Properties?.Subnets ?? lb.Properties?.SubnetMappings ?? []).length;
      add(`Load balancer public IPv4 × ${azs}`, azs * PRICES.publicIpv4Hour * HOURS_PER_MONTH);
    }
  }

  for (const template of templates) {
    for (const line of fargateLines(template)) add(line.item, line.usdPerMonth);
  }

  for (const endpoint of ofType('AWS::EC2::VPCEndpoint')) {
    if (endpoint.Properties?.VpcEndpointType !== 'Interface') continue;
    const azs = (endpoint.Properties?.SubnetIds ?? []).length;
    add(`Interface endpoint × ${azs} AZ`, azs * PRICES.interfaceEndpointAzHour * HOURS_PER_MONTH);
  }

  const alarmMetrics = ofType('AWS::CloudWatch::Alarm').reduce((n, alarm) => n + alarmMetricCount(alarm.Properties), 0);
  // Each target-tracking policy makes Application Auto Scaling create two alarms of one metric (high and low).
  const trackingAlarms = 2 * ofType('AWS::ApplicationAutoScaling::ScalingPolicy')
    .filter((p) => p.Properties?.PolicyType === 'TargetTrackingScaling').length;
  add(`CloudWatch alarms (${alarmMetrics + trackingAlarms} metrics)`, (alarmMetrics + trackingAlarms) * PRICES.alarmMetricMonth);
  const dashboards = ofType('AWS::CloudWatch::Dashboard').length;
  add(`CloudWatch dashboard × ${dashboards}`, dashboards * PRICES.dashboardMonth);
  const secrets = ofType('AWS::SecretsManager::Secret').length;
  add(`Secrets Manager secret × ${secrets}`, secrets * PRICES.secretMonth);
  const keys = ofType('AWS::KMS::Key').length;
  add(`KMS key × ${keys}`, keys * PRICES.kmsKeyMonth);
  return lines;
}

/** The sum of an estimate's lines. */
export function total(lines: CostLine[]): number {
  return lines.reduce((sum, line) => sum + line.usdPerMonth, 0);
}

/** Metrics an alarm is billed for: one for a metric alarm, one per metric of a metric-math alarm. */
function alarmMetricCount(props: any): number {
  if (props?.MetricName) return 1;
  return (props?.Metrics ?? []).filter((m: any) => m.MetricStat).length;
}

/**
 * The Fargate tasks of one template (the library puts each service in a template of its own, with
 * its task definition): vCPU and memory hours at the task's minimum count, Spot and ARM priced as
 * such, plus a public IPv4 address per task when tasks get one.
 */
function fargateLines(template: TemplateJson): CostLine[] {
  const resources = Object.values(template.Resources ?? {});
  const services = resources.filter((r) => r.Type === 'AWS::ECS::Service');
  if (services.length === 0) return [];
  if (services.length > 1) {
    throw new Error('cost: a template holds more than one ECS service; the estimate expects one service per template');
  }
  const taskDefinitions = resources.filter((r) => r.Type === 'AWS::ECS::TaskDefinition');
  if (taskDefinitions.length !== 1) {
    throw new Error(`cost: expected the service's task definition beside it, found ${taskDefinitions.length}`);
  }
  const service = services[0].Properties ?? {};
  const task = taskDefinitions[0].Properties ?? {};
  const vcpu = Number(task.Cpu) / 1024;
  const gb = Number(task.Memory) / 1024;
  const arm = task.RuntimePlatform?.CpuArchitecture === 'ARM64';
  const spot = (service.CapacityProviderStrategy ?? []).some((s: any) => s.CapacityProvider === 'FARGATE_SPOT');
  const rate = arm ? PRICES.fargate.arm64 : PRICES.fargate.x86;
  const share = spot ? PRICES.fargateSpotShareOfOnDemand : 1;
  const { tasks, awakeShare } = taskCount(service, resources.find((r) => r.Type === 'AWS::ApplicationAutoScaling::ScalableTarget')?.Properties);
  const taskHours = tasks * HOURS_PER_MONTH * awakeShare;
  const label = `${tasks} × ${vcpu} vCPU / ${gb} GB${arm ? ' ARM' : ''}${spot ? ' Spot' : ''}`
    + (awakeShare < 1 ? `, ${Math.round(awakeShare * HOURS_PER_WEEK)} h a week` : '');
  const lines = [{ item: `Fargate tasks (${label})`, usdPerMonth: taskHours * share * (vcpu * rate.vcpuHour + gb * rate.gbHour) }];
  if (service.NetworkConfiguration?.AwsvpcConfiguration?.AssignPublicIp === 'ENABLED') {
    lines.push({ item: `Task public IPv4 × ${tasks}`, usdPerMonth: taskHours * PRICES.publicIpv4Hour });
  }
  return lines;
}

/** The fewest tasks a service runs, and the share of the week it runs them. */
function taskCount(service: any, scalableTarget: any): { tasks: number; awakeShare: number } {
  if (service.DesiredCount !== undefined) {
    return { tasks: Number(service.DesiredCount), awakeShare: 1 };
  }
  if (!scalableTarget) {
    // CloudFormation starts a service without DesiredCount with one task.
    return { tasks: 1, awakeShare: 1 };
  }
  const actions: any[] = scalableTarget.ScheduledActions ?? [];
  const awake = actions.find((a) => a.ScheduledActionName === 'Awake');
  const asleep = actions.find((a) => a.ScheduledActionName === 'Asleep');
  if (!awake || !asleep) {
    return { tasks: Number(scalableTarget.MinCapacity), awakeShare: 1 };
  }
  return { tasks: Number(awake.ScalableTargetAction.MinCapacity), awakeShare: awakeHoursPerWeek(awake.Schedule, asleep.Schedule) / HOURS_PER_WEEK };
}

/**
 * Hours a week between the "Awake" schedule's first run of a day and the "Asleep" schedule, read
 * from their cron expressions (`cron(M H[-H] ? * DAYS *)`).
 */
export function awakeHoursPerWeek(awakeCron: string, asleepCron: string): number {
  const parse = (cron: string) => {
    const match = /^cron\((\d+) (\d+)(?:-\d+)? \? \* (\S+) \*\)$/.exec(cron);
    if (!match) throw new Error(`cost: cannot read the schedule '${cron}'`);
    return { minutes: Number(match[2]) * 60 + Number(match[1]), days: countDays(match[3]) };
  };
  const start = parse(awakeCron);
  const end = parse(asleepCron);
  return start.days * (end.minutes - start.minutes) / 60;
}

/** Cron's day-of-week order, 1 (SUN) to 7 (SAT). */
const WEEK = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/** Days in a cron day-of-week field such as `MON-FRI` or `MON,WED,FRI`. */
function countDays(field: string): number {
  return field.split(',').reduce((n, part) => {
    const [from, to] = part.split('-');
    return n + (to === undefined ? 1 : WEEK.indexOf(to) - WEEK.indexOf(from) + 1);
  }, 0);
}
