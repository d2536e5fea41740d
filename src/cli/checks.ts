/**
 * The checks of `cdk-ecs-staging validate`: the walkthrough's validation checklist
 * (shared/spec/walkthrough.md), each one a few read-only calls against the deployed environment.
 */
import { DescribeAlarmsCommand, MetricAlarm, CompositeAlarm } from '@aws-sdk/client-cloudwatch';
import { FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import {
  DescribeNatGatewaysCommand, DescribeRouteTablesCommand, DescribeSubnetsCommand, DescribeVpcsCommand, Route, RouteTable, Subnet,
} from '@aws-sdk/client-ec2';
import { DescribeImagesCommand } from '@aws-sdk/client-ecr';
import {
  DescribeServicesCommand, DescribeTaskDefinitionCommand, ListServiceDeploymentsCommand, Service, ServiceDeploymentBrief, TaskDefinition,
} from '@aws-sdk/client-ecs';
import {
  DescribeListenersCommand, DescribeLoadBalancersCommand, DescribeRulesCommand, DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand, Listener, LoadBalancer, Rule, TargetGroup,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import { DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import { ListSubscriptionsByTopicCommand, Subscription } from '@aws-sdk/client-sns';
import { GetParameterCommand, GetParametersCommand } from '@aws-sdk/client-ssm';
import { AwsClients, cannotRunReason, errorMessage, errorName } from './aws';
import { CannotRun, DiscoveredEnvironment } from './discover';
import { LoadBalancerAddress, certificateProblem, get, loadBalancerAddress } from './http';
import { ServiceManifest, environmentParameterName } from '../private/published-names';

/** What a check found. */
export type CheckStatus = 'pass' | 'fail' | 'asleep' | 'skipped';

/** One line of the report. */
export interface CheckResult {
  /** The check's id, e.g. `targets`. */
  readonly id: string;
  /** The service checked, or undefined for the environment. */
  readonly service?: string;
  /** The walkthrough step it validates (shared/spec/walkthrough.md). */
  readonly step: string;
  readonly status: CheckStatus;
  /** What holds, or what is wrong. */
  readonly summary: string;
  /** For a failure: the command or console place that fixes it. */
  readonly fix?: string;
}

/** A check to run. */
export interface Check {
  readonly id: string;
  readonly service?: string;
  readonly step: string;
  run(): Promise<Outcome>;
}

/** What a check's run returns. */
export interface Outcome {
  readonly status: CheckStatus;
  readonly summary: string;
  readonly fix?: string;
}

/** Walkthrough steps, by check id (README maps them too). */
export const WALKTHROUGH_STEPS: { [id: string]: string } = {
  'network': '2. Networking',
  'load-balancer': '8. Load balancer',
  'certificate': 'Prerequisites: ACM certificate for HTTPS',
  'alarms': '12. Observability',
  'alarm-topic': '12. Observability',
  'manifest': 'Validation checklist',
  'route': '11. ECS service (ALB serving 200 OK)',
  'targets': '11. ECS service (target group healthy)',
  'image': '4. ECR repositories, 10. Task definition',
  'execution-role': '5. IAM roles & policies',
  'secrets': '9. Parameters & secrets',
  'stable': '11. ECS service (circuit breaker)',
  'logs': '7. Log groups (logs flowing)',
};

const pass = (summary: string): Outcome => ({ status: 'pass', summary });
const fail = (summary: string, fix: string): Outcome => ({ status: 'fail', summary, fix });
const skipped = (summary: string): Outcome => ({ status: 'skipped', summary });
const asleep = (summary: string): Outcome => ({ status: 'asleep', summary });

/** Options of a validation run. */
export interface CheckOptions {
  /** Where the load balancer's requests go (tests only); undefined: the load balancer's DNS name. */
  readonly loadBalancer?: LoadBalancerAddress;
  /** The time the schedule is compared with. */
  readonly now: Date;
}

/** Minutes after a working day starts before a service still at 0 tasks counts as not woken. */
const WAKE_GRACE_MINUTES = 15;
/** How far back a rolled-back deployment counts as recent. */
const RECENT_DEPLOYMENTS_HOURS = 24;
/** Pages of FilterLogEvents read before a log group counts as silent. */
const MAX_LOG_PAGES = 10;
/** The image of a service before its first delivery (src/private/defaults.ts). */
const PLACEHOLDER_IMAGE_PREFIX = 'ghcr.io/static-web-server/static-web-server:';

/** Remembers each lookup, so that checks that need the same facts ask AWS once. */
class Facts {
  public options?: CheckOptions;
  private readonly memo = new Map<string, Promise<unknown>>();
  constructor(readonly aws: AwsClients, readonly env: DiscoveredEnvironment) {}

  public once<T>(key: string, f: () => Promise<T>): Promise<T> {
    if (!this.memo.has(key)) this.memo.set(key, f());
    return this.memo.get(key) as Promise<T>;
  }

  public loadBalancer(): Promise<LoadBalancer> {
    return this.once('lb', async () => {
      const arn = this.env.values['load-balancer-arn']!;
      const found = await this.aws.elb.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [arn] }));
      return found.LoadBalancers![0];
    });
  }

  public listeners(): Promise<Listener[]> {
    return this.once('listeners', async () => {
      const found = await this.aws.elb.send(new DescribeListenersCommand({ LoadBalancerArn: this.env.values['load-balancer-arn'] }));
      return found.Listeners ?? [];
    });
  }

  public rules(): Promise<Rule[]> {
    return this.once('rules', async () => {
      const rules: Rule[] = [];
      let marker: string | undefined;
      do {
        const page = await this.aws.elb.send(new DescribeRulesCommand({ ListenerArn: this.env.values['listener-arn'], Marker: marker }));
        rules.push(...page.Rules ?? []);
        marker = page.NextMarker;
      } while (marker);
      return rules;
    });
  }

  public targetGroup(arn: string): Promise<TargetGroup> {
    return this.once(`tg:${arn}`, async () => (await this.aws.elb.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [arn] }))).TargetGroups![0]);
  }

  public ecsService(m: ServiceManifest): Promise<Service | undefined> {
    return this.once(`svc:${m.ecsServiceName}`, async () => {
      const found = await this.aws.ecs.send(new DescribeServicesCommand({ cluster: m.clusterName, services: [m.ecsServiceName] }));
      return found.services?.find((s) => s.status !== 'INACTIVE');
    });
  }

  public taskDefinition(arn: string): Promise<TaskDefinition> {
    return this.once(`td:${arn}`, async () => (await this.aws.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: arn }))).taskDefinition!);
  }

  /** Every alarm that notifies the environment's alarm topic. */
  public alarms(): Promise<Array<MetricAlarm | CompositeAlarm>> {
    return this.once('alarms', async () => {
      const topic = this.env.values['alarm-topic-arn'];
      const found: Array<MetricAlarm | CompositeAlarm> = [];
      let token: string | undefined;
      do {
        // ActionPrefix: only the alarms whose actions start with the topic, not every alarm of the region
        // (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html).
        const page = await this.aws.cloudwatch.send(new DescribeAlarmsCommand({ AlarmTypes: ['MetricAlarm', 'CompositeAlarm'], ActionPrefix: topic, NextToken: token }));
        found.push(...page.MetricAlarms ?? [], ...page.CompositeAlarms ?? []);
        token = page.NextToken;
      } while (token);
      return found.filter((a) => [...a.AlarmActions ?? [], ...a.OKActions ?? []].includes(topic!));
    });
  }

  public address(): Promise<LoadBalancerAddress> {
    return this.once('address', async () => this.options?.loadBalancer ?? loadBalancerAddress((await this.loadBalancer()).DNSName!));
  }
}

