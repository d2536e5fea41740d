/**
 * An environment of many services, as a platform team that puts all its apps into one staging
 * environment builds it: HTTPS, one catch-all service and the others routed by path, each with
 * two tasks, autoscaling and plain config. The scale tests, the benchmark and the many-service
 * integ scenario build it.
 */
import { App, Stack } from 'aws-cdk-lib';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { EcsStagingEnvironment } from '../src';

/** The name of the i-th service: `svc-00`, `svc-01`, ... */
export function manyServicesName(i: number): string {
  return `svc-${String(i).padStart(2, '0')}`;
}

/**
 * 'svc-26' derives the priority of 'svc-06' (names share a priority with a chance of 1 in 16000 a
 * pair): as the synth error asks, the one added later gets a priority of its own.
 */
const PRIORITIES: Record<string, number> = { 'svc-26': 48001 };

/** Builds the environment of `count` services into `stack`. */
export function addManyServices(stack: Stack, count: number): EcsStagingEnvironment {
  const hostedZone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z0123456789ABCDEFGHIJ', zoneName: 'example.com' });
  const env = new EcsStagingEnvironment(stack, 'Staging', { domain: { domainName: 'staging.example.com', hostedZone } });
  for (let i = 0; i < count; i++) {
    const name = manyServicesName(i);
    env.addService(name, {
      pathPatterns: i === 0 ? undefined : [`/${name}/*`],
      priority: PRIORITIES[name],
      desiredCount: 2,
      autoScaling: { maxCapacity: 4 },
      environment: { LOG_LEVEL: 'info' },
    });
  }
  return env;
}

/** An app with one stack holding an environment of `count` services. */
export function buildManyServicesApp(count: number, outdir?: string): App {
  const app = new App({ outdir, analyticsReporting: false });
  addManyServices(new Stack(app, 'ManyServices', { env: { account: '123456789012', region: 'us-east-1' } }), count);
  return app;
}
