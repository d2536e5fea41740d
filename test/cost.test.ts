import * as fs from 'fs';
import * as path from 'path';
import { awakeHoursPerWeek, estimate, total } from '../cost/estimate';
import { PRICES } from '../cost/prices';
import { BEGIN_MARKER, END_MARKER, estimateProfiles, ProfileEstimate, renderCostSection } from '../cost/report';

describe('the cost estimate (npx projen cost)', () => {
  let estimates: ProfileEstimate[];
  beforeAll(() => {
    estimates = estimateProfiles();
  });

  test("the README's cost section is what the script prints", () => {
    const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
    const committed = readme.slice(readme.indexOf(BEGIN_MARKER), readme.indexOf(END_MARKER) + END_MARKER.length);
    const fresh = renderCostSection(estimates);
    if (committed !== fresh) {
      throw new Error('README.md\'s cost section differs from what the templates cost now: run `npx projen cost --write` and commit README.md.\n'
        + `--- README.md\n${committed}\n--- npx projen cost\n${fresh}`);
    }
  });

  test('meets the goals: default on working hours under USD 85, cheapest on working hours under USD 35', () => {
    const byName = Object.fromEntries(estimates.map((e) => [e.profile.name, e.totalUsd]));
    expect(byName['default, working hours']).toBeLessThan(85);
    expect(byName['cheapest, working hours']).toBeLessThan(35);
    // Sleeping saves what the tasks cost at night and at weekends, and nothing else changes much.
    expect(byName.default - byName['default, working hours']).toBeGreaterThan(20);
    for (const e of estimates) {
      expect(e.profile.goalUsd === undefined || e.totalUsd < e.profile.goalUsd).toBe(true);
    }
  });

  test('reads the profiles from their templates: NAT, load balancer, tasks and their share of the week', () => {
    const lines = (name: string) => estimates.find((e) => e.profile.name === name)!.lines.map((l) => l.item);
    expect(lines('default')).toEqual(expect.arrayContaining(['NAT gateway × 1', 'Fargate tasks (2 × 0.5 vCPU / 1 GB)', 'Load balancer public IPv4 × 2']));
    expect(lines('default, working hours')).toContain('Fargate tasks (2 × 0.5 vCPU / 1 GB, 60 h a week)');
    expect(lines('cheapest')).toEqual(expect.arrayContaining(['Fargate tasks (1 × 0.25 vCPU / 0.5 GB Spot)', 'Task public IPv4 × 1']));
    expect(lines('cheapest').some((l) => l.startsWith('NAT'))).toBe(false);
  });
});

describe('estimate() on hand-written templates', () => {
  const service = (props: Record<string, unknown>, extra: Record<string, any> = {}) => ({
    Resources: {
      Service: { Type: 'AWS::ECS::Service', Properties: props },
      TaskDefinition: { Type: 'AWS::ECS::TaskDefinition', Properties: { Cpu: '1024', Memory: '2048', RuntimePlatform: { CpuArchitecture: 'ARM64' } } },
      ...extra,
    },
  });

  test('prices ARM tasks at their rate, at the DesiredCount in the template', () => {
    const [line] = estimate([service({ DesiredCount: 3 })]);
    expect(line.item).toBe('Fargate tasks (3 × 1 vCPU / 2 GB ARM)');
    expect(line.usdPerMonth).toBeCloseTo(3 * 730 * (PRICES.fargate.arm64.vcpuHour + 2 * PRICES.fargate.arm64.gbHour), 6);
  });

  test('counts a NAT instance by its type, and refuses a type it has no price for', () => {
    expect(total(estimate([{ Resources: { Nat: { Type: 'AWS::EC2::Instance', Properties: { InstanceType: 't4g.nano' } } } }]))).toBeCloseTo(0.0042 * 730, 6);
    expect(() => estimate([{ Resources: { Nat: { Type: 'AWS::EC2::Instance', Properties: { InstanceType: 'x2iedn.32xlarge' } } } }]))
      .toThrow(/no price for EC2 instance type 'x2iedn.32xlarge'/);
  });

  test('counts working hours from the Awake and Asleep cron expressions', () => {
    expect(awakeHoursPerWeek('cron(0 8-19 ? * MON-FRI *)', 'cron(0 20 ? * MON-FRI *)')).toBe(60);
    expect(awakeHoursPerWeek('cron(30 8-16 ? * MON,WED,FRI *)', 'cron(0 17 ? * MON,WED,FRI *)')).toBe(25.5);
    expect(() => awakeHoursPerWeek('rate(1 hour)', 'cron(0 17 ? * MON *)')).toThrow(/cannot read the schedule/);
  });

  test('bills metric-math alarms per metric and target tracking for its two alarms', () => {
    const lines = estimate([{
      Resources: {
        Plain: { Type: 'AWS::CloudWatch::Alarm', Properties: { MetricName: 'CPUUtilization' } },
        Math: { Type: 'AWS::CloudWatch::Alarm', Properties: { Metrics: [{ Expression: 'a + b' }, { MetricStat: {} }, { MetricStat: {} }] } },
        Cpu: { Type: 'AWS::ApplicationAutoScaling::ScalingPolicy', Properties: { PolicyType: 'TargetTrackingScaling' } },
      },
    }]);
    expect(lines).toEqual([{ item: 'CloudWatch alarms (5 metrics)', usdPerMonth: expect.closeTo(0.5, 6) }]);
  });
});