/** The checks of the environment and of each service, in report order. */
export function checksOf(aws: AwsClients, env: DiscoveredEnvironment, options: CheckOptions): Check[] {
  const facts = new Facts(aws, env);
  facts.options = options;
  const check = (id: string, run: () => Promise<Outcome>, service?: string): Check => ({ id, service, step: WALKTHROUGH_STEPS[id], run });
  const checks: Check[] = [
    check('network', () => network(facts)),
    check('load-balancer', () => loadBalancerCheck(facts)),
    check('certificate', () => certificate(facts)),
    check('alarms', () => alarms(facts)),
    check('alarm-topic', () => alarmTopic(facts)),
  ];
  for (const service of env.services) {
    const m = service.manifest;
    if (!m) {
      checks.push(check('manifest', async () => fail(`${service.manifestParameter} is missing or unreadable`,
        `redeploy the environment with this release of cdk-ecs-staging (npx cdk deploy ${env.stackName}), which publishes it`), service.name));
      continue;
    }
    const state = () => facts.once(`state:${m.serviceName}`, async () => sleepState(m, await facts.ecsService(m), options.now));
    checks.push(
      check('route', () => route(facts, m, state), service.name),
      check('targets', () => targets(facts, m, state), service.name),
      check('image', () => image(facts, m), service.name),
      check('execution-role', () => executionRole(facts, m), service.name),
      check('secrets', () => secrets(facts, m), service.name),
      check('stable', () => stable(facts, m, state), service.name),
      check('logs', () => logsFlowing(facts, m, state), service.name),
    );
  }
  return checks;
}

/**
 * Runs the checks, at most `concurrency` at a time; a check that throws fails with the error, except an
 * error about the credentials, access or the network (credentials expiring mid-run, say): then no further
 * check starts and the run throws CannotRun with the one line that says why.
 */
export async function runChecks(
  checks: Check[], concurrency: number, onDone: (done: number, total: number) => void, profile?: string,
): Promise<CheckResult[]> {
  const results: CheckResult[] = new Array(checks.length);
  let next = 0;
  let done = 0;
  let stop: string | undefined;
  const worker = async () => {
    while (next < checks.length && stop === undefined) {
      const i = next++;
      const c = checks[i];
      let outcome: Outcome;
      try {
        outcome = await c.run();
      } catch (error) {
        const reason = cannotRunReason(error, profile);
        if (reason !== undefined) {
          stop ??= reason;
          return;
        }
        outcome = fail(`could not check: ${errorName(error) ? `${errorName(error)}: ` : ''}${errorMessage(error)}`,
          'see the error; with AccessDenied, give the caller the policy in the README (section \'Validate a deployed environment\')');
      }
      results[i] = { id: c.id, service: c.service, step: c.step, ...outcome };
      onDone(++done, checks.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, checks.length) }, worker));
  if (stop !== undefined) throw new CannotRun(stop);
  return results;
}

// ---------------------------------------------------------------------------------------------
// The schedule

/** Whether a service should run now. */
type SleepState = { kind: 'awake' | 'asleep' | 'paused' | 'not-woken' | 'missing'; service?: Service; why: string };

