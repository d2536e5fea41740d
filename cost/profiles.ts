/**
 * The profiles the cost estimate covers: the default HTTPS environment and the cheapest one the
 * library offers, each around the clock and on working hours.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack, TimeZone } from 'aws-cdk-lib';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { EcsStagingEnvironment, EcsStagingEnvironmentProps, NatStrategy, StagingSchedule, StagingServiceOptions } from '../src';
import { TemplateJson } from './estimate';

/** One profile: how its environment and its one service are configured. */
export interface CostProfile {
  readonly name: string;
  readonly description: string;
  readonly environment: EcsStagingEnvironmentProps;
  readonly service: StagingServiceOptions;
  /** The goal (USD a month) the estimate must stay under, where the project set one. */
  readonly goalUsd?: number;
}

const WORKING_HOURS = StagingSchedule.workingHours({ start: '08:00', end: '20:00', timeZone: TimeZone.EUROPE_BERLIN });
const CHEAPEST_ENVIRONMENT: EcsStagingEnvironmentProps = { network: { natStrategy: NatStrategy.none() }, observability: { dashboard: false } };
const CHEAPEST_SERVICE: StagingServiceOptions = { cpu: 256, memoryLimitMiB: 512, desiredCount: 1, spot: true };

export const COST_PROFILES: CostProfile[] = [
  {
    name: 'default',
    description: 'Defaults, HTTPS: one NAT gateway, 2 tasks of 0.5 vCPU / 1 GB, alarms and dashboard',
    environment: {},
    service: { desiredCount: 2 },
  },
  {
    name: 'default, working hours',
    description: 'The same, asleep outside 08:00-20:00 Monday to Friday',
    environment: { schedule: WORKING_HOURS },
    service: { desiredCount: 2 },
    goalUsd: 85,
  },
  {
    name: 'cheapest',
    description: 'NatStrategy.none(), 1 Spot task of 0.25 vCPU / 0.5 GB (Spot at its best case, 70 % off), alarms, no dashboard',
    environment: CHEAPEST_ENVIRONMENT,
    service: CHEAPEST_SERVICE,
  },
  {
    name: 'cheapest, working hours',
    description: 'The same, asleep outside 08:00-20:00 Monday to Friday',
    environment: { ...CHEAPEST_ENVIRONMENT, schedule: WORKING_HOURS },
    service: CHEAPEST_SERVICE,
    goalUsd: 35,
  },
];

/** Synthesizes one profile (HTTPS, us-east-1) and returns every template of it, nested ones included. */
export function synthesizeProfile(profile: CostProfile): TemplateJson[] {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-ecs-staging-cost-'));
  try {
    const app = new App({ outdir, analyticsReporting: false });
    const stack = new Stack(app, 'Cost', { env: { region: 'us-east-1' } });
    const hostedZone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z0123456789ABCDEFGHIJ', zoneName: 'example.com' });
    const env = new EcsStagingEnvironment(stack, 'Staging', { ...profile.environment, domain: { domainName: 'staging.example.com', hostedZone } });
    env.addService('web', profile.service);
    const assembly = app.synth();
    return fs.readdirSync(assembly.directory)
      .filter((f) => f.endsWith('.template.json'))
      .map((f) => JSON.parse(fs.readFileSync(path.join(assembly.directory, f), 'utf8')));
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}