function sleepState(m: ServiceManifest, service: Service | undefined, now: Date): SleepState {
  if (!service) return { kind: 'missing', why: `ECS service ${m.ecsServiceName} does not exist in cluster ${m.clusterName}` };
  if (m.paused) return { kind: 'paused', service, why: 'paused on purpose (desiredCount 0)' };
  if ((service.desiredCount ?? 0) > 0 || !m.workingHours) return { kind: 'awake', service, why: '' };
  const local = localTime(now, m.workingHours.timeZone);
  const hours = `${clock(m.workingHours.startMinutes)}-${clock(m.workingHours.endMinutes)} ${m.workingHours.days.join(',')} (${m.workingHours.timeZone})`;
  const working = m.workingHours.days.includes(local.day)
    && local.minutes >= m.workingHours.startMinutes + WAKE_GRACE_MINUTES && local.minutes < m.workingHours.endMinutes;
  return working
    ? { kind: 'not-woken', service, why: `0 tasks desired during working hours ${hours}` }
    : { kind: 'asleep', service, why: `asleep outside working hours ${hours}` };
}

/**
 * The edge of the working hours `now` lies within WAKE_GRACE_MINUTES after (`start` or `end`, as HH:MM), or
 * undefined. Around an edge the scheduled scaling is under way: tasks of the old count drain for the target
 * group's deregistration delay, new ones start and pass their health checks
 * (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-target-group-attributes.html#deregistration-delay).
 */
function scheduleEdge(m: ServiceManifest, now: Date): string | undefined {
  const hours = m.workingHours;
  if (!hours) return undefined;
  const local = localTime(now, hours.timeZone);
  if (!hours.days.includes(local.day)) return undefined;
  for (const [name, at] of [['start', hours.startMinutes], ['end', hours.endMinutes]] as const) {
    if (local.minutes >= at && local.minutes < at + WAKE_GRACE_MINUTES) return `${name} ${clock(at)} (${hours.timeZone})`;
  }
  return undefined;
}

function clock(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

/** The weekday (`MON`...) and minutes after midnight of `now` in the time zone. */
function localTime(now: Date, timeZone: string): { day: string; minutes: number } {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(now);
  const part = (type: string) => parts.find((p) => p.type === type)!.value;
  return { day: part('weekday').toUpperCase(), minutes: Number(part('hour')) * 60 + Number(part('minute')) };
}

/** The outcome of a check that needs running tasks, for a service that has none on purpose or by fault; undefined when awake. */
function notRunning(state: SleepState): Outcome | undefined {
  switch (state.kind) {
    case 'asleep': return asleep(state.why);
    case 'paused': return skipped(state.why);
    case 'not-woken': return skipped(`${state.why} (see stable)`);
    case 'missing': return skipped(`${state.why} (see stable)`);
    default: return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// The environment

async function network(facts: Facts): Promise<Outcome> {
  const { aws, env } = facts;
  const vpcId = env.values['vpc-id']!;
  const vpcs = await aws.ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }));
  if (!vpcs.Vpcs?.length) {
    return fail(`VPC ${vpcId} (${environmentParameterName(env.name, 'vpc-id')}) does not exist`, `redeploy the environment: npx cdk deploy ${env.stackName}`);
  }
  const byVpc = [{ Name: 'vpc-id', Values: [vpcId] }];
  const [subnets, tables, nats, lb] = await Promise.all([
    aws.ec2.send(new DescribeSubnetsCommand({ Filters: byVpc })).then((r) => r.Subnets ?? []),
    aws.ec2.send(new DescribeRouteTablesCommand({ Filters: byVpc })).then((r) => r.RouteTables ?? []),
    aws.ec2.send(new DescribeNatGatewaysCommand({ Filter: byVpc })).then((r) => (r.NatGateways ?? []).filter((n) => n.State === 'available')),
    facts.loadBalancer(),
  ]);
  const problems: string[] = [];
  const tableOf = (subnet: Subnet): RouteTable | undefined =>
    tables.find((t) => t.Associations?.some((a) => a.SubnetId === subnet.SubnetId))
    ?? tables.find((t) => t.Associations?.some((a) => a.Main));
  const defaultRoute = (subnet: Subnet) => tableOf(subnet)?.Routes?.find((r) => r.DestinationCidrBlock === '0.0.0.0/0' && r.State !== 'blackhole');
  const availableNats = new Set(nats.map((n) => n.NatGatewayId));

  // Public: the load balancer's subnets, each with a default route to the internet gateway.
  const lbSubnets = (lb.AvailabilityZones ?? []).map((z) => subnets.find((s) => s.SubnetId === z.SubnetId));
  const publicAzs = new Set<string>();
  for (const [i, subnet] of lbSubnets.entries()) {
    const id = lb.AvailabilityZones![i].SubnetId;
    if (!subnet) { problems.push(`load balancer subnet ${id} is not in ${vpcId}`); continue; }
    if (!defaultRoute(subnet)?.GatewayId?.startsWith('igw-')) problems.push(`public subnet ${id} (${subnet.AvailabilityZone}) has no default route to an internet gateway`);
    else publicAzs.add(subnet.AvailabilityZone!);
  }
  // Private (or public with public IPs, without NAT): the tasks' subnets.
  const wanted = (env.values['service-subnet-ids'] ?? '').split(',').filter((s) => s);
  const publicIp = env.values['assign-public-ip'] === 'ENABLED';
  const serviceAzs = new Set<string>();
  const natsUsed = new Set<string>();
  const egresses = new Set<string>();
  const importedExit = (r: Route): string | undefined => (r.TransitGatewayId ? `transit gateway ${r.TransitGatewayId}`
    : r.GatewayId?.startsWith('vpce-') ? `VPC endpoint ${r.GatewayId}`
      : r.CoreNetworkArn ? `core network ${r.CoreNetworkArn}`
        : r.VpcPeeringConnectionId ? `peering ${r.VpcPeeringConnectionId}`
          : r.NatGatewayId ? `NAT gateway ${r.NatGatewayId}` : undefined);
  for (const id of wanted) {
    const subnet = subnets.find((s) => s.SubnetId === id);
    if (!subnet) { problems.push(`service subnet ${id} (${environmentParameterName(env.name, 'service-subnet-ids')}) does not exist`); continue; }
    const exit = defaultRoute(subnet);
    const az = subnet.AvailabilityZone!;
    if (publicIp) {
      if (!exit?.GatewayId?.startsWith('igw-')) problems.push(`service subnet ${id} (${az}) has no default route to an internet gateway, and tasks have public IPs`);
      else serviceAzs.add(az);
    } else if (exit?.NatGatewayId) {
      if (!availableNats.has(exit.NatGatewayId)) {problems.push(`service subnet ${id} (${az}) routes to NAT gateway ${exit.NatGatewayId}, which is not available`);} else { serviceAzs.add(az); natsUsed.add(exit.NatGatewayId); }
    } else if (exit?.InstanceId || exit?.NetworkInterfaceId) {
      serviceAzs.add(az);
    } else if (env.manifest.vpcImported && exit && importedExit(exit)) {
      // An imported VPC's egress is its owner's: a transit gateway, a firewall endpoint, a core network or a peering
      // (https://docs.aws.amazon.com/vpc/latest/userguide/route-table-options.html).
      serviceAzs.add(az);
      egresses.add(importedExit(exit)!);
    } else {
      problems.push(`service subnet ${id} (${az}) has no default route to a NAT`);
    }
  }
  if (publicAzs.size < 2) problems.push(`the load balancer's public subnets span ${publicAzs.size} AZ${publicAzs.size === 1 ? '' : 's'} (${[...publicAzs].join(', ') || 'none'}), 2 needed`);
  if (serviceAzs.size < 2) problems.push(`the services' subnets span ${serviceAzs.size} AZ${serviceAzs.size === 1 ? '' : 's'} (${[...serviceAzs].join(', ') || 'none'}), 2 needed`);
  const expectedNats = env.manifest.natStrategy === 'GATEWAY_PER_AZ' || env.manifest.natStrategy === 'SINGLE_GATEWAY' ? env.manifest.natGateways : 0;
  if (!env.manifest.vpcImported && !publicIp && natsUsed.size < expectedNats) {
    problems.push(`${natsUsed.size} NAT gateway${natsUsed.size === 1 ? '' : 's'} in use, ${expectedNats} expected (${env.manifest.natStrategy})`);
  }
  if (problems.length > 0) {
    return fail(problems.join('; '), env.manifest.vpcImported
      ? `the VPC is imported: its owner adds a default route (0.0.0.0/0) to a NAT, transit gateway, firewall endpoint or peering in each service subnet's route table (VPC console > Your VPCs > ${vpcId} > Resource map)`
      : `redeploy the environment (npx cdk deploy ${env.stackName}), or see VPC console > Your VPCs > ${vpcId} > Resource map`);
  }
  const egress = egresses.size ? [...egresses].sort().join(', ') : publicIp ? 'public IPs, no NAT' : `${natsUsed.size || 'NAT instance'}${natsUsed.size ? ` NAT gateway${natsUsed.size === 1 ? '' : 's'}` : ''}`;
  return pass(`VPC ${vpcId}: public subnets in ${[...publicAzs].sort().join(', ')}, service subnets in ${[...serviceAzs].sort().join(', ')}, egress through ${egress}`);
}

async function loadBalancerCheck(facts: Facts): Promise<Outcome> {
  const [lb, listeners] = await Promise.all([facts.loadBalancer(), facts.listeners()]);
  const name = lb.LoadBalancerName;
  if (lb.State?.Code !== 'active') {
    return fail(`load balancer ${name} is ${lb.State?.Code}${lb.State?.Reason ? `: ${lb.State.Reason}` : ''}`, `EC2 console > Load balancers > ${name}`);
  }
  const ports = listeners.map((l) => `${l.Port}/${l.Protocol}`).sort().join(', ');
  const domain = facts.env.manifest.domainName;
  if (!domain) {
    return pass(`load balancer ${name} active, listeners ${ports} (no domain: HTTP only, no redirect to check)`);
  }
  const address = await facts.address();
  let answer;
  try {
    answer = await get(address, 'http', domain, '/');
  } catch (error) {
    return fail(`http://${domain}/ did not answer: ${errorMessage(error)}`, `check the load balancer's security group admits port 80: EC2 console > Load balancers > ${name} > Security`);
  }
  if (![301, 302, 307, 308].includes(answer.status) || !answer.location?.startsWith('https://')) {
    return fail(`http://${domain}/ answered ${answer.status}${answer.location ? ` to ${answer.location}` : ''}, not a redirect to HTTPS`,
      `EC2 console > Load balancers > ${name} > Listeners > HTTP:80: its default action should redirect to HTTPS:443 (redeploy the environment)`);
  }
  return pass(`load balancer ${name} active, listeners ${ports}; http://${domain}/ redirects to ${answer.location}`);
}

/** The hosts the environment serves: its domain and every host of the services' rules. */
async function hostsOf(facts: Facts): Promise<string[]> {
  const hosts = new Set<string>([facts.env.manifest.domainName!]);
  for (const rule of await facts.rules()) {
    for (const host of conditionValues(rule, 'host-header')) hosts.add(host.replace(/^\*\./, 'validate.'));
  }
  return [...hosts].sort();
}

async function certificate(facts: Facts): Promise<Outcome> {
  if (!facts.env.manifest.domainName) return skipped('no domain: the environment serves HTTP only');
  const [hosts, address] = await Promise.all([hostsOf(facts), facts.address()]);
  const problems = (await Promise.all(hosts.map((h) => certificateProblem(address, h)))).filter((p): p is string => p !== undefined);
  if (problems.length > 0) {
    // The environment's own certificate names the domain and each host in the hosted zone; a host outside it needs a certificate you bring.
    return fail(problems.join('; '), 'a host outside the hosted zone needs domain.certificate to cover it (or domain.wildcardCertificate for hosts one label '
      + 'below the domain); redeploy (npx cdk deploy ' + facts.env.stackName + '); see ACM console > Certificates and EC2 console > Load balancers > Listeners > HTTPS:443 > Certificates');
  }
  return pass(`the certificate covers ${hosts.join(', ')}`);
}

async function alarms(facts: Facts): Promise<Outcome> {
  const all = await facts.alarms();
  const firing = all.filter((a) => a.StateValue === 'ALARM');
  if (firing.length > 0) {
    return fail(`${firing.length} of ${all.length} alarms in ALARM: ${firing.map((a) => `${a.AlarmName} (${a.StateReason ?? 'no reason'})`).join('; ')}`,
      `CloudWatch console > Alarms > In alarm; aws cloudwatch describe-alarms --state-value ALARM --alarm-names ${firing.map((a) => a.AlarmName).join(' ')} --region ${facts.env.region}`);
  }
  return pass(`${all.length} alarm${all.length === 1 ? '' : 's'}, none in ALARM`);
}

async function alarmTopic(facts: Facts): Promise<Outcome> {
  const topic = facts.env.values['alarm-topic-arn']!;
  const subscriptions: Subscription[] = [];
  let token: string | undefined;
  do {
    const page = await facts.aws.sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topic, NextToken: token }));
    subscriptions.push(...page.Subscriptions ?? []);
    token = page.NextToken;
  } while (token);
  const confirmed = subscriptions.filter((s) => s.SubscriptionArn?.startsWith('arn:'));
  if (confirmed.length === 0) {
    const pending = subscriptions.length - confirmed.length;
    return fail(`the alarm topic has no confirmed subscription${pending ? ` (${pending} pending confirmation)` : ''}: nobody hears of an alarm`,
      pending ? 'confirm the subscription from the email AWS Notifications sent'
        : `aws sns subscribe --topic-arn ${topic} --protocol email --notification-endpoint you@example.com --region ${facts.env.region}, or set observability.alarmEmails and redeploy`);
  }
  return pass(`the alarm topic has ${confirmed.length} confirmed subscription${confirmed.length === 1 ? '' : 's'} (${confirmed.map((s) => s.Protocol).join(', ')})`);
}

// ---------------------------------------------------------------------------------------------
// Each service

function conditionValues(rule: Rule, field: 'host-header' | 'path-pattern'): string[] {
  return (rule.Conditions ?? []).filter((c) => c.Field === field).flatMap((c) => [
    ...c.Values ?? [],
    ...(field === 'host-header' ? c.HostHeaderConfig?.Values : c.PathPatternConfig?.Values) ?? [],
  ]);
}

function forwardsTo(rule: Rule, targetGroupArn: string): boolean {
  return (rule.Actions ?? []).some((a) => a.TargetGroupArn === targetGroupArn
    || a.ForwardConfig?.TargetGroups?.some((t) => t.TargetGroupArn === targetGroupArn));
}

/** Whether an ALB path pattern (`*` any characters, `?` one) matches the path. */
function matches(pattern: string, path: string): boolean {
  const regex = new RegExp(`^${pattern.split('').map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('')}$`);
  return regex.test(path);
}

/** The path to request: the health path when the route's patterns take it, else the health path under the first pattern. */
function routePath(patterns: string[], healthPath: string): string {
  if (patterns.length === 0 || patterns.some((p) => matches(p, healthPath))) return healthPath;
  const base = patterns[0].replace(/\*.*$/, '').replace(/\/$/, '');
  return `${base}${healthPath}`;
}

async function route(facts: Facts, m: ServiceManifest, state: () => Promise<SleepState>): Promise<Outcome> {
  const s = await state();
  const resting = notRunning(s);
  if (resting) return resting;
  const [rules, group, lb] = await Promise.all([facts.rules(), facts.targetGroup(m.targetGroupArn), facts.loadBalancer()]);
  const rule = rules.find((r) => forwardsTo(r, m.targetGroupArn));
  if (!rule) {
    return fail(`no rule of the listener forwards to target group ${group.TargetGroupName}`, `redeploy the environment (npx cdk deploy ${facts.env.stackName}); see EC2 console > Load balancers > ${lb.LoadBalancerName} > Listeners > Rules`);
  }
  const domain = facts.env.manifest.domainName;
  const host = conditionValues(rule, 'host-header')[0]?.replace(/^\*\./, 'validate.') ?? domain ?? lb.DNSName!;
  const patterns = conditionValues(rule, 'path-pattern');
  const healthPath = group.HealthCheckPath ?? '/';
  const path = routePath(patterns, healthPath);
  // The load balancer health-checks the health path on each target directly, not through the rule
  // (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html):
  // a health path outside the rule's patterns may have no page under them, so any answer the app gives proves the route.
  const outside = path !== healthPath;
  const scheme = domain ? 'https' : 'http';
  const url = `${scheme}://${host}${path}`;
  let answer;
  try {
    answer = await get(await facts.address(), scheme, host, path);
  } catch (error) {
    return fail(`GET ${url} did not answer: ${errorMessage(error)}`, `check the load balancer's security group and listener: EC2 console > Load balancers > ${lb.LoadBalancerName}`);
  }
  const ok = answer.status >= 200 && answer.status <= 299;
  if (outside && !ok && ![502, 503, 504].includes(answer.status)) {
    return pass(`GET ${url} answered ${answer.status}: the route reaches the app (health path ${healthPath} is outside the rule's patterns ${patterns.join(', ')}; targets checks it)`);
  }
  if (!ok) {
    const why = answer.status === 503 ? ' (no healthy target: see targets)' : answer.status === 404 ? ' (the app has no route there: set healthCheckPath to a path it answers)' : '';
    return fail(`GET ${url} answered ${answer.status}${why}`, `aws logs tail ${m.logGroupName} --since 15m --region ${facts.env.region}`);
  }
  return pass(`GET ${url} answered ${answer.status}`);
}

async function targets(facts: Facts, m: ServiceManifest, state: () => Promise<SleepState>): Promise<Outcome> {
  const s = await state();
  const resting = notRunning(s);
  if (resting) return resting;
  const [health, group] = await Promise.all([
    facts.aws.elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: m.targetGroupArn })),
    facts.targetGroup(m.targetGroupArn),
  ]);
  const all = health.TargetHealthDescriptions ?? [];
  const bad = all.filter((t) => t.TargetHealth?.State !== 'healthy');
  const console = `EC2 console > Target groups > ${group.TargetGroupName} > Targets; aws logs tail ${m.logGroupName} --since 15m --region ${facts.env.region}`;
  if (all.length === 0) return fail(`target group ${group.TargetGroupName} has no targets`, console);
  if (bad.length > 0) {
    const list = bad.map((t) => `${t.Target?.Id}:${t.Target?.Port} ${t.TargetHealth?.State}${t.TargetHealth?.Reason ? ` (${t.TargetHealth.Reason}${t.TargetHealth.Description ? `: ${t.TargetHealth.Description}` : ''})` : ''}`);
    return fail(`${bad.length} of ${all.length} targets not healthy: ${list.join('; ')}`, `${console}; health check: ${group.HealthCheckPath} on port ${group.HealthCheckPort}`);
  }
  return pass(`${all.length} of ${all.length} targets healthy (${group.TargetGroupName})`);
}

/** The app container's image, in the task definition the service runs. */
async function runningImage(facts: Facts, m: ServiceManifest): Promise<{ taskDefinition: TaskDefinition; image: string } | undefined> {
  const service = await facts.ecsService(m);
  if (!service?.taskDefinition) return undefined;
  const taskDefinition = await facts.taskDefinition(service.taskDefinition);
  const container = taskDefinition.containerDefinitions?.find((c) => c.name === 'app') ?? taskDefinition.containerDefinitions?.[0];
  return { taskDefinition, image: container?.image ?? '' };
}

const ECR_IMAGE = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([^:@]+)(?::([^@]+))?(?:@(sha256:[0-9a-f]+))?$/;

async function image(facts: Facts, m: ServiceManifest): Promise<Outcome> {
  const running = await runningImage(facts, m);
  if (!running) return skipped(`ECS service ${m.ecsServiceName} does not exist (see stable)`);
  const revision = `${running.taskDefinition.family}:${running.taskDefinition.revision}`;
  const { aws, env } = facts;
  if (m.imageParameterName) {
    const named = (await aws.ssm.send(new GetParameterCommand({ Name: m.imageParameterName }))).Parameter?.Value;
    if (named !== running.image) {
      return fail(`task definition ${revision} runs ${running.image}, but ${m.imageParameterName} names ${named}: the last delivery did not reach the service`,
        'run the service\'s deploy workflow again (it registers a task definition with the image in the parameter and updates the service)');
    }
    if (running.image.startsWith(PLACEHOLDER_IMAGE_PREFIX)) {
      return skipped(`runs the placeholder image ${running.image}: no image delivered yet`);
    }
  }
  const ecr = ECR_IMAGE.exec(running.image);
  if (!ecr) {
    return pass(`task definition ${revision} runs ${running.image}, given in code (not in ECR: not looked up)`);
  }
  const [, registryId, , repositoryName, tag, digest] = ecr;
  try {
    await aws.ecr.send(new DescribeImagesCommand({ registryId, repositoryName, imageIds: [digest ? { imageDigest: digest } : { imageTag: tag ?? 'latest' }] }));
  } catch (error) {
    if (['ImageNotFoundException', 'RepositoryNotFoundException'].includes(errorName(error))) {
      return fail(`${running.image} is not in ECR (${errorName(error)}): new tasks cannot start`,
        `push the image, or deliver one that exists: aws ecr describe-images --repository-name ${repositoryName} --region ${env.region}`);
    }
    throw error;
  }
  return pass(`task definition ${revision} runs ${running.image}, present in ${repositoryName}${m.imageParameterName ? ` and named by ${m.imageParameterName}` : ''}`);
}

/** The ARN parts of a role ARN: partition and account. */
function arnParts(arn: string): { partition: string; account: string } {
  const [, partition, , , account] = arn.split(':');
  return { partition, account };
}

/** Each action the role may not do on the resource, by IAM's policy simulator. */
async function denied(facts: Facts, roleArn: string, actions: string[], resource: string): Promise<string[]> {
  const result = await facts.aws.iam.send(new SimulatePrincipalPolicyCommand({
    PolicySourceArn: roleArn, ActionNames: actions, ResourceArns: [resource],
  }));
  return (result.EvaluationResults ?? []).filter((r) => r.EvalDecision !== 'allowed').map((r) => `${r.EvalActionName} on ${resource} (${r.EvalDecision})`);
}

async function executionRole(facts: Facts, m: ServiceManifest): Promise<Outcome> {
  const running = await runningImage(facts, m);
  const { partition, account } = arnParts(m.executionRoleArn);
  const region = facts.env.region;
  const problems: string[] = [];
  const ecr = running ? ECR_IMAGE.exec(running.image) : null;
  const logGroup = `arn:${partition}:logs:${region}:${account}:log-group:${m.logGroupName}:log-stream:*`;
  const asks: Array<Promise<string[]>> = [denied(facts, m.executionRoleArn, ['logs:CreateLogStream', 'logs:PutLogEvents'], logGroup)];
  if (ecr) {
    const repository = `arn:${partition}:ecr:${ecr[2]}:${ecr[1]}:repository/${ecr[3]}`;
    asks.push(denied(facts, m.executionRoleArn, ['ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage'], repository));
    asks.push(denied(facts, m.executionRoleArn, ['ecr:GetAuthorizationToken'], '*'));
  }
  for (const found of await Promise.all(asks)) problems.push(...found);
  const roleName = m.executionRoleArn.split('/').pop();
  if (problems.length > 0) {
    return fail(`execution role ${roleName} may not ${problems.join('; ')}`,
      `the stack manages this role's policy: redeploy (npx cdk deploy ${facts.env.stackName}) and look for a hand-made change or a permissions boundary in IAM console > Roles > ${roleName}`);
  }
  return pass(`execution role ${roleName} may ${ecr ? `pull from ${ecr[3]} and ` : ''}write to ${m.logGroupName}`);
}

/** A secret of the task definition: where its value comes from. */
interface Injected { readonly name: string; readonly valueFrom: string }

async function secrets(facts: Facts, m: ServiceManifest): Promise<Outcome> {
  const running = await runningImage(facts, m);
  if (!running) return skipped(`ECS service ${m.ecsServiceName} does not exist (see stable)`);
  const injected: Injected[] = (running.taskDefinition.containerDefinitions ?? [])
    .flatMap((c) => (c.secrets ?? []).map((s) => ({ name: s.name!, valueFrom: s.valueFrom! })));
  if (injected.length === 0) return pass('the task definition injects no secrets or parameters');
  const { aws, env } = facts;
  const { partition, account } = arnParts(m.executionRoleArn);
  const problems: string[] = [];
  const fixes = new Set<string>();
  const parameters = injected.filter((s) => !s.valueFrom.includes(':secretsmanager:'));
  const secretsOf = injected.filter((s) => s.valueFrom.includes(':secretsmanager:'));
  // A parameter is named by ARN or, in the task's region, by name (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-ssm-paramstore.html).
  const parameterName = (v: string) => (v.startsWith('arn:') ? `/${v.split(':parameter/')[1]}`.replace(/^\/\//, '/') : v);
  const parameterArn = (v: string) => (v.startsWith('arn:') ? v : `arn:${partition}:ssm:${env.region}:${account}:parameter/${v.replace(/^\//, '')}`);
  const work: Array<Promise<void>> = [];
  for (let i = 0; i < parameters.length; i += 10) {
    const batch = parameters.slice(i, i + 10);
    work.push(aws.ssm.send(new GetParametersCommand({ Names: batch.map((p) => parameterName(p.valueFrom)) })).then((r) => {
      for (const missing of r.InvalidParameters ?? []) {
        const s = batch.find((p) => parameterName(p.valueFrom) === missing)!;
        problems.push(`${s.name}: parameter ${missing} does not exist`);
        fixes.add(`aws ssm put-parameter --name ${missing} --type SecureString --value <value> --region ${env.region}`);
      }
    }));
  }
  for (const s of secretsOf) {
    // valueFrom: the secret's ARN, optionally followed by :json-key:version-stage:version-id.
    const secretArn = s.valueFrom.split(':').slice(0, 7).join(':');
    work.push(aws.secretsManager.send(new DescribeSecretCommand({ SecretId: secretArn })).then((d) => {
      if (d.DeletedDate) {
        problems.push(`${s.name}: secret ${d.Name} is scheduled for deletion`);
        fixes.add(`aws secretsmanager restore-secret --secret-id ${d.Name} --region ${env.region}`);
      }
    }, (error) => {
      if (errorName(error) !== 'ResourceNotFoundException') throw error;
      problems.push(`${s.name}: secret ${secretArn} does not exist`);
      fixes.add(`recreate the secret, or redeploy the environment (npx cdk deploy ${env.stackName}) if the stack created it`);
    }));
    work.push(denied(facts, m.executionRoleArn, ['secretsmanager:GetSecretValue'], secretArn).then((d) => {
      if (d.length) { problems.push(`${s.name}: execution role may not ${d.join('; ')}`); fixes.add(`redeploy (npx cdk deploy ${env.stackName}); IAM console > Roles > ${m.executionRoleArn.split('/').pop()}`); }
    }));
  }
  for (const p of parameters) {
    work.push(denied(facts, m.executionRoleArn, ['ssm:GetParameters'], parameterArn(p.valueFrom)).then((d) => {
      if (d.length) { problems.push(`${p.name}: execution role may not ${d.join('; ')}`); fixes.add(`redeploy (npx cdk deploy ${env.stackName}); IAM console > Roles > ${m.executionRoleArn.split('/').pop()}`); }
    }));
  }
  await Promise.all(work);
  if (problems.length > 0) return fail(problems.sort().join('; '), [...fixes].join('; '));
  return pass(`${injected.length} secret${injected.length === 1 ? '' : 's'} and parameter${injected.length === 1 ? '' : 's'} exist and the execution role may read them (${injected.map((s) => s.name).sort().join(', ')})`);
}

async function stable(facts: Facts, m: ServiceManifest, state: () => Promise<SleepState>): Promise<Outcome> {
  const s = await state();
  const { env } = facts;
  const consolePlace = `ECS console > Clusters > ${m.clusterName} > Services > ${m.ecsServiceName} > Deployments and events`;
  if (s.kind === 'missing') return fail(s.why, `redeploy the environment (npx cdk deploy ${env.stackName})`);
  if (s.kind === 'paused') return skipped(s.why);
  if (s.kind === 'not-woken') {
    return fail(`${s.why}: the schedule did not wake it`, `${m.wakeCommand ?? 'see Application Auto Scaling scheduled actions'} --region ${env.region}`);
  }
  const service = s.service!;
  const since = new Date(facts.options!.now.getTime() - RECENT_DEPLOYMENTS_HOURS * 3600_000);
  // Every page (nextToken): a busy day holds more deployments than one page returns
  // (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListServiceDeployments.html).
  const recent: ServiceDeploymentBrief[] = [];
  let nextToken: string | undefined;
  do {
    const page = await facts.aws.ecs.send(new ListServiceDeploymentsCommand({
      cluster: m.clusterName, service: m.ecsServiceName, createdAt: { after: since }, nextToken,
    }));
    recent.push(...(page.serviceDeployments ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  // A rollback that a later deployment put right (SUCCESSFUL, started after it) is history, not a problem.
  const lastSuccess = Math.max(0, ...recent.filter((d) => d.status === 'SUCCESSFUL').map((d) => d.createdAt?.getTime() ?? 0));
  const rollbacks = recent.filter((d) => d.status?.startsWith('ROLLBACK_'));
  const rolledBack = rollbacks.filter((d) => (d.createdAt?.getTime() ?? Infinity) > lastSuccess);
  const putRight = rollbacks.length - rolledBack.length;
  const history = putRight > 0 ? `, ${putRight} rollback${putRight === 1 ? '' : 's'} put right by a later deployment` : '';
  const primary = service.deployments?.find((d) => d.status === 'PRIMARY');
  const problems: string[] = [];
  if (primary?.rolloutState && primary.rolloutState !== 'COMPLETED') {
    problems.push(`the latest deployment is ${primary.rolloutState}${primary.rolloutStateReason ? ` (${primary.rolloutStateReason})` : ''}`);
  }
  if ((service.deployments?.length ?? 0) > 1) problems.push(`${service.deployments!.length} deployments under way`);
  for (const d of rolledBack) {
    problems.push(`deployment ${d.serviceDeploymentArn?.split('/').pop()} of ${d.createdAt?.toISOString()} rolled back (${d.status}${d.statusReason ? `: ${d.statusReason}` : ''})`);
  }
  const edge = scheduleEdge(m, facts.options!.now);
  const scaling = service.runningCount !== service.desiredCount && edge !== undefined;
  if (service.runningCount !== service.desiredCount && !scaling) problems.push(`${service.runningCount} of ${service.desiredCount} tasks running`);
  if (problems.length > 0) {
    const fix = rolledBack.length > 0
      ? `${consolePlace}; aws ecs describe-service-deployments --service-deployment-arns ${rolledBack[0].serviceDeploymentArn} --region ${env.region}`
      : `${consolePlace}; wait for it: aws ecs wait services-stable --cluster ${m.clusterName} --services ${m.ecsServiceName} --region ${env.region}`;
    return fail(problems.join('; '), fix);
  }
  if (scaling) {
    return skipped(`scaling on schedule: ${service.runningCount} of ${service.desiredCount} tasks running, within ${WAKE_GRACE_MINUTES} min of the working hours' ${edge}`);
  }
  const quiet = putRight > 0 ? `no open rollback in ${RECENT_DEPLOYMENTS_HOURS} h${history}` : `no rollback in ${RECENT_DEPLOYMENTS_HOURS} h`;
  if (s.kind === 'asleep') return asleep(`${s.why}: ${service.runningCount} tasks, ${quiet}`);
  return pass(`${service.runningCount} of ${service.desiredCount} tasks running, latest deployment completed, ${quiet}`);
}

async function logsFlowing(facts: Facts, m: ServiceManifest, state: () => Promise<SleepState>): Promise<Outcome> {
  const s = await state();
  const resting = notRunning(s);
  if (resting) return resting;
  // The tasks of the latest deployment start after it is created: an event since then comes from them.
  const primary = s.service!.deployments?.find((d) => d.status === 'PRIMARY');
  const since = primary?.createdAt ?? new Date(facts.options!.now.getTime() - 3600_000);
  let found = false;
  try {
    // FilterLogEvents "can return empty results while there are more log events available through the token"
    // (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html): follow it, a few pages at most.
    let token: string | undefined;
    for (let page = 0; page < MAX_LOG_PAGES && !found; page++) {
      const events = await facts.aws.logs.send(new FilterLogEventsCommand({
        logGroupName: m.logGroupName, startTime: since.getTime(), limit: 1, nextToken: token,
      }));
      found = (events.events?.length ?? 0) > 0;
      token = events.nextToken;
      if (!token) break;
    }
  } catch (error) {
    if (errorName(error) === 'ResourceNotFoundException') {
      return fail(`log group ${m.logGroupName} does not exist: tasks cannot start`, `redeploy the environment (npx cdk deploy ${facts.env.stackName})`);
    }
    throw error;
  }
  if (!found) {
    return fail(`no event in ${m.logGroupName} since the latest deployment started (${since.toISOString()})`,
      `aws logs tail ${m.logGroupName} --since 1d --region ${facts.env.region}; the app must log to stdout/stderr, and the execution role write to the log group`);
  }
  return pass(`events in ${m.logGroupName} since the latest deployment started (${since.toISOString()})`);
}
